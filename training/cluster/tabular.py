"""Spec-driven LightGBM training on a partitioned table with ``lightgbm.dask`` (the official integration).

The result is an ordinary :class:`~models.tabular.TabularModel` holding plain local ``lightgbm.Booster`` objects, so it
is pickled, logged, registered, loaded and scored exactly like a model trained in one process; serving never needs a
cluster. What runs where:

* the training partitions stay on the workers: each is turned into the model's float matrix there
  (``TabularPreprocessor.transform``) and LightGBM trains data-parallel across the workers;
* the preprocessor (categorical levels, target encodings) is fitted in this process on at most
  ``Settings.dask_fit_sample_rows`` training rows (all of them when there are fewer), because its levels must be
  one fixed list shared by every partition;
* the validation (and test) tables are read into this process: they choose the number of trees and the calibration
  exactly as :func:`training.tabular.train_spec` does, and are a few months against years of training history.

Traps handled (docs/dask.md): LightGBM's port collisions (it finds open ports on the workers; a failed bind is retried),
per-worker label encoding (``DaskLGBMClassifier`` encodes the labels of each worker's own parts, so a worker missing a
class would number them differently: every task goes through ``DaskLGBMRegressor`` with the objective set and the
targets already encoded), and early stopping (the Dask estimators stop on per-worker validation parts; here the
validation curve is recomputed on the whole validation table with the rule of ``lightgbm.early_stopping``).
"""

from __future__ import annotations

import itertools
import logging
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data.errors import InvalidInputError, field_error
from data.specs.schema import DatasetSpec
from models.tabular import TabularModel, TabularPreprocessor, softmax

__all__ = ["read_partitioned", "fit_tabular_dask", "train_spec_dask", "early_stopping_iteration"]

log = logging.getLogger(__name__)

#: Attempts at one distributed fit when LightGBM cannot bind or connect its ports (another job took one meanwhile).
PORT_RETRIES = 3
_PORT_ERRORS = ("bind", "socket", "connect", "port", "network")


def read_partitioned(path: str | Path) -> Any:
    """A Dask DataFrame over a Parquet file, a folder of Parquet files (a partitioned dataset) or a CSV glob."""
    import dask.dataframe as dd

    path = Path(path)
    text = str(path)
    if not any(ch in text for ch in "*?[") and not path.exists():
        raise InvalidInputError(f"table not found: {path}", details=[field_error(text, "file not found")])
    try:
        if path.is_dir() or path.suffix.lower() == ".parquet":
            return dd.read_parquet(text)
        if path.suffix.lower() in (".csv", ".tsv"):
            return dd.read_csv(text, sep="\t" if path.suffix.lower() == ".tsv" else ",", assume_missing=True)
        if path.suffix.lower() in (".jsonl", ".ndjson"):
            return dd.read_json(text, lines=True, blocksize=64 * 2**20)
    except Exception as exc:  # any reader failure becomes one user-facing error
        raise InvalidInputError(f"cannot read {path}: {exc}", details=[field_error(text, str(exc))]) from None
    raise InvalidInputError(f"cannot read {path} on Dask: use Parquet (a file or a folder), CSV/TSV or JSONL",
                            details=[field_error(text, "unsupported format")])


# ---- pieces that run on the workers (module-level so they pickle by reference) -----------------------------------
#: Column of the encoded target beside the matrix columns (a name no spec feature can take).
_TARGET = "__clearance_target__"


def _matrix_part(df: pd.DataFrame, pre: TabularPreprocessor, model: TabularModel) -> pd.DataFrame:
    out = pd.DataFrame(pre.transform(df), columns=pre.feature_names, index=df.index)
    out[_TARGET] = model.encode_target(df[model.spec.target]).astype(float)
    return out


def _predict_part(df: pd.DataFrame, model: TabularModel) -> np.ndarray:
    x = model.matrix(df)
    out = model.proba_from_matrix(x) if model.spec.task in ("binary", "multiclass") else model.quantiles_from_matrix(x)
    out = np.asarray(out, dtype=float)
    return out.reshape(len(df), -1)


# ---- early stopping on the whole validation table ----------------------------------------------------------------
def _validation_loss(objective: str, extra: dict[str, Any], raw: np.ndarray, t: np.ndarray) -> float:
    """The metric ``lightgbm.early_stopping`` watches locally, computed as LightGBM computes it."""
    if objective == "quantile":
        d = t - raw
        alpha = float(extra["alpha"])
        return float(np.mean(np.where(d < 0, (alpha - 1.0) * d, alpha * d)))
    if objective == "multiclass":
        p = softmax(raw)
        return float(np.mean(-np.log(np.maximum(p[np.arange(len(t)), t.astype(int)], 1e-15))))
    if objective == "binary":  # metric "auc": higher is better, so the loss is its negative
        from sklearn.metrics import roc_auc_score

        return -float(roc_auc_score(t, raw)) if len(np.unique(t)) > 1 else 0.0
    return float(np.mean((t - raw) ** 2))


def early_stopping_iteration(booster: Any, xv: np.ndarray, tv: np.ndarray, objective: str, extra: dict[str, Any],
                             rounds: int) -> int:
    """The iteration local training would keep: the best validation score, stopping once ``rounds`` iterations in a
    row have not improved it (``lightgbm.early_stopping``'s rule). Raw scores are accumulated one iteration at a
    time (``start_iteration``), so the whole curve costs one prediction of the validation table."""
    total = booster.current_iteration()
    raw = None
    best, best_it = float("inf"), 0
    for it in range(total):
        step = booster.predict(xv, start_iteration=it, num_iteration=1, raw_score=True)
        raw = step if raw is None else raw + step
        loss = _validation_loss(objective, extra, raw, tv)
        if loss < best:
            best, best_it = loss, it
        elif it - best_it >= rounds:
            break
    return best_it + 1


def _train_on_cluster(client: Any, params: dict[str, Any], x: Any, y: Any, rounds: int, cats: list[int]) -> Any:
    """One distributed fit; returns its booster. Port clashes are retried: LightGBM picks a free port on each worker
    and releases it just before binding, so a busy machine can take it in between."""
    from lightgbm.basic import LightGBMError
    from lightgbm.dask import DaskLGBMRegressor

    for attempt in range(1, PORT_RETRIES + 1):
        est = DaskLGBMRegressor(client=client, n_estimators=rounds, **params)
        try:
            with warnings.catch_warnings():
                # the estimator's own n_jobs alias: lightgbm.dask sets each worker's threads itself
                warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
                est.fit(x, y, categorical_feature=cats or "auto")
            return est.booster_
        except LightGBMError as exc:
            if attempt == PORT_RETRIES or not any(w in str(exc).lower() for w in _PORT_ERRORS):
                raise
            log.warning("LightGBM network failed (%s); retrying with fresh ports (%d/%d)", exc, attempt, PORT_RETRIES)
    raise AssertionError("unreachable")


def fit_tabular_dask(model: TabularModel, pre: TabularPreprocessor, x: Any, y: Any, xv: np.ndarray, tv: np.ndarray,
                     client: Any) -> TabularModel:
    """Fit ``model``'s boosters on the cluster (``x``/``y``: Dask frame/series of the matrix and encoded targets),
    choose each booster's iterations and the calibration on the in-memory validation matrix; returns ``model``."""
    import lightgbm as lgb

    spec = model.spec
    model.preprocessor_ = pre
    rounds = model.num_boost_round or spec.model.num_boost_round
    es = model.early_stopping_rounds or spec.model.early_stopping_rounds
    if spec.task == "binary":
        tasks = [("binary", {"metric": "auc"})]
    elif spec.task == "multiclass":
        tasks = [("multiclass", {"num_class": len(spec.classes or []), "metric": "multi_logloss"})]
    elif spec.task == "quantile":
        tasks = [("quantile", {"alpha": q, "metric": "quantile"}) for q in spec.quantiles or []]
    else:
        tasks = [("regression", {"metric": "l2"})]
    boosters, iterations = [], []
    for objective, extra in tasks:
        params = model._lgb_params(objective, extra)
        params.pop("num_threads", None)  # each worker uses its own threads (lightgbm.dask sets them)
        booster = _train_on_cluster(client, params, x, y, rounds, pre.categorical_indices)
        best = early_stopping_iteration(booster, xv, tv, objective, extra, es)
        # A plain local booster, cut at the kept iteration: no network parameters, nothing of the cluster left.
        boosters.append(lgb.Booster(model_str=booster.model_to_string(num_iteration=best)))
        iterations.append(best)
    model.boosters_ = boosters
    model.best_iterations_ = iterations
    model._calibrate(xv, tv)
    return model


def _place_partitions(client: Any, train: Any, pre: TabularPreprocessor, model: TabularModel) -> tuple[Any, int]:
    """The matrix-and-target partitions, computed round-robin on the workers and kept there, as one Dask frame.

    Placed explicitly because LightGBM trains only on the workers that hold data, and the scheduler is free to
    compute several partitions on one worker (it did, on small tables). Returns the frame and how many workers hold
    a part."""
    import dask
    import dask.dataframe as dd

    workers = sorted(client.scheduler_info(n_workers=-1).get("workers", {}))
    make = dask.delayed(_matrix_part, pure=True)
    futures = [client.compute(make(part, pre, model), workers=[workers[i % len(workers)]])
               for i, part in enumerate(train.to_delayed())]
    meta = pd.DataFrame({c: pd.Series(dtype=float) for c in [*pre.feature_names, _TARGET]})
    return dd.from_delayed(futures, meta=meta, verify_meta=False), min(len(workers), len(futures))


def _sample(train: Any, n_rows: int, limit: int, seed: int) -> pd.DataFrame:
    if n_rows <= limit:
        return train.compute()
    return train.sample(frac=min(1.0, limit / n_rows), random_state=seed).compute()


def train_spec_dask(spec: DatasetSpec, train: Any, valid_df: pd.DataFrame, test_df: pd.DataFrame | None, client: Any,
                    *, sample_rows: int = 500_000, seed: int = 0, progress: bool = True) -> Any:
    """:func:`training.tabular.train_spec` with the training table on the cluster: same grid, same selection on
    valid, same metrics (train metrics from predictions made partition by partition on the workers)."""
    from tqdm.auto import tqdm

    from training.tabular import SpecTrainResult, _time_order_warnings, check_columns, evaluate, primary_of

    check_columns(spec, train._meta, "train")
    check_columns(spec, valid_df, "valid")
    if test_df is not None:
        check_columns(spec, test_df, "test")
    t0 = time.perf_counter()
    columns = list(dict.fromkeys([*spec.required_columns(), spec.target]))
    train = train[columns]
    workers = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))
    if train.npartitions < workers:  # a single-file table would train on one worker while the others wait
        train = train.repartition(npartitions=workers)
    n_rows = int(train.shape[0].compute())
    probe = TabularModel(spec, num_threads=1, seed=seed)
    sample = _sample(train, n_rows, sample_rows, seed)
    pre, _ = TabularPreprocessor.fit(spec, sample, probe._encoding_targets(probe.encode_target(sample[spec.target])),
                                     seed=seed)
    # Matrix and targets come from one pass over the partitions, kept on the workers: LightGBM pairs data and label
    # partition by partition, and two separate reads of a Parquet folder (one projected to the target column) may
    # be cut into different partitions by the query optimiser.
    xy, holders = _place_partitions(client, train, pre, probe)
    x, y = xy[pre.feature_names], xy[_TARGET]
    xv = pre.transform(valid_df)
    tv = probe.encode_target(valid_df[spec.target])

    primary, hib = primary_of(spec)
    keys = sorted(spec.model.grid)
    combos = [dict(zip(keys, vals)) for vals in itertools.product(*(spec.model.grid[k] for k in keys))] or [{}]
    best: tuple[float, TabularModel, dict[str, Any]] | None = None
    grid_log = []
    for combo in tqdm(combos, desc=f"tuning {spec.name} on dask", disable=not progress):
        m = fit_tabular_dask(TabularModel(spec, params=combo, num_threads=1, seed=seed), pre, x, y, xv, tv, client)
        score = evaluate(m, valid_df, xv).get(primary, float("nan"))
        grid_log.append({**combo, primary: score, "best_iterations": m.best_iterations_})
        if not np.isnan(score) and (best is None or (score > best[0] if hib else score < best[0])):
            best = (score, m, combo)
    if best is None:
        raise InvalidInputError(f"no grid point gave a finite '{primary}' on valid",
                                details=[field_error("primary_metric", "not finite on valid")])
    _, model, combo = best
    # The drift profile (models.profile) from the same sample the preprocessor was fitted on.
    model.profile_ = model._training_profile(sample, valid_df, xv, tv)
    del sample
    train_seconds = time.perf_counter() - t0
    metrics = {"train": partitioned_metrics(model, train, client), "valid": evaluate(model, valid_df, xv)}
    if test_df is not None:
        metrics["test"] = evaluate(model, test_df)
    warnings = _time_order_warnings(spec, {"valid": valid_df, **({"test": test_df} if test_df is not None else {})})
    return SpecTrainResult(spec=spec, model=model, metrics=metrics, best_params=combo, grid=grid_log,
                           primary_metric=primary, higher_is_better=hib, train_seconds=train_seconds,
                           extra={"warnings": warnings, "engine": "dask", "train_rows": n_rows,
                                  "preprocessor_rows": min(n_rows, sample_rows),
                                  "partitions": int(train.npartitions), "workers_with_data": holders})


def partitioned_metrics(model: TabularModel, train: Any, client: Any) -> dict[str, float]:
    """Metrics of the training split without gathering it: predictions and encoded targets come back per partition
    (a few floats a row), the metric is computed here on all of them."""
    from training.tabular import metrics_from_predictions

    preds = train.to_delayed()
    futures = client.compute([_predict_and_target(p, model) for p in preds])
    parts = client.gather(futures)
    pred = np.concatenate([p for p, _ in parts])
    target = np.concatenate([t for _, t in parts])
    return metrics_from_predictions(model, pred, target)


def _predict_and_target(part: Any, model: TabularModel) -> Any:
    import dask

    @dask.delayed(pure=True)
    def run(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return _predict_part(df, model), model.encode_target(df[model.spec.target])

    return run(part)
