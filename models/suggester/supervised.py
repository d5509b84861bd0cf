"""Supervised channel: a linear classifier over the lexical features, one class per HS6 in the library.

A linear SVM is the strongest cheap text classifier on short titles; its margins become a distribution over codes by a
softmax whose temperature is tuned on validation data together with the fusion weights (in ``training/hs/tune.py``).
It is trained on at most ``max_samples`` rulings (stratified, every code kept): past a few tens of thousands of
titles the SVM gains little while its training time grows with rulings × codes, and the kNN channels still search the
whole library.

Not retrained online: rulings added through the overlay move the answer through the kNN channels only.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.svm import LinearSVC


def stratified_cap(labels: np.ndarray, max_samples: int, seed: int = 0) -> np.ndarray:
    """Row positions of a sample of at most ``max_samples`` that keeps at least a few rows of every label."""
    n = len(labels)
    if n <= max_samples:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    keep_all = np.zeros(n, dtype=bool)
    # Rare codes keep up to 5 rows each, so the cap never deletes a class.
    order = rng.permutation(n)
    seen: dict[str, int] = {}
    for pos in order:
        c = labels[pos]
        if seen.get(c, 0) < 5:
            keep_all[pos] = True
            seen[c] = seen.get(c, 0) + 1
    rest = np.flatnonzero(~keep_all)
    budget = max(0, max_samples - int(keep_all.sum()))
    chosen = rng.choice(rest, size=min(budget, len(rest)), replace=False)
    keep_all[chosen] = True
    return np.flatnonzero(keep_all)


class SupervisedChannel:
    """LinearSVC over the lexical feature rows (char 1-3 in words + word TF-IDF); ``scores`` are margins per class."""

    def __init__(self, C: float = 1.0, max_samples: int = 60_000, seed: int = 0, prune: float = 0.005):
        self.C = C
        self.max_samples = max_samples
        self.seed = seed
        self.prune = prune

    def fit(self, x, labels: np.ndarray) -> SupervisedChannel:
        labels = np.asarray(labels)
        rows = stratified_cap(labels, self.max_samples, self.seed)
        x = x[rows]
        labels = labels[rows]
        self.classes_ = np.unique(labels)
        if len(self.classes_) == 1:
            self.model_ = None  # one code: nothing to separate
            return self
        svm = LinearSVC(C=self.C, random_state=self.seed).fit(x, labels)
        self.model_ = SparseLinear.from_dense(svm.coef_, svm.intercept_, self.prune)
        return self

    def scores(self, x) -> np.ndarray:
        """(n, n_classes) margins for feature rows ``x``; columns follow ``classes_``."""
        if self.model_ is None:
            return np.zeros((x.shape[0], 1), dtype=np.float32)
        d = self.model_.decision_function(x)
        if d.ndim == 1:  # two classes: sklearn returns one margin for classes_[1]
            d = np.stack([-d, d], axis=1)
        return d.astype(np.float32)


class SparseLinear:
    """Linear decision function with the near-zero weights dropped, stored sparse (features × classes, float32).

    A dense one-vs-rest weight matrix is classes × vocabulary: 343 codes × 90k n-grams is 250 MB in float64, and it
    grows with the library. On cbec titles, weights below 0.005 in magnitude are ~94% of the matrix and dropping them
    leaves top-1/top-5 unchanged (measured on a 6.4k/1.6k split), so the bundle stays small and scoring stays sparse.
    """

    def __init__(self, coef: sp.csr_matrix, intercept: np.ndarray):
        self.coef = coef
        self.intercept = intercept

    @classmethod
    def from_dense(cls, coef: np.ndarray, intercept: np.ndarray, prune: float) -> SparseLinear:
        coef = np.atleast_2d(coef)
        kept = np.where(np.abs(coef) >= prune, coef, 0.0).astype(np.float32)
        return cls(sp.csr_matrix(kept.T), np.atleast_1d(intercept).astype(np.float32))

    def decision_function(self, x) -> np.ndarray:
        d = (x @ self.coef).toarray() + self.intercept
        return d[:, 0] if d.shape[1] == 1 else d


def softmax(margins: np.ndarray, temperature: float) -> np.ndarray:
    z = (margins - margins.max(axis=1, keepdims=True)) / max(temperature, 1e-6)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
