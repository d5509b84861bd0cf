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


#: (device, inode) of each sqlite registry file last read, per URI, for this process: MLflow's caches are per
#: process too. Size and mtime change on every registry write, the inode only when the file is replaced.
_FILE_IDENTITIES: dict[str, tuple[int, int]] = {}


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
                _FILE_IDENTITIES.pop(uri, None)
                forget_connections(uri)
                raise RegistryUnavailable(f"model registry database not found ({path.name})")
            st = path.stat()
            identity = (st.st_dev, st.st_ino)
            if _FILE_IDENTITIES.get(uri, identity) != identity:
                # A file replaced (restored from a backup, or swapped for garbage) under pooled connections that
                # still read the old inode: MLflow caches its stores and engines per URI, so drop them and read anew.
                forget_connections(uri)
            _FILE_IDENTITIES[uri] = identity

    def resolve(self, name: str) -> ChampionRef:
        self._check_reachable()
        try:
            info = get_version(name, self.settings, alias=self.alias)
        except ClearanceError as exc:
            raise RegistryUnavailable(f"no {self.alias} for '{name}': {exc.message}") from exc
        except Exception as exc:  # sqlite locked or corrupt, store errors: the registry is not usable right now
            # Whatever MLflow cached while failing (a store over a corrupt file) must not outlive the fault.
            forget_connections(self.settings.mlflow_tracking_uri or "")
            raise RegistryUnavailable(f"model registry unreachable ({type(exc).__name__})") from exc
        return ChampionRef(name=name, version=int(info.version), run_id=info.run_id, metrics=dict(info.metrics))

    def fetch(self, ref: ChampionRef, dst: Path) -> Path:
        import mlflow

        configure_mlflow(self.settings)
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # a server log is no terminal
        local = mlflow.artifacts.download_artifacts(artifact_uri=ref.uri, dst_path=str(dst))
        return _model_dir(Path(local))


def forget_connections(uri: str) -> None:
    """Drop MLflow's cached stores and engines for ``uri``, so the next call opens the registry afresh.

    MLflow keeps one store object per URI (an ``lru_cache``) and one SQLAlchemy engine per URI (a class-level map);
    neither notices a file replaced under it, and a store built while the file was corrupt stays broken. Private
    attributes, hence every step guarded: on an MLflow without them this does nothing, and the fault lasts as before.
    """
    if not uri:
        return
    try:
        from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore
    except ImportError:  # pragma: no cover - mlflow without the SQL stores
        return
    for cls in (RegistryStore, TrackingStore):
        engines = getattr(cls, "_engine_map", None)
        lock = getattr(cls, "_engine_map_lock", None)
        if not isinstance(engines, dict) or lock is None:
            continue
        with lock:
            stale = [engines.pop(key) for key in list(engines) if key == uri or key.endswith(uri.split("///")[-1])]
        for engine in stale:
            engine.dispose()
    try:
        from mlflow.tracking._model_registry import utils as registry_utils
        from mlflow.tracking._tracking_service import utils as tracking_utils

        for module, attr in ((registry_utils, "_model_registry_store_registry"),
                             (tracking_utils, "_tracking_store_registry")):
            store_registry = getattr(module, attr, None)
            cached = getattr(type(store_registry), "_get_store_with_resolved_uri", None)
            if cached is not None and hasattr(cached, "cache_clear"):
                cached.cache_clear()
    except ImportError:  # pragma: no cover
        pass


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
