"""Clearance risk model: multiclass LightGBM (low/medium/high) with temperature-calibrated probabilities."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.delay import ShipmentModelBase
from models.tabular import softmax

RISK_CLASSES = ("low", "medium", "high")


class RiskModel(ShipmentModelBase):
    """Probabilities are softmax(raw / T), T fitted on the validation months (keeps the ranking, fixes confidence)."""

    spec_name = "shipments-risk"

    @property
    def classes(self) -> list[str]:
        return list(self.model_.spec.classes or RISK_CLASSES)

    @property
    def temperature(self) -> float:
        return float(self.model_.temperature_)

    def raw_scores(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model_.raw_scores(x)).reshape(len(x), -1)

    def proba_from_raw(self, raw: np.ndarray) -> np.ndarray:
        return softmax(raw / self.temperature)

    def predict_matrix(self, x: np.ndarray) -> np.ndarray:
        return self.proba_from_raw(self.raw_scores(x))

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Raw-score contributions, shape (n, classes, columns + 1); the last column is the per-class bias."""
        return self.model_.contributions(x)

    def predict_rows(self, rows) -> np.ndarray:
        return self.predict_matrix(self.matrix(rows))

    def predict_frame(self, df: pd.DataFrame) -> pd.DataFrame:
        p = self.predict_matrix(self.matrix(df))
        out = pd.DataFrame(p, columns=self.classes, index=df.index)
        out["level"] = np.asarray(self.classes, dtype=object)[p.argmax(axis=1)]
        return out
