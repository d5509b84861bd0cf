"""Learned re-ranker: LightGBM lambdarank over per-candidate features from all channels.

The fused mixture weighs each channel the same for every query; the ranker can learn, for example, that a code with
three near-identical lexical neighbours beats a supervised favourite, or that a code the dense channel alone proposes
is weak. It re-scores the top ``M`` fused candidates only, so evidence and the candidate set still come from
retrieval. It is fitted on validation queries (never on the rulings the channels were fitted on) and kept only when it
beats the fused ranking out of fold (``training/hs/tune.py``).
"""

from __future__ import annotations

import threading

import numpy as np

from models.suggester.channels import top_columns

TOP_M = 20
FEATURES = (
    "fused", "lex_vote", "dense_vote", "sup_prob", "sup_margin", "rank_fused", "rank_lex", "rank_dense", "rank_sup",
    "lex_max_sim", "dense_max_sim", "lex_count", "dense_count", "best_lex", "best_dense", "log_prior", "gap_to_top",
    "hs4_fused",
)


def _ranks(scores: np.ndarray) -> np.ndarray:
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    rows = np.arange(scores.shape[0])[:, None]
    ranks[rows, order] = np.arange(scores.shape[1])[None, :]
    return ranks


def candidate_features(*, fused, v_lex, v_dense, sup, margins, lex_s, lex_c, dense_s, dense_c, log_prior, hs4_of,
                       top_m: int = TOP_M) -> tuple[np.ndarray, np.ndarray]:
    """(features (queries × M × F), candidate columns (queries × M)) for the top-``M`` fused candidates.

    ``lex_c``/``dense_c`` are the neighbours' code columns (-1: none); ``hs4_of`` maps a code column to its HS4 group.
    """
    m, width = fused.shape
    k = min(top_m, width)
    cand = top_columns(fused, k)
    take = lambda a: np.take_along_axis(a, cand, 1)  # noqa: E731

    def per_code(sims, classes):
        best = np.zeros((m, width), dtype=np.float32)
        count = np.zeros((m, width), dtype=np.float32)
        valid = classes >= 0
        rows = np.repeat(np.arange(m), classes.shape[1]).reshape(classes.shape)
        cls = np.where(valid, classes, 0)
        np.maximum.at(best, (rows[valid], cls[valid]), sims[valid])
        np.add.at(count, (rows[valid], cls[valid]), 1.0)
        return best, count

    lex_best, lex_count = per_code(lex_s, lex_c)
    dense_best, dense_count = per_code(dense_s, dense_c)
    n_hs4 = int(hs4_of.max()) + 1 if len(hs4_of) else 1
    hs4_sum = np.zeros((m, n_hs4), dtype=np.float32)
    for j in range(n_hs4):
        hs4_sum[:, j] = fused[:, hs4_of == j].sum(axis=1)
    fused_c = take(fused)
    feats = np.stack([
        fused_c, take(v_lex), take(v_dense), take(sup), take(margins),
        take(_ranks(fused)), take(_ranks(v_lex)), take(_ranks(v_dense)), take(_ranks(sup)),
        take(lex_best), take(dense_best), take(lex_count), take(dense_count),
        np.repeat(lex_s[:, :1], k, axis=1), np.repeat(dense_s[:, :1], k, axis=1),
        log_prior[cand], fused_c[:, :1] - fused_c, np.take_along_axis(hs4_sum, hs4_of[cand], 1),
    ], axis=2).astype(np.float32)
    return feats, cand


class CandidateRanker:
    """LightGBM lambdarank; ``scores`` are turned into a distribution over the candidates by a softmax."""

    def __init__(self, n_estimators: int = 200, learning_rate: float = 0.05, num_leaves: int = 15, seed: int = 0):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.seed = seed

    def fit(self, feats: np.ndarray, labels: np.ndarray) -> CandidateRanker:
        """``feats`` queries × M × F, ``labels`` queries × M (1 for the gold code)."""
        import lightgbm as lgb

        q, k, f = feats.shape
        self.model_ = lgb.LGBMRanker(objective="lambdarank", n_estimators=self.n_estimators,
                                     learning_rate=self.learning_rate, num_leaves=self.num_leaves,
                                     min_child_samples=20, subsample=0.8, subsample_freq=1, colsample_bytree=0.8,
                                     random_state=self.seed, n_jobs=1, verbose=-1)
        self.model_.fit(feats.reshape(q * k, f), labels.reshape(-1).astype(int), group=[k] * q)
        self.booster_ = self.model_.booster_
        return self

    def scores(self, feats: np.ndarray) -> np.ndarray:
        q, k, f = feats.shape
        # The booster directly: the sklearn wrapper validates and converts on every call (milliseconds per query).
        # One call at a time: LightGBM does not promise that concurrent predictions on one Booster are safe, and a
        # call costs well under a millisecond.
        with self._predict_lock:
            return self.booster_.predict(feats.reshape(q * k, f), num_threads=1).reshape(q, k)

    @property
    def _predict_lock(self) -> threading.Lock:
        lock = self.__dict__.get("_lock")
        if lock is None:
            lock = self.__dict__.setdefault("_lock", threading.Lock())
        return lock

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_lock", None)
        return state


def rerank(fused: np.ndarray, cand: np.ndarray, ranker_scores: np.ndarray, temperature: float) -> np.ndarray:
    """A distribution over the code space: softmax of the ranker scores on the candidates, zero elsewhere."""
    z = (ranker_scores - ranker_scores.max(axis=1, keepdims=True)) / max(temperature, 1e-6)
    e = np.exp(z)
    p = e / e.sum(axis=1, keepdims=True)
    out = np.zeros_like(fused)
    np.put_along_axis(out, cand, p.astype(fused.dtype), 1)
    return out
