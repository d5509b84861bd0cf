"""Calibration pieces: isotonic maps, ECE, threshold choice (pure numpy, fast)."""

from __future__ import annotations

import numpy as np
import pytest

from models.suggester.calibration import (
    LevelCalibrator,
    choose_threshold,
    expected_calibration_error,
    reliability_table,
)


def test_isotonic_calibrator_is_monotone_and_bounded():
    rng = np.random.default_rng(0)
    scores = rng.uniform(0, 1, 2000)
    correct = rng.uniform(0, 1, 2000) < scores ** 2  # true P(correct) = score²: raw scores are over-confident
    cal = LevelCalibrator(6).fit(scores, correct)
    grid = np.linspace(-0.5, 1.5, 201)
    out = cal(grid)
    assert np.all(np.diff(out) >= -1e-12)
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert abs(cal(0.5)[0] - 0.25) < 0.08  # learns the square, not the identity
    assert expected_calibration_error(cal(scores), correct) < expected_calibration_error(scores, correct)


def test_calibrator_without_enough_points_is_clipped_identity():
    cal = LevelCalibrator(4).fit(np.array([0.2, 0.9]), np.array([0, 1]))
    assert cal.model_ is None
    assert np.allclose(cal([-1.0, 0.3, 2.0]), [0.0, 0.3, 1.0])


def test_ece_by_hand():
    conf = np.array([0.95, 0.95, 0.15, 0.15])
    correct = np.array([1, 0, 0, 0])
    # bin 9: |0.5 − 0.95| · 2/4 ; bin 1: |0 − 0.15| · 2/4
    assert expected_calibration_error(conf, correct) == pytest.approx(0.5 * 0.45 + 0.5 * 0.15)
    assert expected_calibration_error(np.array([]), np.array([])) == 0.0
    perfect = np.repeat([0.05, 0.95], 20)
    hits = np.r_[np.zeros(19), np.ones(1), np.ones(19), np.zeros(1)]
    assert expected_calibration_error(perfect, hits) == pytest.approx(0.0)


def test_reliability_table_counts():
    rows = reliability_table(np.array([0.05, 0.55, 0.56, 1.0]), np.array([0, 1, 0, 1]))
    assert [r["n"] for r in rows] == [1, 0, 0, 0, 0, 2, 0, 0, 0, 1]
    assert rows[5]["accuracy"] == 0.5


def test_threshold_reaches_target_accuracy():
    conf = np.linspace(0.01, 1.0, 100)
    correct = conf > 0.3  # everything above 0.3 is right
    thr = choose_threshold(conf, correct, target=0.9)
    mask = conf >= thr
    assert correct[mask].mean() >= 0.9
    assert thr < 0.35  # and takes as many answers as it can
    # Nothing reliably right: above every confidence, the calibrated 1.0 included
    assert not (conf >= choose_threshold(conf, np.zeros(100, bool), target=0.9)).any()
    assert choose_threshold(conf[:3], correct[:3], target=0.9) == 0.9  # too little data: the target itself


def test_threshold_respects_ties():
    conf = np.array([0.9] * 10 + [0.5] * 10)
    correct = np.array([True] * 10 + [True] * 5 + [False] * 5)
    thr = choose_threshold(conf, correct, target=0.9)
    assert thr == 0.9
