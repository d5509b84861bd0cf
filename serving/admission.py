"""Load shedding: bounded queues per kind of work, per-key concurrency, and draining at shutdown.

Three kinds of work share the CPU: *interactive* calls (one product, one shipment, a feedback decision), *batch*
calls (the ``/batch`` routes: up to thousands of items) and *console* pages. Each kind has its own slots (threads
that may run its model code at once) and its own bounded queue of waiters. Interactive work keeps ``threads`` slots
of its own, so a flood of batches waits in the batch queue instead of taking the threads that interactive calls
need; a full queue is answered at once with 503 and ``Retry-After`` rather than letting callers pile up until they
time out. Limits are settings (``Settings.limits``).

Per-key concurrency is counted in the outermost middleware (``serving.middleware``), over every request a key has in
flight: one client cannot hold all the slots. It uses :meth:`Admission.hold_key`.

Hand-written rather than a library: what is needed is anyio's ``CapacityLimiter`` (used) plus a count of waiters,
which no rate-limiting package offers for in-process work queues.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from data.errors import OverloadedError, TooManyRequestsError
from data.settings import Settings

T = TypeVar("T")
KINDS = ("interactive", "batch", "console")


@dataclass
class Lane:
    kind: str
    slots: int
    queue: int
    limiter: anyio.CapacityLimiter = field(init=False)
    waiting: int = 0
    shed: int = 0

    def __post_init__(self) -> None:
        self.limiter = anyio.CapacityLimiter(self.slots)

    @property
    def busy(self) -> int:
        return int(self.limiter.borrowed_tokens)


class Admission:
    def __init__(self, settings: Settings):
        limits = settings.limits
        self.lanes = {
            "interactive": Lane("interactive", settings.threads, limits.interactive_queue),
            "batch": Lane("batch", limits.batch_slots, limits.batch_queue),
            "console": Lane("console", settings.threads, limits.console_queue),
        }
        self.per_key_limit = limits.per_key_concurrency
        self._per_key: Counter[str] = Counter()
        self.draining = False
        self.key_refusals = 0
        # The lanes bound the threads; anyio's default thread limiter (40 tokens, shared) must not add a bound.
        self._threads = anyio.CapacityLimiter(sum(lane.slots for lane in self.lanes.values()))

    # -- per key (the middleware) -------------------------------------------------------------------------------
    @contextmanager
    def hold_key(self, key: str | None) -> Iterator[None]:
        """Count a request of ``key`` in flight; 429 when the key already has ``per_key_concurrency``. Runs on the
        event loop only (no lock needed: nothing awaits between the check and the count)."""
        if key is None:
            yield
            return
        if self._per_key[key] >= self.per_key_limit:
            self.key_refusals += 1
            raise TooManyRequestsError(f"this key already has {self.per_key_limit} requests in flight; wait for "
                                       "one to finish", code="too_many_in_flight",
                                       details={"limit": self.per_key_limit})
        self._per_key[key] += 1
        try:
            yield
        finally:
            self._per_key[key] -= 1
            if self._per_key[key] <= 0:
                del self._per_key[key]

    # -- per kind of work (run_model) ---------------------------------------------------------------------------
    def _refuse_if_full(self, lane: Lane) -> None:
        if self.draining:
            raise OverloadedError("the service is shutting down; retry on another instance", code="shutting_down",
                                  retry_after=2.0)
        if lane.busy >= lane.slots and lane.waiting >= lane.queue:
            lane.shed += 1
            raise OverloadedError(f"the service is busy with {lane.kind} work ({lane.busy} running, {lane.waiting} "
                                  "waiting); retry shortly", details={"kind": lane.kind, "queue": lane.queue},
                                  retry_after=1.0 if lane.kind != "batch" else 5.0)

    async def run(self, kind: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` in a worker thread, in ``kind``'s lane; 503 at once when its queue is full."""
        lane = self.lanes[kind]
        self._refuse_if_full(lane)
        try:
            lane.limiter.acquire_nowait()
        except anyio.WouldBlock:  # only callers that really wait count against the queue
            lane.waiting += 1
            try:
                await lane.limiter.acquire()
            finally:
                lane.waiting -= 1
        try:
            # The lane's limiter is held for the thread's whole run; anyio's own limiter would be the default pool.
            return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=self._threads)
        finally:
            lane.limiter.release()

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {k: {"slots": v.slots, "busy": v.busy, "waiting": v.waiting, "queue": v.queue, "shed": v.shed}
                for k, v in self.lanes.items()}


def kind_of(route: Any) -> str:
    """The kind of work a route does: console pages say so (``ConsoleRoute.work_kind``), ``/batch`` routes are batch."""
    declared = getattr(route, "work_kind", None)
    if declared in KINDS:
        return declared
    return "batch" if str(getattr(route, "path", "")).endswith("/batch") else "interactive"
