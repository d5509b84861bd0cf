"""Audit log of security events: sign-ins and their failures, lockouts, key creation and revocation, alias moves,
admin reloads. Shown to admin keys (``GET /v1/admin/audit``, ``clearance keys audit``).

One row per event, written after the fact and never updated. Failures are recorded per attempt until the rate
limiter locks the caller out; while locked out only the lockout is recorded (and the attempts are counted in
``/metrics``), so a flood of wrong keys cannot grow this table without bound.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, Engine, Integer, String, func, select
from sqlalchemy.orm import Mapped, mapped_column

from data.store.db import Base, UTCDateTime, session_scope

log = logging.getLogger(__name__)

#: The events the product writes; ``record_event`` accepts only these, so a typo cannot start a new kind.
EVENTS: tuple[str, ...] = ("signin", "signin_failed", "auth_failed", "lockout", "key_created", "key_revoked",
                           "alias_moved", "admin_reload", "signout")


class AuditRow(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    event: Mapped[str] = mapped_column(String(40), index=True)
    actor: Mapped[str | None] = mapped_column(String(200), nullable=True)
    client: Mapped[str | None] = mapped_column(String(64), nullable=True)
    key_prefix: Mapped[str | None] = mapped_column(String(40), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    details: Mapped[dict] = mapped_column(JSON, default=dict)


class AuditEvent(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    event: str
    actor: str | None = None
    client: str | None = None
    key_prefix: str | None = None
    outcome: str = "ok"
    details: dict[str, Any] = {}


def record_event(engine: Engine, event: str, *, actor: str | None = None, client: str | None = None,
                 key_prefix: str | None = None, outcome: str = "ok", details: dict[str, Any] | None = None) -> None:
    """Write one event. Never raises: a failed audit write is logged, and must not turn a sign-in into a 500."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    try:
        with engine.begin() as connection:
            connection.execute(audit_insert(event, actor=actor, client=client, key_prefix=key_prefix,
                                            outcome=outcome, details=details))
    except Exception:
        log.exception("audit event %s could not be written", event)


def audit_insert(event: str, *, actor: str | None = None, client: str | None = None, key_prefix: str | None = None,
                 outcome: str = "ok", details: dict[str, Any] | None = None) -> Any:
    """The INSERT of one event, for a caller that writes it inside its own transaction (an alias move under its
    lock: on SQLite a second connection would wait for the lock that transaction holds)."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    return AuditRow.__table__.insert().values(
        at=datetime.now(UTC), event=event, actor=(actor or None) and actor[:200], client=(client or None) and client[:64],
        key_prefix=(key_prefix or None) and key_prefix[:40], outcome=outcome[:16], details=details or {})


def list_events(engine: Engine, *, limit: int = 100, offset: int = 0, event: str | None = None) -> list[AuditEvent]:
    """Newest first."""
    stmt = select(AuditRow)
    if event:
        stmt = stmt.where(AuditRow.event == event)
    stmt = stmt.order_by(AuditRow.id.desc()).limit(limit).offset(offset)
    with session_scope(engine) as session:
        return [AuditEvent.model_validate(row) for row in session.scalars(stmt)]


def count_events(engine: Engine, *, event: str | None = None) -> int:
    stmt = select(func.count(AuditRow.id))
    if event:
        stmt = stmt.where(AuditRow.event == event)
    with session_scope(engine) as session:
        return int(session.scalar(stmt) or 0)
