"""The customs-staff web console: server-rendered pages on top of the served models and the store.

Mounted at ``/`` by the service. Pages are plain HTML forms (Jinja2), so they work without JavaScript and need no
build step. Every form validates its input completely before it writes or scores anything, and shows problems on the
page, naming the field and the reason. Who may open each page is declared on the route (``serving.console.auth``:
a signed-in API key with the page's scope, unless auth is disabled).
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from data.errors import ClearanceError, InvalidInputError, NotFoundError, UnavailableError, field_error
from data.store.reviews import EXPORT_COLUMNS, ReviewAction, count_reviews, get_review, iter_reviews, list_reviews
from models.names import HS_SUGGESTER
from serving.console import service
from serving.console.auth import ConsoleRoute, check_csrf, public, requires
from serving.console.i18n import LANGS, resolve_lang
from serving.console.render import COOKIE_MAX_AGE, error_box, render, signed_in
from serving.deps import run_model

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"

REVIEWER_COOKIE = "clearance_reviewer"
PAGE_SIZE = 100

# Pages stay out of the OpenAPI document (the JSON feedback route, mounted by the app, is documented).
# Every page route declares who may use it (``serving.console.auth``); ConsoleRoute refuses a route that does not.
pages = APIRouter(include_in_schema=False, route_class=ConsoleRoute)


# ------------------------------------------------------------------------------------------------------- plumbing
def _served(request: Request):
    """The served models for this request, or UnavailableError (rendered as a 503 page)."""
    holder = getattr(request.app.state, "holder", None)
    if holder is None:
        raise UnavailableError("no model holder is configured")
    return holder.current()


def _settings(request: Request):
    return request.app.state.settings


def _engine(request: Request):
    return request.app.state.engine


def _nomenclature(request: Request, served: Any) -> Any | None:
    for owner in (getattr(served, "suggester", None), getattr(served, "scorer", None)):
        nomenclature = getattr(owner, "nomenclature", None)
        if nomenclature is not None:
            return nomenclature
    cached = getattr(request.app.state, "console_nomenclature", None)
    if cached is None:
        from data.nomenclature import Nomenclature

        cached = Nomenclature.load(_engine(request))
        request.app.state.console_nomenclature = cached
    return cached


def _reviewer(request: Request) -> str:
    user = signed_in(request)
    return user.name if user is not None else unquote(request.cookies.get(REVIEWER_COOKIE, ""))


async def _form(request: Request, max_bytes: int | None = None):
    """The posted form; a body over the limit is refused before it is parsed."""
    limit = max_bytes or _settings(request).max_request_bytes
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise InvalidInputError(f"The upload is too large ({int(length):,} bytes; the limit is {limit:,})",
                                code="too_large", details=[field_error("body", f"larger than {limit} bytes")])
    return await request.form(max_part_size=limit)


def _texts(form, name: str) -> list[str]:
    return [v for v in form.getlist(name) if isinstance(v, str)]


def _text(form, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


# ----------------------------------------------------------------------------------------------------- static
_STATIC_TYPES = {".css": "text/css", ".js": "text/javascript"}


@pages.get("/console-static/{name}")
@public  # the sign-in page needs the stylesheet
async def static_file(name: str) -> Response:
    # Only files that exist directly in static/: no path traversal, no directory listing.
    path = STATIC_DIR / name
    if "/" in name or name.startswith(".") or not path.is_file() or path.suffix not in _STATIC_TYPES:
        return Response(status_code=404)
    return FileResponse(path, media_type=_STATIC_TYPES[path.suffix], headers={"Cache-Control": "max-age=300"})


# --------------------------------------------------------------------------------------------------- classify
class _Context(BaseModel):
    """What the result page carries into the feedback form (provenance of the suggestion the reviewer judged)."""

    text: str
    declared_elements: dict[str, str] = Field(default_factory=dict)
    top_k: int = 5
    model: dict[str, Any] = Field(default_factory=dict)
    candidates: list[dict[str, Any]] = Field(default_factory=list)


def _context_json(text: str, elements: dict[str, str], top_k: int, view: service.ClassifyView) -> str:
    return json.dumps({
        "text": text, "declared_elements": elements, "top_k": top_k, "model": view.answer.get("model") or {},
        "candidates": [{"code": c.code, "confidence": c.confidence,
                        "evidence_ids": [e.get("ruling_id") for e in c.evidence if e.get("ruling_id")]}
                       for c in view.candidates],
    }, ensure_ascii=False)


def _top_evidence(view: service.ClassifyView, n: int = 5) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for cand in view.candidates:
        for ev in cand.evidence:
            rid = ev.get("ruling_id")
            if rid and (rid not in seen or ev.get("similarity", 0) > seen[rid].get("similarity", 0)):
                seen[rid] = ev
    return sorted(seen.values(), key=lambda e: -float(e.get("similarity") or 0))[:n]


def _parse_top_k(raw: str) -> int:
    try:
        k = int(raw or 5)
    except ValueError:
        raise InvalidInputError("top_k must be a number",
                                code="bad_top_k", details=[field_error("top_k", "not a number")]) from None
    if not 1 <= k <= 20:
        raise InvalidInputError("top_k must be between 1 and 20",
                                code="bad_top_k", details=[field_error("top_k", "out of range 1-20")])
    return k


async def _classify_page(request: Request, text: str, elements: dict[str, str], top_k: int, *, run: bool,
                         error: dict | None = None, status: int = 200, saved: Any = None,
                         saved_searchable: bool = True) -> HTMLResponse:
    """The classify page; with ``run`` the suggester answers ``text`` first (never on an invalid form)."""
    view = None
    top_evidence: list[dict[str, Any]] = []
    context_json = ""
    if run and text:
        served = _served(request)
        answer = await run_model(request, served.suggester.suggest, text, elements or None, top_k)
        view = service.classify_view(answer, _nomenclature(request, served), resolve_lang(request))
        model = view.answer.setdefault("model", {}) or {}
        served_version = served.versions.get(HS_SUGGESTER) if getattr(served, "versions", None) else None
        if not model.get("version") and served_version is not None:
            # A bundle does not know the registry version it was registered under; the holder does.
            model["version"] = str(served_version.version)
            view.answer["model"] = model
        top_evidence = _top_evidence(view)
        context_json = _context_json(text, elements, top_k, view)
    return render(request, "classify.html", status=status, page="classify", view=view, top_evidence=top_evidence,
                   context_json=context_json, form_text=text, form_elements=list(elements.items()), top_k=top_k,
                   reviewer=_reviewer(request), max_text_chars=_settings(request).max_text_chars, error=error,
                   saved=saved, saved_searchable=saved_searchable)


@pages.get("/", response_class=HTMLResponse)
@requires()
async def start_page(request: Request) -> Response:
    user = signed_in(request)
    if user is not None and "suggest" not in user.scopes:
        # A key without the classify scope starts on a page it may use instead of a 403.
        return RedirectResponse("/shipments" if "score" in user.scopes else "/models", status_code=303)
    return await classify_form(request)


@pages.get("/classify", response_class=HTMLResponse)
@requires("suggest")
async def classify_form(request: Request) -> HTMLResponse:
    saved, text, elements = None, "", {}
    saved_id = request.query_params.get("saved", "")
    if saved_id.isdigit():
        saved = await run_in_threadpool(get_review, _engine(request), int(saved_id))
        if saved is not None:  # the form comes back filled in, ready for the next, similar product
            text, elements = saved.query_text, dict(saved.declared_elements)
    searchable = request.query_params.get("indexed", "1") == "1"
    return await _classify_page(request, text, elements, 5, run=False, saved=saved, saved_searchable=searchable)


@pages.post("/classify", response_class=HTMLResponse)
@requires("suggest")
async def classify_submit(request: Request) -> HTMLResponse:
    settings = _settings(request)
    text, elements, top_k = "", {}, 5
    try:
        form = await _form(request)
        check_csrf(request, form)
        text = _text(form, "text")
        elements = {k: v for k, v in zip(_texts(form, "el_key"), _texts(form, "el_value"))}
        elements = service.parse_elements(_texts(form, "el_key"), _texts(form, "el_value"))
        top_k = _parse_top_k(_text(form, "top_k"))
        text = service.check_description(text, settings.max_text_chars)
        return await _classify_page(request, text, elements, top_k, run=True)
    except ClearanceError as exc:
        # The form comes back as typed (a huge text is cut, not echoed whole), with the problem named.
        return await _classify_page(request, text[: settings.max_text_chars], elements, top_k, run=False,
                                    error=error_box(exc), status=exc.status)


def _parse_context(form) -> _Context:
    try:
        return _Context.model_validate_json(_text(form, "context"))
    except ValidationError:
        raise InvalidInputError("The suggestion this decision refers to is missing or damaged; classify again",
                                code="context_damaged",
                                details=[field_error("context", "missing or not valid JSON")]) from None


def _decision_from_form(form, ctx: _Context, reviewer: str) -> Any:
    from serving.feedback.service import Decision

    model = ctx.model or {}
    top = ctx.candidates[0] if ctx.candidates else {}
    accept_code = _text(form, "accept_code").strip()
    common = dict(text=ctx.text, declared_elements=ctx.declared_elements, reviewer=reviewer,
                  model_name=model.get("name"), model_version=str(model["version"]) if model.get("version") else None,
                  index_fingerprint=model.get("index_fingerprint"))
    if accept_code:
        chosen = next((c for c in ctx.candidates if c.get("code") == accept_code), None)
        if chosen is None:
            raise InvalidInputError("The accepted code was not among the suggested candidates",
                                    code="accept_not_suggested",
                                    details=[field_error("accept_code", f"{accept_code} was not suggested")])
        rank = ctx.candidates.index(chosen) + 1
        reason = "" if rank == 1 else f"accepted candidate {rank} of {len(ctx.candidates)}"
        decision = Decision(action=ReviewAction.accept, final_code=accept_code, suggested_code=accept_code,
                            suggested_confidence=chosen.get("confidence"), reason=reason,
                            evidence_ids=chosen.get("evidence_ids") or [], **common)
    else:
        evidence = [rid for c in ctx.candidates for rid in (c.get("evidence_ids") or [])]
        decision = Decision(action=ReviewAction.override, final_code=_text(form, "override_code"),
                            suggested_code=top.get("code"), suggested_confidence=top.get("confidence"),
                            reason=_text(form, "reason"), evidence_ids=list(dict.fromkeys(evidence)), **common)
    return decision


@pages.post("/classify/feedback", response_class=HTMLResponse)
@requires("suggest")
async def classify_feedback(request: Request) -> Response:
    from serving.feedback.service import record_decision

    settings = _settings(request)
    user = signed_in(request)
    text, elements, top_k = "", {}, 5
    try:
        form = await _form(request)
        check_csrf(request, form)  # before anything is parsed, run or written
        # Signed in, the decision is recorded under the key's name, as the API does: a typed name could be anybody's.
        reviewer = user.name if user is not None else _text(form, "reviewer").strip()
        ctx = _parse_context(form)
        text, elements, top_k = ctx.text, ctx.declared_elements, ctx.top_k
        decision = _decision_from_form(form, ctx, reviewer)
        served = _served(request)
        receipt = await run_model(
            request, record_decision, _engine(request), served.suggester, decision,
            nomenclature=_nomenclature(request, served), channel="console", max_text_chars=settings.max_text_chars,
            overlays=served.overlays)
    except ClearanceError as exc:
        # Nothing was written: show the same suggestion again with the problem, so the reviewer can fix and resend.
        error = error_box(exc, "decision_not_saved" if isinstance(exc, InvalidInputError) and exc.code == "invalid_input"
                       else None)
        try:
            return await _classify_page(request, text, elements, top_k, run=bool(text), error=error,
                                        status=exc.status)
        except ClearanceError:
            return await _classify_page(request, text, elements, top_k, run=False, error=error, status=exc.status)
    # Post/redirect/get: a reload of the confirmation page must not record the decision twice.
    params = {"saved": receipt.review.id, "indexed": "1" if receipt.searchable else "0"}
    if request.query_params.get("lang") in LANGS:
        params["lang"] = request.query_params["lang"]
    response = RedirectResponse(f"/classify?{urlencode(params)}", status_code=303)
    if user is None:
        response.set_cookie(REVIEWER_COOKIE, quote(decision.reviewer), max_age=COOKIE_MAX_AGE, samesite="lax")
    return response


# ----------------------------------------------------------------------------------------------------- models
def _models_info(request: Request) -> tuple[list[dict[str, Any]], str | None]:
    """Served versions with their run metrics and plot paths; the registry error, if any, for the page."""
    from training.registry import client

    served = _served(request)
    settings = _settings(request)
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


@pages.get("/models", response_class=HTMLResponse)
@requires()
async def models_page(request: Request) -> HTMLResponse:
    try:
        rows, problem = await run_in_threadpool(_models_info, request)
    except ClearanceError as exc:
        return render(request, "models.html", status=exc.status, page="models", rows=[], problem=None,
                       error=error_box(exc))
    return render(request, "models.html", page="models", rows=rows, problem=problem)


@pages.get("/models/plots/{run_id}/{artifact_path:path}")
@requires()
async def model_plot(request: Request, run_id: str, artifact_path: str) -> Response:
    settings = _settings(request)
    suffix = Path(artifact_path).suffix.lower()
    try:
        served = _served(request)
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


# ----------------------------------------------------------------------------------------------------- reviews
def _review_filters(request: Request) -> tuple[str | None, str | None]:
    reviewer = request.query_params.get("reviewer", "").strip() or None
    action = request.query_params.get("action", "").strip() or None
    if action is not None and action not in {a.value for a in ReviewAction}:
        raise InvalidInputError("Unknown action filter",
                                code="bad_filter", details=[field_error("action", "use accept or override")])
    return reviewer, action


@pages.get("/reviews", response_class=HTMLResponse)
@requires("suggest", "admin")
async def reviews_page(request: Request) -> HTMLResponse:
    engine = _engine(request)
    try:
        reviewer, action = _review_filters(request)
        offset_raw = request.query_params.get("offset", "0")
        if not offset_raw.isdigit():
            raise InvalidInputError("offset must be a whole number",
                                    code="bad_filter", details=[field_error("offset", "not a number")])
        offset = int(offset_raw)
    except ClearanceError as exc:
        return render(request, "reviews.html", status=exc.status, page="reviews", entries=[], total=0, offset=0,
                       page_size=PAGE_SIZE, reviewer_filter="", action_filter="", query="", error=error_box(exc))
    entries = await run_in_threadpool(list_reviews, engine, limit=PAGE_SIZE, offset=offset, reviewer=reviewer,
                                      action=action)
    total = await run_in_threadpool(count_reviews, engine, reviewer=reviewer, action=action)
    query = urlencode({k: v for k, v in (("reviewer", reviewer), ("action", action)) if v})
    return render(request, "reviews.html", page="reviews", entries=entries, total=total, offset=offset,
                   page_size=PAGE_SIZE, reviewer_filter=reviewer or "", action_filter=action or "", query=query)


@pages.get("/reviews.csv")
@requires("suggest", "admin")
async def reviews_csv(request: Request) -> Response:
    try:
        reviewer, action = _review_filters(request)
    except ClearanceError as exc:
        return Response(exc.message, status_code=exc.status, media_type="text/plain; charset=utf-8")
    engine = _engine(request)

    def rows():
        # Streamed in batches: the log grows without bound and an export must not hold it all in memory.
        yield service.to_csv([], EXPORT_COLUMNS)
        for entry in iter_reviews(engine, reviewer=reviewer, action=action):
            yield service.to_csv([entry.model_dump(mode="json")], EXPORT_COLUMNS, header=False)

    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="clearance-reviews.csv"'})


# --------------------------------------------------------------------------------------------------- shipments
EXAMPLE_PATH = STATIC_DIR / "shipment-example.json"
CONSOLE_MAX_SHIPMENTS = 1000  # explanations make console scoring ~10x slower than the API's batch path


def _example_docs() -> list[dict[str, Any]]:
    return json.loads(EXAMPLE_PATH.read_text(encoding="utf-8"))


def _shipments_page(request: Request, *, status: int = 200, **context: Any) -> HTMLResponse:
    from serving.console import shipments_io

    context.setdefault("results", None)
    context.setdefault("rejected", [])
    context.setdefault("json_text", "")
    context.setdefault("csv_data_uri", "")
    context.setdefault("text_of", shipments_io.text_of)
    context.setdefault("max_bytes", _settings(request).max_request_bytes)
    context.setdefault("example_row", shipments_io.flatten(_example_docs()[0])[0])
    return render(request, "shipments.html", status=status, page="shipments", columns=shipments_io.COLUMNS,
                   line_lists=shipments_io.LINE_LISTS, **context)


@pages.get("/shipments", response_class=HTMLResponse)
@requires("score")
async def shipments_form(request: Request) -> HTMLResponse:
    return _shipments_page(request)


@pages.get("/shipments/template.csv")
@requires("score")
async def shipments_template() -> Response:
    from serving.console import shipments_io

    return Response(shipments_io.template_csv(_example_docs()), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="clearance-shipments-template.csv"'})


@pages.get("/shipments/example.json")
@requires("score")
async def shipments_example() -> Response:
    return FileResponse(EXAMPLE_PATH, media_type="application/json")


async def _read_upload(upload: Any, limit: int) -> bytes:
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise InvalidInputError(f"The file is too large (over {limit:,} bytes)",
                                code="too_large", details=[field_error("file", f"larger than {limit} bytes")])
    return data


@pages.post("/shipments", response_class=HTMLResponse)
@requires("score")
async def shipments_submit(request: Request) -> HTMLResponse:
    from serving.console import shipments_io

    settings = _settings(request)
    limit = settings.max_request_bytes
    max_items = min(settings.max_score_batch, CONSOLE_MAX_SHIPMENTS)
    lang = resolve_lang(request)
    json_text = ""
    try:
        form = await _form(request, limit)
        check_csrf(request, form)
        json_text = _text(form, "json")
        upload = form.get("file")
        has_file = upload is not None and not isinstance(upload, str) and bool(upload.filename)
        if has_file and json_text.strip():
            raise InvalidInputError("Paste JSON or upload a CSV file, not both",
                                    code="json_and_file", details=[field_error("json", "given together with a file")])
        if has_file:
            raw = await _read_upload(upload, limit)
            if not raw:
                raise InvalidInputError("The uploaded file is empty",
                                        code="empty_file", details=[field_error("file", "empty")])
            parsed = shipments_io.parse_csv(shipments_io.decode_upload(raw), max_items)
        elif json_text.strip():
            if len(json_text.encode("utf-8")) > limit:
                raise InvalidInputError(f"The pasted JSON is too large (over {limit:,} bytes)",
                                        code="too_large", details=[field_error("json", f"larger than {limit} bytes")])
            parsed = shipments_io.parse_json(json_text, max_items)
        else:
            raise InvalidInputError("Paste shipment JSON or choose a CSV file",
                                    code="no_shipments_input",
                                    details=[field_error("json", "empty"), field_error("file", "no file chosen")])
        results: list[dict[str, Any]] = []
        if parsed.shipments:
            served = _served(request)
            scored = await run_model(request, served.scorer.score_batch, parsed.shipments, explain=True)
            results = [r.model_dump(mode="json") if hasattr(r, "model_dump") else dict(r) for r in scored]
    except ClearanceError as exc:
        return _shipments_page(request, status=exc.status, error=error_box(exc), json_text=json_text[:limit])
    rows = [shipments_io.result_row(r, lang) for r in results] + [shipments_io.rejected_row(r) for r in parsed.rejected]
    csv_text = service.to_csv(rows, shipments_io.RESULT_COLUMNS)
    # A data: URI carries exactly the results on screen; nothing is stored server-side for the download.
    data_uri = "data:text/csv;charset=utf-8;base64," + base64.b64encode(csv_text.encode("utf-8")).decode("ascii")
    status = 200 if results else 422
    error = None
    if parsed.rejected and not results:
        error = {"message": "No shipment passed validation; nothing was scored", "details": []}
    return _shipments_page(request, status=status, error=error, results=results, rejected=parsed.rejected,
                           json_text=json_text, csv_data_uri=data_uri)


# --------------------------------------------------------------------------------------------------- assembly
def _assemble() -> APIRouter:
    from serving.console.signin import router as signin_router

    combined = APIRouter()
    combined.include_router(signin_router)
    combined.include_router(pages)
    return combined


router = _assemble()
