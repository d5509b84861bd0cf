"""Model monitoring of the served delay and risk models on the stored shipments with outcomes.

For the last ``monitoring_weeks`` weeks up to the latest stored declaration, the served version re-scores the stored
feature rows (the inputs it was asked about, so its answers are the ones it gave) and is compared with the outcomes
week by week (``models.monitoring``); drift compares the same window's feature rows with the training profile stored
in the model (``models.profile``). Weeks inside the model's own training period are marked (``in_training``): they
flatter it. Reports are cached per served set and store state for ``kpi_refresh_s`` seconds: re-scoring tens of
thousands of rows takes seconds, and a page reload should not redo it.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from data.calendar import week_label, week_start_days
from data.shipments.outcomes import risk_levels
from data.store.kpi import outcome_bounds
from data.store.monitoring import StoredFeatures, outcome_state, stored_features
from models.monitoring import (
    DELAY_FIGURES,
    MIN_WEEK_ROWS,
    RISK_FIGURES,
    by_week,
    delay_figures,
    outside_range,
    reliability,
    risk_figures,
)
from models.names import DELAY, RISK

MAX_ROWS = 50_000
#: Features that follow the calendar by design (month, season, policy period): a recent window always differs from a
#: training frame spanning years, so their PSI says nothing about the model and they are left out of drift.
CALENDAR_FEATURES = frozenset({"declared_month", "is_nov_dec", "after_policy_change", "days_since_policy_change",
                               "us_west_coast_peak"})
FIGURE_NAMES: dict[str, tuple[str, str]] = {
    "coverage_p50": ("P50 coverage", "P50 覆盖率"), "coverage_p90": ("P90 coverage", "P90 覆盖率"),
    "pinball_p50": ("P50 pinball loss", "P50 分位损失"), "pinball_p90": ("P90 pinball loss", "P90 分位损失"),
    "precision_at_review_rate": ("precision at the review rate", "按审核比例的命中率"),
    "ece_high": ("calibration error of P(high)", "高风险概率校准误差"),
}


def _range_statement(found: dict[str, Any]) -> dict[str, str]:
    en_name, zh_name = FIGURE_NAMES[found["figure"]]
    lo, hi = found["range"]
    en_dir, zh_dir = ("above", "偏高") if found["direction"] == "above" else ("below", "偏低")
    return {"kind": "out_of_range", "figure": found["figure"],
            "en": f"{en_name[0].upper()}{en_name[1:]} was outside its training-time range ({lo:.3g}–{hi:.3g}) in "
                  f"{found['weeks_outside']} of {found['weeks_judged']} weeks; latest {found['latest_week']}: "
                  f"{found['latest_value']:.3g} ({en_dir}).",
            "zh": f"{zh_name}有 {found['weeks_outside']}/{found['weeks_judged']} 周超出训练时范围（{lo:.3g}–{hi:.3g}）；"
                  f"最近一次 {found['latest_week']}：{found['latest_value']:.3g}（{zh_dir}）。"}


def _drift_statement(drift: list[dict[str, Any]], threshold: float) -> dict[str, str] | None:
    drifted = [d for d in drift if d["drifted"]]
    if not drifted:
        return None
    names = ", ".join(f"{d['feature']} {d['psi']:.2f}" for d in drifted[:5])
    return {"kind": "drift", "figure": "psi",
            "en": f"{len(drifted)} feature(s) of the live shipments drifted from the training frame "
                  f"(PSI > {threshold:g}): {names}.",
            "zh": f"在线运单有 {len(drifted)} 个特征相对训练数据发生漂移（PSI > {threshold:g}）：{names}。"}


def _mark_training_weeks(weeks: list[dict[str, Any]], profile: Any) -> None:
    until = getattr(profile, "time_until", None)
    last = week_label(int(week_start_days(np.array([pd.Timestamp(until).timestamp()]))[0])) if until else None
    for w in weeks:
        w["in_training"] = last is not None and w["week"] <= last
        w["judged"] = w["n"] >= MIN_WEEK_ROWS


def _model_entry(name: str, native: Any, version: Any, rows: StoredFeatures, live: StoredFeatures,
                 settings: Any) -> dict[str, Any]:
    tabular = getattr(native, "model_", None)
    profile = getattr(tabular, "profile", None)
    kind = "delay" if name == DELAY else "risk"
    entry: dict[str, Any] = {
        "name": name, "version": getattr(version, "version", None), "kind": kind, "n_outcomes": 0, "weeks": [],
        "reliability": None, "has_profile": profile is not None, "drift": [],
        "drift_threshold": settings.drift_psi_threshold, "review_rate": settings.monitoring_review_rate,
        "training_ranges": {k: list(v) for k, v in getattr(profile, "ranges", {}).items()},
        "trained_from": getattr(profile, "time_from", None), "trained_until": getattr(profile, "time_until", None),
        "statements": [],
    }
    if len(rows):
        x = native.matrix(rows.features)
        if kind == "delay":
            released = ~np.isnan(rows.release_hours)  # held/returned goods have no release time to cover
            pred = native.predict_matrix(x)[released]
            entry["weeks"] = by_week(rows.declared_s[released], delay_figures, rows.release_hours[released], pred)
        else:
            proba = native.predict_matrix(x)
            p_high = proba[:, list(native.classes).index("high")]
            is_high = (risk_levels(rows.result, rows.inspected, rows.release_hours) == "high")
            rate = settings.monitoring_review_rate
            entry["weeks"] = by_week(rows.declared_s, lambda p, h: risk_figures(p, h, rate), p_high,
                                     is_high.astype(float))
            entry["reliability"] = reliability(p_high, is_high.astype(float))
        entry["n_outcomes"] = int(sum(w["n"] for w in entry["weeks"]))
        _mark_training_weeks(entry["weeks"], profile)
    if profile is not None:
        if len(live):
            frame = pd.DataFrame.from_records(live.features)
            frame = frame.drop(columns=[c for c in CALENDAR_FEATURES if c in frame])
            entry["drift"] = profile.drift(frame, settings.drift_psi_threshold)
        ranges = dict(profile.ranges)
        if kind == "risk" and profile.review_rate != settings.monitoring_review_rate:
            ranges.pop("precision_at_review_rate", None)  # measured at another rate: not comparable
        judged = [w for w in entry["weeks"] if not w.get("in_training")]
        entry["statements"] = [_range_statement(f) for f in outside_range(judged, ranges)]
        drift_note = _drift_statement(entry["drift"], settings.drift_psi_threshold)
        if drift_note:
            entry["statements"].append(drift_note)
    entry["figures"] = list(DELAY_FIGURES if kind == "delay" else RISK_FIGURES)
    return entry


def monitoring_report(served: Any, engine: Any, settings: Any) -> dict[str, Any]:
    """The monitoring figures of every served delay/risk model (models without a scorer interface are skipped)."""
    latest = outcome_bounds(engine)[1]
    end = (latest + timedelta(seconds=1)) if latest is not None else datetime.now(UTC)
    start = end - timedelta(weeks=settings.monitoring_weeks)
    rows = stored_features(engine, start, end, with_outcomes=True, limit=MAX_ROWS)
    live = stored_features(engine, start, end, with_outcomes=False, limit=MAX_ROWS)
    models = []
    for name in (DELAY, RISK):
        native = served.natives.get(name)
        if native is None or not hasattr(native, "predict_matrix"):
            continue
        models.append(_model_entry(name, native, served.versions.get(name), rows, live, settings))
    return {"from": start, "to": end, "weeks": settings.monitoring_weeks, "n_live": len(live),
            "n_outcomes": len(rows), "models": models}


class MonitoringCache:
    """One report per (served set, store state), reused for ``ttl_s`` seconds; computed by one caller at a time."""

    def __init__(self, ttl_s: float):
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._entry: tuple[Any, float, dict[str, Any]] | None = None

    def get(self, served: Any, engine: Any, settings: Any) -> dict[str, Any]:
        key = (tuple(sorted(served.version_map().items())), id(served), outcome_state(engine))
        with self._lock:
            if self._entry is not None and self._entry[0] == key and time.monotonic() - self._entry[1] < self.ttl_s:
                return self._entry[2]
            report = monitoring_report(served, engine, settings)
            self._entry = (key, time.monotonic(), report)
            return report


def cached_report(app_state: Any, served: Any) -> dict[str, Any]:
    cache = getattr(app_state, "monitoring_cache", None)
    if cache is None:
        cache = app_state.monitoring_cache = MonitoringCache(app_state.settings.kpi_refresh_s)
    return cache.get(served, app_state.engine, app_state.settings)
