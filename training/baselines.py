"""Baselines evaluated on the same time split as the LightGBM shipment models.

* ``rules``: no learning. The documented effects of the demo world (docs/shipment-generator.md, constants in
  ``demo.shipments`` and its carrier catalogue) applied to what a served shipment carries (its feature row). Risk: probability of a
  hold (-> high) from the documented hold hazards, inspection (-> medium) from the documented inspection logit.
  Delay: channel base time x carrier factor, pre-declaration and credit factors, plus the documented congestion,
  inspection and hold delays weighted by the same probabilities.
* ``logistic`` (risk) / ``linear_quantile`` (delay): one-hot categoricals + standardised numerics.
* ``hist_gbm``: sklearn HistGradientBoosting with native categoricals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from demo import shipments as G
from features.shipment_features import CATEGORICAL, NUMERIC

_DATA_FLAGS = ["f_phone_missing", "f_phone_invalid", "f_postcode_missing", "f_postcode_invalid", "f_address_missing",
               "f_hs_missing", "f_hs_invalid", "f_list_mode_over_limit"]
_CREDIT_BY_ORDINAL = {0: "discredited", 1: "general", 2: "advanced_certified"}


def _col(df: pd.DataFrame, name: str) -> np.ndarray:
    return pd.to_numeric(df[name], errors="coerce").fillna(0).to_numpy(dtype=float)


def rules_hazards(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(p_hold, p_inspect) from the documented effects."""
    after = _col(df, "after_policy_change") > 0
    n_doc = _col(df, "n_three_document_findings")
    n_data = sum(_col(df, f) for f in _DATA_FLAGS)
    per_data = np.where(after, G.HOLD_PER_DATA_ERROR_AFTER_POLICY, G.HOLD_PER_DATA_ERROR)
    p_not_held = ((1 - G.HOLD_BASE) * np.where(_col(df, "lithium_us_uncertified") > 0,
                                               1 - G.HOLD_LITHIUM_US_UNCERTIFIED, 1.0)
                  * (1 - G.HOLD_PER_DOC_MISMATCH) ** n_doc * (1 - per_data) ** n_data
                  * np.where(_col(df, "f_lithium_undeclared") > 0, 1 - G.HOLD_LITHIUM_UNDECLARED, 1.0))
    chapter = df["hs_chapter"].astype(object).to_numpy()
    credit = [_CREDIT_BY_ORDINAL.get(int(c), "general") for c in _col(df, "credit_grade")]
    logit = (G.INSPECT_INTERCEPT + np.array([G.CHAPTER_INSPECTION.get(c, 0.0) for c in chapter])
             + G.OVER_50K_INSPECTION * _col(df, "over_50k_usd") + np.array([G.CREDIT_INSPECTION[c] for c in credit])
             + G.UNDERVALUED_INSPECTION * _col(df, "f_unit_price_outlier")
             + G.OTHER_DG_INSPECTION * (_col(df, "other_dangerous_goods") > 0)
             + after * np.array([G.POLICY_CHAPTER_INSPECTION.get(c, 0.0) for c in chapter]))
    return 1 - p_not_held, 1 / (1 + np.exp(-logit))


def rules_risk_proba(df: pd.DataFrame) -> np.ndarray:
    """(n, 3) low/medium/high: high = held, medium = inspected and not held."""
    p_hold, p_insp = rules_hazards(df)
    high = p_hold
    medium = (1 - p_hold) * p_insp
    return np.column_stack([1 - high - medium, medium, high])


def rules_delay(df: pd.DataFrame) -> np.ndarray:
    """(n, 2) P50/P90 hours from the documented base times and effect sizes."""
    channel = df["channel"].astype(object).to_numpy()
    carrier = df["carrier"].astype(object).to_numpy()
    factors = {c.carrier: c.delay_factor for c in G.CARRIERS}
    base = np.array([G.CHANNEL_BASE_HOURS.get(c, 24.0) for c in channel])
    base *= np.array([factors.get(c, 1.0) for c in carrier])
    base *= np.where(_col(df, "predeclared") > 0, G.PREDECLARED_FACTOR, 1.0)
    base *= np.where(_col(df, "credit_grade") == 0, G.DISCREDITED_DELAY_FACTOR, 1.0)
    sea = np.isin(channel, ["sea_fcl", "sea_lcl"])
    congestion = _col(df, "us_west_coast_peak") * np.where(
        sea, np.prod(G.CONGESTION_GAMMA_SEA), np.prod(G.CONGESTION_GAMMA_AIR))
    p_hold, p_insp = rules_hazards(df)
    inspect = np.prod(G.INSPECTION_GAMMA) * np.where(sea, G.INSPECTION_SEA_FACTOR, 1.0)
    hold = G.HOLD_DELAY[0] + G.HOLD_DELAY[1] * G.HOLD_DELAY[2]
    p50 = base + congestion + np.where(p_hold > 0.5, hold, 0.0) + np.where(p_insp > 0.5, inspect, 0.0)
    # P90: lognormal base noise at its 90th percentile plus the delays whose probability is at least 10%.
    p90 = (base * np.exp(1.2816 * G.BASE_NOISE_SIGMA) + congestion * 1.6 + np.where(p_hold > 0.1, hold, 0.0)
           + np.where(p_insp > 0.1, inspect, 0.0))
    return np.column_stack([p50, np.maximum(p90, p50)])


def _linear_design(train: pd.DataFrame):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    return ColumnTransformer([
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="__missing__"),
                              OneHotEncoder(handle_unknown="ignore", min_frequency=20)), CATEGORICAL),
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUMERIC),
    ])


def _as_object(df: pd.DataFrame) -> pd.DataFrame:
    out = df[CATEGORICAL + NUMERIC].copy()
    for c in CATEGORICAL:
        out[c] = out[c].astype(object).where(out[c].notna(), "__missing__")
    return out


def logistic_risk(train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame, seed: int = 0) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(_linear_design(train), LogisticRegression(max_iter=300, C=1.0, random_state=seed))
    model.fit(_as_object(train), y)
    return model.predict_proba(_as_object(test))


def linear_quantile_delay(train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame, seed: int = 0,
                          max_rows: int = 4000) -> np.ndarray:
    """Linear quantile regression (HiGHS); fitted on a sample because the LP grows with the rows."""
    from sklearn.linear_model import QuantileRegressor
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(seed)
    idx = rng.choice(len(train), size=min(max_rows, len(train)), replace=False)
    out = []
    for q in (0.5, 0.9):
        model = make_pipeline(_linear_design(train), QuantileRegressor(quantile=q, alpha=0.0, solver="highs"))
        model.fit(_as_object(train.iloc[idx]), y[idx])
        out.append(model.predict(_as_object(test)))
    p = np.column_stack(out)
    p[:, 1] = np.maximum(p[:, 1], p[:, 0])
    return p


def _hgb_columns(train: pd.DataFrame) -> list[str]:
    """The feature columns with a value in the training rows: sklearn's binning fails on a column that is all missing
    (the congestion figures of a history without enough outcomes per port)."""
    return [c for c in CATEGORICAL + NUMERIC if train[c].notna().any()]


def _hgb_frame(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = df[columns].copy()
    for c in CATEGORICAL:
        if c in out:
            out[c] = out[c].astype("category")
    return out


def hgb_risk(train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame, seed: int = 0) -> np.ndarray:
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, categorical_features="from_dtype",
                                           early_stopping=True, random_state=seed)
    columns = _hgb_columns(train)
    model.fit(_hgb_frame(train, columns), y)
    return model.predict_proba(_hgb_frame(test, columns))


def hgb_delay(train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame, seed: int = 0) -> np.ndarray:
    from sklearn.ensemble import HistGradientBoostingRegressor

    out = []
    columns = _hgb_columns(train)
    for q in (0.5, 0.9):
        model = HistGradientBoostingRegressor(loss="quantile", quantile=q, max_iter=200, learning_rate=0.1,
                                              categorical_features="from_dtype", early_stopping=True,
                                              random_state=seed)
        model.fit(_hgb_frame(train, columns), y)
        out.append(model.predict(_hgb_frame(test, columns)))
    p = np.column_stack(out)
    p[:, 1] = np.maximum(p[:, 1], p[:, 0])
    return p
