"""The shipment models: delay (P50/P90 hours) and risk (low/medium/high), trained on a shipment history frame.

A history frame is ``shipment_id``, ``declared_at``, the feature rows of ``features.shipment_features`` and the
outcomes (``LABEL_COLUMNS``), whatever made it: the demo world (``demo.history.history_frame``, what ``clearance
train`` uses) or an exporter's own history. It is split in time (train on the earliest months, calibrate and stop early
on the next ones, test on the last), both models are fitted with the shipped specs (``data/specs/shipments-*.yaml``)
and compared with baselines on the test months; :func:`train_shipment_models` also writes the evaluation report, logs
each model to MLflow and registers it as challenger.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data.errors import InvalidInputError, field_error
from data.specs.schema import DatasetSpec
from models.names import DELAY, RISK
from training.risk_metrics import multiclass_metrics, quantile_metrics
from training.tabular import flat_metrics, log_and_register, spec_plots

__all__ = ["TrainResult", "time_split", "fit_shipment_models", "evaluation_report", "train_shipment_models"]

DELAY_METRICS = ["mae", "pinball_p50", "pinball_p90", "coverage_p90"]
RISK_METRICS = ["macro_f1", "auc_ovr", "precision_at_5pct", "precision_at_10pct", "ece", "ece_high", "log_loss"]
#: What promotion compares for each model (on the test months), and whether higher is better.
PRIMARY_METRIC: dict[str, tuple[str, bool]] = {DELAY: ("test_pinball_p90", False), RISK: ("test_macro_f1", True)}


@dataclass
class TrainResult:
    """One trained shipment model: the native object, metrics per split, baselines on test, MLflow ids."""

    name: str
    native: Any
    metrics: dict[str, dict[str, float]]
    baselines: dict[str, dict[str, float]]
    train_seconds: float
    run_id: str | None = None
    version: int | None = None


def time_split(frame: pd.DataFrame, time_column: str = "declared_at", test_months: int = 4, valid_months: int = 2
               ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train on the earliest months, calibrate/early-stop on the next ``valid_months``, test on the last ones."""
    ts = pd.to_datetime(frame[time_column], utc=True)
    cut_test = ts.max() - pd.DateOffset(months=test_months)
    cut_valid = cut_test - pd.DateOffset(months=valid_months)
    train = frame[ts < cut_valid]
    valid = frame[(ts >= cut_valid) & (ts < cut_test)]
    test = frame[ts >= cut_test]
    if min(len(train), len(valid), len(test)) == 0:
        raise InvalidInputError("the time split left an empty part; the history is too short",
                                details=[field_error(time_column, "too few months")])
    return train, valid, test


def _check_features(spec: DatasetSpec) -> None:
    from features.shipment_features import CATEGORICAL, NUMERIC

    if set(spec.categorical) != set(CATEGORICAL) or set(spec.numeric) != set(NUMERIC):
        missing = sorted((set(CATEGORICAL) | set(NUMERIC)) - set(spec.categorical) - set(spec.numeric))
        extra = sorted((set(spec.categorical) | set(spec.numeric)) - set(CATEGORICAL) - set(NUMERIC))
        raise InvalidInputError(f"spec '{spec.name}' is out of step with features.shipment_features: "
                                f"missing {missing}, unknown {extra}",
                                details=[field_error("categorical/numeric", f"missing {missing}, unknown {extra}")])


def fit_shipment_models(frame: pd.DataFrame, *, num_threads: int = 2, seed: int = 0, baselines: bool = True,
                        test_months: int = 4, valid_months: int = 2, progress: bool = False
                        ) -> dict[str, TrainResult]:
    """Train delay and risk on the time split of a history frame; evaluate LightGBM and baselines on test."""
    from data.specs.schema import builtin_spec
    from models.delay import DelayModel
    from models.risk import RiskModel
    from training import baselines as B

    delay_spec, risk_spec = builtin_spec("shipments-delay"), builtin_spec("shipments-risk")
    _check_features(delay_spec)
    _check_features(risk_spec)
    train, valid, test = time_split(frame, delay_spec.time_column or "declared_at", test_months, valid_months)

    t0 = time.perf_counter()
    delay = DelayModel(delay_spec, num_threads=num_threads, seed=seed, progress=progress).fit(train, valid)
    delay_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    risk = RiskModel(risk_spec, num_threads=num_threads, seed=seed, progress=progress).fit(train, valid)
    risk_s = time.perf_counter() - t0

    def delay_metrics(pred: np.ndarray, df: pd.DataFrame) -> dict[str, float]:
        return quantile_metrics(pred, df["delay_hours"].to_numpy(float), [0.5, 0.9])

    classes = list(risk.classes)

    def risk_metrics(proba: np.ndarray, df: pd.DataFrame) -> dict[str, float]:
        y = df["risk_level"].astype(str).map({c: i for i, c in enumerate(classes)}).to_numpy(int)
        return multiclass_metrics(proba, y, classes)

    d_metrics = {s: delay_metrics(delay.predict_matrix(delay.matrix(df)), df)
                 for s, df in (("train", train), ("valid", valid), ("test", test))}
    r_metrics = {s: risk_metrics(risk.predict_matrix(risk.matrix(df)), df)
                 for s, df in (("train", train), ("valid", valid), ("test", test))}
    d_base: dict[str, dict[str, float]] = {"lightgbm": d_metrics["test"]}
    r_base: dict[str, dict[str, float]] = {"lightgbm": r_metrics["test"]}
    if baselines:
        fit_df = pd.concat([train, valid])  # baselines have no early stopping/calibration: they get both parts
        yd = fit_df["delay_hours"].to_numpy(float)
        yr = fit_df["risk_level"].astype(str).map({c: i for i, c in enumerate(classes)}).to_numpy(int)
        d_base["rules"] = delay_metrics(B.rules_delay(test), test)
        d_base["linear_quantile"] = delay_metrics(B.linear_quantile_delay(fit_df, yd, test, seed), test)
        d_base["hist_gbm"] = delay_metrics(B.hgb_delay(fit_df, yd, test, seed), test)
        r_base["rules"] = risk_metrics(B.rules_risk_proba(test), test)
        r_base["logistic"] = risk_metrics(B.logistic_risk(fit_df, yr, test, seed), test)
        r_base["hist_gbm"] = risk_metrics(B.hgb_risk(fit_df, yr, test, seed), test)
    split_info = {"train_rows": len(train), "valid_rows": len(valid), "test_rows": len(test),
                  "test_from": str(pd.to_datetime(test["declared_at"], utc=True).min())}
    return {
        DELAY: TrainResult(DELAY, delay, {**d_metrics, "split": split_info}, d_base, delay_s),
        RISK: TrainResult(RISK, risk, {**r_metrics, "split": split_info}, r_base, risk_s),
    }


def evaluation_report(results: dict[str, TrainResult]) -> tuple[dict[str, Any], str]:
    """(JSON, markdown) comparing LightGBM with the baselines on the test months."""
    from training.risk_reports import markdown_table

    d, r = results[DELAY], results[RISK]
    payload = {
        "split": d.metrics.get("split"),
        "delay": {"metrics": DELAY_METRICS, "test": d.baselines, "lightgbm_train_seconds": round(d.train_seconds, 2)},
        "risk": {"metrics": RISK_METRICS, "test": r.baselines, "lightgbm_train_seconds": round(r.train_seconds, 2)},
    }
    md = ["# Shipment models: LightGBM vs baselines (test = last months)", "",
          f"Split: {payload['split']}", "",
          markdown_table(d.baselines, DELAY_METRICS, "Delay (hours; lower is better except coverage_p90 ≈ 0.90)"),
          markdown_table(r.baselines, RISK_METRICS, "Risk (low/medium/high; precision@k and ECE for class high)")]
    return payload, "\n".join(md)


def train_shipment_models(settings: Any, frame: pd.DataFrame, *, seed: int = 0, register: bool = True,
                          progress: bool = True, baselines: bool = True, log: bool = True,
                          params: Mapping[str, Any] | None = None, test_months: int = 4, valid_months: int = 2
                          ) -> dict[str, TrainResult]:
    """Train delay and risk on ``frame``, write the evaluation report, log each model to MLflow, register it.

    The report goes to ``<data_dir>/reports/shipment-models.{json,md}``; ``params`` are logged with every run beside
    the model's own (e.g. where the history came from).
    """
    import tempfile

    from features.shipment_features import CATEGORICAL, NUMERIC

    threads = getattr(settings, "threads", 2)
    results = fit_shipment_models(frame, num_threads=threads, seed=seed, baselines=baselines, progress=progress,
                                  test_months=test_months, valid_months=valid_months)
    payload, md = evaluation_report(results)
    reports = Path(settings.data_dir) / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "shipment-models.json").write_text(json.dumps(payload, indent=2, default=str))
    (reports / "shipment-models.md").write_text(md)
    if not log:
        return results
    _, _, test = time_split(frame, test_months=test_months, valid_months=valid_months)
    example = frame[CATEGORICAL + NUMERIC].head(5)
    for name, (primary, hib) in PRIMARY_METRIC.items():
        res = results[name]
        model = res.native.model_
        metrics = flat_metrics({k: v for k, v in res.metrics.items() if k != "split"})
        metrics.update({f"baseline_{b}_{k}": v for b, m in res.baselines.items() if b != "lightgbm"
                        for k, v in m.items() if isinstance(v, float) and np.isfinite(v)})
        with tempfile.TemporaryDirectory() as tmp:
            plots = spec_plots(model, {"test": test}, Path(tmp))
            (Path(tmp) / "evaluation.md").write_text(md)
            run_params = {"n_shipments": len(frame), "seed": seed, "spec": model.spec.name,
                          "best_iterations": model.best_iterations_,
                          **{f"lgb_{k}": v for k, v in model.spec.model.params.items()},
                          **({"temperature": model.temperature_} if model.spec.task == "multiclass" else {}),
                          # what the recent-outcome promotion gate reads: the model saw only shipments before this
                          "trained_until": str(res.metrics["split"]["test_from"]),
                          **(params or {})}
            res.run_id, res.version = log_and_register(
                experiment=name, run_name=name, native=res.native, input_example=example, params=run_params,
                metrics=metrics, artifacts=[*plots, Path(tmp) / "evaluation.md"], settings=settings,
                register_as=name if register else None, primary_metric=primary, higher_is_better=hib,
                json_payload=payload)
    return results
