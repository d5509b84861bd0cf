"""The request coalescer: batches under concurrency, answers each caller with its own result, isolates failures."""

from __future__ import annotations

import asyncio

import pytest

from serving.coalesce import Coalescer


def test_alone_runs_at_once_and_concurrent_calls_share_batches():
    calls: list[list[int]] = []

    async def run(items):
        calls.append(list(items))
        await asyncio.sleep(0.01)
        return [i * 10 for i in items]

    async def main():
        c = Coalescer(max_batch=8, drainers=1)
        assert await c.submit("k", 1, run) == 10 and calls == [[1]]
        results = await asyncio.gather(*(c.submit("k", i, run) for i in range(20)))
        return c, results

    c, results = asyncio.run(main())
    assert results == [i * 10 for i in range(20)]
    assert all(len(batch) <= 8 for batch in calls)
    assert c.batches < c.items  # batched, not one call per item
    assert sorted(i for batch in calls[1:] for i in batch) == list(range(20))


def test_keys_never_mix():
    seen: list[tuple[str, list[int]]] = []

    def runner(key):
        async def run(items):
            seen.append((key, list(items)))
            await asyncio.sleep(0.005)
            return [f"{key}:{i}" for i in items]
        return run

    async def main():
        c = Coalescer(max_batch=16, drainers=2)
        return await asyncio.gather(*(c.submit(k, i, runner(k)) for i in range(10) for k in ("a", "b")))

    results = asyncio.run(main())
    assert results == [f"{k}:{i}" for i in range(10) for k in ("a", "b")]
    for key, items in seen:
        assert all(isinstance(i, int) for i in items) and key in ("a", "b")


def test_one_bad_item_fails_only_its_own_caller():
    async def run(items):
        await asyncio.sleep(0.005)
        if 13 in items:
            raise ValueError("unlucky")
        return items

    async def main():
        c = Coalescer(max_batch=32, drainers=1)
        return await asyncio.gather(*(c.submit("k", i, run) for i in range(20)), return_exceptions=True)

    results = asyncio.run(main())
    assert isinstance(results[13], ValueError)
    assert [r for i, r in enumerate(results) if i != 13] == [i for i in range(20) if i != 13]


def test_a_cancelled_caller_does_not_break_the_batch():
    async def run(items):
        await asyncio.sleep(0.02)
        return items

    async def main():
        c = Coalescer(max_batch=32, drainers=1)
        first = asyncio.ensure_future(c.submit("k", 0, run))
        await asyncio.sleep(0)
        tasks = [asyncio.ensure_future(c.submit("k", i, run)) for i in range(1, 6)]
        await asyncio.sleep(0)
        tasks[0].cancel()
        done = await asyncio.gather(first, *tasks[1:])
        with pytest.raises(asyncio.CancelledError):
            await tasks[0]
        return done

    assert asyncio.run(main()) == [0, 2, 3, 4, 5]
