"""Review log: every accept or override a reviewer made on a suggestion, with the model that made it.

The ruling a decision produces lives in the ruling library (the system of record for classification); this table keeps
the audit trail around it: who decided, what the model had suggested, which model and index answered, and why the
reviewer disagreed. Auditors and data scientists read it to see where the model is overruled.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import JSON, CheckConstraint, DateTime, Engine, Float, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from data.store.db import Base, session_scope


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ReviewAction(str, Enum):
    accept = "accept"
    override = "override"


class ReviewRow(Base):
    __tablename__ = "reviews"
    __table_args__ = (CheckConstraint("action IN ('accept', 'override')", name="ck_reviews_action"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_utcnow, index=True)
    reviewer: Mapped[str] = mapped_column(String(200), index=True)
    channel: Mapped[str] = mapped_column(String(20), default="console")  # console | api
    query_text: Mapped[str] = mapped_column(Text)
    declared_elements: Mapped[dict] = mapped_column(JSON, default=dict)
    suggested_code: Mapped[str | None] = mapped_column(String(10), nullable=True)
    suggested_confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    final_code: Mapped[str] = mapped_column(String(10), index=True)
    action: Mapped[str] = mapped_column(String(10), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    model_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    model_version: Mapped[str | None] = mapped_column(String(100), nullable=True)
    index_fingerprint: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ruling_id: Mapped[str] = mapped_column(String(100), index=True)
    evidence_ids: Mapped[list] = mapped_column(JSON, default=list)


class ReviewEntry(BaseModel):
    """One review decision as the rest of the product sees it (detached from any session)."""

    model_config = ConfigDict(from_attributes=True)

    id: int | None = None
    created_at: datetime = Field(default_factory=_utcnow)
    reviewer: str
    channel: str = "console"
    query_text: str
    declared_elements: dict[str, str] = Field(default_factory=dict)
    suggested_code: str | None = None
    suggested_confidence: float | None = None
    final_code: str
    action: ReviewAction
    reason: str = ""
    model_name: str | None = None
    model_version: str | None = None
    index_fingerprint: str | None = None
    ruling_id: str
    evidence_ids: list[str] = Field(default_factory=list)


# Column order of the CSV export; one place so the page, the export and the tests agree.
EXPORT_COLUMNS: tuple[str, ...] = (
    "id", "created_at", "reviewer", "channel", "action", "query_text", "declared_elements", "suggested_code",
    "suggested_confidence", "final_code", "reason", "model_name", "model_version", "index_fingerprint", "ruling_id",
    "evidence_ids",
)


def _entry(row: ReviewRow) -> ReviewEntry:
    entry = ReviewEntry.model_validate(row)
    # SQLite drops the zone on the way back; every timestamp this table writes is UTC.
    if entry.created_at.tzinfo is None:
        entry.created_at = entry.created_at.replace(tzinfo=UTC)
    return entry


def add_review(engine: Engine, entry: ReviewEntry, *, session: Session | None = None) -> ReviewEntry:
    """Insert one decision and commit before returning; returns it with its id. Inside ``session`` (an idempotent
    write), the row commits with that session instead."""
    data = entry.model_dump(exclude={"id"})
    data["action"] = entry.action.value
    if session is not None:
        row = ReviewRow(**data)
        session.add(row)
        session.flush()
        return _entry(row)
    with session_scope(engine) as own:
        row = ReviewRow(**data)
        own.add(row)
        own.flush()
        saved = _entry(row)
    return saved


def _filtered(stmt, reviewer: str | None, action: ReviewAction | str | None):
    if reviewer:
        stmt = stmt.where(ReviewRow.reviewer == reviewer)
    if action:
        stmt = stmt.where(ReviewRow.action == ReviewAction(action).value)
    return stmt


def list_reviews(engine: Engine, *, limit: int = 100, offset: int = 0, reviewer: str | None = None,
                 action: ReviewAction | str | None = None) -> list[ReviewEntry]:
    """Newest first."""
    stmt = _filtered(select(ReviewRow), reviewer, action)
    stmt = stmt.order_by(ReviewRow.created_at.desc(), ReviewRow.id.desc()).limit(limit).offset(offset)
    with session_scope(engine) as session:
        return [_entry(r) for r in session.scalars(stmt)]


def count_reviews(engine: Engine, *, reviewer: str | None = None, action: ReviewAction | str | None = None) -> int:
    stmt = _filtered(select(func.count(ReviewRow.id)), reviewer, action)
    with session_scope(engine) as session:
        return int(session.scalar(stmt) or 0)


def get_review(engine: Engine, review_id: int) -> ReviewEntry | None:
    with session_scope(engine) as session:
        row = session.get(ReviewRow, review_id)
        return _entry(row) if row is not None else None


def iter_reviews(engine: Engine, *, batch_size: int = 1000, reviewer: str | None = None,
                 action: ReviewAction | str | None = None) -> Iterator[ReviewEntry]:
    """Every matching decision, newest first, read in keyset-paged batches so an export never loads the whole table."""
    last_id: int | None = None
    while True:
        stmt = _filtered(select(ReviewRow), reviewer, action).order_by(ReviewRow.id.desc()).limit(batch_size)
        if last_id is not None:
            stmt = stmt.where(ReviewRow.id < last_id)
        with session_scope(engine) as session:
            batch = [_entry(r) for r in session.scalars(stmt)]
        if not batch:
            return
        yield from batch
        last_id = batch[-1].id
