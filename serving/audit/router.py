"""``GET /v1/admin/audit``: the security audit log (sign-ins and failures, lockouts, keys, alias moves, reloads)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from data.store.audit import EVENTS, count_events, list_events
from serving.auth import require_scope

router = APIRouter(prefix="/v1/admin", tags=["admin"])


class AuditEventOut(BaseModel):
    id: int
    at: datetime
    event: str
    actor: str | None
    client: str | None
    key_prefix: str | None
    outcome: str
    details: dict[str, Any]


class AuditResponse(BaseModel):
    total: int
    events: list[AuditEventOut]


@router.get("/audit", response_model=AuditResponse, dependencies=[Depends(require_scope("admin"))],
            summary="Security events, newest first (admin keys only)")
async def audit_log(request: Request, limit: int = Query(100, ge=1, le=1000),
                    offset: int = Query(0, ge=0, le=10**9),
                    event: str | None = Query(None, description=f"One of: {', '.join(EVENTS)}")) -> AuditResponse:
    engine = request.app.state.engine
    if event is not None and event not in EVENTS:
        from data.errors import InvalidInputError, field_error

        raise InvalidInputError(f"unknown event '{event}'", details=[field_error("query.event", "unknown event")])
    events = await run_in_threadpool(list_events, engine, limit=limit, offset=offset, event=event)
    total = await run_in_threadpool(count_events, engine, event=event)
    return AuditResponse(total=total, events=[AuditEventOut.model_validate(e.model_dump()) for e in events])
