"""Worker processes for scoring large batches of shipment *documents* on more than one core.

Validation, checks, feature rows and advisories are Python; one process runs one thread of Python at a time, so a
second core helps a batch only through a second process. What crosses the process boundary is chosen by cost:

* in: the JSON documents as received: raw JSON text (bytes, e.g. JSONL lines: nearly free to send) or parsed
  dicts (~3 µs a row with marshal); a validated pydantic ``Shipment`` takes ~100 µs to pickle and unpickle, more
  than scoring it — so only :meth:`ShipmentScorer.score_documents` uses the pool, never ``score_batch`` on
  already-validated objects;
* out: compact scores (:class:`models.scoring.Scored`: shipment ids, findings as tuples, prediction arrays, one
  advisory bit-code per row); the parent builds the result objects.

The parent scores its own share of the batch while the workers run, so one worker gives two busy cores.

Both sides score with Python's cyclic garbage collector paused (:func:`collector_paused`): a batch allocates
hundreds of thousands of small objects (validated documents, findings, rows, results) that hold no reference cycles,
and while they are alive the collector's young-generation passes keep walking them. Measured on 10,000 raw
documents in one process (2 cores, load ~2, four rounds): 92 µs of CPU per row with the collector on, 65 with it
paused; reference counting frees everything anyway. Over HTTP (``bench/score_batch_api.py``, with and without the
pause, two rounds back to back) it gains 1.16-1.27x rows/s for JSON bodies scored in one process and 1.00-1.11x
for NDJSON or with a worker (docs/risk-models.md).

Start method ``spawn``: the service runs threads (request workers, LightGBM's OpenMP team), and a child forked from a
threaded process can deadlock on a lock another thread held at fork time. Spawning costs a one-off start (imports +
the pickled scorer, ~2 s) per worker, paid by :meth:`ScorePool.warm` rather than by the first batch.
"""

from __future__ import annotations

import gc
import logging
import marshal
import multiprocessing
import os
import pickle
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

_SCORER: Any = None

_collector_lock = threading.Lock()
_collector_pausers = 0
_collector_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic collector off while any batch of this process is being scored (see the module docstring).

    Counted, because the service scores several batches at once on its threads: the collector comes back when the
    last one ends, and only if it was on before the first began.
    """
    global _collector_pausers, _collector_was_enabled
    with _collector_lock:
        if _collector_pausers == 0:
            _collector_was_enabled = gc.isenabled()
            gc.disable()
        _collector_pausers += 1
    try:
        yield
    finally:
        with _collector_lock:
            _collector_pausers -= 1
            if _collector_pausers == 0 and _collector_was_enabled:
                gc.enable()


#: Seconds between a worker's checks that its parent is alive.
PARENT_CHECK_S = 0.5


def _watch_parent(parent: int) -> None:
    """Exit when the parent is gone (killed with -9, it runs no clean-up): the worker is then reparented, so its
    parent id changes. Why a thread and not ``PR_SET_PDEATHSIG``: that signal fires when the parent *thread* that
    spawned the worker ends, and the pool spawns from whichever request thread submits first, threads that the
    service's thread pool retires when idle; and it is Linux-only."""
    while True:
        time.sleep(PARENT_CHECK_S)
        if os.getppid() != parent:
            os._exit(0)


def _init(payload: bytes, parent: int | None = None) -> None:
    global _SCORER
    import data  # noqa: F401  (thread caps before LightGBM loads)

    if parent is not None:
        threading.Thread(target=_watch_parent, args=(parent,), name="clearance-parent-watch", daemon=True).start()

    scorer = pickle.loads(payload)
    scorer.workers = 0  # a worker never starts workers of its own
    # The parent process keeps a core busy with its own share: one OpenMP thread per worker avoids oversubscription.
    for m in (scorer.delay_model, scorer.risk_model):
        inner = getattr(m, "model_", None)
        if inner is not None:
            inner.num_threads = 1
    _SCORER = scorer


def _ready() -> bool:
    return _SCORER is not None


def _score_chunk(start: int, documents: Sequence[Any] | bytes, congestion: Any = None) -> tuple[Any, float]:
    """(compact scores, CPU seconds this worker spent on them). ``congestion`` travels with every chunk (a few KB):
    the parent refreshes its snapshot while the worker's copy of the scorer would keep the one it started with."""
    t = time.process_time()
    _SCORER.congestion = congestion
    if isinstance(documents, bytes):
        documents = marshal.loads(documents)
    with collector_paused():
        part = _SCORER._score_documents_compact(documents, start, portable=True)
    return part, time.process_time() - t


class ScorePool:
    """``workers`` spawned processes, each holding a copy of the scorer (models, rules, nomenclature)."""

    def __init__(self, scorer: Any, workers: int):
        if workers < 1:
            raise ValueError("a score pool needs at least one worker")
        self.workers = workers
        payload = pickle.dumps(scorer, protocol=pickle.HIGHEST_PROTOCOL)
        self._executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_init, initargs=(payload, os.getpid()))

    def warm(self) -> None:
        """Start every worker now (a spawned worker imports the stack and unpickles the models: seconds)."""
        for f in [self._executor.submit(_ready) for _ in range(self.workers)]:
            f.result()

    def submit(self, start: int, documents: Sequence[Any], congestion: Any = None) -> Future:
        """Score ``documents`` (positions from ``start``) on a worker; the future's result is (compact scores, worker
        CPU seconds)."""
        # JSON documents (dicts, lists, str, bytes, numbers, None) go as one marshal blob: dumping a parsed document
        # costs ~2 µs against ~14 µs with pickle (raw lines: the same), in this process, which is the busier one.
        # marshal is not for untrusted bytes, and these are not: this process wrote them for a child running the
        # same interpreter. Anything marshal cannot write (a Shipment object, a datetime) goes by pickle.
        try:
            payload: Any = marshal.dumps(documents)
        except ValueError:
            payload = documents
        return self._executor.submit(_score_chunk, start, payload, congestion)

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the workers: each is asked to exit after its current chunk, and one still running ``timeout_s`` later
        is terminated (then killed), so that no worker outlives the pool whatever it is stuck in. The executor has no
        bounded shutdown of its own (``shutdown(wait=True)`` can wait forever on a worker that does not exit), hence
        its process table, read once here."""
        processes = list((self._executor._processes or {}).values())
        self._executor.shutdown(wait=False, cancel_futures=True)
        running = running_processes(processes, timeout_s)
        for p in running:
            log.warning("scoring worker %s did not exit within %.0f s: terminating it", p.pid, timeout_s)
            p.terminate()
        for p in running_processes(running, 2.0):
            p.kill()
        running_processes(running, 2.0)  # SIGKILL cannot be refused: this only waits for them to end
        self._executor.shutdown(wait=True)  # the executor's own thread, now that its workers are gone


def running_processes(processes: Sequence[Any], timeout_s: float) -> list[Any]:
    """The processes among ``processes`` still running after waiting up to ``timeout_s`` seconds for them to exit.

    Judged by each process's sentinel (readable once the process has ended), not ``is_alive()``: that reaps the
    child with ``waitpid``, and the executor's own thread reaps the same children, so a thread that loses the race
    gets ``ECHILD`` and is told that a process which has already exited is alive."""
    from multiprocessing.connection import wait

    pending = {p.sentinel: p for p in processes}
    deadline = time.monotonic() + timeout_s
    while pending:
        ended = wait(list(pending), max(0.0, deadline - time.monotonic()))
        if not ended:
            break
        for sentinel in ended:
            pending.pop(sentinel)
    return list(pending.values())
