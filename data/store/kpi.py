"""The queries behind the KPI dashboard and model monitoring: stored shipments, their outcomes and the review log.

Each query returns plain column arrays (numpy), not ORM objects: the dashboard reads up to a few hundred thousand
rows per view, and building an object (and parsing a datetime string) per row would cost seconds on SQLite. Times
come back as epoch seconds computed by the database (:class:`epoch_seconds`), costs as floats extracted from the
JSON column by the database, so nothing is parsed in Python.

The population of the KPIs is every shipment declared in the period: the stored shipments (with their outcome when
one arrived) plus outcomes of shipments this service never scored (an ERP import), which count in the outcome
figures but have no port, carrier, channel or chapter.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Engine, Float, and_, case, func, literal, null, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from data.store.reviews import ReviewRow
from data.store.shipments import OutcomeRow, ShipmentRow

#: Cost keys of an outcome's ``costs`` object (the outcome schema's cost items) that the dashboard adds up
#: (``cost_per_declaration``); demurrage and detention are also the demurrage figures. A key not named here is not
#: summed: a new cost item has to be added here too, so nothing unexpected silently inflates the cost.
COST_KEYS: tuple[str, ...] = ("declaration_cost", "inspection_fees", "demurrage", "detention")
DEMURRAGE_KEYS: tuple[str, ...] = ("demurrage", "detention")
#: Shipment dimensions the dashboard can group by, and the stored column behind each.
GROUP_COLUMNS: dict[str, str] = {"port": "export_port", "carrier": "carrier", "channel": "channel",
                                 "hs_chapter": "hs_chapter"}


class epoch_seconds(FunctionElement):
    """Seconds since 1970 (UTC) of a stored naive-UTC datetime, computed by the database."""

    type = Float()
    inherit_cache = True


@compiles(epoch_seconds)
def _epoch_default(element, compiler, **kw):  # PostgreSQL and most others
    return f"EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})"


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element, compiler, **kw):
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


@compiles(epoch_seconds, "mysql")
def _epoch_mysql(element, compiler, **kw):
    return f"UNIX_TIMESTAMP({compiler.process(element.clauses, **kw)})"


@dataclass
class KpiRows:
    """One entry per shipment declared in the period (column arrays, row-aligned).

    ``declared_s`` epoch seconds; ``prep_hours`` order → declaration (NaN when the order time is unknown);
    ``release_hours`` declaration → release (NaN when not released or no outcome); booleans as float 0/1 with NaN
    where unknown (no outcome / not scored); costs NaN when the outcome does not report them.
    """

    declared_s: np.ndarray
    group: dict[str, pd.Categorical]  # dimension -> keys (NaN when unknown)
    scored: np.ndarray  # 1 when the service has the shipment's documents (data-quality figures apply)
    has_error: np.ndarray
    three_doc_ok: np.ndarray
    prep_hours: np.ndarray
    has_outcome: np.ndarray
    release_hours: np.ndarray
    inspected: np.ndarray
    first_pass: np.ndarray
    exception: np.ndarray
    cost: np.ndarray
    demurrage: np.ndarray

    def __len__(self) -> int:
        return len(self.declared_s)

    def take(self, mask: np.ndarray) -> KpiRows:
        """The rows where ``mask`` holds (e.g. one period of a cached whole-store read)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return KpiRows(**{k: ({d: a[mask] for d, a in v.items()} if k == "group" else v[mask])
                          for k, v in values.items()})


def _outcome_columns():
    o = OutcomeRow
    release = func.coalesce(o.delay_hours, (epoch_seconds(o.released_at) - epoch_seconds(o.declared_at)) / 3600.0)
    exception = case((and_(o.first_pass.is_(True), o.inspected.is_(False), o.result == "released"), 0), else_=1)
    # The costs object comes back as its JSON text and is read in Python (:func:`_costs`): SQLite re-parses the
    # whole text for every json_extract, and summing five keys that way cost more than the rest of the query.
    return [release, o.inspected, o.first_pass, exception, o.costs]


def _costs(texts: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """(summed known costs, demurrage + detention) per outcome. No cost reported: NaN for both (unknown is not 0);
    costs reported without demurrage: demurrage 0."""
    cost = np.full(len(texts), np.nan)
    demurrage = np.full(len(texts), np.nan)
    parsed: dict[str, tuple[float, float]] = {}  # outcomes often repeat the same costs object
    for i, text in enumerate(texts):
        if text is None or text in ("{}", "null"):
            continue
        if text not in parsed:
            value = json.loads(text) if isinstance(text, str) else text
            known = [float(value[k]) for k in COST_KEYS if isinstance(value, dict) and
                     isinstance(value.get(k), (int, float))]
            parsed[text if isinstance(text, str) else ""] = (
                (sum(known), sum(float(value.get(k) or 0.0) for k in DEMURRAGE_KEYS)) if known else (np.nan, np.nan))
        cost[i], demurrage[i] = parsed[text if isinstance(text, str) else ""]
    return cost, demurrage


def _raw_rows(conn, stmt) -> list[tuple]:
    """The statement's rows as the driver returns them (no per-value result processing: every column here is a
    number, a string or NULL, and numpy converts them column-wise)."""
    return conn.execute(stmt).cursor.fetchall()


def _floats(values: Sequence) -> np.ndarray:
    return np.array(values, dtype=float)  # None -> NaN


def _instants(values: Sequence) -> np.ndarray:
    """Epoch seconds to the millisecond: julianday arithmetic lands a hair off whole seconds (…59.9999), which would
    move an instant on a period boundary into the period before."""
    return np.round(_floats(values), 3)


def kpi_rows(engine: Engine, start: datetime, end: datetime) -> KpiRows:
    """Shipments declared in ``[start, end)`` with their outcomes, plus outcomes of shipments never scored."""
    s, o = ShipmentRow, OutcomeRow
    dims = list(GROUP_COLUMNS.values())
    scored = (select(epoch_seconds(s.declared_at), *[getattr(s, c) for c in dims], literal(1),
                     case((s.n_error_findings > 0, 1), else_=0), case((s.n_three_document_findings > 0, 0), else_=1),
                     (epoch_seconds(s.declared_at) - epoch_seconds(s.order_created_at)) / 3600.0,
                     case((o.shipment_id.is_(None), 0), else_=1), *_outcome_columns())
              .select_from(s).outerjoin(o, o.shipment_id == s.shipment_id)
              .where(s.declared_at >= start, s.declared_at < end))
    unscored = (select(epoch_seconds(o.declared_at), *[null() for _ in dims], literal(0), null(), null(), null(),
                       literal(1), *_outcome_columns())
                .select_from(o).outerjoin(s, s.shipment_id == o.shipment_id)
                .where(s.shipment_id.is_(None), o.declared_at >= start, o.declared_at < end))
    with engine.connect() as conn:
        rows = _raw_rows(conn, scored) + _raw_rows(conn, unscored)
    cols = list(zip(*rows)) if rows else [() for _ in scored.selected_columns]
    it = iter(cols)
    declared = _instants(next(it))
    # Categoricals: factorised once here, so grouping a view by port or carrier is integer work on the codes.
    group = {dim: pd.Categorical(np.array(next(it), dtype=object)) for dim in GROUP_COLUMNS}
    scored_flag, has_error, three_ok, prep, has_outcome = (_floats(next(it)) for _ in range(5))
    release, inspected, first_pass, exception = (_floats(next(it)) for _ in range(4))
    cost, demurrage = _costs(next(it))
    outcome_missing = has_outcome == 0
    for arr in (inspected, first_pass, exception):  # no outcome: unknown, not "no"
        arr[outcome_missing] = np.nan
    return KpiRows(declared_s=declared, group=group, scored=scored_flag, has_error=has_error, three_doc_ok=three_ok,
                   prep_hours=prep, has_outcome=has_outcome, release_hours=release, inspected=inspected,
                   first_pass=first_pass, exception=exception, cost=cost, demurrage=demurrage)


@dataclass
class ReviewRows:
    created_s: np.ndarray
    override: np.ndarray  # 1 override, 0 accept
    hs_chapter: np.ndarray  # the suggested code's chapter (the final code's when nothing was suggested)

    def take(self, mask: np.ndarray) -> ReviewRows:
        return ReviewRows(self.created_s[mask], self.override[mask], self.hs_chapter[mask])


def review_rows(engine: Engine, start: datetime, end: datetime) -> ReviewRows:
    """The review log's decisions made in ``[start, end)``."""
    r = ReviewRow
    stmt = (select(epoch_seconds(r.created_at), case((r.action == "override", 1), else_=0),
                   func.substr(func.coalesce(r.suggested_code, r.final_code), 1, 2))
            .where(r.created_at >= start, r.created_at < end))
    with engine.connect() as conn:
        rows = _raw_rows(conn, stmt)
    created, override, chapter = zip(*rows) if rows else ((), (), ())
    return ReviewRows(created_s=_instants(created), override=_floats(override),
                      hs_chapter=np.array(chapter, dtype=object))


def outcome_bounds(engine: Engine) -> tuple[datetime | None, datetime | None]:
    """The first and last declaration time among stored shipments and outcomes (the dashboard's default period)."""
    with engine.connect() as conn:
        lo = [conn.scalar(select(func.min(t.declared_at))) for t in (ShipmentRow, OutcomeRow)]
        hi = [conn.scalar(select(func.max(t.declared_at))) for t in (ShipmentRow, OutcomeRow)]
    lo, hi = [v for v in lo if v is not None], [v for v in hi if v is not None]
    return (min(lo) if lo else None), (max(hi) if hi else None)


def change_token(engine: Engine) -> tuple:
    """Counts and latest write times of the three tables: equal tokens mean the KPI rows have not changed (cheap:
    counts and maxima over indexed columns)."""
    with engine.connect() as conn:
        return (tuple(conn.execute(select(func.count(), func.max(ShipmentRow.updated_at))).one()),
                tuple(conn.execute(select(func.count(), func.max(OutcomeRow.received_at))).one()),
                tuple(conn.execute(select(func.count(), func.max(ReviewRow.id))).one()))
