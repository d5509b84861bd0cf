"""The HS 2028 page: stored rulings and reviewer decisions whose codes are renumbered or split, grouped by code, a
CSV export, and the reviewer's resolution of a split.

A resolution goes through the existing feedback path (``serving.feedback.service.record_decision``): it becomes a
reviewer ruling under the chosen HS 2028 subheading, dated from the effective date, searchable at once, logged in the
review log, and it names the ruling it resolves (``transition_of``), so the report shows that ruling as resolved.
"""

from __future__ import annotations

import logging
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from data.errors import ClearanceError, InvalidInputError, NotFoundError, field_error
from data.store.reviews import ReviewAction, get_review
from data.transition import TO_EDITION
from data.transition_report import CSV_COLUMNS, transition_report
from serving.console import service
from serving.console.auth import check_csrf, requires
from serving.console.i18n import LANGS
from serving.console.pages import (
    REVIEWER_COOKIE,
    engine_of,
    form_text,
    nomenclature_for,
    page_router,
    read_form,
    reviewer_name,
    served_or_503,
    settings_of,
)
from serving.console.render import COOKIE_MAX_AGE, error_box, render, signed_in
from serving.deps import run_model
from serving.editions import tariff_book

log = logging.getLogger(__name__)

router = page_router()

#: Rulings listed per code on the page (the CSV export has them all).
ITEMS_PER_GROUP = 50


def _book(request: Request):
    return tariff_book(engine_of(request), settings_of(request).hs2028_effective_date)


async def _report(request: Request):
    return await run_in_threadpool(lambda: transition_report(engine_of(request), _book(request)))


async def _page(request: Request, *, error: dict | None = None, status: int = 200) -> HTMLResponse:
    report = await _report(request)
    resolved = None
    resolved_id = request.query_params.get("resolved", "")
    if resolved_id.isdigit():
        resolved = await run_in_threadpool(get_review, engine_of(request), int(resolved_id))
    only = request.query_params.get("status", "")
    groups = [g for g in report.groups if not only or g.status == only]
    return render(request, "transition.html", status=status, page="transition", report=report, groups=groups,
                  status_filter=only, items_per_group=ITEMS_PER_GROUP, reviewer=reviewer_name(request),
                  resolved=resolved, error=error)


@router.get("/transition", response_class=HTMLResponse)
@requires("suggest")
async def transition_page(request: Request) -> HTMLResponse:
    return await _page(request)


@router.get("/transition.csv")
@requires("suggest")
async def transition_csv(request: Request) -> Response:
    report = await _report(request)
    body = service.to_csv(report.rows(), CSV_COLUMNS)
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="clearance-hs2028-transition.csv"'})


def _decision(ruling, new_code: str, reason: str, reviewer: str, transition, effective):
    from serving.feedback.service import Decision

    return Decision(
        text=ruling.product_name, declared_elements=dict(ruling.declared_elements), action=ReviewAction.override,
        final_code=new_code, suggested_code=ruling.hs_code,
        reason=reason or f"HS 2028: {ruling.hs_code[:6]} is split into {', '.join(transition.new_codes)}; "
                         f"product-level review chose {new_code}",
        reviewer=reviewer, edition=TO_EDITION, ruling_date=effective, transition_of=ruling.ruling_id)


@router.post("/transition/resolve", response_class=HTMLResponse)
@requires("suggest")
async def resolve_split(request: Request) -> Response:
    from data.rulings.repository import RulingRepository
    from serving.feedback.service import record_decision

    settings = settings_of(request)
    user = signed_in(request)
    try:
        form = await read_form(request)
        check_csrf(request, form)
        reviewer = user.name if user is not None else form_text(form, "reviewer").strip()
        ruling_id = form_text(form, "ruling_id").strip()
        new_code = form_text(form, "new_code").strip()
        ruling = await run_in_threadpool(RulingRepository(engine_of(request)).find, ruling_id)
        if ruling is None:
            raise NotFoundError(f"ruling '{ruling_id}' is not in the library",
                                details=[field_error("ruling_id", "not found")])
        book = await run_in_threadpool(_book, request)
        transition = book.transition(ruling.hs_code, edition=ruling.nomenclature_version)
        if transition is None or transition.status != "split":
            raise InvalidInputError(f"{ruling.hs_code} is not split in {TO_EDITION}: nothing to resolve",
                                    code="not_split", details=[field_error("ruling_id", "code is not split")])
        if not new_code:
            raise InvalidInputError("Choose the HS 2028 subheading", code="invalid_input",
                                    details=[field_error("new_code", "empty")])
        decision = _decision(ruling, new_code, form_text(form, "reason").strip(), reviewer, transition,
                             book.effective_date)
        served = served_or_503(request)
        receipt = await run_model(
            request, record_decision, engine_of(request), served.suggester, decision,
            nomenclature=nomenclature_for(request, served), channel="console",
            max_text_chars=settings.max_text_chars, overlays=served.overlays,
            edition_codes=frozenset(transition.new_codes),
            # The provenance is the stored ruling being resolved (read here, not sent by the client), not a model's
            # suggestion: attesting against the served model would record its answer instead of the old code.
            attest=False)
    except ClearanceError as exc:
        return await _page(request, error=error_box(exc), status=exc.status)
    params = {"resolved": receipt.review.id}
    if request.query_params.get("lang") in LANGS:
        params["lang"] = request.query_params["lang"]
    response = RedirectResponse(f"/transition?{urlencode(params)}", status_code=303)
    if user is None:
        response.set_cookie(REVIEWER_COOKIE, quote(decision.reviewer), max_age=COOKIE_MAX_AGE, samesite="lax")
    return response
