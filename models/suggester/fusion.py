"""Fusing the ruling channels with the nomenclature channel, and the evidence-aware confidence of each candidate.

The answer space is the ruling space (the library's HS6 codes, then the overlay's new ones) followed by every tariff
HS6 that no ruling carries, so the ruling channels keep their columns and every subheading of the tariff can be
answered. Per query the two distributions are mixed by a gate on how close the best ruling is:

    P = α · P_rulings + (1 − α) · P_tariff,    α = α_max · sigmoid((s_best − s0) / τ)

where ``s_best`` is the best lexical or dense similarity to a ruling. ``s0``, ``τ`` and ``α_max`` are fitted on a
validation set that holds out whole codes (``training/hs``), so where close rulings exist they lead and where none
exist the tariff text answers. With no rulings at all, α = 0.

Confidence: a logistic model per level (HS6, HS4) over candidate features that say what the evidence is (the fused
score and its margin, whether the code has rulings in the library, each channel's share, the gate, the best ruling
similarity). Fitted on the same code-held-out validation, it learns that a tariff-text-only candidate is right far
less often than a ruling-backed one with the same score. Isotonic per-score calibration (``calibration.py``) cannot
tell those apart.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from models.suggester.channels import top_columns

FEATURES = ("p", "log_p", "margin", "in_library", "p_rulings", "p_tariff", "alpha", "best_sim", "rank")
CONF_TOP = 50  # candidates per query that get a confidence (MAX_TOP_K of the suggester)
MIN_POINTS = 40


def gate(best_lex: np.ndarray, best_dense: np.ndarray, has_rulings: np.ndarray, params) -> np.ndarray:
    """α per query (see the module docstring); 0 where the ruling channels put no mass anywhere."""
    s = np.maximum(np.asarray(best_lex, dtype=np.float64), np.asarray(best_dense, dtype=np.float64))
    z = (s - float(getattr(params, "gate_s0", 0.5))) / max(float(getattr(params, "gate_tau", 0.05)), 1e-6)
    alpha = float(getattr(params, "gate_max", 1.0)) / (1.0 + np.exp(-np.clip(z, -50, 50)))
    return np.where(has_rulings, alpha, 0.0).astype(np.float32)


def best_similarity(sims: np.ndarray, refs: np.ndarray) -> np.ndarray:
    """Best neighbour similarity per query (0 where there is none)."""
    if sims.shape[1] == 0:
        return np.zeros(sims.shape[0], dtype=np.float32)
    return np.where(refs[:, 0] != -1, sims[:, 0], 0.0).astype(np.float32)


def mix(p_r: np.ndarray, p_n_answer: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``p_r`` (m × ruling width) and ``p_n_answer`` (m × answer width) mixed by ``alpha`` in the answer space."""
    out = (1.0 - alpha)[:, None] * p_n_answer
    out[:, :p_r.shape[1]] += alpha[:, None] * p_r
    return out.astype(np.float32)


def group_matrix(space: np.ndarray, level: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """(answer width × groups indicator, group codes) for summing HS6 scores to ``level`` digits."""
    prefixes = np.array([c[:level] for c in space], dtype=object)
    groups, inverse = np.unique(prefixes, return_inverse=True)
    g = sp.csr_matrix((np.ones(len(space), dtype=np.float32), (np.arange(len(space)), inverse)),
                      shape=(len(space), len(groups)))
    return g, groups


def level_features(p: np.ndarray, p_r: np.ndarray, p_n: np.ndarray, in_library: np.ndarray, alpha: np.ndarray,
                   best: np.ndarray, top: int = CONF_TOP) -> tuple[np.ndarray, np.ndarray]:
    """(features m × k × F, candidate columns m × k) for the ``top`` best columns of ``p`` (one level's scores).

    ``p_r``/``p_n`` are the channels' own scores in the same columns, ``in_library`` (columns) whether any ruling
    carries the code (or any code of the group).
    """
    m, width = p.shape
    k = min(top, width)
    cand = top_columns(p, k)
    pc = np.take_along_axis(p, cand, 1)
    best_other = np.where(np.arange(k)[None, :] == 0, pc[:, 1:2] if k > 1 else 0.0, pc[:, :1])
    feats = np.stack([
        pc, np.log(pc + 1e-6), pc - best_other, in_library[cand].astype(np.float32),
        np.take_along_axis(p_r, cand, 1), np.take_along_axis(p_n, cand, 1),
        np.repeat(alpha[:, None], k, axis=1), np.repeat(best[:, None], k, axis=1),
        np.repeat(np.arange(k, dtype=np.float32)[None, :], m, axis=0),
    ], axis=2).astype(np.float32)
    return feats, cand


class EvidenceCalibrator:
    """P(candidate is right | its evidence features): logistic regression on standardised features.

    Logistic rather than a tree model: a few thousand validation points, monotone effects expected, and a prediction
    that is one dot product (microseconds at serving time).
    """

    def __init__(self, level: int):
        self.level = level
        self.coef_ = None

    def fit(self, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> EvidenceCalibrator:
        from sklearn.linear_model import LogisticRegression

        x = np.asarray(x, dtype=np.float64).reshape(-1, len(FEATURES))
        y = np.asarray(y, dtype=int).ravel()
        self.n_points_ = len(y)
        if len(y) < MIN_POINTS or y.min() == y.max():
            return self
        self.mean_ = x.mean(axis=0)
        self.scale_ = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
        model = LogisticRegression(C=1.0, max_iter=1000).fit((x - self.mean_) / self.scale_, y,
                                                             sample_weight=sample_weight)
        self.coef_ = model.coef_[0].astype(np.float64)
        self.intercept_ = float(model.intercept_[0])
        return self

    @property
    def fitted(self) -> bool:
        return self.coef_ is not None

    def __call__(self, feats: np.ndarray) -> np.ndarray:
        """Probabilities for ``feats`` (… × F); the fused score itself, clipped, when not fitted."""
        feats = np.asarray(feats, dtype=np.float64)
        if self.coef_ is None:
            return np.clip(feats[..., 0], 0.0, 1.0)
        z = ((feats - self.mean_) / self.scale_) @ self.coef_ + self.intercept_
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
        post = getattr(self, "post_", None)
        # An isotonic map of the logistic output, fitted on out-of-fold predictions: the logistic form ranks well
        # but is not exactly calibrated at the extremes (measured ECE 0.11 on cbec without it).
        return post(p.ravel()).reshape(p.shape) if post is not None else p


def candidate_confidences(calibrators: dict, p6: np.ndarray, p_r6: np.ndarray, p_n6: np.ndarray,
                          in_library6: np.ndarray, alpha: np.ndarray, best: np.ndarray, space: np.ndarray,
                          groups4=None) -> tuple[list[dict], list[dict]]:
    """Per query: {HS6 column: confidence} for its top candidates and {HS4 code: confidence} for their headings."""
    cal6, cal4 = calibrators.get("e6"), calibrators.get("e4")
    f6, c6 = level_features(p6, p_r6, p_n6, in_library6, alpha, best)
    conf6 = cal6(f6) if cal6 is not None else np.clip(f6[..., 0], 0, 1)
    g, codes4 = groups4 if groups4 is not None else group_matrix(space, 4)
    p4, pr4, pn4 = (np.asarray(a @ g) for a in (p6, p_r6, p_n6))
    lib4 = np.asarray(g.T @ in_library6.astype(np.float32)).ravel() > 0
    f4, c4 = level_features(p4, pr4, pn4, lib4, alpha, best)
    conf4 = cal4(f4) if cal4 is not None else np.clip(f4[..., 0], 0, 1)
    out6 = [dict(zip(c6[r].tolist(), conf6[r].tolist())) for r in range(len(p6))]
    out4 = [dict(zip(codes4[c4[r]].tolist(), conf4[r].tolist())) for r in range(len(p6))]
    return out6, out4
