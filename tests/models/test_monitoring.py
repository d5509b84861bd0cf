"""Monitoring figures by hand: coverage, pinball, precision at the review rate, reliability, range statements."""

from __future__ import annotations

import numpy as np
import pytest

from data.shipments.outcomes import risk_levels
from models.monitoring import (
    by_week,
    delay_figures,
    ece,
    figure_ranges,
    outside_range,
    precision_at,
    reliability,
)


def test_delay_figures_by_hand():
    y = np.array([10.0, 20.0, 30.0, 40.0])
    pred = np.array([[15.0, 25.0], [15.0, 15.0], [35.0, 45.0], [35.0, 35.0]])
    f = delay_figures(y, pred)
    assert f["coverage_p50"] == 0.5 and f["coverage_p90"] == 0.5
    assert f["pinball_p50"] == pytest.approx(0.5 * 5)  # every miss is 5 h, weighted 0.5
    # P90 misses: 15 h over (weight 0.1) twice, 5 h under (weight 0.9) twice
    assert f["pinball_p90"] == pytest.approx((0.1 * 15 + 0.9 * 5 + 0.1 * 15 + 0.9 * 5) / 4)


def test_precision_ece_and_reliability():
    p = np.array([0.9, 0.8, 0.1, 0.2, 0.15, 0.05, 0.3, 0.7, 0.6, 0.4])
    high = np.array([1, 0, 0, 0, 0, 0, 0, 1, 0, 0], float)
    assert precision_at(p, high, 0.2) == 0.5  # top 2: 0.9 (high), 0.8 (not)
    assert precision_at(p, high, 0.3) == pytest.approx(2 / 3)
    curve = reliability(p, high, bins=2)
    assert [b["n"] for b in curve] == [6, 4] and curve[1]["observed"] == 0.5
    assert ece(np.array([0.5, 0.5]), np.array([1.0, 0.0]), bins=10) == 0.0


def test_risk_level_from_outcome():
    levels = risk_levels(["released", "released", "held", "released", "rejected"],
                                     [0, 1, 0, 0, 0], [10, 10, 5, 130, np.nan])
    assert levels.tolist() == ["low", "medium", "high", "high", "high"]


def test_weeks_outside_the_training_range_are_named():
    monday = 1772409600  # 2026-03-02 00:00 UTC (08:00 in China)
    seconds = np.concatenate([monday + np.arange(40) * 600, monday + 7 * 86400 + np.arange(40) * 600])
    hit = np.concatenate([np.ones(36), np.zeros(4), np.ones(20), np.zeros(20)])
    weeks = by_week(seconds, lambda h: {"coverage_p90": float(h.mean())}, hit)
    assert [(w["week"], w["n"], w["coverage_p90"]) for w in weeks] == [("2026-W10", 40, 0.9), ("2026-W11", 40, 0.5)]
    ranges = figure_ranges(weeks[:1], ["coverage_p90"])
    assert ranges == {"coverage_p90": (0.9, 0.9)}
    found = outside_range(weeks, {"coverage_p90": (0.85, 0.93)})
    assert found == [{"figure": "coverage_p90", "weeks_outside": 1, "weeks_judged": 2, "latest_week": "2026-W11",
                      "latest_value": 0.5, "range": [0.85, 0.93], "direction": "below"}]
    assert outside_range(weeks[:1], {"coverage_p90": (0.85, 0.93)}) == []
