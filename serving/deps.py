"""What every route needs: the served snapshot for this request, and a way to run model code off the event loop."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
from fastapi import Request

from serving.admission import kind_of
from serving.served import ServedModels

T = TypeVar("T")


async def served_models(request: Request) -> ServedModels:
    """The snapshot this request uses from start to end (also what the version headers report)."""
    snapshot = request.app.state.holder.current()
    request.state.served = snapshot
    return snapshot


async def run_model(request: Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run CPU-bound model code (encoding, faiss, LightGBM) in a worker thread, in the lane of the route's kind of
    work (``serving.admission``): interactive, batch or console, each with its own slots and bounded queue (503 with
    Retry-After when full). Slots are sized to the cores: more threads would only oversubscribe the CPUs that the
    BLAS/faiss pools already use, while the event loop stays free to accept requests and answer health checks.
    """
    admission = getattr(request.app.state, "admission", None)
    if admission is None:  # an app assembled without admission control (some tests)
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))
    return await admission.run(kind_of(request.scope.get("route")), fn, *args, **kwargs)
