"""The stored shipments that model monitoring reads: their feature rows, with the outcome when one arrived.

Monitoring re-scores these feature rows with the served model (the rows are the exact inputs the service scored)
and compares with the outcomes; drift compares them with the model's training profile. Only the most recent rows
are read (``limit``), newest first, so a large store costs a bounded read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import Engine, func, select

from data.store.kpi import epoch_seconds
from data.store.shipments import OutcomeRow, ShipmentRow


@dataclass
class StoredFeatures:
    declared_s: np.ndarray
    features: list[dict]
    release_hours: np.ndarray  # NaN: no outcome, or never released
    inspected: np.ndarray  # 0/1, NaN without an outcome
    result: np.ndarray  # object: released | held | returned | rejected | None

    def __len__(self) -> int:
        return len(self.declared_s)


def stored_features(engine: Engine, start: datetime, end: datetime, *, with_outcomes: bool, limit: int
                    ) -> StoredFeatures:
    """Shipments declared in ``[start, end)`` (only those with an outcome when ``with_outcomes``), newest first."""
    s, o = ShipmentRow, OutcomeRow
    release = func.coalesce(o.delay_hours, (epoch_seconds(o.released_at) - epoch_seconds(o.declared_at)) / 3600.0)
    stmt = (select(epoch_seconds(s.declared_at), s.features, release, o.inspected, o.result)
            .select_from(s)
            .where(s.declared_at >= start, s.declared_at < end)
            .order_by(s.declared_at.desc()).limit(limit))
    stmt = stmt.join(o, o.shipment_id == s.shipment_id) if with_outcomes else \
        stmt.outerjoin(o, o.shipment_id == s.shipment_id)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    if not rows:
        return StoredFeatures(np.zeros(0), [], np.zeros(0), np.zeros(0), np.zeros(0, dtype=object))
    declared, features, hours, inspected, result = zip(*rows)
    as_float = lambda values: np.array([np.nan if v is None else float(v) for v in values])  # noqa: E731
    return StoredFeatures(np.round(as_float(declared), 3), list(features), as_float(hours), as_float(inspected),
                          np.array(result, dtype=object))


def outcome_state(engine: Engine) -> tuple[int, datetime | None]:
    """(number of outcomes, last received): what a cached monitoring report is keyed on."""
    with engine.connect() as conn:
        n, last = conn.execute(select(func.count(), func.max(OutcomeRow.received_at))).one()
    return int(n or 0), last
