"""Evaluation metrics for the risk/delay models and the spec pipeline (one place, so reports and benches agree)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def precision_at(scores: np.ndarray, y: np.ndarray, fraction: float) -> float:
    """Share of positives among the top ``fraction`` of rows by score (what an inspector working the top k sees)."""
    n = len(scores)
    k = max(1, int(math.ceil(fraction * n)))
    # Stable order so ties do not depend on the platform's sort.
    top = np.argsort(-np.asarray(scores), kind="stable")[:k]
    return float(np.asarray(y)[top].mean())


def ece(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error with equal-width bins."""
    confidence = np.asarray(confidence, float)
    correct = np.asarray(correct, float)
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.mean() * abs(confidence[m].mean() - correct[m].mean())
    return float(total)


def binary_metrics(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

    y = np.asarray(y).astype(int)
    out = {
        "n": float(len(y)),
        "positive_rate": float(y.mean()),
        "precision_at_5pct": precision_at(p, y, 0.05),
        "precision_at_10pct": precision_at(p, y, 0.10),
    }
    if 0 < y.sum() < len(y):
        out["roc_auc"] = float(roc_auc_score(y, p))
        out["pr_auc"] = float(average_precision_score(y, p))
        out["log_loss"] = float(log_loss(y, np.clip(p, 1e-7, 1 - 1e-7), labels=[0, 1]))
    out["brier"] = float(brier_score_loss(y, np.clip(p, 0, 1)))
    out["ece"] = ece(p, y)
    return out


def multiclass_metrics(proba: np.ndarray, y: np.ndarray, classes: Sequence[str], positive: str | None = None
                       ) -> dict[str, float]:
    """Macro-F1, one-vs-rest AUC, log loss, top-label ECE; precision@5/10% and AUC/PR-AUC for ``positive``
    (default: the last class, e.g. ``high``) ranked by its probability."""
    from sklearn.metrics import average_precision_score, f1_score, log_loss, roc_auc_score

    y = np.asarray(y).astype(int)
    k = len(classes)
    pred = proba.argmax(axis=1)
    out: dict[str, float] = {
        "n": float(len(y)),
        "accuracy": float((pred == y).mean()),
        "macro_f1": float(f1_score(y, pred, average="macro", labels=list(range(k)), zero_division=0)),
        "log_loss": float(log_loss(y, np.clip(proba, 1e-9, 1), labels=list(range(k)))),
        "ece": ece(proba.max(axis=1), pred == y),
    }
    present = [c for c in range(k) if 0 < (y == c).sum() < len(y)]
    if len(present) == k:
        out["auc_ovr"] = float(roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=list(range(k))))
    for c in present:
        out[f"auc_{classes[c]}"] = float(roc_auc_score(y == c, proba[:, c]))
    pos = classes.index(positive) if positive is not None else k - 1
    yp = (y == pos).astype(int)
    name = classes[pos]
    out[f"{name}_rate"] = float(yp.mean())
    out["precision_at_5pct"] = precision_at(proba[:, pos], yp, 0.05)
    out["precision_at_10pct"] = precision_at(proba[:, pos], yp, 0.10)
    if 0 < yp.sum() < len(yp):
        out["roc_auc"] = float(roc_auc_score(yp, proba[:, pos]))
        out["pr_auc"] = float(average_precision_score(yp, proba[:, pos]))
    out[f"ece_{name}"] = ece(proba[:, pos], yp)
    return out


def pinball(y: np.ndarray, q_pred: np.ndarray, q: float) -> float:
    d = np.asarray(y, float) - np.asarray(q_pred, float)
    return float(np.mean(np.maximum(q * d, (q - 1) * d)))


def quantile_metrics(pred: np.ndarray, y: np.ndarray, quantiles: Sequence[float]) -> dict[str, float]:
    """MAE of the median (or lowest quantile), pinball loss and empirical coverage per quantile."""
    y = np.asarray(y, float)
    out: dict[str, float] = {"n": float(len(y))}
    qs = list(quantiles)
    mid = qs.index(0.5) if 0.5 in qs else 0
    out["mae"] = float(np.mean(np.abs(y - pred[:, mid])))
    for j, q in enumerate(qs):
        tag = f"p{int(round(q * 100))}"
        out[f"pinball_{tag}"] = pinball(y, pred[:, j], q)
        out[f"coverage_{tag}"] = float(np.mean(y <= pred[:, j]))
    return out


def regression_metrics(pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    y = np.asarray(y, float)
    return {"n": float(len(y)), "mae": float(np.mean(np.abs(y - pred))), "rmse": float(np.sqrt(np.mean((y - pred) ** 2)))}


# (metric, higher is better) used to tune on the validation split when the spec names none.
DEFAULT_PRIMARY = {
    "binary": ("pr_auc", True),
    "multiclass": ("log_loss", False),
    "quantile": ("pinball_mean", False),
    "regression": ("mae", False),
}

LOWER_IS_BETTER = {"log_loss", "brier", "ece", "mae", "rmse", "pinball_mean"}


def higher_is_better(metric: str) -> bool:
    return not (metric in LOWER_IS_BETTER or metric.startswith("pinball") or metric.startswith("ece"))
