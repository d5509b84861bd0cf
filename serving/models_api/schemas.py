"""Response shapes of the model-management routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from models.names import RISK
from serving.common import MODEL_VERSIONS_EXAMPLE


class ServedModelOut(BaseModel):
    name: str
    version: int
    run_id: str | None
    metrics: dict[str, float]
    source: str = Field(description="'registry' (confirmed at the last check) or 'cache' (registry unreachable)")
    uri: str
    served_since: datetime = Field(description="When this version was first served (kept across restarts)")
    loaded_at: datetime


class LastCheck(BaseModel):
    at: datetime | None
    ok: bool | None
    error: str | None


class ModelsResponse(BaseModel):
    status: str = Field(description="'ready', or 'stale' while serving cached versions")
    stale: bool
    source: str | None
    error: str | None
    last_check: LastCheck
    models: list[ServedModelOut]
    model_versions: dict[str, int]

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "status": "ready", "stale": False, "source": "registry", "error": None,
        "last_check": {"at": "2026-11-27T03:00:00+00:00", "ok": True, "error": None},
        "models": [{"name": RISK, "version": 2, "run_id": "5d1f0c…", "metrics": {"macro_f1": 0.71},
                    "source": "registry", "uri": f"models:/{RISK}/2",
                    "served_since": "2026-11-26T09:12:00+00:00", "loaded_at": "2026-11-27T02:59:58+00:00"}],
        "model_versions": MODEL_VERSIONS_EXAMPLE}]})


class ReloadResponse(BaseModel):
    changed: bool
    previous: dict[str, int]
    model_versions: dict[str, int]

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "changed": True, "previous": {**MODEL_VERSIONS_EXAMPLE, RISK: 1}, "model_versions": MODEL_VERSIONS_EXAMPLE}]})


class MonitoringStatement(BaseModel):
    kind: str = Field(description="'out_of_range' (a weekly figure left its training-time range) or 'drift'")
    figure: str
    en: str
    zh: str


class FeatureDriftOut(BaseModel):
    feature: str
    psi: float = Field(description="Population stability index of the live shipments against the training frame")
    drifted: bool = Field(description="psi above the drift threshold")
    n: int
    bins: list[str]
    train_shares: list[float]
    live_shares: list[float]


class ModelMonitoringOut(BaseModel):
    name: str
    version: int | None
    kind: str = Field(description="'delay' or 'risk'")
    n_outcomes: int
    figures: list[str] = Field(description="The figures of each week: coverage_p50/p90 and pinball_p50/p90 (delay); "
                                           "precision_at_review_rate and ece_high (risk)")
    weeks: list[dict[str, Any]] = Field(description="Per ISO week (China time): week, n, the figures, in_training "
                                                    "(inside the model's training period), judged (n >= 30)")
    reliability: list[dict[str, float]] | None = Field(
        description="Risk: mean predicted P(high) against the observed high share per bin (predicted, observed, n)")
    has_profile: bool = Field(description="False for a model trained before training profiles existed: no drift")
    drift: list[FeatureDriftOut]
    drift_threshold: float
    review_rate: float
    training_ranges: dict[str, list[float]] = Field(description="(min, max) of each weekly figure on the validation "
                                                                "weeks at training time")
    trained_from: str | None
    trained_until: str | None
    statements: list[MonitoringStatement] = Field(description="Plain statements: figures outside their training-time "
                                                              "range, drifted features; empty when all is in range")


class MonitoringResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(alias="from")
    to: datetime
    weeks: int
    n_live: int = Field(description="Stored shipments in the window (drift)")
    n_outcomes: int = Field(description="Of those, with an outcome (figures)")
    models: list[ModelMonitoringOut]
