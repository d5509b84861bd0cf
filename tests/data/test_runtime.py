import gc
import threading

from data.runtime import paused_gc


def test_paused_gc_restores_the_collector_only_when_the_last_holder_leaves():
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer batch is still running
    assert gc.isenabled()


def test_paused_gc_leaves_a_disabled_collector_disabled():
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_survivors_of_a_batch_are_not_young_garbage_and_cycles_are_still_collected():
    with paused_gc():
        kept = [{"row": i} for i in range(10_000)]
        cycle = []
        cycle.append(cycle)
        del cycle
    assert gc.get_count()[0] < 1_000  # the batch's objects left the young generation without a scan
    assert gc.collect() >= 1  # the cycle made inside the batch is found by a full collection
    assert len(kept) == 10_000


def test_concurrent_batches_keep_the_collector_off_until_both_end():
    inside, release = threading.Event(), threading.Event()

    def other_batch():
        with paused_gc():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=other_batch)
    t.start()
    inside.wait(5)
    with paused_gc():
        pass
    assert not gc.isenabled()  # the other batch is still running
    release.set()
    t.join(5)
    assert gc.isenabled()


def test_gil_handoff_interval_is_restored_after_nested_and_concurrent_use():
    import sys

    from data.runtime import GIL_SWITCH_INTERVAL_S, fast_gil_handoff

    before = sys.getswitchinterval()
    with fast_gil_handoff():
        assert sys.getswitchinterval() == min(before, GIL_SWITCH_INTERVAL_S)
        with fast_gil_handoff():
            pass
        assert sys.getswitchinterval() == min(before, GIL_SWITCH_INTERVAL_S)
    assert sys.getswitchinterval() == before
