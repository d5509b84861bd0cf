"""The registry client: which version an alias points at, and that version's artifacts on local disk.

Serving resolves the ``champion`` alias of each served model through it (and the CLIs any alias they are given);
``training.model_cache`` keeps what it fetches. Every failure to read the registry is a :class:`RegistryUnavailable`
(503), so callers decide in one place whether to fall back to their cache.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from data.errors import ClearanceError
from data.settings import Settings
from training.registry import CHAMPION, configure_mlflow, get_version


class RegistryUnavailable(ClearanceError):
    code = "registry_unavailable"
    status = 503


@dataclass(frozen=True)
class ChampionRef:
    """One registered version, as an alias (``champion`` unless said otherwise) resolved to it."""

    name: str
    version: int
    run_id: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


class ChampionSource(Protocol):
    """Where versions come from (the MLflow registry in production, a fake in some tests)."""

    def resolve(self, name: str) -> ChampionRef: ...

    def fetch(self, ref: ChampionRef, dst: Path) -> Path:
        """Copy the artifacts of ``ref`` under ``dst``; return the directory that holds the ``MLmodel`` file."""


class MlflowRegistrySource:
    """Versions from the MLflow model registry under one alias (same aliases and tags as ``training.registry``)."""

    def __init__(self, settings: Settings, alias: str = CHAMPION):
        self.settings = settings
        self.alias = alias

    def _check_reachable(self) -> None:
        uri = self.settings.mlflow_tracking_uri or ""
        # MLflow would silently create an empty sqlite registry at a missing path; a missing file means "unreachable".
        if uri.startswith("sqlite:///"):
            path = Path(uri.removeprefix("sqlite:///"))
            if not path.is_file():
                raise RegistryUnavailable(f"model registry database not found ({path.name})")

    def resolve(self, name: str) -> ChampionRef:
        self._check_reachable()
        try:
            info = get_version(name, self.settings, alias=self.alias)
        except ClearanceError as exc:
            raise RegistryUnavailable(f"no {self.alias} for '{name}': {exc.message}") from exc
        except Exception as exc:  # sqlite locked or corrupt, store errors: the registry is not usable right now
            raise RegistryUnavailable(f"model registry unreachable ({type(exc).__name__})") from exc
        return ChampionRef(name=name, version=int(info.version), run_id=info.run_id, metrics=dict(info.metrics))

    def fetch(self, ref: ChampionRef, dst: Path) -> Path:
        import mlflow

        configure_mlflow(self.settings)
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # a server log is no terminal
        local = mlflow.artifacts.download_artifacts(artifact_uri=ref.uri, dst_path=str(dst))
        return _model_dir(Path(local))


def resolve_all(source: ChampionSource, names: Iterable[str]) -> dict[str, ChampionRef]:
    """The version of each of ``names``; any failure (a fake's surprise included) is a RegistryUnavailable."""
    try:
        return {name: source.resolve(name) for name in names}
    except RegistryUnavailable:
        raise
    except Exception as exc:
        raise RegistryUnavailable(f"model registry unreachable ({type(exc).__name__})") from exc


def _model_dir(root: Path) -> Path:
    if (root / "MLmodel").is_file():
        return root
    found = sorted(root.rglob("MLmodel"))
    if not found:
        raise ClearanceError(f"downloaded artifacts under {root.name} hold no MLmodel file", code="bad_artifact")
    return found[0].parent


def load_native(model_dir: Path) -> Any:
    """The rich domain object inside a clearance pyfunc model (contract: ``.native`` after ``load_context``)."""
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(str(model_dir)).unwrap_python_model().native
