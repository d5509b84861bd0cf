"""The batch collector pause: counted across nested and concurrent batches, and restores what it found."""

from __future__ import annotations

import gc
import threading

from models.score_pool import collector_paused


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
