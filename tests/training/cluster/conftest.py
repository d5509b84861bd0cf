"""One two-worker LocalCluster for the Dask tests (started on first use, a few seconds).

Worker processes, not threads: LightGBM's network is one per process, so two data-parallel ranks need two processes.
One thread each, and a small memory limit, to stay light on a shared machine.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def dask_cluster():
    from dask.distributed import LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="1.5GiB",
                           dashboard_address=":0")
    yield cluster
    cluster.close()


@pytest.fixture(scope="session")
def client(dask_cluster):
    from dask.distributed import Client

    c = Client(dask_cluster)
    yield c
    c.close()
