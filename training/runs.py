"""The one way to open an MLflow run: tracking URI and experiment from the settings, params logged uniformly.

Every training and evaluation job (HS suggester, delay/risk models, spec-driven tables) logs through
:func:`mlflow_run`, so runs land in the same backend, experiments keep their artifacts under
``settings.mlflow_artifact_root``, and params are stored the same way whatever their type.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from data.settings import Settings


def loggable_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Scalars as they are; anything else (lists, dicts, paths) as compact JSON text, which MLflow can show."""
    return {k: (v if isinstance(v, (int, float, str, bool)) or v is None else json.dumps(v, default=str,
                                                                                        ensure_ascii=False))
            for k, v in params.items()}


@contextmanager
def mlflow_run(settings: Settings, experiment: str, *, run_name: str | None = None,
               params: Mapping[str, Any] | None = None, tags: Mapping[str, str] | None = None) -> Iterator[Any]:
    """``with mlflow_run(settings, "clearance-hs", run_name="hs-suggester", params={...}) as run:`` — an active run
    in ``experiment`` (created on first use), with ``params`` and ``tags`` already logged."""
    import mlflow

    from training.registry import configure_mlflow, experiment_id

    configure_mlflow(settings)
    with mlflow.start_run(experiment_id=experiment_id(experiment, settings), run_name=run_name, tags=dict(tags or {})
                          ) as run:
        if params:
            mlflow.log_params(loggable_params(params))
        yield run
