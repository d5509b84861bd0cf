"""Liveness, readiness and the Prometheus endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from serving.common import MODEL_VERSIONS_EXAMPLE
from serving.errors import error_body

router = APIRouter(tags=["health"])


# HEAD is answered too (load balancers probe with it) but documented once: one operation per path in the OpenAPI.
@router.head("/healthz", include_in_schema=False)
@router.get("/healthz", summary="Liveness: the process answers",
            responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}})
async def healthz() -> dict:
    return {"status": "ok"}


_READY_EXAMPLE = {"status": "ready", "source": "registry", "stale": False, "model_versions": MODEL_VERSIONS_EXAMPLE}
_STALE_EXAMPLE = {**_READY_EXAMPLE, "status": "stale", "source": "cache", "stale": True,
                  "error": "model registry database not found (mlflow.db)"}


@router.head("/readyz", include_in_schema=False)
@router.get("/readyz", summary="Readiness: 200 once champions are loaded (status 'stale' when served from the cache)",
            responses={200: {"content": {"application/json": {"examples": {
                "ready": {"value": _READY_EXAMPLE}, "stale": {"value": _STALE_EXAMPLE}}}}},
                503: {"description": "models not loaded yet",
                      "content": {"application/json": {"example": error_body(
                          "unavailable", "models are not loaded", {"status": "loading"})}}}})
async def readyz(request: Request) -> Response:
    holder = request.app.state.holder
    status = holder.status()
    snapshot = holder.peek()
    admission = getattr(request.app.state, "admission", None)
    if admission is not None and admission.draining:  # take this instance out of the balancer first
        return JSONResponse(error_body("shutting_down", "the service is shutting down", {"status": "shutting_down"}),
                            status_code=503, headers={"Retry-After": "2"})
    if snapshot is None:
        return JSONResponse(error_body("unavailable", "models are not loaded",
                                       {"status": status["status"], "error": status["error"],
                                        "last_check": status["last_check"]}), status_code=503)
    return JSONResponse({"status": status["status"], "degraded": status["degraded"], "source": status["source"],
                         "stale": status["stale"], "error": status["error"], "last_check": status["last_check"],
                         "model_versions": snapshot.version_map()})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {"example": "clearance_http_requests_total{...} 1.0"}}}})
async def metrics(request: Request) -> Response:
    body, content_type = request.app.state.metrics.render()
    return Response(body, media_type=content_type)
