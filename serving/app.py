"""The FastAPI application: ``create_app(settings)`` wires store, auth, model holder, middleware and routers.

Champions load in ``lifespan`` on a background thread, so the process answers ``/healthz`` and ``/readyz`` (503)
while they load; model routes answer 503 until then. Each set is complete before it is served: reviewer rulings are
replayed into its suggester while it is composed (``serving.served``), not by a router.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

import data  # noqa: F401  (thread caps before numeric libraries load)
from data.settings import Settings, get_settings
from data.store.db import open_store
from serving.admission import Admission
from serving.auth import KeyAuthenticator
from serving.coalesce import Coalescer
from serving.errors import install_error_handlers
from serving.holder import ModelHolder
from serving.metrics import Metrics
from serving.middleware import RequestContextMiddleware
from serving.openapi import install_openapi
from serving.ratelimit import AuthLimiter
from serving.served import ServedModels
from serving.shipments.recording import ShipmentRecorder

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}, "details": {}}, "required": ["code", "message"]}},
}
_ERROR_RESPONSES = {
    status: {"description": text, "content": {"application/json": {"schema": ERROR_SCHEMA}}}
    for status, text in ((401, "no or unknown API key"), (403, "the key lacks the route's scope"),
                         (413, "request body too large"), (422, "invalid input; details name each field path"),
                         (503, "models not loaded yet"))
}


def create_app(settings: Settings | None = None, *, holder: ModelHolder | None = None, start_models: bool = True,
               poll: bool = True) -> FastAPI:
    """The service. ``holder`` may be injected (tests); ``start_models=False`` leaves loading to the caller."""
    settings = settings or get_settings()
    engine = open_store(settings.database_url)
    holder = holder or ModelHolder(settings)
    metrics = Metrics()

    def _publish(snapshot: ServedModels) -> None:
        metrics.set_served({n: (v.version, v.source) for n, v in snapshot.versions.items()}, snapshot.stale)
        metrics.reloads.labels("swapped").inc()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        holder.add_listener(_publish)
        if start_models:
            holder.start(poll=poll)
        try:
            yield
        finally:
            app.state.admission.draining = True  # anything still arriving is answered 503, not run half-way
            holder.stop()
            app.state.recorder.close()

    from importlib.metadata import PackageNotFoundError, version

    try:
        app_version = version("clearance")
    except PackageNotFoundError:  # running from a checkout without `pip install -e .`
        app_version = "0.0.0"
    app = FastAPI(
        title="clearance", version=app_version, lifespan=lifespan, responses=_ERROR_RESPONSES,
        description="HS-code suggestion and clearance-risk scoring for 9710 cross-border B2B exporters. "
                    "Every response names the model versions that answered (body `model_versions` and header "
                    "`X-Model-Versions`). Authenticate with `Authorization: Bearer <key>` or `X-API-Key`.",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.holder = holder
    app.state.metrics = metrics
    app.state.authenticator = KeyAuthenticator(engine, disabled=settings.auth_disabled)
    app.state.admission = Admission(settings)
    app.state.auth_limiter = AuthLimiter(settings.limits, metrics, engine)
    app.state.coalescer = Coalescer(max_batch=64, drainers=settings.threads,
                                    max_queue=settings.limits.interactive_queue)
    app.state.recorder = ShipmentRecorder(engine, enabled=settings.record_shipments,
                                          refresh_s=settings.congestion_refresh_s)

    def _kpi_gauges() -> dict[str, float]:
        from serving.kpi.cache import source_of
        from serving.kpi.service import gauge_figures

        return gauge_figures(engine, settings.kpi_gauge_window_days, source=source_of(app.state))

    metrics.add_kpi_gauges(_kpi_gauges, settings.kpi_gauge_window_days, settings.kpi_refresh_s)

    install_error_handlers(app)

    def _current_header() -> str | None:
        snapshot = holder.peek()
        return snapshot.header() if snapshot is not None else None

    app.add_middleware(RequestContextMiddleware, metrics=metrics, max_body_bytes=settings.max_request_bytes,
                       served_header=_current_header, admission=app.state.admission)

    from serving.audit.router import router as audit_router
    from serving.console.router import router as console_router
    from serving.feedback.router import router as feedback_router
    from serving.health import router as health_router
    from serving.hs.router import router as hs_router
    from serving.kpi.router import router as kpi_router
    from serving.models_api.router import router as models_router
    from serving.outcomes.router import router as outcomes_router
    from serving.shipments.router import router as shipments_router

    # The console is one router among the others: the feedback API and the replay do not depend on it.
    for router in (health_router, hs_router, feedback_router, shipments_router, outcomes_router, models_router,
                   kpi_router, audit_router, console_router):
        app.include_router(router)
    install_openapi(app)
    return app
