"""The Models page: which versions answer, their metrics and plots."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from data.errors import ClearanceError, NotFoundError
from serving.console import service
from serving.console.auth import requires
from serving.console.i18n import resolve_lang, translator
from serving.console.monitoring_view import key_metrics, monitoring_view
from serving.console.pages import (
    page_router,
    served_or_503,
    settings_of,
)
from serving.console.render import error_box, render

log = logging.getLogger(__name__)

router = page_router()


def _models_info(request: Request) -> tuple[list[dict[str, Any]], str | None]:
    """Served versions with their run metrics and plot paths; the registry error, if any, for the page."""
    from training.registry import client

    served = served_or_503(request)
    settings = settings_of(request)
    rows: list[dict[str, Any]] = []
    problem = None
    uri = settings.mlflow_tracking_uri or ""
    try:
        # MLflow would create an empty registry at a missing sqlite path; a missing file means "not reachable".
        if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
            raise FileNotFoundError("model registry database not found")
        mlflow_client = client(settings)
    except Exception as exc:  # the page still lists the served versions without the registry
        mlflow_client, problem = None, f"{type(exc).__name__}: {exc}"[:300]
    for name, version in sorted(served.versions.items()):
        metrics = dict(version.metrics)
        plots: list[str] = []
        if mlflow_client is not None and version.run_id:
            try:
                metrics = {**metrics, **service.run_metrics(mlflow_client, version.run_id)}
                plots = service.list_plot_paths(mlflow_client, version.run_id)
            except Exception as exc:  # registry briefly unreachable: say so, keep the rest
                problem = f"{type(exc).__name__}: {exc}"[:300]
        rows.append({"name": name, "version": version.version, "run_id": version.run_id, "source": version.source,
                     "served_since": version.served_since, "metrics": metrics, "plots": plots})
    return rows, problem


def _monitoring(request: Request) -> tuple[dict[str, Any] | None, str | None]:
    """The monitoring report of the served set, or why there is none (the rest of the page does not depend on it)."""
    from serving.models_api.monitoring import cached_report

    try:
        return cached_report(request.app.state, served_or_503(request)), None
    except ClearanceError:
        raise
    except Exception as exc:  # a monitoring failure must not hide which versions are served
        log.warning("model monitoring unavailable: %s", exc)
        return None, f"{type(exc).__name__}: {exc}"[:300]


@router.get("/models", response_class=HTMLResponse)
@requires()
async def models_page(request: Request) -> HTMLResponse:
    try:
        rows, problem = await run_in_threadpool(_models_info, request)
        report, monitoring_problem = await run_in_threadpool(_monitoring, request)
    except ClearanceError as exc:
        return render(request, "models.html", status=exc.status, page="models", rows=[], problem=None,
                       monitoring=None, monitoring_problem=None, error=error_box(exc))
    lang = resolve_lang(request)
    t = translator(lang)
    for row in rows:
        row["key_metrics"] = key_metrics(row["name"], row["metrics"], lang)
    monitored = []
    for entry in (report or {}).get("models", []):
        monitored.append({**entry, "view": monitoring_view(entry, t)})
    return render(request, "models.html", page="models", rows=rows, problem=problem, monitoring=report,
                  monitored=monitored, monitoring_problem=monitoring_problem)


@router.get("/models/plots/{run_id}/{artifact_path:path}")
@requires()
async def model_plot(request: Request, run_id: str, artifact_path: str) -> Response:
    settings = settings_of(request)
    suffix = Path(artifact_path).suffix.lower()
    try:
        served = served_or_503(request)
    except ClearanceError as exc:
        return Response(exc.message, status_code=exc.status)
    # Only plots of runs being served: this route must not become a download proxy for the whole artifact store.
    if suffix not in service.IMAGE_TYPES or run_id not in {v.run_id for v in served.versions.values()}:
        return Response("not found", status_code=404)

    def fetch() -> Path:
        from training.registry import client

        if artifact_path not in service.list_plot_paths(client(settings), run_id):
            raise NotFoundError("no such plot")
        return service.cached_plot(Path(settings.model_cache_dir), settings.mlflow_tracking_uri, run_id,
                                   artifact_path)

    try:
        path = await run_in_threadpool(fetch)
    except ClearanceError as exc:
        return Response(exc.message, status_code=exc.status)
    except Exception as exc:  # registry unreachable: an image error, not a broken page
        log.warning("plot %s of run %s unavailable: %s", artifact_path, run_id, exc)
        return Response("plot unavailable", status_code=503)
    return FileResponse(path, media_type=service.IMAGE_TYPES[suffix], headers={"Cache-Control": "max-age=3600"})


