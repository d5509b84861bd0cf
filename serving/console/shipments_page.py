"""The Check shipments page (单证核验): pasted JSON or an uploaded CSV, scored, findings and advisories, CSV out."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

from fastapi import Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from data.errors import ClearanceError, InvalidInputError, field_error
from serving.console import service
from serving.console.auth import check_csrf, requires
from serving.console.i18n import resolve_lang
from serving.console.pages import (
    STATIC_DIR,
    form_text,
    page_router,
    read_form,
    served_or_503,
    settings_of,
)
from serving.console.render import error_box, render
from serving.deps import run_model

log = logging.getLogger(__name__)

router = page_router()


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
    context.setdefault("max_bytes", settings_of(request).max_request_bytes)
    context.setdefault("example_row", shipments_io.flatten(_example_docs()[0])[0])
    return render(request, "shipments.html", status=status, page="shipments", columns=shipments_io.COLUMNS,
                   line_lists=shipments_io.LINE_LISTS, **context)


@router.get("/shipments", response_class=HTMLResponse)
@requires("score")
async def shipments_form(request: Request) -> HTMLResponse:
    return _shipments_page(request)


@router.get("/shipments/template.csv")
@requires("score")
async def shipments_template() -> Response:
    from serving.console import shipments_io

    return Response(shipments_io.template_csv(_example_docs()), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="clearance-shipments-template.csv"'})


@router.get("/shipments/example.json")
@requires("score")
async def shipments_example() -> Response:
    return FileResponse(EXAMPLE_PATH, media_type="application/json")


async def _read_upload(upload: Any, limit: int) -> bytes:
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise InvalidInputError(f"The file is too large (over {limit:,} bytes)",
                                code="too_large", details=[field_error("file", f"larger than {limit} bytes")])
    return data


@router.post("/shipments", response_class=HTMLResponse)
@requires("score")
async def shipments_submit(request: Request) -> HTMLResponse:
    from serving.console import shipments_io

    settings = settings_of(request)
    limit = settings.max_request_bytes
    max_items = min(settings.max_score_batch, CONSOLE_MAX_SHIPMENTS)
    lang = resolve_lang(request)
    json_text = ""
    try:
        form = await read_form(request, limit)
        check_csrf(request, form)
        json_text = form_text(form, "json")
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
            served = served_or_503(request)
            from serving.editions import tariff_book
            from serving.shipments.service import refresh_facts

            settings = request.app.state.settings
            refresh_facts(served, await run_in_threadpool(tariff_book, request.app.state.engine,
                                                          settings.hs2028_effective_date))
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


