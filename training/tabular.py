"""Spec-driven training of any table: read the tables, tune a small grid with early stopping on the validation split
only, evaluate every split given, log everything to MLflow and optionally register (``clearance risk train``). The
shipment delay and risk models use the same pieces (``training.shipment_models``).

Nothing here looks at the test split before the final evaluation: the preprocessor and the boosters are fitted on
train, the grid, the number of trees and the calibration are chosen on valid.
"""

from __future__ import annotations

import itertools
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

__all__ = ["SpecTrainResult", "train_spec", "train_and_log_spec", "read_table", "evaluate", "flat_metrics",
           "spec_plots", "log_and_register"]


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
            "engine": self.extra.get("engine", "local"),
            **{k: self.extra[k] for k in ("train_rows", "preprocessor_rows", "partitions", "workers_with_data") if k in self.extra},
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
    if spec.task in ("binary", "multiclass"):
        return metrics_from_predictions(model, model.proba_from_matrix(x), t)
    return metrics_from_predictions(model, model.quantiles_from_matrix(x), t)


def metrics_from_predictions(model: TabularModel, pred: np.ndarray, t: np.ndarray) -> dict[str, float]:
    """The split metrics from predictions (probabilities or quantiles) and encoded targets: what :func:`evaluate`
    reports, also for predictions gathered partition by partition (training/cluster/tabular.py)."""
    spec = model.spec
    if spec.task == "binary":
        return binary_metrics(np.asarray(pred).reshape(len(t)), t)
    if spec.task == "multiclass":
        return multiclass_metrics(pred, t, list(spec.classes or []))
    if spec.task == "quantile":
        m = quantile_metrics(pred, t, spec.quantiles or [])
        m["pinball_mean"] = float(np.mean([v for k, v in m.items() if k.startswith("pinball_")]))
        return m
    return regression_metrics(pred[:, 0], t)


def primary_of(spec: DatasetSpec) -> tuple[str, bool]:
    """The metric the grid is chosen on, and whether higher is better."""
    if spec.primary_metric:
        return spec.primary_metric, higher_is_better(spec.primary_metric)
    return DEFAULT_PRIMARY[spec.task]


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

    primary, hib = primary_of(spec)
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
def flat_metrics(metrics: dict[str, dict[str, float]]) -> dict[str, float]:
    """``{"test": {"mae": 3.1}}`` → ``{"test_mae": 3.1}``: finite numbers only, as MLflow metrics."""
    out = {}
    for split, m in metrics.items():
        for k, v in m.items():
            if isinstance(v, (int, float)) and np.isfinite(v):
                out[f"{split}_{k}"] = float(v)
    return out


def spec_plots(model: TabularModel, frames: dict[str, pd.DataFrame], folder: Path) -> list[Path]:
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
                     primary_metric: str, higher_is_better: bool, json_payload: dict[str, Any] | None = None,
                     run_name: str | None = None) -> tuple[str, int | None]:
    """One MLflow run: params, metrics, plots/tables, the pyfunc model (signature + example); register if asked."""
    import mlflow

    from models.tabular_pyfunc import log_native
    from training import registry
    from training.runs import mlflow_run

    with mlflow_run(settings, experiment, run_name=run_name, params=params) as run:
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
                       progress: bool = True, client: Any = None) -> SpecTrainResult:
    """What ``clearance risk train`` runs: read, train/tune, evaluate, log to MLflow, register when asked.

    With a Dask ``client`` (``CLEARANCE_DASK_SCHEDULER``), the training table (a Parquet file or folder, CSV or JSONL)
    stays partitioned on the cluster and LightGBM trains there (training/cluster/tabular.py); valid and test are read
    here as before. The model logged is the same kind of object either way.
    """
    import tempfile

    from models.tabular_pyfunc import TabularPredictor

    valid_df = read_table(valid_path)
    test_df = read_table(test_path) if test_path is not None else None
    if client is not None:
        from training.cluster.tabular import read_partitioned, train_spec_dask

        train_ddf = read_partitioned(train_path)
        result = train_spec_dask(spec, train_ddf, valid_df, test_df, client,
                                 sample_rows=getattr(settings, "dask_fit_sample_rows", 500_000), progress=progress)
        train_rows = result.extra["train_rows"]
        train_df = None
    else:
        train_df = read_table(train_path)
        threads = num_threads or getattr(settings, "threads", 2)
        result = train_spec(spec, train_df, valid_df, test_df, num_threads=threads, progress=progress)
        train_rows = len(train_df)
    if not log:
        return result
    eval_split = "test" if test_df is not None else "valid"
    metrics = flat_metrics(result.metrics)
    frames = {"valid": valid_df, **({"test": test_df} if test_df is not None else {})}
    with tempfile.TemporaryDirectory() as tmp:
        plots = spec_plots(result.model, frames, Path(tmp))
        example = valid_df[spec.required_columns()].head(5)
        params = {"spec": spec.name, "task": spec.task, "train_rows": train_rows, "valid_rows": len(valid_df),
                  **{f"lgb_{k}": v for k, v in {**spec.model.params, **result.best_params}.items()},
                  "best_iterations": result.model.best_iterations_}
        result.run_id, result.registered_version = log_and_register(
            experiment=f"spec-{spec.name}", native=TabularPredictor(result.model), input_example=example,
            params=params, metrics=metrics, artifacts=plots, settings=settings,
            register_as=(name or spec.name) if register else None,
            primary_metric=f"{eval_split}_{result.primary_metric}", higher_is_better=result.higher_is_better,
            json_payload=result.to_json())
    return result
