"""The promotion gate on recent outcomes: challenger and champion scored on the newest shipments neither saw.

Every shipment model trained from a history logs ``trained_until`` (the first declaration time of its test months:
it learned and was calibrated only on shipments declared before). The gate takes the rows of a store frame
declared at or after the later of the two models' ``trained_until``, scores both versions on them with each
model's own features, and promotes the challenger (``training.registry.promote``, which records the alias change)
only when it is no worse on the model's primary metric there. A champion without ``trained_until`` (trained before
the store existed) is compared on the challenger's own test months. Too few such rows is no evidence: no promotion.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from data.settings import Settings
from models.names import DELAY, RISK
from training import registry
from training.risk_metrics import multiclass_metrics, quantile_metrics

if TYPE_CHECKING:
    pass

#: Primary metric on the recent rows, and whether higher is better (the same as the test-month metric).
GATE_METRIC: dict[str, tuple[str, bool]] = {DELAY: ("pinball_p90", False), RISK: ("macro_f1", True)}
MIN_RECENT_ROWS = 200


@dataclass
class GateVerdict:
    name: str
    ok: bool
    reason: str
    since: str | None = None
    rows: int = 0
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # "challenger"/"champion" -> metrics


def model_metrics(name: str, native: Any, frame: pd.DataFrame) -> dict[str, float]:
    """The evaluation metrics of a delay or risk model on ``frame`` (rows with labels)."""
    if name == DELAY:
        return quantile_metrics(native.predict_matrix(native.matrix(frame)), frame["delay_hours"].to_numpy(float),
                                [0.5, 0.9])
    classes = list(native.classes)
    y = frame["risk_level"].astype(str).map({c: i for i, c in enumerate(classes)}).to_numpy(int)
    return multiclass_metrics(native.predict_matrix(native.matrix(frame)), y, classes)


def _trained_until(settings: Settings, run_id: str | None) -> pd.Timestamp | None:
    if not run_id:
        return None
    value = registry.client(settings).get_run(run_id).data.params.get("trained_until")
    return pd.Timestamp(value) if value else None


def _load(settings: Settings, name: str, version: int, dst: Path) -> Any:
    from training.registry_client import ChampionRef, MlflowRegistrySource, load_native

    return load_native(MlflowRegistrySource(settings).fetch(ChampionRef(name=name, version=version), dst / str(version)))


def compare_on_recent(settings: Settings, name: str, frame: pd.DataFrame, *, min_rows: int = MIN_RECENT_ROWS
                      ) -> GateVerdict | None:
    """Challenger vs champion of ``name`` on the recent rows of ``frame``; None when there is no champion."""
    champion_version = registry._alias_version(registry.client(settings), name, registry.CHAMPION)
    if champion_version is None:
        return None
    challenger = registry.get_version(name, settings, alias=registry.CHALLENGER)
    champion = registry.get_version(name, settings, version=champion_version)
    ends = [t for t in (_trained_until(settings, challenger.run_id), _trained_until(settings, champion.run_id))
            if t is not None]
    if not ends:
        return GateVerdict(name, False, "neither version records trained_until: the recent outcomes they did not "
                                        "see are unknown")
    since = max(ends)
    ts = pd.to_datetime(frame["declared_at"], utc=True)
    recent = frame[ts >= since]
    if len(recent) < min_rows:
        return GateVerdict(name, False, f"only {len(recent)} outcomes declared since {since.isoformat()} (neither "
                                        f"model trained on them); {min_rows} needed", since.isoformat(), len(recent))
    metric, higher = GATE_METRIC[name]
    with tempfile.TemporaryDirectory() as tmp:
        scores = {role: model_metrics(name, _load(settings, name, v.version, Path(tmp)), recent)
                  for role, v in (("challenger", challenger), ("champion", champion))}
    a, b = scores["challenger"][metric], scores["champion"][metric]
    ok = bool(np.isfinite(a) and (a >= b - 1e-12 if higher else a <= b + 1e-12))
    reason = (f"{metric} on {len(recent)} outcomes since {since.date()} (neither trained on them): challenger "
              f"v{challenger.version} {a:.4f} vs champion v{champion.version} {b:.4f} "
              f"({'higher' if higher else 'lower'} is better) → {'no worse' if ok else 'worse'}")
    return GateVerdict(name, ok, reason, since.isoformat(), len(recent), scores)


def promote_on_recent(settings: Settings, name: str, frame: pd.DataFrame, *, actor: str = "clearance train",
                      min_rows: int = MIN_RECENT_ROWS) -> registry.PromotionResult:
    """Promote the challenger of ``name`` when the recent-outcome gate passes (first promotion: no champion yet)."""
    verdict = compare_on_recent(settings, name, frame, min_rows=min_rows)
    if verdict is None:
        return registry.promote(name, settings, actor=actor)
    return registry.promote(name, settings, actor=actor, verdict=(verdict.ok, verdict.reason, {
        "recent": {"since": verdict.since, "rows": verdict.rows, **verdict.metrics}}))
