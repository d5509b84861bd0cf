"""``GET /v1/models`` and ``POST /v1/admin/reload``."""

from __future__ import annotations

import functools

import anyio.to_thread
from fastapi import APIRouter, Depends, Request, Response

from serving.auth import require_scope
from serving.deps import run_model, served_models
from serving.models_api.schemas import ModelsResponse, MonitoringResponse, ReloadResponse
from serving.served import ServedModels

router = APIRouter(prefix="/v1", tags=["models"])


@router.get("/models", response_model=ModelsResponse, dependencies=[Depends(require_scope(None))],
            summary="Served model versions, run ids, metrics and since when each is served")
async def list_models(request: Request, served: ServedModels = Depends(served_models)) -> ModelsResponse:
    status = request.app.state.holder.status()
    return ModelsResponse(status=status["status"], stale=served.stale, source=status["source"],
                          error=status["error"], last_check=status["last_check"],
                          models=[v.to_json() for _, v in sorted(served.versions.items())],
                          model_versions=served.version_map())


@router.get("/models/monitoring", response_model=MonitoringResponse, response_model_by_alias=True,
            dependencies=[Depends(require_scope(None))],
            summary="Served delay/risk models on stored outcomes by week (coverage, pinball, precision at the review "
                    "rate, reliability), feature drift (PSI) and plain statements when a figure left its range")
async def monitoring(request: Request, served: ServedModels = Depends(served_models)) -> Response:
    from serving.models_api.monitoring import cached_report

    # Re-scoring stored rows is model work: the model limiter's threads, not the event loop.
    report = await run_model(request, cached_report, request.app.state, served)
    body = MonitoringResponse.model_validate(report)
    return Response(body.model_dump_json(by_alias=True), media_type="application/json")


@router.post("/admin/reload", response_model=ReloadResponse, dependencies=[Depends(require_scope("admin"))],
             summary="Load the registry's current champions now and swap them in atomically")
async def reload_models(request: Request) -> ReloadResponse:
    holder = request.app.state.holder
    # Loading a new version takes seconds of CPU: a worker thread, not the event loop (and not the model limiter,
    # so scoring keeps its threads while the new version loads).
    from data.store.audit import record_event

    actor = getattr(request.state, "api_key_name", None)
    client = request.client.host if request.client else None
    try:
        result = await anyio.to_thread.run_sync(holder.reload)
    except Exception as exc:
        await anyio.to_thread.run_sync(functools.partial(
            record_event, request.app.state.engine, "admin_reload", actor=actor, client=client, outcome="failed",
            details={"error": getattr(exc, "message", type(exc).__name__)}))
        raise
    await anyio.to_thread.run_sync(functools.partial(
        record_event, request.app.state.engine, "admin_reload", actor=actor, client=client,
        details={"changed": result.changed, "previous": result.previous, "current": result.current}))
    request.state.served = holder.current()
    return ReloadResponse(changed=result.changed, previous=result.previous, model_versions=result.current)
