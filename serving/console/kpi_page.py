"""The KPI dashboard page (绩效仪表盘): the figures of ``serving.kpi.service`` as cards, charts and a table, and
their CSV export."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from data.errors import ClearanceError
from serving.console import charts
from serving.console.auth import requires
from serving.console.i18n import resolve_lang, translator
from serving.console.pages import engine_of, page_router
from serving.console.render import error_box, render
from serving.kpi import service
from serving.kpi.cache import source_of

router = page_router()

#: The dashboard's four sections and their figures, in the order customs teams review them.
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("efficiency", ("preparation_hours_p50", "release_hours_p50", "release_hours_p90", "exception_handling_hours")),
    ("cost", ("cost_per_declaration", "demurrage_incidence", "demurrage_amount")),
    ("quality", ("first_pass_rate", "data_error_rate", "three_document_match_rate", "override_rate")),
)
#: Extra tables under the figures, each ``panel(request, report) -> dict | None`` returning ``{"key", "title_en",
#: "title_zh", "columns": [(key, en, zh), ...], "rows": [dict, ...], "chart": (label column, value column) | None}``
#: or None when it has nothing to show; called in a worker thread (it may read the store). The port-congestion table
#: plugs in here (``PANELS.append(...)``) without the page knowing its queries.
PANELS: list[Callable[[Request, dict[str, Any]], dict[str, Any] | None]] = []


def congestion_panel(request: Request, report: dict[str, Any]) -> dict[str, Any] | None:
    """Port congestion (median/P90 release hours over the 7 days of outcomes before the period's end, per export and
    destination port): the same figures the delay and risk models read (``features.congestion``)."""
    from datetime import UTC, datetime

    from features.congestion import current_congestion_table

    end = report["to"]
    at = min(end, datetime.now(UTC)) if isinstance(end, datetime) else None
    rows = current_congestion_table(engine_of(request), at)
    return rows and {"key": "congestion", "title_en": "Port congestion (last 7 days of outcomes)",
                     "title_zh": "口岸拥堵（近 7 天通关结果）",
                     "columns": [("kind", "Port type", "口岸类型"), ("port", "Port", "口岸"),
                                 ("release_hours_p50", "Release P50 (h)", "放行 P50（小时）"),
                                 ("release_hours_p90", "Release P90 (h)", "放行 P90（小时）"),
                                 ("outcomes", "Outcomes", "结果数")],
                     "rows": rows, "chart": ("port", "release_hours_p90")}


PANELS.append(congestion_panel)
PERCENT = frozenset({"demurrage_incidence", "first_pass_rate", "data_error_rate", "three_document_match_rate",
                     "override_rate", "api_availability"})


def _params(request: Request) -> tuple[str | None, str | None, str]:
    q = request.query_params
    return q.get("from") or None, q.get("to") or None, q.get("group_by") or "week"


def _report(request: Request) -> dict[str, Any]:
    start, end, group_by = _params(request)
    engine = engine_of(request)
    lo, hi = service.resolve_period(engine, start, end)
    return service.kpi_report(engine, lo, hi, group_by, service=request.app.state.metrics.api_figures(),
                              source=source_of(request.app.state))


def _panels(request: Request, report: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    out = []
    for panel in PANELS:
        found = panel(request, report)
        if not found:
            continue
        chart = None
        if found.get("chart"):
            label, value = found["chart"]
            title = found["title_zh"] if lang == "zh" else found["title_en"]
            chart = charts.bar_chart([(str(r[label]), r.get(value)) for r in found["rows"][:20]], title=title)
        out.append({**found, "chart_svg": chart})
    return out


def _view(report: dict[str, Any], t) -> dict[str, Any]:
    time_grouped = report["group_by"] in ("week", "month")
    groups = report["groups"] if time_grouped else report["groups"][:20]
    sections = []
    for name, figures in SECTIONS:
        items = []
        for figure in figures:
            points = [(g["group"], g[figure]) for g in groups]
            if not time_grouped and figure == "override_rate" and report["group_by"] != "hs_chapter":
                chart = None  # reviews have no port, carrier or channel
            elif time_grouped:
                chart = charts.line_chart(points, title=t(f"kpi_{figure}"), percent=figure in PERCENT)
            else:
                chart = charts.bar_chart(points, title=t(f"kpi_{figure}"), percent=figure in PERCENT)
            items.append({"figure": figure, "value": report["total"][figure], "percent": figure in PERCENT,
                          "chart": chart})
        sections.append({"name": name, "items": items})
    return {"sections": sections, "groups": report["groups"], "time_grouped": time_grouped}


@router.get("/kpi", response_class=HTMLResponse)
@requires()
async def kpi_page(request: Request) -> HTMLResponse:
    start, end, group_by = _params(request)
    form = {"from": start or "", "to": end or "", "group_by": group_by}
    try:
        report = await run_in_threadpool(_report, request)
    except ClearanceError as exc:
        return render(request, "kpi.html", status=exc.status, page="kpi", report=None, view=None, form=form,
                      group_options=service.GROUP_BY, query="", error=error_box(exc))
    lang = resolve_lang(request)
    view = _view(report, translator(lang))
    panels = await run_in_threadpool(_panels, request, report, lang)
    form["from"] = form["from"] or service.local_day(report["from"])
    form["to"] = form["to"] or service.local_day(report["to"] - timedelta(seconds=1))
    query = urlencode({"from": form["from"], "to": form["to"], "group_by": group_by})
    return render(request, "kpi.html", page="kpi", report=report, view=view, form=form,
                  group_options=service.GROUP_BY, query=query, percent=PERCENT, panels=panels)


@router.get("/kpi.csv")
@requires()
async def kpi_csv(request: Request) -> Response:
    try:
        report = await run_in_threadpool(_report, request)
    except ClearanceError as exc:
        return Response(exc.message, status_code=exc.status, media_type="text/plain; charset=utf-8")
    name = f"clearance-kpi-{report['group_by']}-{report['from']:%Y%m%d}-{report['to']:%Y%m%d}.csv"
    return Response(service.kpi_csv(report), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
