"""training/cluster/client.py: one setting picks the engine; the client is closed with the block."""

from __future__ import annotations

import pytest

from data.errors import InvalidInputError
from data.settings import Settings
from training.cluster.client import dask_client, engine_of, worker_count


def test_unset_means_no_cluster(tmp_path):
    with dask_client(Settings(data_dir=tmp_path)) as client:
        assert client is None
        assert engine_of(client) == "local"
        assert worker_count(client) == 0


def test_an_address_connects_to_that_scheduler_and_closes_the_client(tmp_path, dask_cluster):
    settings = Settings(data_dir=tmp_path, dask_scheduler=dask_cluster.scheduler_address)
    with dask_client(settings) as client:
        assert engine_of(client) == "dask"
        assert worker_count(client) == 2
        assert client.submit(sum, [1, 2, 3]).result() == 6
    assert client.status == "closed"
    assert len(dask_cluster.scheduler_info["workers"]) == 2  # the cluster itself is not ours to stop


def test_local_starts_a_cluster_and_stops_it(tmp_path):
    settings = Settings(data_dir=tmp_path, dask_scheduler="local", dask_local_workers=1, dask_worker_memory="1GiB")
    with dask_client(settings) as client:
        assert worker_count(client) == 1
        cluster = client.cluster
    assert cluster.status.name == "closed"


def test_a_value_that_is_no_address_is_refused(tmp_path):
    with pytest.raises(InvalidInputError, match="neither 'local' nor an address"):
        with dask_client(Settings(data_dir=tmp_path, dask_scheduler="my-cluster")):
            pass
