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
from training.risk_metrics import (DEFAULT_PRIMARY, binary_metrics, higher_is_better, multiclass_metrics,
                                   quantile_metrics, regression_metrics)


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
    except Exception as exc:  # noqa: BLE001 - any parser failure becomes one user-facing error
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
    metrics = {"train": evaluate(model, train_df, x), "valid": evaluate(model, valid_df, xv)}
    if test_df is not None:
        metrics["test"] = evaluate(model, test_df)
    return SpecTrainResult(spec=spec, model=model, metrics=metrics, best_params=combo, grid=grid_log,
                           primary_metric=primary, higher_is_better=hib, train_seconds=train_seconds)
