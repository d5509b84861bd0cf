"""The Classify page (归类): suggestions with their evidence, and the reviewer's accept or override."""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from data.errors import ClearanceError, InvalidInputError, field_error
from data.store.reviews import ReviewAction, get_review
from models.names import HS_SUGGESTER
from models.suggester.answer import SuggestionAnswer
from serving.console import service
from serving.console.auth import check_csrf, requires
from serving.console.i18n import LANGS, resolve_lang
from serving.console.pages import (
    REVIEWER_COOKIE,
    engine_of,
    form_text,
    form_texts,
    nomenclature_for,
    page_router,
    read_form,
    reviewer_name,
    served_or_503,
    settings_of,
)
from serving.console.render import COOKIE_MAX_AGE, error_box, render, signed_in
from serving.deps import run_model
from serving.editions import annotate_suggestion, decision_edition, tariff_book, tariff_differences
from serving.idempotency import request_once
from serving.limits import DeclaredElements, ProductText

log = logging.getLogger(__name__)

router = page_router()


class _Context(BaseModel):
    """What the result page carries into the feedback form (provenance of the suggestion the reviewer judged).

    Validated with the input limits, like the classify form it came from: a decision is never about a text the
    classify page would have refused.
    """

    text: ProductText
    declared_elements: DeclaredElements = Field(default_factory=dict)
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


async def _classify_page(request: Request, text: str, elements: dict[str, str], top_k: int, *, run: bool,
                         error: dict | None = None, status: int = 200, saved: Any = None,
                         saved_searchable: bool = True) -> HTMLResponse:
    """The classify page; with ``run`` the suggester answers ``text`` first (never on an invalid form)."""
    view = None
    top_evidence: list[dict[str, Any]] = []
    differences: list[dict[str, str]] = []
    context_json = ""
    if run and text:
        served = served_or_503(request)
        answer = await run_model(request, served.suggester.suggest, text, elements or None, top_k)
        # Tariff facts, HS 2028 transitions and the edition stamp, as the API adds them (serving.editions).
        settings = settings_of(request)
        book = await run_in_threadpool(tariff_book, engine_of(request), settings.hs2028_effective_date)
        if not isinstance(answer, SuggestionAnswer):  # a plain dict from a stand-in suggester
            answer = SuggestionAnswer.model_validate(answer)
        annotate_suggestion(answer, book)
        differences = tariff_differences(answer.candidates)
        view = service.classify_view(answer, nomenclature_for(request, served), resolve_lang(request))
        model = view.answer.setdefault("model", {}) or {}
        served_version = served.versions.get(HS_SUGGESTER) if getattr(served, "versions", None) else None
        if not model.get("version") and served_version is not None:
            # A bundle does not know the registry version it was registered under; the holder does.
            model["version"] = str(served_version.version)
            view.answer["model"] = model
        top_evidence = _top_evidence(view)
        context_json = _context_json(text, elements, top_k, view)
    return render(request, "classify.html", status=status, page="classify", view=view, top_evidence=top_evidence,
                   differences=differences, context_json=context_json, idempotency_key=secrets.token_urlsafe(16),
                   form_text=text, form_elements=list(elements.items()), top_k=top_k,
                   reviewer=reviewer_name(request), limits=settings_of(request).limits, error=error,
                   saved=saved, saved_searchable=saved_searchable)


@router.get("/", response_class=HTMLResponse)
@requires()
async def start_page(request: Request) -> Response:
    user = signed_in(request)
    if user is not None and "suggest" not in user.scopes:
        # A key without the classify scope starts on a page it may use instead of a 403.
        return RedirectResponse("/shipments" if "score" in user.scopes else "/models", status_code=303)
    return await classify_form(request)


@router.get("/classify", response_class=HTMLResponse)
@requires("suggest")
async def classify_form(request: Request) -> HTMLResponse:
    saved, text, elements = None, "", {}
    saved_id = request.query_params.get("saved", "")
    if saved_id.isascii() and saved_id.isdigit() and len(saved_id) <= 12:  # ids fit a 64-bit integer
        saved = await run_in_threadpool(get_review, engine_of(request), int(saved_id))
        if saved is not None:  # the form comes back filled in, ready for the next, similar product
            text, elements = saved.query_text, dict(saved.declared_elements)
    searchable = request.query_params.get("indexed", "1") == "1"
    return await _classify_page(request, text, elements, 5, run=False, saved=saved, saved_searchable=searchable)


@router.post("/classify", response_class=HTMLResponse)
@requires("suggest")
async def classify_submit(request: Request) -> HTMLResponse:
    limits = settings_of(request).limits
    text, elements, top_k = "", {}, 5
    try:
        form = await read_form(request)
        check_csrf(request, form)
        text = form_text(form, "text")
        elements = {k: v for k, v in zip(form_texts(form, "el_key"), form_texts(form, "el_value"))}
        elements = service.parse_elements(form_texts(form, "el_key"), form_texts(form, "el_value"), limits)
        # The API's request schema and limits: the page refuses exactly what /v1/hs/suggest refuses.
        query = service.classify_request(text, elements, form_text(form, "top_k"), limits)
        text, top_k = query.text, query.top_k
        return await _classify_page(request, text, elements, top_k, run=True)
    except ClearanceError as exc:
        # The form comes back as typed (a huge text is cut, not echoed whole), with the problem named.
        return await _classify_page(request, text[: limits.text_chars], elements, top_k, run=False,
                                    error=error_box(exc), status=exc.status)


def _parse_context(form, limits) -> _Context:
    try:
        return _Context.model_validate_json(form_text(form, "context"), context=limits)
    except ValidationError:
        raise InvalidInputError("The suggestion this decision refers to is missing or damaged; classify again",
                                code="context_damaged",
                                details=[field_error("context", "missing or not valid JSON")]) from None


def _decision_from_form(form, ctx: _Context, reviewer: str) -> Any:
    from serving.feedback.service import Decision

    model = ctx.model or {}
    top = ctx.candidates[0] if ctx.candidates else {}
    accept_code = form_text(form, "accept_code").strip()
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
        decision = Decision(action=ReviewAction.override, final_code=form_text(form, "override_code"),
                            suggested_code=top.get("code"), suggested_confidence=top.get("confidence"),
                            reason=form_text(form, "reason"), evidence_ids=list(dict.fromkeys(evidence)), **common)
    return decision


@router.post("/classify/feedback", response_class=HTMLResponse)
@requires("suggest")
async def classify_feedback(request: Request) -> Response:
    from serving.feedback.service import record_decision

    settings = settings_of(request)
    user = signed_in(request)
    text, elements, top_k = "", {}, 5
    try:
        form = await read_form(request)
        check_csrf(request, form)  # before anything is parsed, run or written
        # Signed in, the decision is recorded under the key's name, as the API does: a typed name could be anybody's.
        reviewer = user.name if user is not None else form_text(form, "reviewer").strip()
        ctx = _parse_context(form, settings.limits)
        text, elements, top_k = ctx.text, ctx.declared_elements, ctx.top_k
        decision = _decision_from_form(form, ctx, reviewer)
        served = served_or_503(request)
        served_version = served.versions.get(HS_SUGGESTER) if getattr(served, "versions", None) else None
        nomenclature = nomenclature_for(request, served)
        book = await run_in_threadpool(tariff_book, engine_of(request), settings.hs2028_effective_date)
        edition_codes = decision_edition(decision, book, nomenclature)  # an HS 2028 code accepted or typed
        # One key per rendered form: a double click or a resubmitted form records the decision once.
        key = form_text(form, "idempotency_key").strip() or None
        once = request_once(request, payload=decision.model_dump(mode="json"), body_key=key,
                            owner=decision.reviewer) if key else None
        receipt = await run_model(
            request, record_decision, engine_of(request), served.suggester, decision,
            nomenclature=nomenclature, channel="console", max_text_chars=settings.max_text_chars,
            overlays=served.overlays, served_version=str(served_version.version) if served_version else None,
            once=once, edition_codes=edition_codes)
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


