"""The customs team's performance figures (绩效仪表盘) from the stored shipments, outcomes and review log.

One function, :func:`kpi_report`, computes every figure for a period, in total and per group (week, month, export
port, carrier, channel or HS chapter); the API, the CSV export, the console page and the Prometheus gauges all read
it. A figure whose denominator is empty is ``None`` (JSON ``null``, an empty CSV cell), never 0: a week without
outcomes has no first-pass rate, it does not have a rate of zero.

Definitions (docs/console.md repeats them for the customs team):
- ``first_pass_rate``: share of outcomes accepted without amendment (一次通过).
- ``release_hours_p50`` / ``_p90``: declaration → release, over released shipments.
- ``preparation_hours_p50``: order created → declaration, over shipments whose order time is known.
- ``exception_handling_hours``: median declaration → release of shipments with an exception (inspected, amended,
  held), i.e. how long an exception keeps goods at the border.
- ``cost_per_declaration``: mean of the summed costs (``data.store.kpi.COST_KEYS``) over outcomes reporting a cost.
- ``demurrage_incidence``: share of outcomes with demurrage or detention above 0, over outcomes reporting costs;
  ``demurrage_amount``: their sum.
- ``data_error_rate``: share of scored shipments with at least one error finding; ``three_document_match_rate``:
  share with no three-document (order/waybill/declaration) finding.
- ``override_rate``: share of review decisions that overrode the suggested code (grouped by the time of the
  decision; by HS chapter of the suggestion; not defined per port, carrier or channel).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine

from data.calendar import month_index, month_label, week_label, week_start_days
from data.errors import InvalidInputError, field_error
from data.shipments.reference import CHINA_TZ
from data.store.kpi import KpiRows, kpi_rows, outcome_bounds, review_rows

GROUP_BY: tuple[str, ...] = ("week", "month", "port", "carrier", "channel", "hs_chapter")
#: Every figure of a group, in the order of the CSV columns; counts first.
FIGURES: tuple[str, ...] = (
    "n_shipments", "n_outcomes", "n_reviews",
    "preparation_hours_p50", "release_hours_p50", "release_hours_p90", "exception_handling_hours",
    "cost_per_declaration", "demurrage_incidence", "demurrage_amount",
    "first_pass_rate", "data_error_rate", "three_document_match_rate", "override_rate",
)
#: Figures where lower is better (the page colours a change against the period's total accordingly).
LOWER_IS_BETTER = frozenset({"preparation_hours_p50", "release_hours_p50", "release_hours_p90",
                             "exception_handling_hours", "cost_per_declaration", "demurrage_incidence",
                             "demurrage_amount", "data_error_rate", "override_rate"})
DEFAULT_WEEKS = 26
UNKNOWN = "(unknown)"


# ---------------------------------------------------------------------------------------------------- the period
def _parse_bound(value: str | None, field: str, *, end: bool) -> datetime | None:
    """A date (China local day; ``to`` includes the whole day) or an ISO datetime (a naive one is UTC)."""
    if value is None or value == "":
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            local = datetime(day.year, day.month, day.day, tzinfo=CHINA_TZ) + (timedelta(days=1) if end else
                                                                                timedelta())
            return local.astimezone(UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(f"'{field}' must be a date (YYYY-MM-DD) or an ISO date-time, not '{value[:40]}'",
                                details=[field_error(f"query.{field}", "not a date")]) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def local_day(moment: datetime) -> str:
    """The China-local calendar day of an instant (how the period is written on the page)."""
    return moment.astimezone(CHINA_TZ).date().isoformat()


def resolve_period(engine: Engine, start: str | None, end: str | None) -> tuple[datetime, datetime]:
    """``[from, to)`` in UTC; by default the last :data:`DEFAULT_WEEKS` weeks up to the latest stored declaration."""
    lo, hi = _parse_bound(start, "from", end=False), _parse_bound(end, "to", end=True)
    if hi is None:
        latest = outcome_bounds(engine)[1]
        hi = (latest + timedelta(seconds=1)) if latest is not None else datetime.now(UTC)
    if lo is None:
        lo = hi - timedelta(weeks=DEFAULT_WEEKS)
    if lo >= hi:
        raise InvalidInputError("'from' must be before 'to'", details=[field_error("query.from", "not before 'to'")])
    return lo, hi


# ------------------------------------------------------------------------------------------------------ grouping
def _time_keys(group_by: str, seconds: np.ndarray) -> np.ndarray:
    if not len(seconds):
        return np.zeros(0, dtype=np.int64)
    return week_start_days(seconds) if group_by == "week" else month_index(seconds)


def _all_periods(group_by: str, start: datetime, end: datetime) -> list[int]:
    """Every week or month touching ``[start, end)``, so an empty one is shown as empty rather than left out."""
    lo, hi = np.array([start.timestamp()]), np.array([end.timestamp() - 1])
    a, b = int(_time_keys(group_by, lo)[0]), int(_time_keys(group_by, hi)[0])
    return list(range(a, b + 1, 7 if group_by == "week" else 1))


def _label(group_by: str, key: Any) -> str:
    if group_by == "week":
        return week_label(key)
    if group_by == "month":
        return month_label(key)
    return UNKNOWN if key is None else str(key)


# ------------------------------------------------------------------------------------------------------- figures
def _rate(values: np.ndarray) -> float | None:
    known = values[~np.isnan(values)]
    return float(known.mean()) if len(known) else None


def _quantile(values: np.ndarray, q: float) -> float | None:
    known = values[~np.isnan(values)]
    return float(np.quantile(known, q)) if len(known) else None


def _total(values: np.ndarray) -> float | None:
    known = values[~np.isnan(values)]
    return float(known.sum()) if len(known) else None


def _inputs(rows: KpiRows) -> dict[str, np.ndarray]:
    """The per-shipment values the figures are statistics of (NaN: not counted in that figure)."""
    scored = rows.scored == 1
    demurrage = rows.demurrage
    return {
        "outcome": rows.has_outcome, "prep": rows.prep_hours, "release": rows.release_hours,
        "exception_release": np.where(rows.exception == 1, rows.release_hours, np.nan), "cost": rows.cost,
        "demurrage_flag": np.where(np.isnan(demurrage), np.nan, (demurrage > 0).astype(float)),
        "demurrage": demurrage, "first_pass": rows.first_pass,
        "data_error": np.where(scored, rows.has_error, np.nan), "three_doc_ok": np.where(scored, rows.three_doc_ok,
                                                                                        np.nan),
    }


def _figures(values: dict[str, np.ndarray], overrides: np.ndarray | None) -> dict[str, Any]:
    """Every figure over one group's values (and its review decisions; None: not defined for this grouping)."""
    release = values["release"]
    return {
        "n_shipments": int(len(release)),
        "n_outcomes": int(np.sum(values["outcome"] == 1)),
        "n_reviews": int(len(overrides)) if overrides is not None else None,
        "preparation_hours_p50": _quantile(values["prep"], 0.5),
        "release_hours_p50": _quantile(release, 0.5),
        "release_hours_p90": _quantile(release, 0.9),
        "exception_handling_hours": _quantile(values["exception_release"], 0.5),
        "cost_per_declaration": _rate(values["cost"]),
        "demurrage_incidence": _rate(values["demurrage_flag"]),
        "demurrage_amount": _total(values["demurrage"]),
        "first_pass_rate": _rate(values["first_pass"]),
        "data_error_rate": _rate(values["data_error"]),
        "three_document_match_rate": _rate(values["three_doc_ok"]),
        "override_rate": _rate(overrides) if overrides is not None else None,
    }


def _split(keys: Any) -> tuple[np.ndarray, dict[Any, slice]]:
    """(order, key -> slice of the ordered rows): integer codes (a categorical's own, or one hash factorisation) and
    one sort; each group is then a contiguous view of arrays reordered once, not a gather per group."""
    import pandas as pd

    if not len(keys):
        return np.zeros(0, dtype=np.int64), {}
    if isinstance(keys, pd.Categorical):
        uniques = [*keys.categories, None]
        codes = keys.codes.astype(np.int64)
        codes[codes < 0] = len(uniques) - 1  # unknown (NaN) is a group of its own
    else:
        codes, found = pd.factorize(keys, use_na_sentinel=False)
        uniques = list(found)
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes, minlength=len(uniques))
    ends = np.cumsum(counts)
    return order, {(None if u is None or (isinstance(u, float) and np.isnan(u)) else
                    (u.item() if hasattr(u, "item") else u)): slice(int(e - c), int(e))
                   for u, c, e in zip(uniques, counts, ends) if c}


def _grouped(values: dict[str, np.ndarray], keys: np.ndarray) -> dict[Any, dict[str, np.ndarray]]:
    order, slices = _split(keys)
    ordered = {k: v[order] for k, v in values.items()}
    return {key: {k: v[sl] for k, v in ordered.items()} for key, sl in slices.items()}


def _grouped_overrides(overrides: np.ndarray, keys: np.ndarray) -> dict[Any, np.ndarray]:
    return {key: part["override"] for key, part in _grouped({"override": overrides}, keys).items()}


def kpi_report(engine: Engine, start: datetime, end: datetime, group_by: str = "week",
               service: dict[str, Any] | None = None, source: Any = None) -> dict[str, Any]:
    """The figures of ``[start, end)``: ``total`` and one entry per group, plus the service's own figures.

    ``source`` (a :class:`serving.kpi.cache.KpiSource`) serves the rows from memory; without it the period is read
    from the store.
    """
    if group_by not in GROUP_BY:
        raise InvalidInputError(f"group_by must be one of {', '.join(GROUP_BY)}, not '{group_by}'",
                                details=[field_error("query.group_by", f"not one of {', '.join(GROUP_BY)}")])
    if source is not None:
        rows, reviews = source.period(start, end)
    else:
        rows, reviews = kpi_rows(engine, start, end), review_rows(engine, start, end)
    values = _inputs(rows)
    total = _figures(values, reviews.override)
    groups: list[dict[str, Any]] = []
    empty_values = {k: v[:0] for k, v in values.items()}
    no_reviews = reviews.override[:0]
    if group_by in ("week", "month"):
        by_key = _grouped(values, _time_keys(group_by, rows.declared_s))
        review_keys = _grouped_overrides(reviews.override, _time_keys(group_by, reviews.created_s))
        for key in _all_periods(group_by, start, end):
            groups.append({"group": _label(group_by, key), **_figures(by_key.get(key, empty_values),
                                                                       review_keys.get(key, no_reviews))})
    else:
        by_key = _grouped(values, rows.group[group_by])
        review_keys = _grouped_overrides(reviews.override, reviews.hs_chapter) if group_by == "hs_chapter" else {}
        for key, part in sorted(by_key.items(), key=lambda kv: (kv[0] is None, -len(kv[1]["release"]),
                                                               str(kv[0]))):
            overrides = review_keys.get(key, no_reviews) if group_by == "hs_chapter" else None
            groups.append({"group": _label(group_by, key), **_figures(part, overrides)})
    return {"from": start, "to": end, "group_by": group_by, "total": total, "groups": groups,
            "service": service or {}}


def kpi_csv(report: dict[str, Any]) -> str:
    """One line per group, then the total; UTF-8 with a BOM so that Excel reads it (as the review-log export)."""
    from serving.console.service import to_csv

    columns = ["group_by", "group", *FIGURES]
    lines = [{"group_by": report["group_by"], **g} for g in report["groups"]]
    lines.append({"group_by": report["group_by"], "group": "total", **report["total"]})
    return to_csv(lines, columns)


def gauge_figures(engine: Engine, window_days: int, source: Any = None) -> dict[str, float]:
    """The totals of the last ``window_days`` (up to now) for the Prometheus gauges; unknown figures are left out
    rather than exported as 0."""
    end = datetime.now(UTC)
    total = kpi_report(engine, end - timedelta(days=window_days), end, "week", source=source)["total"]
    return {k: float(v) for k, v in total.items() if v is not None}
