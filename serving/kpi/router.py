"""``GET /v1/kpi``: the dashboard's figures as JSON or CSV; thin over :mod:`serving.kpi.service`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request, Response

from serving.auth import require_scope
from serving.kpi import service
from serving.kpi.cache import source_of
from serving.kpi.schemas import KpiResponse

router = APIRouter(prefix="/v1", tags=["kpi"], dependencies=[Depends(require_scope(None))])


def report_for(request: Request, start: str | None, end: str | None, group_by: str) -> dict:
    """The report of the request's period (blocking: the store is read; call it in a worker thread)."""
    engine = request.app.state.engine
    lo, hi = service.resolve_period(engine, start, end)
    figures = request.app.state.metrics.api_figures()
    figures["since"] = datetime.fromtimestamp(figures["since"], UTC)
    return service.kpi_report(engine, lo, hi, group_by, service=figures, source=source_of(request.app.state))


@router.get("/kpi", response_model=KpiResponse, response_model_by_alias=True,
            summary="Customs KPIs (efficiency, cost, quality, coordination) for a period, grouped; CSV with format=csv",
            responses={200: {"content": {"text/csv": {"example": "group_by,group,n_shipments,...\r\n"}}}})
async def kpi(request: Request,
              start: str | None = Query(None, alias="from", description="YYYY-MM-DD (China time) or ISO date-time; "
                                        "default: 26 weeks before 'to'"),
              end: str | None = Query(None, alias="to", description="YYYY-MM-DD (inclusive) or ISO date-time; "
                                      "default: the latest stored declaration"),
              group_by: Literal["week", "month", "port", "carrier", "channel", "hs_chapter"] = "week",
              format: Literal["json", "csv"] = "json") -> Response:
    report = await anyio.to_thread.run_sync(report_for, request, start, end, group_by)
    if format == "csv":
        name = f"kpi-{group_by}-{report['from']:%Y%m%d}-{report['to']:%Y%m%d}.csv"
        return Response(service.kpi_csv(report), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    body = KpiResponse.model_validate(report)
    return Response(body.model_dump_json(by_alias=True), media_type="application/json")
