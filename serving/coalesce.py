"""Opportunistic request coalescing: concurrent single-item calls become one vectorised batch call.

When the model is idle a request runs at once, alone (no timer, so no added latency at low load). While a batch is
running, new requests queue up; the next free drainer takes them all (up to ``max_batch``) in one call. Under load the
per-row cost falls to the vectorised one (LightGBM predicts a block of rows for little more than one row) and the
thread hops are paid once per batch instead of once per request.

Batches never mix snapshots: the key includes the served snapshot, so requests in flight during a hot swap finish on
the models they started with. If a batch call fails, its items are retried one by one so that one bad item fails
only its own request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from data.errors import OverloadedError

BatchRunner = Callable[[list[Any]], Awaitable[list[Any]]]


class Coalescer:
    def __init__(self, *, max_batch: int = 64, drainers: int = 2, max_queue: int | None = None):
        self.max_batch = max_batch
        self.max_queue = max_queue  # items that may wait per key; beyond, 503 at once (load shedding)
        self.drainers = drainers
        self._queues: dict[Hashable, list[tuple[Any, asyncio.Future]]] = {}
        self._active: dict[Hashable, int] = {}
        self.batches = 0
        self.items = 0

    async def submit(self, key: Hashable, item: Any, run: BatchRunner) -> Any:
        queue = self._queues.setdefault(key, [])
        if self.max_queue is not None and len(queue) >= self.max_queue:
            raise OverloadedError(f"the service is busy ({len(queue)} requests waiting); retry shortly",
                                  details={"kind": "interactive", "queue": self.max_queue})
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        queue.append((item, future))
        if self._active.get(key, 0) < self.drainers:
            self._active[key] = self._active.get(key, 0) + 1
            asyncio.get_running_loop().create_task(self._drain(key, run))
        return await future

    async def _drain(self, key: Hashable, run: BatchRunner) -> None:
        try:
            queue = self._queues[key]
            while queue:
                batch = queue[: self.max_batch]
                del queue[: self.max_batch]
                await self._run(batch, run)
        finally:
            self._active[key] -= 1
            if not self._active[key]:
                del self._active[key]
                if not self._queues.get(key):
                    self._queues.pop(key, None)

    async def _run(self, batch: list[tuple[Any, asyncio.Future]], run: BatchRunner) -> None:
        self.batches += 1
        self.items += len(batch)
        try:
            results = await run([item for item, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                if not batch[0][1].done():
                    batch[0][1].set_exception(exc)
                return
            for single in batch:  # isolate the failing item: the others still get their answers
                await self._run([single], run)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # the client may have gone away (cancelled)
                future.set_result(result)

