"""Store table of the HS edition correlation (HS 2022 → HS 2028 at 6 digits) and its queries.

One row per (from, to) pair of one target edition; an import replaces the whole table of that edition, because a
correlation table is published, and corrected, as one document. The tariff facts of national lines are columns of
``nomenclature_lines`` (``data.store.rulings``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Boolean, Engine, String, Text, delete, func, select
from sqlalchemy.orm import Mapped, mapped_column

from data.store.db import Base, UTCDateTime


class HsCorrelationRow(Base):
    __tablename__ = "hs_correlations"

    to_edition: Mapped[str] = mapped_column(String(16), primary_key=True)
    from_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    to_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    from_edition: Mapped[str] = mapped_column(String(16))
    partial: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(Text, default="")
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())


def replace_correlation(engine: Engine, rows: Iterable[dict], *, to_edition: str) -> int:
    """Replace the stored correlation towards ``to_edition`` with ``rows``; returns how many were written."""
    rows = list(rows)
    table = HsCorrelationRow.__table__
    with engine.begin() as conn:
        conn.execute(delete(table).where(table.c.to_edition == to_edition))
        if rows:
            conn.execute(table.insert(), [{**r, "to_edition": to_edition} for r in rows])
    return len(rows)


def load_correlation(engine: Engine) -> list[dict]:
    """Every stored pair as a dict (to_edition, from_code, to_code, from_edition, partial, note)."""
    t = HsCorrelationRow.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.to_edition, t.c.from_code, t.c.to_code, t.c.from_edition, t.c.partial,
                                   t.c.note).order_by(t.c.from_code, t.c.to_code)).all()
    return [dict(r._mapping) for r in rows]


def correlation_stamp(engine: Engine) -> tuple:
    """A cheap fingerprint of the stored correlation and tariff facts: changes whenever either is re-imported."""
    from data.store.rulings import NomenclatureLineRow

    t = HsCorrelationRow.__table__
    n = NomenclatureLineRow.__table__
    with engine.connect() as conn:
        a = conn.execute(select(func.count(), func.max(t.c.imported_at))).one()
        b = conn.execute(select(func.count(), func.max(n.c.imported_at))).one()
    return tuple(a) + tuple(b)
