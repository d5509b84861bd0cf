"""The Dask client's life cycle, owned here and nowhere else.

One setting picks the engine (``CLEARANCE_DASK_SCHEDULER``): unset, the jobs run in this process (``"local"`` engine in
their reports); ``local`` starts a :class:`~dask.distributed.LocalCluster` for the duration of one command and closes
it afterwards; any other value is a scheduler address (``tcp://host:8786``) that is connected to and left running.
Callers write ``with dask_client(settings) as client:`` and branch on ``client is None``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from data.errors import InvalidInputError, UnavailableError, field_error

__all__ = ["dask_client", "engine_of", "worker_count"]

#: Seconds to wait for a remote scheduler before saying it is unreachable.
CONNECT_TIMEOUT_S = 20


def engine_of(client: Any) -> str:
    """What a JSON report says ran the job."""
    return "local" if client is None else "dask"


def worker_count(client: Any) -> int:
    return 0 if client is None else len(client.scheduler_info(n_workers=-1).get("workers", {}))


@contextmanager
def dask_client(settings: Any, *, quiet: bool = True) -> Iterator[Any]:
    """A connected ``distributed.Client`` while the block runs, or None when Dask is off."""
    address = (getattr(settings, "dask_scheduler", None) or "").strip()
    if not address:
        yield None
        return
    import logging

    from dask.distributed import Client, LocalCluster

    if quiet:  # the scheduler's INFO lines would drown the command's own progress bar
        for name in ("distributed", "distributed.scheduler", "distributed.nanny", "distributed.worker"):
            logging.getLogger(name).setLevel(logging.WARNING)
    if address.lower() == "local":
        # One thread per worker process: LightGBM's network and the encoders run one team per process, and on a
        # small machine processes (not threads) are what keeps the GIL-bound feature code parallel.
        cluster = LocalCluster(n_workers=settings.dask_local_workers, threads_per_worker=1, processes=True,
                               memory_limit=settings.dask_worker_memory, dashboard_address=":0")
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
            cluster.close()
        return
    if "://" not in address:
        raise InvalidInputError(f"CLEARANCE_DASK_SCHEDULER={address!r} is neither 'local' nor an address such as "
                                "tcp://host:8786", details=[field_error("dask_scheduler", "not 'local' or a URL")])
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        raise UnavailableError(f"cannot reach the Dask scheduler at {address}: {exc}",
                               details=[field_error("dask_scheduler", "unreachable")]) from None
    try:
        yield client
    finally:
        client.close()
