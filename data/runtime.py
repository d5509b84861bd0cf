"""Process-wide runtime switches that several layers share, each on while at least one caller needs it.

``paused_gc``: batch code (scoring tens of thousands of shipments, building a 200k-row feature frame) allocates
millions of small objects without reference cycles. Python's cyclic collector would rescan them over and over while
they are built, and once more after the batch, when all of them are still young: a full pass over a 20k-shipment
batch's results costs ~0.2 s, about 10 µs a row (measured), although reference counting frees every one of them
anyway. ``paused_gc`` keeps the collector off for the batch and, on exit, hands the batch's survivors to the oldest
generation without scanning them, so the collector never walks them while they are alive.

``fast_gil_handoff``: while a batch is shared with worker processes, every hand-over (a chunk out, a part back, the
next chunk sent from the pool's callback) runs on a helper thread of this process that must win the GIL from the
scoring thread. A chunk of documents (~1.6 MB of JSON per 1,000) crosses a pipe 64 KB per write, each write waiting
for the GIL again; at Python's default 5 ms switch interval that alone kept the worker idle ~25% of the time (16.0k
vs 18.9k rows/s measured on 2 cores). 1 ms costs the scoring thread nothing visible.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

GIL_SWITCH_INTERVAL_S = 0.001


class SharedSwitch:
    """A process-wide setting changed when the first caller enters and restored when the last one leaves (nested
    and concurrent callers are counted, so one caller leaving never restores it under another)."""

    def __init__(self, switch_on: Callable[[], Any], restore: Callable[[Any], None]):
        self._switch_on = switch_on  # returns what ``restore`` needs to put things back
        self._restore = restore
        self._lock = threading.Lock()
        self._holders = 0
        self._saved: Any = None

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._holders == 0:
                self._saved = self._switch_on()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0:
                    self._restore(self._saved)


def _disable_gc() -> bool:
    was_enabled = gc.isenabled()
    gc.disable()
    return was_enabled


def _resume_gc(was_enabled: bool) -> None:
    if was_enabled:
        # freeze + unfreeze moves every tracked object to the oldest generation without a scan (O(1)). Cyclic
        # garbage made meanwhile by other threads is then found at the next full collection instead of the next
        # young one: a little later, never lost.
        gc.freeze()
        gc.unfreeze()
        gc.enable()


def _lower_switch_interval() -> float:
    saved = sys.getswitchinterval()
    sys.setswitchinterval(min(saved, GIL_SWITCH_INTERVAL_S))
    return saved


#: ``with paused_gc():`` — cyclic GC off while any caller is inside; on only if it was on before the first came.
paused_gc = SharedSwitch(_disable_gc, _resume_gc)
#: ``with fast_gil_handoff():`` — GIL switch interval at most :data:`GIL_SWITCH_INTERVAL_S` while any caller is inside.
fast_gil_handoff = SharedSwitch(_lower_switch_interval, sys.setswitchinterval)
