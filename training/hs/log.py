"""Log the HS suggester to MLflow: an evaluation's params, metrics and plots; the trained bundle, registered.

Every run opens through :func:`training.runs.mlflow_run`, so it lands in the settings' backend with its artifacts under
``settings.mlflow_artifact_root``.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from data.errors import InvalidInputError, field_error
from features.text import compose_text
from models.names import HS_SUGGESTER
from training.hs.build import build_suggester
from training.hs.evaluate import evaluate_suggester, flat_metrics, public_report
from training.runs import mlflow_run

log = logging.getLogger(__name__)

EXPERIMENT = "clearance-hs"


@dataclass
class TrainResult:
    run_id: str
    model_uri: str
    version: int | None
    metrics: dict[str, float]


def log_evaluation(report: dict[str, Any], params: dict[str, Any], settings, *,
                   run_name: str = "hs-evaluate") -> str:
    """Log params, metrics and plots of an evaluation to the settings' MLflow backend; returns the run id."""
    import mlflow

    with mlflow_run(settings, EXPERIMENT, run_name=run_name, params=params) as run:
        mlflow.log_metrics(flat_metrics(report))
        with tempfile.TemporaryDirectory() as tmp:
            _log_report_files(report, Path(tmp))
        return run.info.run_id


def _log_report_files(report, folder: Path) -> None:
    """The evaluation's plots (under ``plots/``) and its JSON summary, as artifacts of the active MLflow run."""
    import mlflow

    from training.hs.reports import write_plots

    for path in write_plots(report, folder):
        mlflow.log_artifact(str(path), artifact_path="plots")
    summary = folder / "evaluation.json"
    summary.write_text(json.dumps(public_report(report), ensure_ascii=False, indent=2, default=str))
    mlflow.log_artifact(str(summary))


def _store_nomenclature(settings):
    """The store's nomenclature (HS + imported national lines), for candidate descriptions in zh/en."""
    from data.nomenclature import Nomenclature
    from data.store.db import init_db, make_engine

    try:
        engine = make_engine(settings.database_url)
        init_db(engine)
        return Nomenclature.load(engine)
    except Exception as exc:  # descriptions are optional; the suggester works without them
        log.warning("nomenclature not loaded from the store (%s); using the default HS nomenclature", exc)
        return Nomenclature.default()


def train_and_log(settings, rulings: list, *, encoder_spec: str = "use", register: bool = True,
                  nomenclature=None, progress: bool = True, seed: int = 0, holdout_fraction: float = 0.1,
                  max_holdout: int = 3000, client=None) -> TrainResult:
    """Build with an internal held-out evaluation, log everything and the pyfunc model to MLflow, register it.

    The held-out rulings are scored by a suggester built without them (the metrics); the logged model is then built
    on the whole library, so no ruling is wasted in production.
    """
    import mlflow

    from models.encoders import load_encoder
    from models.suggester.pyfunc import log_pyfunc

    rulings = list(rulings)
    if len(rulings) < 2:
        raise InvalidInputError("need at least two rulings to train the suggester",
                                details=[field_error("rulings", f"{len(rulings)} given")])
    encoder = load_encoder(encoder_spec, threads=getattr(settings, "threads", 2))
    base_encoder = encoder
    if client is not None:  # CLEARANCE_DASK_SCHEDULER: the texts are encoded on the workers (docs/dask.md)
        from training.cluster.encoding import DaskEncoder

        encoder = DaskEncoder(encoder, client)
    if nomenclature is None:
        nomenclature = _store_nomenclature(settings)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(rulings))
    n_hold = int(min(max_holdout, max(1, round(holdout_fraction * len(rulings)))))
    hold = [rulings[i] for i in perm[:n_hold]]
    train = [rulings[i] for i in perm[n_hold:]]
    probe = build_suggester(train, encoder=encoder, nomenclature=nomenclature, progress=progress, seed=seed)
    texts = [compose_text(r.product_name, r.description, r.declared_elements) for r in hold]
    report = evaluate_suggester(probe, texts, [r.hs_code for r in hold], progress=progress)
    metrics = flat_metrics(report)
    final = build_suggester(rulings, encoder=encoder, nomenclature=nomenclature, progress=progress, seed=seed)
    final.encoder = base_encoder  # the logged bundle answers with the plain encoder, no cluster

    params = {"encoder": encoder.name, "encoder_spec": encoder_spec, "n_rulings": len(rulings),
              "n_codes": len(final.codes6), "holdout": n_hold, "seed": seed,
              **{f"param_{k}": v for k, v in final.params.__dict__.items()}}
    with mlflow_run(settings, EXPERIMENT, run_name="hs-suggester", params=params) as run:
        mlflow.log_metrics({**metrics, **{k: float(v) for k, v in final.metrics.items()}})
        with tempfile.TemporaryDirectory() as tmp:
            _log_report_files(report, Path(tmp))
            model_uri = log_pyfunc(final, Path(tmp) / "bundle", artifact_path="model")
        run_id = run.info.run_id
    version = None
    if register:
        from training.registry import register_challenger

        version = register_challenger(run_id, model_uri, HS_SUGGESTER, metrics, primary_metric="hs6_top1",
                                      higher_is_better=True, settings=settings)
    return TrainResult(run_id=run_id, model_uri=model_uri, version=version, metrics=metrics)
