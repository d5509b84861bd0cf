"""The model registry workflow: register challengers, promote them to champion, and keep the history.

MLflow (SQLite by default, PostgreSQL in a deployment) holds versions and aliases; the store's ``alias_changes`` table records every alias move with
who, when, from → to and the metrics that justified it. Promotion compares the challenger's stored evaluation metric
with the champion's and moves ``champion`` only when the challenger is no worse, unless forced.
"""

from __future__ import annotations

import getpass
import json
import math
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from data.errors import ClearanceError, ConflictError, NotFoundError, UnavailableError
from data.settings import Settings
from data.store.aliases import AliasChange
from data.store.audit import audit_insert
from data.store.db import exclusive, open_store, session_scope

CHAMPION = "champion"
CHALLENGER = "challenger"

# Version tags that make a version self-describing: promotion reads them, never a side table.
TAG_PRIMARY_METRIC = "clearance.primary_metric"
TAG_PRIMARY_VALUE = "clearance.primary_metric_value"
TAG_HIGHER_IS_BETTER = "clearance.higher_is_better"
TAG_METRICS = "clearance.metrics"


@dataclass(frozen=True)
class VersionInfo:
    name: str
    version: int
    run_id: str | None
    aliases: list[str]
    primary_metric: str | None
    primary_value: float | None
    higher_is_better: bool
    metrics: dict[str, float]
    created_at: datetime | None
    source: str


@dataclass(frozen=True)
class PromotionResult:
    name: str
    promoted: bool
    from_version: int | None
    to_version: int
    forced: bool
    reason: str
    metrics: dict[str, Any] = field(default_factory=dict)


def configure_mlflow(settings: Settings) -> None:
    """Point MLflow's tracking and registry at the settings' backend (sqlite by default)."""
    import mlflow

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_registry_uri(settings.mlflow_tracking_uri)
    if settings.mlflow_tracking_uri.startswith("sqlite:///"):
        Path(settings.mlflow_tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


def client(settings: Settings):
    from mlflow import MlflowClient

    configure_mlflow(settings)
    return MlflowClient(tracking_uri=settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri)


def experiment_id(name: str, settings: Settings) -> str:
    """The id of experiment ``name``, created with its artifacts under ``settings.mlflow_artifact_root``."""
    mlflow_client = client(settings)
    found = mlflow_client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = Path(settings.mlflow_artifact_root) / name
    location.mkdir(parents=True, exist_ok=True)
    return mlflow_client.create_experiment(name, artifact_location=location.resolve().as_uri())


def champion_uri(name: str) -> str:
    return f"models:/{name}@{CHAMPION}"


def _engine(settings: Settings):
    return open_store(settings.database_url)


def _alias_moves(name: str, settings: Settings):
    """The one lock every alias move of model ``name`` takes, across every process and replica of the store.

    Read-decide-move-record happens inside it: two replicas promoting at once cannot both read the old champion,
    both move the alias and both write a history row; the second finds the challenger already promoted.
    """
    return exclusive(_engine(settings), f"alias-moves:{name}")


def _record(connection, **row: Any) -> None:
    """One history row, written in the alias lock's transaction (on SQLite that transaction holds the write lock)."""
    connection.execute(AliasChange.__table__.insert().values(**row))
    connection.execute(audit_insert("alias_moved", actor=row.get("actor"), details={
        k: row.get(k) for k in ("model_name", "alias", "action", "from_version", "to_version", "reason")}))


def _finite_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in metrics.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out[key] = number
    return out


def register_challenger(run_id: str, artifact_path: str, name: str, metrics: dict[str, float], primary_metric: str,
                        higher_is_better: bool, settings: Settings, actor: str | None = None) -> int:
    """Register the model logged at ``runs:/run_id/artifact_path`` as a new version of ``name``, alias challenger."""
    metrics = _finite_metrics(metrics)
    if primary_metric not in metrics:
        raise ClearanceError(f"primary metric '{primary_metric}' is missing from the metrics of run {run_id}",
                             details={"metrics": sorted(metrics)}, code="missing_metric")
    import mlflow

    configure_mlflow(settings)
    mlflow_client = client(settings)
    source = artifact_path if artifact_path.startswith(("models:/", "runs:/")) else f"runs:/{run_id}/{artifact_path}"
    with _alias_moves(name, settings) as locked:
        version = mlflow.register_model(source, name, tags={
            TAG_PRIMARY_METRIC: primary_metric,
            TAG_PRIMARY_VALUE: repr(metrics[primary_metric]),
            TAG_HIGHER_IS_BETTER: str(bool(higher_is_better)).lower(),
            TAG_METRICS: json.dumps(metrics, sort_keys=True),
        })
        number = int(version.version)
        previous = _alias_version(mlflow_client, name, CHALLENGER)
        mlflow_client.set_registered_model_alias(name, CHALLENGER, str(number))
        _record(locked, model_name=name, alias=CHALLENGER, from_version=previous, to_version=number,
                actor=actor or _actor(), action="register", forced=False, metrics=metrics,
                reason=f"registered from run {run_id}")
    return number


def _actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers; the audit row must still be written
        return "unknown"


def _alias_version(mlflow_client, name: str, alias: str) -> int | None:
    from mlflow.exceptions import MlflowException

    try:
        return int(mlflow_client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def _version_info(mv) -> VersionInfo:
    tags = mv.tags or {}
    value = tags.get(TAG_PRIMARY_VALUE)
    created = datetime.fromtimestamp(mv.creation_timestamp / 1000) if mv.creation_timestamp else None
    return VersionInfo(
        name=mv.name, version=int(mv.version), run_id=mv.run_id, aliases=sorted(mv.aliases or []),
        primary_metric=tags.get(TAG_PRIMARY_METRIC), primary_value=float(value) if value is not None else None,
        higher_is_better=tags.get(TAG_HIGHER_IS_BETTER, "true") == "true",
        metrics=json.loads(tags.get(TAG_METRICS, "{}")), created_at=created, source=mv.source,
    )


def get_version(name: str, settings: Settings, *, alias: str | None = None, version: int | None = None) -> VersionInfo:
    from mlflow.exceptions import MlflowException

    mlflow_client = client(settings)
    try:
        mv = (mlflow_client.get_model_version_by_alias(name, alias) if alias is not None
              else mlflow_client.get_model_version(name, str(version)))
    except MlflowException as exc:
        what = f"alias '{alias}'" if alias is not None else f"version {version}"
        raise NotFoundError(f"model '{name}' has no {what}") from exc
    return _version_info(mv)


def list_versions(settings: Settings, names: tuple[str, ...] | None = None) -> list[VersionInfo]:
    """Every registered version of the given (default: all) models, newest first."""
    mlflow_client = client(settings)
    try:
        registered = {m.name: dict(m.aliases or {}) for m in mlflow_client.search_registered_models()}
    except Exception as exc:  # sqlite missing or locked: say so instead of a stack trace
        raise UnavailableError(f"model registry unreachable: {exc}") from exc
    wanted = [n for n in registered if names is None or n in names]
    versions: list[VersionInfo] = []
    for name in sorted(wanted):
        # search_model_versions leaves ``aliases`` empty on the versions it returns; the registered model has them.
        by_version: dict[int, list[str]] = {}
        for alias, number in registered[name].items():
            by_version.setdefault(int(number), []).append(alias)
        for mv in mlflow_client.search_model_versions(f"name='{name}'"):
            info = _version_info(mv)
            versions.append(replace(info, aliases=sorted(set(info.aliases) | set(by_version.get(info.version, [])))))
    return sorted(versions, key=lambda v: (v.name, -v.version))


def _no_worse(challenger: VersionInfo, champion: VersionInfo) -> tuple[bool, str]:
    if challenger.primary_metric is None or challenger.primary_value is None:
        return False, f"version {challenger.version} has no stored evaluation metric"
    if champion.primary_metric != challenger.primary_metric or champion.primary_value is None:
        return False, (f"champion v{champion.version} was evaluated on '{champion.primary_metric}', challenger "
                       f"v{challenger.version} on '{challenger.primary_metric}': not comparable")
    a, b = challenger.primary_value, champion.primary_value
    better = a >= b - 1e-12 if challenger.higher_is_better else a <= b + 1e-12
    direction = "higher" if challenger.higher_is_better else "lower"
    verdict = "no worse" if better else "worse"
    return better, (f"{challenger.primary_metric}: challenger v{challenger.version} {a:.4f} vs champion "
                    f"v{champion.version} {b:.4f} ({direction} is better) → {verdict}")


def promote(name: str, settings: Settings, actor: str | None = None, force: bool = False,
            verdict: tuple[bool, str, dict[str, Any]] | None = None) -> PromotionResult:
    """Move ``champion`` to the current challenger when it is no worse on the stored metric (or when forced).

    ``verdict`` (ok, reason, metrics) replaces the stored-metric comparison with one made by the caller (the
    recent-outcome gate of ``training.recent_gate``); it is recorded with the alias change the same way.

    The whole decision runs under the model's alias lock, so concurrent promotions (two replicas, two operators)
    apply once: the second sees no challenger (NotFoundError) or the challenger already champion (ConflictError).
    """
    mlflow_client = client(settings)
    with _alias_moves(name, settings) as locked:
        challenger = get_version(name, settings, alias=CHALLENGER)
        champion_version = _alias_version(mlflow_client, name, CHAMPION)
        metrics = {"challenger": challenger.metrics}
        if champion_version is None:
            ok, reason, action = True, "no champion yet: first promotion", "initial"
        elif champion_version == challenger.version:
            raise ConflictError(f"version {challenger.version} of '{name}' is already the champion")
        else:
            champion = get_version(name, settings, version=champion_version)
            metrics["champion"] = champion.metrics
            if verdict is not None:
                ok, reason = verdict[0], verdict[1]
                metrics.update(verdict[2])
            else:
                ok, reason = _no_worse(challenger, champion)
            action = "promote"
            if not ok and force:
                action, reason = "force_promote", reason + "; forced"
        if not ok and not force:
            return PromotionResult(name, False, champion_version, challenger.version, False, reason, metrics)
        mlflow_client.set_registered_model_alias(name, CHAMPION, str(challenger.version))
        mlflow_client.delete_registered_model_alias(name, CHALLENGER)
        who = actor or _actor()
        _record(locked, model_name=name, alias=CHAMPION, from_version=champion_version,
                to_version=challenger.version, actor=who, action=action, forced=bool(force and not ok),
                metrics=metrics, reason=reason)
        _record(locked, model_name=name, alias=CHALLENGER, from_version=challenger.version, to_version=None,
                actor=who, action="clear", forced=False, metrics={}, reason=f"promoted to {CHAMPION}")
    return PromotionResult(name, True, champion_version, challenger.version, bool(force and not ok), reason, metrics)


def history(name: str, settings: Settings) -> list[AliasChange]:
    """Every alias change of ``name``, oldest first."""
    from sqlalchemy import select

    with session_scope(_engine(settings)) as session:
        rows = session.scalars(select(AliasChange).where(AliasChange.model_name == name)
                               .order_by(AliasChange.at, AliasChange.id)).all()
        return list(rows)
