"""Confidence calibration: isotonic maps from fused scores to the probability of being right, one per code level.

Fitted on held-out (validation) predictions only, never on the rulings the channels were fitted on: in-sample scores
are over-confident, which is exactly what calibration must undo.
"""

from __future__ import annotations

import numpy as np
from sklearn.isotonic import IsotonicRegression

MIN_POINTS = 20
NATIONAL = 10  # calibrator key shared by 8- and 10-digit national lines
#: A threshold above every calibrated confidence (they reach 1.0): no answer is marked confident.
NEVER_CONFIDENT = 1.01


class LevelCalibrator:
    """Monotone map raw score → P(correct); the identity clipped to [0, 1] until fitted on enough points."""

    def __init__(self, level: int):
        self.level = level

    def fit(self, scores: np.ndarray, correct: np.ndarray) -> LevelCalibrator:
        scores = np.asarray(scores, dtype=float)
        correct = np.asarray(correct, dtype=float)
        self.n_points_ = int(len(scores))
        if len(scores) < MIN_POINTS or correct.min(initial=1) == correct.max(initial=0):
            self.model_ = None
            return self
        self.model_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
        self.model_.fit(scores, correct)
        # The fitted step function, applied with np.interp: IsotonicRegression.predict validates its input on every
        # call, which costs a millisecond per candidate at serving time.
        self.x_ = np.asarray(self.model_.X_thresholds_, dtype=float)
        self.y_ = np.asarray(self.model_.y_thresholds_, dtype=float)
        return self

    def __call__(self, scores) -> np.ndarray:
        scores = np.atleast_1d(np.asarray(scores, dtype=float))
        if getattr(self, "model_", None) is None:
            return np.clip(scores, 0.0, 1.0)
        return np.clip(np.interp(scores, self.x_, self.y_), 0.0, 1.0)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10) -> float:
    """ECE with equal-width bins: the bin-size-weighted mean |accuracy − mean confidence|."""
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=float)
    if len(confidence) == 0:
        return 0.0
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(ece)


def reliability_table(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10) -> list[dict]:
    """Per-bin count, mean confidence and accuracy (for the reliability diagram)."""
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=float)
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    rows = []
    for b in range(n_bins):
        mask = bins == b
        rows.append({"lo": b / n_bins, "hi": (b + 1) / n_bins, "n": int(mask.sum()),
                     "confidence": float(confidence[mask].mean()) if mask.any() else None,
                     "accuracy": float(correct[mask].mean()) if mask.any() else None})
    return rows


def choose_threshold(confidence: np.ndarray, correct: np.ndarray, target: float = 0.9, min_answers: int = 10) -> float:
    """Lowest confidence threshold whose confident answers are at least ``target`` accurate on validation.

    Scans thresholds from high to low confidence and keeps the lowest one where the accuracy of everything at or above
    it still meets the target; falls back on ``target`` itself when validation is too small to say.
    """
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=float)
    if len(confidence) < min_answers:
        return float(target)
    order = np.argsort(-confidence, kind="stable")
    c, y = confidence[order], correct[order]
    counts = np.arange(1, len(y) + 1)
    cum_acc = np.cumsum(y) / counts
    # A threshold takes all answers with the same confidence or none: only the last index of each tie group counts.
    group_end = np.append(c[1:] != c[:-1], True)
    ok = np.flatnonzero(group_end & (cum_acc >= target) & (counts >= min_answers))
    if len(ok) == 0:
        return NEVER_CONFIDENT  # nothing is reliably right: every answer goes to review
    return float(c[ok[-1]])
