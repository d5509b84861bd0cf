"""Queries on the scored shipments, their predictions and their clearance outcomes (tables in ``shipments.py``).

Writes are idempotent per shipment id: a row that is already stored with the same values is counted as
``unchanged`` and not written again, a changed one replaces the stored row (``updated``), and a batch that names one
id twice applies its last row once (the earlier ones count as ``duplicates``). Plain SQLAlchemy Core (select, then
insert or update in chunks), so the same code runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, func, insert, select, update

from data.store.shipments import OutcomeRow, PredictionRow, ShipmentRow

_CHUNK = 2000
#: The longest a clearance takes that still counts towards a congestion window: bounds the congestion query.
MAX_CONGESTION_LAG = timedelta(days=60)


@dataclass
class WriteCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0

    def add(self, other: WriteCounts) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.duplicates += other.duplicates

    def as_dict(self) -> dict[str, int]:
        return {"inserted": self.inserted, "updated": self.updated, "unchanged": self.unchanged,
                "duplicates": self.duplicates}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a))
    return a == b


class ShipmentStore:
    """Repository of ``shipments``, ``shipment_predictions`` and ``shipment_outcomes``."""

    def __init__(self, engine: Engine):
        self.engine = engine

    # ---- writes ------------------------------------------------------------------------------------------------
    def _upsert(self, table, rows: Sequence[dict[str, Any]], compared: Sequence[str],
                on_insert: dict[str, Any], on_update: dict[str, Any], connection: Any = None) -> WriteCounts:
        counts = WriteCounts()
        last: dict[str, dict[str, Any]] = {}
        for row in rows:
            if row["shipment_id"] in last:
                counts.duplicates += 1
            last[row["shipment_id"]] = row
        unique = list(last.values())
        key = table.c.shipment_id
        with self.engine.begin() if connection is None else nullcontext(connection) as conn:
            for a in range(0, len(unique), _CHUNK):
                chunk = unique[a:a + _CHUNK]
                stored = {r[0]: r[1:] for r in conn.execute(
                    select(key, *[table.c[c] for c in compared]).where(key.in_([r["shipment_id"] for r in chunk])))}
                new, changed = [], []
                for row in chunk:
                    old = stored.get(row["shipment_id"])
                    if old is None:
                        new.append({**row, **on_insert})
                    elif all(_same(row.get(c), v) for c, v in zip(compared, old, strict=True)):
                        counts.unchanged += 1
                    else:
                        changed.append({**row, **on_update, "b_id": row["shipment_id"]})
                if new:
                    conn.execute(insert(table), new)
                    counts.inserted += len(new)
                if changed:
                    cols = [c for c in changed[0] if c not in ("b_id", "shipment_id")]
                    conn.execute(update(table).where(key == bindparam("b_id"))
                                 .values({c: bindparam(c) for c in cols}), changed)
                    counts.updated += len(changed)
        return counts

    def upsert_outcomes(self, outcomes: Iterable[Any], source: str, connection: Any = None) -> WriteCounts:
        """Store validated outcomes (``data.shipments.outcomes.Outcome``); see the module docstring for the counts.
        With ``connection`` the rows are written in the caller's transaction (an idempotency key commits with them)."""
        now = datetime.now(UTC)
        rows = [{"shipment_id": o.shipment_id, "declared_at": o.declared_at, "released_at": o.released_at,
                 "delay_hours": o.delay_hours, "inspected": o.inspected, "result": o.result,
                 "first_pass": o.first_pass, "costs": o.costs.compact()} for o in outcomes]
        compared = ("declared_at", "released_at", "delay_hours", "inspected", "result", "first_pass", "costs")
        return self._upsert(OutcomeRow.__table__, rows, compared, {"source": source, "received_at": now},
                            {"source": source, "received_at": now}, connection)

    def upsert_shipments(self, rows: Sequence[dict[str, Any]]) -> WriteCounts:
        """Store shipments: ``shipment_id``, ``declared_at``, the indexed columns, ``document``, ``features``,
        ``findings`` and ``source``. A shipment re-sent with the same document is left as it is."""
        now = datetime.now(UTC)
        return self._upsert(ShipmentRow.__table__, rows, ("document", "features"),
                            {"first_seen_at": now, "updated_at": now}, {"updated_at": now})

    def add_predictions(self, rows: Sequence[dict[str, Any]]) -> int:
        """One row per scoring of a shipment (its shipment row must be stored first)."""
        if not rows:
            return 0
        with self.engine.begin() as conn:
            conn.execute(insert(PredictionRow.__table__), list(rows))
        return len(rows)

    # ---- reads -------------------------------------------------------------------------------------------------
    def count(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {"shipments": conn.scalar(select(func.count()).select_from(ShipmentRow)) or 0,
                    "outcomes": conn.scalar(select(func.count()).select_from(OutcomeRow)) or 0,
                    "predictions": conn.scalar(select(func.count()).select_from(PredictionRow)) or 0}

    def outcome(self, shipment_id: str) -> OutcomeRow | None:
        from sqlalchemy.orm import Session

        with Session(self.engine) as session:
            return session.get(OutcomeRow, shipment_id)

    def training_rows(self, *, until: datetime | None = None, batch: int = 20_000) -> Iterable[dict[str, Any]]:
        """Shipments that have a document and an outcome, oldest declaration first: ``shipment_id``,
        ``declared_at``, ``features`` (as stored when it was scored or imported), ``result``, ``inspected``,
        ``delay_hours``. Streamed in batches so 200k shipments never sit in memory twice; the documents (most of the
        bytes) are left out, :meth:`documents` fetches the few that are needed."""
        s, o = ShipmentRow.__table__.c, OutcomeRow.__table__.c
        query = (select(s.shipment_id, s.declared_at, s.features, o.result, o.inspected, o.delay_hours)
                 .join_from(ShipmentRow, OutcomeRow, s.shipment_id == o.shipment_id)
                 .order_by(s.declared_at, s.shipment_id))
        if until is not None:
            query = query.where(s.declared_at < until)
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=batch).execute(query)
            for row in result:
                yield dict(row._mapping)

    def documents(self, shipment_ids: Sequence[str]) -> dict[str, dict]:
        """The stored documents of ``shipment_ids``."""
        out: dict[str, dict] = {}
        t = ShipmentRow.__table__.c
        with self.engine.connect() as conn:
            for a in range(0, len(shipment_ids), _CHUNK):
                ids = list(shipment_ids[a:a + _CHUNK])
                out.update(conn.execute(select(t.shipment_id, t.document).where(t.shipment_id.in_(ids))).all())
        return out

    def congestion_rows(self, since: datetime | None = None) -> list[tuple[str, str, datetime, float]]:
        """(export port, destination port, declared at, release hours) of every outcome with a release time whose
        shipment is stored, declared after ``since`` minus :data:`MAX_CONGESTION_LAG` (None: all of them)."""
        s, o = ShipmentRow.__table__.c, OutcomeRow.__table__.c
        query = (select(s.export_port, s.destination_port, o.declared_at, o.delay_hours)
                 .join_from(OutcomeRow, ShipmentRow, s.shipment_id == o.shipment_id)
                 .where(o.delay_hours.is_not(None)))
        if since is not None:
            query = query.where(o.declared_at >= since - MAX_CONGESTION_LAG)
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(query)]
