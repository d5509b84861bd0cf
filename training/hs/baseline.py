"""The reference the suggester must beat: TF-IDF (char 1-3 n-grams) + LinearSVC over HS6 classes."""

from __future__ import annotations

import numpy as np

from models.suggester.lexical import make_vectoriser, transform


class BaselineClassifier:
    """TF-IDF (char 1-3 n-grams across word boundaries) + LinearSVC; ``rank`` gives the best HS6 codes per text."""

    def __init__(self, C: float = 1.0):
        self.C = C

    def fit(self, texts: list[str], codes: list[str]) -> BaselineClassifier:
        from sklearn.svm import LinearSVC

        self.vectoriser_ = make_vectoriser((1, 3), analyzer="char")  # char n-grams across word boundaries too
        self.vectoriser_.fit(texts)
        y = np.array([c[:6] for c in codes], dtype=object)
        self.classes_ = np.unique(y)
        self.model_ = LinearSVC(C=self.C).fit(transform(self.vectoriser_, texts), y) if len(self.classes_) > 1 else None
        return self

    def rank(self, texts: list[str], k: int = 20) -> list[list[str]]:
        if self.model_ is None:
            return [[self.classes_[0]] for _ in texts]
        out = []
        for start in range(0, len(texts), 1024):
            d = self.model_.decision_function(transform(self.vectoriser_, texts[start:start + 1024]))
            if d.ndim == 1:
                d = np.stack([-d, d], axis=1)
            top = np.argsort(-d, axis=1)[:, :k]
            out.extend([list(self.model_.classes_[row]) for row in top])
        return out
