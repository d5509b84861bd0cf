"""Spec-driven training: read tables, tune a small grid with early stopping on the validation split only, evaluate
every split given, log everything to MLflow and optionally register. Also trains the two shipment models.

Nothing here looks at the test split before the final evaluation: the preprocessor and the boosters are fitted on
train, the grid, the number of trees and the calibration are chosen on valid.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data.errors import InvalidInputError, field_error
from data.specs.schema import DatasetSpec
from models.tabular import TabularModel, TabularPreprocessor
from training.risk_metrics import (
    DEFAULT_PRIMARY,
    binary_metrics,
    higher_is_better,
    multiclass_metrics,
    quantile_metrics,
    regression_metrics,
)

__all__ = ["SpecTrainResult", "TrainResult", "train_spec", "train_and_log_spec", "train_shipment_models",
           "fit_shipment_models", "time_split", "evaluation_report", "read_table"]


@dataclass
class SpecTrainResult:
    spec: DatasetSpec
    model: TabularModel
    metrics: dict[str, dict[str, float]]
    best_params: dict[str, Any]
    grid: list[dict[str, Any]]
    primary_metric: str
    higher_is_better: bool
    train_seconds: float
    run_id: str | None = None
    registered_version: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "spec": self.spec.name,
            "task": self.spec.task,
            "primary_metric": self.primary_metric,
            "best_params": self.best_params,
            "best_iterations": self.model.best_iterations_,
            "grid": self.grid,
            "train_seconds": round(self.train_seconds, 2),
            "run_id": self.run_id,
            "registered_version": self.registered_version,
            "warnings": self.extra.get("warnings", []),
            **{split: m for split, m in self.metrics.items()},
        }


def read_table(path: str | Path) -> pd.DataFrame:
    """CSV/TSV/Parquet/JSONL by extension; a clear error when the file is missing or unreadable."""
    path = Path(path)
    if not path.exists():
        raise InvalidInputError(f"table not found: {path}", details=[field_error(str(path), "file not found")])
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".jsonl", ".ndjson"):
            return pd.read_json(path, lines=True)
        return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", low_memory=False)
    except Exception as exc:  # any parser failure becomes one user-facing error
        raise InvalidInputError(f"cannot read {path}: {exc}", details=[field_error(str(path), str(exc))]) from None


def check_columns(spec: DatasetSpec, df: pd.DataFrame, split: str, need_target: bool = True) -> None:
    need = spec.required_columns() + ([spec.target] if need_target else [])
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise InvalidInputError(
            f"{split} table lacks columns required by spec '{spec.name}': {missing}",
            details=[field_error(c, f"missing from {split} table") for c in missing])


def evaluate(model: TabularModel, df: pd.DataFrame, x: np.ndarray | None = None) -> dict[str, float]:
    spec = model.spec
    x = model.matrix(df) if x is None else x
    t = model.encode_target(df[spec.target])
    if spec.task == "binary":
        return binary_metrics(model.proba_from_matrix(x), t)
    if spec.task == "multiclass":
        return multiclass_metrics(model.proba_from_matrix(x), t, list(spec.classes or []))
    pred = model.quantiles_from_matrix(x)
    if spec.task == "quantile":
        m = quantile_metrics(pred, t, spec.quantiles or [])
        m["pinball_mean"] = float(np.mean([v for k, v in m.items() if k.startswith("pinball_")]))
        return m
    return regression_metrics(pred[:, 0], t)


def train_spec(spec: DatasetSpec, train_df: pd.DataFrame, valid_df: pd.DataFrame,
               test_df: pd.DataFrame | None = None, *, num_threads: int = 2, seed: int = 0,
               progress: bool = True) -> SpecTrainResult:
    """Fit the preprocessor on train, tune the spec's grid (early stopping) on valid, evaluate each split."""
    from tqdm.auto import tqdm

    check_columns(spec, train_df, "train")
    check_columns(spec, valid_df, "valid")
    if test_df is not None:
        check_columns(spec, test_df, "test")
    t0 = time.perf_counter()
    probe = TabularModel(spec, num_threads=num_threads, seed=seed)
    t = probe.encode_target(train_df[spec.target])
    tv = probe.encode_target(valid_df[spec.target])
    pre, x = TabularPreprocessor.fit(spec, train_df, probe._encoding_targets(t), seed=seed)
    xv = pre.transform(valid_df)

    primary, hib = (spec.primary_metric, higher_is_better(spec.primary_metric)) if spec.primary_metric \
        else DEFAULT_PRIMARY[spec.task]
    keys = sorted(spec.model.grid)
    combos = [dict(zip(keys, vals)) for vals in itertools.product(*(spec.model.grid[k] for k in keys))] or [{}]
    best: tuple[float, TabularModel, dict[str, Any]] | None = None
    grid_log = []
    for combo in tqdm(combos, desc=f"tuning {spec.name}", disable=not progress):
        m = TabularModel(spec, params=combo, num_threads=num_threads, seed=seed)
        m.fit(train_df, preprocessed=(pre, x, t, xv, tv))
        score = evaluate(m, valid_df, xv).get(primary, float("nan"))
        grid_log.append({**combo, primary: score, "best_iterations": m.best_iterations_})
        better = best is None or (score > best[0] if hib else score < best[0])
        if better and not np.isnan(score):
            best = (score, m, combo)
    if best is None:
        raise InvalidInputError(f"no grid point gave a finite '{primary}' on valid",
                                details=[field_error("primary_metric", "not finite on valid")])
    _, model, combo = best
    train_seconds = time.perf_counter() - t0
    warnings = _time_order_warnings(spec, {"train": train_df, "valid": valid_df,
                                           **({"test": test_df} if test_df is not None else {})})
    metrics = {"train": evaluate(model, train_df, x), "valid": evaluate(model, valid_df, xv)}
    if test_df is not None:
        metrics["test"] = evaluate(model, test_df)
    return SpecTrainResult(spec=spec, model=model, metrics=metrics, best_params=combo, grid=grid_log,
                           primary_metric=primary, higher_is_better=hib, train_seconds=train_seconds,
                           extra={"warnings": warnings})


def _time_order_warnings(spec: DatasetSpec, frames: dict[str, pd.DataFrame]) -> list[str]:
    """Splits should follow each other in time (train, then valid, then test); say so when they overlap."""
    col = spec.time_column
    if not col:
        return []
    spans = {}
    for name, df in frames.items():
        if col in df.columns:
            ts = pd.to_datetime(df[col], errors="coerce", utc=True).dropna()
            if len(ts):
                spans[name] = (ts.min(), ts.max())
    out = []
    names = [n for n in ("train", "valid", "test") if n in spans]
    for a, b in zip(names, names[1:]):
        if spans[a][1] > spans[b][0]:
            out.append(f"'{col}': {a} ends {spans[a][1]} after {b} starts {spans[b][0]}; the {b} metrics are not an "
                       f"out-of-time estimate")
    return out


# ==================================================================================================== MLflow logging
def _flat(metrics: dict[str, dict[str, float]]) -> dict[str, float]:
    out = {}
    for split, m in metrics.items():
        for k, v in m.items():
            if isinstance(v, (int, float)) and np.isfinite(v):
                out[f"{split}_{k}"] = float(v)
    return out


def _spec_plots(model: TabularModel, frames: dict[str, pd.DataFrame], folder: Path) -> list[Path]:
    """Calibration (per split), feature importance, SHAP-style summary (on up to 2,000 rows of the last split)."""
    from training import risk_reports as rr

    spec = model.spec
    paths = []
    for split, df in frames.items():
        x = model.matrix(df)
        t = model.encode_target(df[spec.target])
        if spec.task == "binary":
            paths.append(rr.calibration_plot(model.proba_from_matrix(x), t, folder / f"calibration_{split}.png",
                                             f"{spec.name} · {split}"))
        elif spec.task == "multiclass":
            k = len(spec.classes or []) - 1
            paths.append(rr.calibration_plot(model.proba_from_matrix(x)[:, k], t == k,
                                             folder / f"calibration_{split}_{spec.classes[k]}.png",
                                             f"{spec.name} · {split} · P({spec.classes[k]})"))
    for b in range(len(model.boosters_)):
        imp = model.boosters_[b].feature_importance("gain")
        paths.append(rr.importance_plot(model.feature_names, imp, folder / f"feature_importance_{b}.png",
                                        f"{spec.name} · gain · booster {b}"))
    last = list(frames.values())[-1]
    sample = last.sample(min(2000, len(last)), random_state=0)
    xs = model.matrix(sample)
    contrib = model.contributions(xs, booster=len(model.boosters_) - 1)
    if contrib.ndim == 3:
        contrib = contrib[:, -1, :]  # the last class (e.g. high, fraud)
    paths.append(rr.contribution_summary_plot(contrib, xs, model.feature_names, folder / "contribution_summary.png",
                                              f"{spec.name} · pred_contrib"))
    return paths


def log_and_register(*, experiment: str, native: Any, input_example: pd.DataFrame, params: dict[str, Any],
                     metrics: dict[str, float], artifacts: list[Path], settings: Any, register_as: str | None,
                     primary_metric: str, higher_is_better: bool, json_payload: dict[str, Any] | None = None
                     ) -> tuple[str, int | None]:
    """One MLflow run: params, metrics, plots/tables, the pyfunc model (signature + example); register if asked."""
    import mlflow

    from models.tabular_pyfunc import log_native
    from training import registry

    registry.configure_mlflow(settings)
    exp = registry.experiment_id(experiment, settings)
    with mlflow.start_run(experiment_id=exp) as run:
        mlflow.log_params({k: (json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in params.items()})
        mlflow.log_metrics(metrics)
        for p in artifacts:
            mlflow.log_artifact(str(p), artifact_path="reports")
        if json_payload is not None:
            mlflow.log_dict(json_payload, "reports/metrics.json")
        info = log_native(native, "model", input_example)
        run_id = run.info.run_id
    version = None
    if register_as:
        version = registry.register_challenger(run_id, info.model_uri, register_as, metrics, primary_metric,
                                               higher_is_better, settings)
    return run_id, version


def train_and_log_spec(spec: DatasetSpec, train_path: str | Path, valid_path: str | Path,
                       test_path: str | Path | None, settings: Any, *, register: bool = False,
                       name: str | None = None, log: bool = True, num_threads: int | None = None,
                       progress: bool = True) -> SpecTrainResult:
    """What ``clearance risk train`` runs: read, train/tune, evaluate, log to MLflow, register when asked."""
    import tempfile

    from models.tabular_pyfunc import TabularPredictor

    train_df, valid_df = read_table(train_path), read_table(valid_path)
    test_df = read_table(test_path) if test_path is not None else None
    threads = num_threads or getattr(settings, "threads", 2)
    result = train_spec(spec, train_df, valid_df, test_df, num_threads=threads, progress=progress)
    if not log:
        return result
    eval_split = "test" if test_df is not None else "valid"
    metrics = _flat(result.metrics)
    frames = {"valid": valid_df, **({"test": test_df} if test_df is not None else {})}
    with tempfile.TemporaryDirectory() as tmp:
        plots = _spec_plots(result.model, frames, Path(tmp))
        example = valid_df[spec.required_columns()].head(5)
        params = {"spec": spec.name, "task": spec.task, "train_rows": len(train_df), "valid_rows": len(valid_df),
                  **{f"lgb_{k}": v for k, v in {**spec.model.params, **result.best_params}.items()},
                  "best_iterations": result.model.best_iterations_}
        result.run_id, result.registered_version = log_and_register(
            experiment=f"spec-{spec.name}", native=TabularPredictor(result.model), input_example=example,
            params=params, metrics=metrics, artifacts=plots, settings=settings,
            register_as=(name or spec.name) if register else None,
            primary_metric=f"{eval_split}_{result.primary_metric}", higher_is_better=result.higher_is_better,
            json_payload=result.to_json())
    return result


# ==================================================================================================== shipment models
DELAY_NAME = "clearance-delay"
RISK_NAME = "clearance-risk"
DELAY_METRICS = ["mae", "pinball_p50", "pinball_p90", "coverage_p90"]
RISK_METRICS = ["macro_f1", "auc_ovr", "precision_at_5pct", "precision_at_10pct", "ece", "ece_high", "log_loss"]


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
        DELAY_NAME: TrainResult(DELAY_NAME, delay, {**d_metrics, "split": split_info}, d_base, delay_s),
        RISK_NAME: TrainResult(RISK_NAME, risk, {**r_metrics, "split": split_info}, r_base, risk_s),
    }


def evaluation_report(results: dict[str, TrainResult]) -> tuple[dict[str, Any], str]:
    """(JSON, markdown) comparing LightGBM with the baselines on the test months."""
    from training.risk_reports import markdown_table

    d, r = results[DELAY_NAME], results[RISK_NAME]
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


def train_shipment_models(settings: Any, n: int = 200_000, seed: int = 42, register: bool = True, *,
                          progress: bool = True, baselines: bool = True, log: bool = True) -> dict[str, TrainResult]:
    """Generate (or reuse the cached) history, train delay and risk, write the evaluation report, log, register."""
    import tempfile

    from demo.history import history_frame
    from features.shipment_features import CATEGORICAL, NUMERIC

    data_dir = Path(settings.data_dir)
    frame = history_frame(n=n, seed=seed, cache_dir=data_dir / "cache", progress=progress)
    threads = getattr(settings, "threads", 2)
    results = fit_shipment_models(frame, num_threads=threads, seed=seed, baselines=baselines, progress=progress)
    payload, md = evaluation_report(results)
    reports = data_dir / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "shipment-models.json").write_text(json.dumps(payload, indent=2, default=str))
    (reports / "shipment-models.md").write_text(md)
    if not log:
        return results
    _, _, test = time_split(frame)
    example = frame[CATEGORICAL + NUMERIC].head(5)
    for name, primary, hib in ((DELAY_NAME, "test_pinball_p90", False), (RISK_NAME, "test_macro_f1", True)):
        res = results[name]
        model = res.native.model_
        metrics = _flat({k: v for k, v in res.metrics.items() if k != "split"})
        metrics.update({f"baseline_{b}_{k}": v for b, m in res.baselines.items() if b != "lightgbm"
                        for k, v in m.items() if isinstance(v, float) and np.isfinite(v)})
        with tempfile.TemporaryDirectory() as tmp:
            plots = _spec_plots(model, {"test": test}, Path(tmp))
            (Path(tmp) / "evaluation.md").write_text(md)
            params = {"n_shipments": n, "seed": seed, "spec": model.spec.name, "best_iterations": model.best_iterations_,
                      **{f"lgb_{k}": v for k, v in model.spec.model.params.items()},
                      **({"temperature": model.temperature_} if model.spec.task == "multiclass" else {})}
            res.run_id, res.version = log_and_register(
                experiment=name, native=res.native, input_example=example, params=params, metrics=metrics,
                artifacts=[*plots, Path(tmp) / "evaluation.md"], settings=settings,
                register_as=name if register else None, primary_metric=primary, higher_is_better=hib,
                json_payload=payload)
    return results
