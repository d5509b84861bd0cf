"""Spec-driven LightGBM estimators for tables: binary/multiclass classifiers (calibrated) and quantile regressors.

Two pieces:

* :class:`~models.tabular_preprocessing.TabularPreprocessor` turns a table (DataFrame) or plain dict rows into one
  float matrix, with categorical levels stored in the model (its own module).
* :class:`TabularModel` trains one booster per task (one per quantile for quantile tasks) with early stopping on a
  validation split, and calibrates probabilities on that split.
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from data.errors import InvalidInputError, field_error
from data.specs.schema import DatasetSpec

# Re-exported: models pickled before the split name the preprocessor under this module.
from models.tabular_preprocessing import TabularPreprocessor, category_key

#: Upper bound on predict threads in the current context (thread/task-local, so concurrent requests are unaffected).
THREAD_CAP: contextvars.ContextVar[int] = contextvars.ContextVar("clearance_predict_thread_cap", default=1 << 16)



# ---- calibration ---------------------------------------------------------------------------------------------------
@dataclass
class BinaryCalibrator:
    """Monotone map of raw probabilities, kept as interpolation knots so predict needs no sklearn object."""

    method: str
    x: np.ndarray
    y: np.ndarray

    @classmethod
    def fit(cls, p: np.ndarray, y: np.ndarray, method: str) -> BinaryCalibrator:
        if method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(p, y)
            return cls(method, np.asarray(iso.X_thresholds_, float), np.asarray(iso.y_thresholds_, float))
        # sigmoid (Platt) on the logit, tabulated on a fine grid
        from sklearn.linear_model import LogisticRegression

        z = np.log(np.clip(p, 1e-6, 1 - 1e-6) / np.clip(1 - p, 1e-6, 1))
        lr = LogisticRegression(C=1e6).fit(z[:, None], y)
        grid = np.linspace(0, 1, 1001)
        zg = np.log(np.clip(grid, 1e-6, 1 - 1e-6) / np.clip(1 - grid, 1e-6, 1))
        return cls(method, grid, lr.predict_proba(zg[:, None])[:, 1])

    def __call__(self, p: np.ndarray) -> np.ndarray:
        return np.interp(p, self.x, self.y)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def fit_temperature(raw: np.ndarray, y: np.ndarray) -> float:
    """Temperature T minimising the validation log loss of softmax(raw / T); keeps the arg-max, fixes confidence."""
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        p = softmax(raw / math.exp(log_t))
        return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None))))

    res = minimize_scalar(nll, bounds=(-3, 3), method="bounded")
    return float(math.exp(res.x))


# ---- the estimator -------------------------------------------------------------------------------------------------
DEFAULT_PARAMS: dict[str, Any] = {
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 40,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "verbosity": -1,
    "max_cat_to_onehot": 8,
    "cat_smooth": 20,
}


class TabularModel:
    """LightGBM on a spec. ``fit(df, valid_df=...)`` then ``predict_proba`` / ``predict_quantiles`` / ``predict``."""

    def __init__(self, spec: DatasetSpec, params: dict[str, Any] | None = None, *, num_boost_round: int | None = None,
                 early_stopping_rounds: int | None = None, calibration: str | None = None, num_threads: int = 2,
                 seed: int = 0, progress: bool = False):
        self.spec = spec
        self.params = params
        self.num_boost_round = num_boost_round
        self.early_stopping_rounds = early_stopping_rounds
        self.calibration = calibration
        self.num_threads = num_threads
        self.seed = seed
        self.progress = progress

    # ---- targets ---------------------------------------------------------------------------------------------------
    def encode_target(self, y: Sequence[Any] | pd.Series) -> np.ndarray:
        """Labels as model targets: 0/1 (binary), class index (multiclass), float (regression/quantile)."""
        spec = self.spec
        y = pd.Series(y).reset_index(drop=True)
        if y.isna().any():
            raise InvalidInputError(f"target '{spec.target}' has {int(y.isna().sum())} missing values",
                                    details=[field_error(spec.target, "missing values")])
        if spec.task == "binary":
            pos = category_key(spec.positive_class)
            keys = y.map(category_key)
            return (keys == pos).to_numpy(dtype=float)
        if spec.task == "multiclass":
            index = {c: i for i, c in enumerate(spec.classes or [])}
            keys = y.map(category_key)
            bad = sorted(set(keys) - set(index))
            if bad:
                raise InvalidInputError(f"target '{spec.target}' has values not in classes {spec.classes}: {bad[:5]}",
                                        details=[field_error(spec.target, f"unknown classes {bad[:5]}")])
            return keys.map(index).to_numpy(dtype=int)
        return pd.to_numeric(y, errors="raise").to_numpy(dtype=float)

    def _encoding_targets(self, t: np.ndarray) -> np.ndarray:
        if self.spec.task == "multiclass":
            k = len(self.spec.classes or [])
            return np.eye(k)[t]
        return t.reshape(-1, 1).astype(float)

    # ---- fit ---------------------------------------------------------------------------------------------------------
    def _lgb_params(self, objective: str, extra: dict[str, Any]) -> dict[str, Any]:
        p = {**DEFAULT_PARAMS, **self.spec.model.params, **(self.params or {})}
        p.update(objective=objective, num_threads=self.num_threads, seed=self.seed, verbosity=-1, **extra)
        return p

    def fit(self, df: pd.DataFrame, y: Sequence[Any] | None = None, *, valid_df: pd.DataFrame | None = None,
            valid_y: Sequence[Any] | None = None, preprocessed: tuple | None = None) -> TabularModel:
        """Train on ``df``; early stopping and calibration use the validation table when given.

        ``preprocessed`` = (preprocessor, X_train, t_train, X_valid, t_valid) lets a tuning loop reuse one fitted
        preprocessor across grid points.
        """
        import lightgbm as lgb

        spec = self.spec
        if preprocessed is None:
            t = self.encode_target(df[spec.target] if y is None else y)
            pre, x = TabularPreprocessor.fit(spec, df, self._encoding_targets(t), seed=self.seed)
            xv = tv = None
            if valid_df is not None:
                tv = self.encode_target(valid_df[spec.target] if valid_y is None else valid_y)
                xv = pre.transform(valid_df)
        else:
            pre, x, t, xv, tv = preprocessed
        self.preprocessor_ = pre
        rounds = self.num_boost_round or spec.model.num_boost_round
        es = self.early_stopping_rounds or spec.model.early_stopping_rounds
        cats = pre.categorical_indices

        def train(objective: str, extra: dict[str, Any]) -> Any:
            params = self._lgb_params(objective, extra)
            ds = lgb.Dataset(x, label=t, feature_name=pre.feature_names, categorical_feature=cats,
                             free_raw_data=False, params={"verbosity": -1})
            callbacks = []
            valid_sets = []
            if xv is not None:
                valid_sets = [lgb.Dataset(xv, label=tv, reference=ds, categorical_feature=cats)]
                callbacks.append(lgb.early_stopping(es, verbose=False))
            bar = None
            if getattr(self, "progress", False):
                from tqdm.auto import tqdm

                bar = tqdm(total=rounds, desc=f"{spec.name} {objective}{extra.get('alpha', '')}", unit="round",
                           leave=False)
                callbacks.append(lambda env: bar.update(1))
            try:
                return lgb.train(params, ds, num_boost_round=rounds, valid_sets=valid_sets, callbacks=callbacks)
            finally:
                if bar is not None:
                    bar.close()

        self.boosters_: list[Any] = []
        if spec.task == "binary":
            self.boosters_.append(train("binary", {"metric": "auc"}))
        elif spec.task == "multiclass":
            self.boosters_.append(train("multiclass", {"num_class": len(spec.classes or []),
                                                       "metric": "multi_logloss"}))
        elif spec.task == "quantile":
            for q in spec.quantiles or []:
                self.boosters_.append(train("quantile", {"alpha": q, "metric": "quantile"}))
        else:
            self.boosters_.append(train("regression", {"metric": "l2"}))
        self.best_iterations_ = [int(b.best_iteration or b.current_iteration()) for b in self.boosters_]

        self._calibrate(xv, tv)
        self.profile_ = self._training_profile(df, valid_df, xv, tv)
        return self

    def _calibrate(self, xv: np.ndarray | None, tv: np.ndarray | None) -> None:
        """Probability calibration on the validation matrix (also used by the Dask trainer, training/cluster)."""
        spec = self.spec
        method = self.calibration or spec.model.calibration
        self.calibrator_: BinaryCalibrator | None = None
        self.temperature_: float = 1.0
        if xv is not None and method != "none":
            if spec.task == "binary":
                self.calibrator_ = BinaryCalibrator.fit(self._raw_binary(xv), tv, "isotonic" if method == "temperature"
                                                        else method)
            elif spec.task == "multiclass":
                self.temperature_ = fit_temperature(self.raw_scores(xv), tv)

    def _training_profile(self, df: pd.DataFrame, valid_df: pd.DataFrame | None, xv: np.ndarray | None,
                          tv: np.ndarray | None) -> Any:
        """The training frame's feature profile (drift) and the weekly figure ranges on the validation weeks
        (monitoring); see ``models.profile`` and ``models.monitoring``."""
        from models.monitoring import DEFAULT_REVIEW_RATE, training_ranges
        from models.profile import TrainingProfile

        spec = self.spec
        profile = TrainingProfile.fit(df, spec.categorical, spec.numeric, spec.time_column)
        column = spec.time_column
        if xv is None or tv is None or valid_df is None or not column or column not in valid_df:
            return profile
        ts = pd.to_datetime(valid_df[column], utc=True)
        seconds = (ts - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()
        if spec.task == "quantile":
            profile.ranges = training_ranges("quantile", seconds, tv, self.quantiles_from_matrix(xv),
                                             quantiles=spec.quantiles or [])
        elif spec.task in ("binary", "multiclass"):
            profile.ranges = training_ranges(spec.task, seconds, tv, self.proba_from_matrix(xv),
                                             review_rate=DEFAULT_REVIEW_RATE)
            profile.review_rate = DEFAULT_REVIEW_RATE
        return profile

    @property
    def profile(self) -> Any:
        """The :class:`~models.profile.TrainingProfile`; None for a model pickled before profiles existed."""
        return getattr(self, "profile_", None)

    # ---- predict ---------------------------------------------------------------------------------------------------
    def matrix(self, data: pd.DataFrame | Sequence[dict]) -> np.ndarray:
        if isinstance(data, pd.DataFrame):
            return self.preprocessor_.transform(data)
        return self.preprocessor_.transform_records(data)

    def _threads(self, x: np.ndarray) -> int:
        """One thread for small inputs: an OpenMP team costs more than it saves on a few rows, and the service
        already runs requests concurrently. :data:`THREAD_CAP` lowers it for the current context (e.g. while worker
        processes hold the other cores)."""
        return 1 if len(x) < 256 else min(self.num_threads, THREAD_CAP.get())

    def raw_scores(self, x: np.ndarray) -> np.ndarray:
        b = self.boosters_[0]
        return b.predict(x, raw_score=True, num_iteration=self.best_iterations_[0], num_threads=self._threads(x))

    def _raw_binary(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.raw_scores(x)))

    def proba_from_matrix(self, x: np.ndarray) -> np.ndarray:
        if self.spec.task == "binary":
            p = self._raw_binary(x)
            return self.calibrator_(p) if self.calibrator_ is not None else p
        if self.spec.task == "multiclass":
            return softmax(self.raw_scores(x) / self.temperature_)
        raise TypeError(f"predict_proba needs a classification spec, this one is '{self.spec.task}'")

    def quantiles_from_matrix(self, x: np.ndarray) -> np.ndarray:
        if self.spec.task not in ("quantile", "regression"):
            raise TypeError(f"predict_quantiles needs a quantile spec, this one is '{self.spec.task}'")
        nt = self._threads(x)
        out = np.column_stack([b.predict(x, num_iteration=it, num_threads=nt)
                               for b, it in zip(self.boosters_, self.best_iterations_)])
        if self.spec.task == "quantile":
            # Separate boosters can cross; quantiles are sorted by level in the spec order.
            order = np.argsort(self.spec.quantiles)
            out[:, order] = np.maximum.accumulate(out[:, order], axis=1)
        return out

    def predict_proba(self, data: pd.DataFrame | Sequence[dict]) -> np.ndarray:
        return self.proba_from_matrix(self.matrix(data))

    def predict_quantiles(self, data: pd.DataFrame | Sequence[dict]) -> np.ndarray:
        return self.quantiles_from_matrix(self.matrix(data))

    def predict(self, data: pd.DataFrame | Sequence[dict]) -> np.ndarray:
        x = self.matrix(data)
        if self.spec.task == "binary":
            return self.proba_from_matrix(x)
        if self.spec.task == "multiclass":
            return np.asarray(self.spec.classes, dtype=object)[self.proba_from_matrix(x).argmax(axis=1)]
        q = self.quantiles_from_matrix(x)
        return q[:, 0] if q.shape[1] == 1 else q

    def contributions(self, x: np.ndarray, booster: int = 0) -> np.ndarray:
        """Raw-score feature contributions (last column = bias); multiclass -> shape (n, k, features + 1)."""
        b = self.boosters_[booster]
        c = b.predict(x, pred_contrib=True, num_iteration=self.best_iterations_[booster], num_threads=self._threads(x))
        if self.spec.task == "multiclass":
            k = len(self.spec.classes or [])
            return np.asarray(c).reshape(len(x), k, -1)
        return np.asarray(c)

    def feature_importance(self, booster: int = 0) -> pd.Series:
        b = self.boosters_[booster]
        return pd.Series(b.feature_importance("gain"), index=self.preprocessor_.feature_names).sort_values(
            ascending=False)

    @property
    def feature_names(self) -> list[str]:
        return self.preprocessor_.feature_names
