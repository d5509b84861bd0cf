"""Response shapes of the model-management routes."""

from __future__ import annotations

from datetime import datetime

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
