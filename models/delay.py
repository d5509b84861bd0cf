"""Clearance delay model: LightGBM quantile regressors for P50 and P90 hours on the shipment feature rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from data.specs.schema import DatasetSpec, builtin_spec
from models.tabular import TabularModel


class ShipmentModelBase:
    """Shared plumbing: a spec-driven :class:`TabularModel` fitted on history frames, scored from dict rows."""

    spec_name: str = ""

    def __init__(self, spec: DatasetSpec | None = None, params: dict[str, Any] | None = None, *,
                 num_threads: int = 2, seed: int = 0, progress: bool = False):
        self.spec = spec
        self.params = params
        self.num_threads = num_threads
        self.seed = seed
        self.progress = progress

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> ShipmentModelBase:
        spec = self.spec or builtin_spec(self.spec_name)
        self.model_ = TabularModel(spec, self.params, num_threads=self.num_threads, seed=self.seed,
                                   progress=getattr(self, "progress", False))
        self.model_.fit(train, valid_df=valid)
        return self

    @classmethod
    def from_tabular(cls, model: TabularModel) -> ShipmentModelBase:
        """Wrap an already trained tabular model (the spec pipeline trains; this class serves)."""
        self = cls(model.spec, model.params, num_threads=model.num_threads, seed=model.seed)
        self.model_ = model
        return self

    def matrix(self, rows: Sequence[dict] | pd.DataFrame) -> np.ndarray:
        return self.model_.matrix(rows)

    @property
    def feature_names(self) -> list[str]:
        return self.model_.preprocessor_.feature_names

    @property
    def feature_sources(self) -> list[str]:
        return self.model_.preprocessor_.feature_sources

    @property
    def best_iterations(self) -> list[int]:
        return self.model_.best_iterations_


class DelayModel(ShipmentModelBase):
    """P50/P90 delay hours. Explanations use the P90 booster: the planning buffer is what customers act on."""

    spec_name = "shipments-delay"
    explained_quantile = 0.9

    def _index(self, q: float) -> int:
        return list(self.model_.spec.quantiles or []).index(q)

    def predict_matrix(self, x: np.ndarray) -> np.ndarray:
        """(n, 2): P50 and P90 hours, non-negative and non-crossing."""
        q = self.model_.quantiles_from_matrix(x)
        out = np.column_stack([q[:, self._index(0.5)], q[:, self._index(0.9)]])
        out = np.clip(out, 0.0, None)
        out[:, 1] = np.maximum(out[:, 1], out[:, 0])
        return out

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Hour contributions to the explained quantile per matrix column; last column is the baseline."""
        return self.model_.contributions(x, booster=self._index(self.explained_quantile))

    def predict_rows(self, rows: Sequence[dict]) -> np.ndarray:
        return self.predict_matrix(self.matrix(rows))

    def predict_frame(self, df: pd.DataFrame) -> pd.DataFrame:
        p = self.predict_matrix(self.matrix(df))
        return pd.DataFrame({"p50_hours": p[:, 0], "p90_hours": p[:, 1]}, index=df.index)
