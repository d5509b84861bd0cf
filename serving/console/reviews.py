"""The Review log page: who accepted or overrode what, filtered, and its CSV export."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from data.errors import ClearanceError, InvalidInputError, field_error
from data.store.reviews import EXPORT_COLUMNS, ReviewAction, count_reviews, iter_reviews, list_reviews
from serving.console import service
from serving.console.auth import requires
from serving.console.pages import (
    PAGE_SIZE,
    engine_of,
    page_router,
)
from serving.console.render import error_box, render

log = logging.getLogger(__name__)

router = page_router()
#: Far beyond any review log, far below the 64-bit integers every database binds.
MAX_OFFSET = 10**9


def _review_filters(request: Request) -> tuple[str | None, str | None]:
    reviewer = request.query_params.get("reviewer", "").strip() or None
    action = request.query_params.get("action", "").strip() or None
    if action is not None and action not in {a.value for a in ReviewAction}:
        raise InvalidInputError("Unknown action filter",
                                code="bad_filter", details=[field_error("action", "use accept or override")])
    return reviewer, action


@router.get("/reviews", response_class=HTMLResponse)
@requires("suggest", "admin")
async def reviews_page(request: Request) -> HTMLResponse:
    engine = engine_of(request)
    try:
        reviewer, action = _review_filters(request)
        offset_raw = request.query_params.get("offset", "0")
        if not offset_raw.isdigit() or not offset_raw.isascii():
            raise InvalidInputError("offset must be a whole number",
                                    code="bad_filter", details=[field_error("offset", "not a number")])
        if len(offset_raw) > 12 or int(offset_raw) > MAX_OFFSET:  # a database's integers stop at 2**63
            raise InvalidInputError(f"offset must be at most {MAX_OFFSET}",
                                    code="bad_filter", details=[field_error("offset", f"larger than {MAX_OFFSET}")])
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


@router.get("/reviews.csv")
@requires("suggest", "admin")
async def reviews_csv(request: Request) -> Response:
    try:
        reviewer, action = _review_filters(request)
    except ClearanceError as exc:
        return Response(exc.message, status_code=exc.status, media_type="text/plain; charset=utf-8")
    engine = engine_of(request)

    def rows():
        # Streamed in batches: the log grows without bound and an export must not hold it all in memory.
        yield service.to_csv([], EXPORT_COLUMNS)
        for entry in iter_reviews(engine, reviewer=reviewer, action=action):
            yield service.to_csv([entry.model_dump(mode="json")], EXPORT_COLUMNS, header=False)

    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="clearance-reviews.csv"'})


