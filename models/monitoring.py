"""How well a served shipment model does on real outcomes, week by week, and whether that left its training range.

The same functions run at fit time on the validation weeks (their min-max becomes the model's training-time range,
stored in ``TrainingProfile.ranges``) and in the service on stored shipments with outcomes, so "outside the
training-time range" compares like with like:

- delay (quantile) models: ``coverage_p50`` / ``coverage_p90`` (share of shipments released within the predicted
  quantile; should be near 0.5 and 0.9) and ``pinball_p50`` / ``pinball_p90`` (sklearn's mean pinball loss, hours);
- risk (class) models: ``precision_at_review_rate`` (of the top ``review_rate`` share of a week's shipments by
  probability of the last class, ``high``, the share that really were high) and ``ece_high`` (calibration error of
  that probability), plus a reliability curve over the whole window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from data.calendar import week_label, week_start_days

#: A week needs this many outcomes before its figures are reported against the range (fewer: too noisy to judge).
MIN_WEEK_ROWS = 30
#: The review rate the training-time range of a risk model is measured at (the service's default review rate).
DEFAULT_REVIEW_RATE = 0.10
DELAY_FIGURES = ("coverage_p50", "coverage_p90", "pinball_p50", "pinball_p90")
RISK_FIGURES = ("precision_at_review_rate", "ece_high")


def precision_at(scores: np.ndarray, positive: np.ndarray, fraction: float) -> float:
    """Share of positives among the top ``fraction`` of rows by score (stable order: ties do not depend on sort)."""
    k = max(1, int(math.ceil(fraction * len(scores))))
    top = np.argsort(-np.asarray(scores), kind="stable")[:k]
    return float(np.asarray(positive, float)[top].mean())


def ece(p: np.ndarray, positive: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of one probability, equal-width bins."""
    p, positive = np.asarray(p, float), np.asarray(positive, float)
    idx = np.clip((p * bins).astype(int), 0, bins - 1)
    total = 0.0
    for b in np.unique(idx):
        m = idx == b
        total += m.mean() * abs(p[m].mean() - positive[m].mean())
    return float(total)


def reliability(p: np.ndarray, positive: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Mean predicted probability against the observed share, per equal-width bin (empty bins left out)."""
    p, positive = np.asarray(p, float), np.asarray(positive, float)
    idx = np.clip((p * bins).astype(int), 0, bins - 1)
    return [{"predicted": float(p[idx == b].mean()), "observed": float(positive[idx == b].mean()),
             "n": int((idx == b).sum())} for b in range(bins) if (idx == b).any()]


def delay_figures(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """``pred`` columns: P50, P90 hours."""
    from sklearn.metrics import mean_pinball_loss

    return {"coverage_p50": float(np.mean(y <= pred[:, 0])), "coverage_p90": float(np.mean(y <= pred[:, 1])),
            "pinball_p50": float(mean_pinball_loss(y, pred[:, 0], alpha=0.5)),
            "pinball_p90": float(mean_pinball_loss(y, pred[:, 1], alpha=0.9))}


def risk_figures(p_high: np.ndarray, is_high: np.ndarray, review_rate: float) -> dict[str, float]:
    return {"precision_at_review_rate": precision_at(p_high, is_high, review_rate), "ece_high": ece(p_high, is_high)}


def by_week(seconds: np.ndarray, compute, *columns: np.ndarray) -> list[dict[str, Any]]:
    """``compute(*columns restricted to the week)`` for each week present, oldest first, with ``week`` and ``n``."""
    keys = week_start_days(seconds)
    out = []
    for key in np.unique(keys):
        m = keys == key
        out.append({"week": week_label(int(key)), "n": int(m.sum()), **compute(*(c[m] for c in columns))})
    return out


def figure_ranges(weeks: Sequence[dict[str, Any]], figures: Sequence[str], min_rows: int = MIN_WEEK_ROWS
                  ) -> dict[str, tuple[float, float]]:
    """(min, max) of each figure over the weeks with at least ``min_rows`` rows."""
    full = [w for w in weeks if w["n"] >= min_rows]
    return {f: (min(w[f] for w in full), max(w[f] for w in full)) for f in figures if full}


def outside_range(weeks: Sequence[dict[str, Any]], ranges: dict[str, tuple[float, float]],
                  min_rows: int = MIN_WEEK_ROWS) -> list[dict[str, Any]]:
    """Per figure whose weekly value left its training-time range: how often, and the latest such week."""
    found = []
    for figure, (lo, hi) in ranges.items():
        judged = [w for w in weeks if w["n"] >= min_rows and figure in w]
        out = [w for w in judged if not lo <= w[figure] <= hi]
        if out:
            last = out[-1]
            found.append({"figure": figure, "weeks_outside": len(out), "weeks_judged": len(judged),
                          "latest_week": last["week"], "latest_value": last[figure], "range": [lo, hi],
                          "direction": "above" if last[figure] > hi else "below"})
    return found


def training_ranges(task: str, seconds: np.ndarray, y: np.ndarray, pred: np.ndarray, *, quantiles: Sequence[float]
                    = (), positive: int | None = None, review_rate: float = 0.10) -> dict[str, tuple[float, float]]:
    """The weekly figure ranges on the validation split at fit time (``pred``: quantile columns or probabilities)."""
    if task == "quantile" and 0.5 in quantiles and 0.9 in quantiles:
        cols = np.column_stack([pred[:, list(quantiles).index(0.5)], pred[:, list(quantiles).index(0.9)]])
        weeks = by_week(seconds, delay_figures, np.asarray(y, float), cols)
        return figure_ranges(weeks, DELAY_FIGURES)
    if task in ("multiclass", "binary"):
        p = pred if pred.ndim == 1 else pred[:, positive if positive is not None else pred.shape[1] - 1]
        is_pos = (np.asarray(y) == (positive if positive is not None else pred.shape[1] - 1)) if pred.ndim > 1 \
            else np.asarray(y, float)
        weeks = by_week(seconds, lambda a, b: risk_figures(a, b, review_rate), p, is_pos.astype(float))
        return figure_ranges(weeks, RISK_FIGURES)
    return {}
