"""The batch collector pause: counted across nested and concurrent batches, and restores what it found."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from models.score_pool import collector_paused, running_processes


def test_the_collector_is_off_inside_and_back_on_after_nested_and_concurrent_batches():
    assert gc.isenabled()
    entered, release = threading.Event(), threading.Event()

    def other_batch():
        with collector_paused():
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=other_batch)
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner batch leaving does not switch it back on under the outer one
        thread.start()
        entered.wait(10)
    assert not gc.isenabled()  # the other thread's batch is still running
    release.set()
    thread.join(10)
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_batch_scoring_runs_with_the_collector_paused(monkeypatch):
    from tests.models.shipment_models import scorer as small_scorer
    from tests.models.shipment_models import shipment

    scorer = small_scorer()
    seen = []
    original = scorer._core
    monkeypatch.setattr(scorer, "_core", lambda *a, **k: seen.append(gc.isenabled()) or original(*a, **k))
    scorer.score_batch([shipment(), shipment(**{"waybill.channel": "air"})])
    assert seen == [False] and gc.isenabled()


_PARENT = """
import os, sys, time, types
from models.score_pool import ScorePool
pool = ScorePool(types.SimpleNamespace(delay_model=None, risk_model=None, workers=0), 2)
pool.warm()
print(" ".join(str(pid) for pid in pool._executor._processes), flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its new parent) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_workers_exit_when_their_parent_is_killed_with_sigkill():
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "CLEARANCE_THREADS": "1"}
    parent = subprocess.Popen([sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, text=True, env=env, cwd=root)
    try:
        workers = [int(p) for p in parent.stdout.readline().split()]
        assert len(workers) == 2 and all(_alive(p) for p in workers)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 20
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(p) for p in workers)
    finally:
        parent.kill()


def test_closing_terminates_a_worker_that_does_not_exit_in_time():
    import types

    from models.score_pool import ScorePool

    pool = ScorePool(types.SimpleNamespace(delay_model=None, risk_model=None, workers=0), 1)
    pool.warm()
    (worker,) = pool._executor._processes.values()
    pool._executor.submit(time.sleep, 120)  # a chunk that will not finish: the worker never reads its exit sentinel
    time.sleep(0.5)
    t0 = time.monotonic()
    pool.close(timeout_s=1.0)
    assert time.monotonic() - t0 < 10
    assert running_processes([worker], 0) == []
