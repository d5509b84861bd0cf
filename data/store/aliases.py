"""Alias-change history: every move of ``champion``/``challenger`` is recorded here, next to MLflow's own state.

MLflow keeps only the current alias; auditors want who moved it, when, from which version to which, and on what
evidence, so each change is a row in the system of record.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from data.store.db import Base


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AliasChange(Base):
    __tablename__ = "alias_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(200), index=True)
    alias: Mapped[str] = mapped_column(String(50))
    from_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    to_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_utcnow, index=True)
    action: Mapped[str] = mapped_column(String(50))  # register | promote | force_promote | initial | clear
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    metrics: Mapped[dict] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(Text, default="")
