"""The model holder: loads the registry's champions, keeps a local cache of them, and hot-swaps new ones.

Readers call :meth:`ModelHolder.current` once per request and keep the immutable :class:`ServedModels` snapshot it
returns until the request ends, so a swap never changes a model under a request in flight. Loading happens off the
request path (a background poller thread, or a worker thread for ``/v1/admin/reload``); the swap itself is one
attribute assignment, which is atomic under the GIL, so readers never see a half-built set.

Every loaded version is first copied into ``settings.model_cache_dir`` and loaded from there; a manifest records the
last set that loaded and composed cleanly. When the registry is unreachable at start, the holder serves that set and
reports itself *stale* until the registry answers again.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import threading
import uuid
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

from data.errors import ClearanceError, UnavailableError
from data.settings import Settings

log = logging.getLogger("clearance.holder")

HS_SUGGESTER = "clearance-hs-suggester"
DELAY = "clearance-delay"
RISK = "clearance-risk"
MODEL_NAMES: tuple[str, ...] = (HS_SUGGESTER, DELAY, RISK)

MANIFEST = "manifest.json"
#: Seconds a swapped-out scorer keeps its worker processes, for requests that took the old snapshot before the swap.
RETIRE_GRACE_S = 120.0
_COMPLETE = ".complete"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RegistryUnavailable(ClearanceError):
    code = "registry_unavailable"
    status = 503


@dataclass(frozen=True)
class ChampionRef:
    """What the registry says is the champion of one model."""

    name: str
    version: int
    run_id: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


@dataclass(frozen=True)
class ServedVersion:
    name: str
    version: int
    run_id: str | None
    metrics: Mapping[str, float]
    source: str  # "registry" (confirmed by the registry at the last check) or "cache" (registry unreachable)
    uri: str
    served_since: datetime
    loaded_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "run_id": self.run_id, "metrics": dict(self.metrics),
                "source": self.source, "uri": self.uri, "served_since": self.served_since.isoformat(),
                "loaded_at": self.loaded_at.isoformat()}


@dataclass(frozen=True)
class ServedModels:
    """One immutable set of served models. Never mutated: a reload builds a new one."""

    suggester: Any
    scorer: Any
    versions: Mapping[str, ServedVersion]
    natives: Mapping[str, Any]
    stale: bool
    created_at: datetime

    def version_map(self) -> dict[str, int]:
        return {name: v.version for name, v in sorted(self.versions.items())}

    def header(self) -> str:
        """The ``X-Model-Versions`` header value, e.g. ``clearance-delay=2,clearance-hs-suggester=3``."""
        return ",".join(f"{name}={v}" for name, v in self.version_map().items())


@dataclass(frozen=True)
class ReloadResult:
    changed: bool
    previous: dict[str, int]
    current: dict[str, int]
    stale: bool


class ChampionSource(Protocol):
    """Where champions come from (the MLflow registry in production, a fake in some tests)."""

    def resolve(self, name: str) -> ChampionRef: ...

    def fetch(self, ref: ChampionRef, dst: Path) -> Path:
        """Copy the artifacts of ``ref`` under ``dst``; return the directory that holds the ``MLmodel`` file."""


class MlflowRegistrySource:
    """Champions from the MLflow model registry, through the lead's registry module (same aliases and tags)."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def _check_reachable(self) -> None:
        uri = self.settings.mlflow_tracking_uri or ""
        # MLflow would silently create an empty sqlite registry at a missing path; a missing file means "unreachable".
        if uri.startswith("sqlite:///"):
            path = Path(uri.removeprefix("sqlite:///"))
            if not path.is_file():
                raise RegistryUnavailable(f"model registry database not found ({path.name})")

    def resolve(self, name: str) -> ChampionRef:
        from training.registry import CHAMPION, get_version

        self._check_reachable()
        try:
            info = get_version(name, self.settings, alias=CHAMPION)
        except ClearanceError as exc:
            raise RegistryUnavailable(f"no champion for '{name}': {exc.message}") from exc
        except Exception as exc:  # sqlite locked or corrupt, store errors: the registry is not usable right now
            raise RegistryUnavailable(f"model registry unreachable ({type(exc).__name__})") from exc
        return ChampionRef(name=name, version=int(info.version), run_id=info.run_id, metrics=dict(info.metrics))

    def fetch(self, ref: ChampionRef, dst: Path) -> Path:
        import mlflow

        from training.registry import configure_mlflow

        configure_mlflow(self.settings)
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # a server log is no terminal
        local = mlflow.artifacts.download_artifacts(artifact_uri=ref.uri, dst_path=str(dst))
        return _model_dir(Path(local))


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


Composer = Callable[[Mapping[str, Any]], tuple[Any, Any]]


def compose_default(natives: Mapping[str, Any], *, workers: int = 0) -> tuple[Any, Any]:
    """(suggester, scorer) from the three champions' native objects; the scorer spreads large batches over
    ``workers`` extra processes (``settings.score_workers``)."""
    from models.scoring import ShipmentScorer

    delay, risk = natives[DELAY], natives[RISK]
    rules = getattr(risk, "rules", None)
    nomenclature = getattr(natives[HS_SUGGESTER], "nomenclature", None) or getattr(risk, "nomenclature", None)
    if nomenclature is None:
        from data.nomenclature import Nomenclature

        nomenclature = Nomenclature.default()
    if rules is None:
        from models.advisories import load_rules

        rules = load_rules()
    return natives[HS_SUGGESTER], ShipmentScorer(delay, risk, rules, nomenclature, workers=workers)


class ModelCache:
    """Local copies of served versions (``<root>/<name>/<version>/``) and the manifest of the last good set."""

    def __init__(self, root: Path, keep_versions: int = 3):
        self.root = Path(root)
        self.keep_versions = keep_versions

    def _dir(self, name: str, version: int) -> Path:
        return self.root / name / str(version)

    def model_dir(self, name: str, version: int) -> Path | None:
        marker = self._dir(name, version) / _COMPLETE
        if not marker.is_file():
            return None
        return self._dir(name, version) / marker.read_text().strip()

    def ensure(self, ref: ChampionRef, source: ChampionSource) -> Path:
        """The cached model directory of ``ref``, downloading it first when missing."""
        found = self.model_dir(ref.name, ref.version)
        if found is not None:
            return found
        final = self._dir(ref.name, ref.version)
        tmp = self.root / ref.name / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir(parents=True)
        try:
            model_dir = source.fetch(ref, tmp)
            (tmp / _COMPLETE).write_text(str(model_dir.relative_to(tmp)))
            if final.exists():  # a half-written copy from a crash: the marker was missing, so replace it
                shutil.rmtree(final)
            os.replace(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return self.model_dir(ref.name, ref.version)  # type: ignore[return-value]

    def read_manifest(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.root / MANIFEST).read_text())
        except (OSError, ValueError):
            return None

    def write_manifest(self, versions: Mapping[str, ServedVersion]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        body = {"written_at": _utcnow().isoformat(), "models": {
            name: {"version": v.version, "run_id": v.run_id, "metrics": dict(v.metrics),
                   "served_since": v.served_since.isoformat()}
            for name, v in versions.items()}}
        tmp = self.root / f".{MANIFEST}.{uuid.uuid4().hex}"
        tmp.write_text(json.dumps(body, indent=2, sort_keys=True))
        os.replace(tmp, self.root / MANIFEST)  # atomic: a crash leaves the old manifest, never half a new one
        self._prune(versions)

    def _prune(self, served: Mapping[str, ServedVersion]) -> None:
        for name, v in served.items():
            base = self.root / name
            kept = sorted((int(p.name) for p in base.iterdir() if p.name.isdigit()), reverse=True)
            for old in kept[self.keep_versions:]:
                if old != v.version:
                    shutil.rmtree(base / str(old), ignore_errors=True)


class ModelHolder:
    """Serves the champions: initial load (registry, else cache), background polling, atomic hot swap."""

    def __init__(self, settings: Settings, *, source: ChampionSource | None = None,
                 loader: Callable[[Path], Any] = load_native, compose: Composer | None = None,
                 names: tuple[str, ...] = MODEL_NAMES):
        self.settings = settings
        self.source = source or MlflowRegistrySource(settings)
        self.loader = loader
        self.compose = compose or functools.partial(compose_default, workers=settings.score_workers)
        self.names = names
        self.cache = ModelCache(Path(settings.model_cache_dir))
        self._snapshot: ServedModels | None = None
        self._reload_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listeners: list[Callable[[ServedModels], None]] = []
        self._state = "loading"
        self._last_check: dict[str, Any] = {"at": None, "ok": None, "error": None}
        self._last_error: str | None = None
        self._retired: weakref.WeakSet[Any] = weakref.WeakSet()  # swapped-out scorers, closed at stop at the latest

    # -- reading -------------------------------------------------------------------------------------------------
    def current(self) -> ServedModels:
        snapshot = self._snapshot
        if snapshot is None:
            raise UnavailableError("models are not loaded yet", details={"state": self._state,
                                                                          "error": self._last_error})
        return snapshot

    def peek(self) -> ServedModels | None:
        return self._snapshot

    @property
    def ready(self) -> bool:
        return self._snapshot is not None

    def status(self) -> dict[str, Any]:
        snapshot = self._snapshot
        if snapshot is None:
            state = self._state
        else:
            state = "stale" if snapshot.stale else "ready"
        return {
            "status": state,
            "source": None if snapshot is None else ("cache" if snapshot.stale else "registry"),
            "stale": bool(snapshot and snapshot.stale),
            "last_check": dict(self._last_check),
            "error": self._last_error,
            "models": [] if snapshot is None else [v.to_json() for _, v in sorted(snapshot.versions.items())],
        }

    def add_listener(self, fn: Callable[[ServedModels], None]) -> None:
        self._listeners.append(fn)
        if self._snapshot is not None:
            fn(self._snapshot)

    # -- loading -------------------------------------------------------------------------------------------------
    def _swap(self, snapshot: ServedModels) -> None:
        previous, self._snapshot = self._snapshot, snapshot
        snapshot.scorer.warm()
        if previous is not None and previous.scorer is not snapshot.scorer:
            previous.scorer.retire(RETIRE_GRACE_S)
            self._retired.add(previous.scorer)
        for fn in self._listeners:
            try:
                fn(snapshot)
            except Exception:  # a metrics listener must never undo a good swap
                log.exception("swap listener failed")

    def _note_check(self, ok: bool, error: str | None) -> None:
        self._last_check = {"at": _utcnow().isoformat(), "ok": ok, "error": error}

    def reload(self) -> ReloadResult:
        """Ask the registry for the champions; load and swap in what changed. Blocking: call it off the event loop.

        Raises :class:`RegistryUnavailable` when the registry cannot be read (the served set stays as it is) and
        :class:`ClearanceError` when a new version fails to load or compose (likewise).
        """
        with self._reload_lock:
            previous = self._snapshot
            try:
                refs = {name: self.source.resolve(name) for name in self.names}
            except RegistryUnavailable as exc:
                self._note_check(False, exc.message)
                raise
            except Exception as exc:
                self._note_check(False, f"model registry unreachable ({type(exc).__name__})")
                raise RegistryUnavailable(f"model registry unreachable ({type(exc).__name__})") from exc
            self._note_check(True, None)
            prev_map = previous.version_map() if previous else {}
            wanted = {name: ref.version for name, ref in refs.items()}
            if previous is not None and not previous.stale and prev_map == wanted:
                return ReloadResult(False, prev_map, prev_map, False)
            try:
                snapshot = self._build(refs, previous, source="registry")
            except ClearanceError as exc:
                self._last_error = exc.message
                raise
            self._swap(snapshot)
            self.cache.write_manifest(snapshot.versions)
            self._state, self._last_error = "ready", None
            log.info("models swapped in", extra={"previous": prev_map, "current": snapshot.version_map()})
            return ReloadResult(True, prev_map, snapshot.version_map(), False)

    def _build(self, refs: Mapping[str, ChampionRef], previous: ServedModels | None, source: str) -> ServedModels:
        now = _utcnow()
        manifest = (self.cache.read_manifest() or {}).get("models", {})
        natives: dict[str, Any] = {}
        versions: dict[str, ServedVersion] = {}
        for name, ref in refs.items():
            old = previous.versions.get(name) if previous else None
            if old is not None and old.version == ref.version:
                natives[name] = previous.natives[name]  # type: ignore[union-attr]
                since, loaded = old.served_since, old.loaded_at
            else:
                if source == "registry":
                    try:
                        model_dir = self.cache.ensure(ref, self.source)
                    except Exception as exc:  # artifact store gone or unreadable: as bad as an unreachable registry
                        raise RegistryUnavailable(
                            f"could not fetch {name} v{ref.version} from the registry ({type(exc).__name__})") from exc
                else:
                    model_dir = self.cache.model_dir(name, ref.version)
                    if model_dir is None:
                        raise UnavailableError(f"cached copy of {name} v{ref.version} is missing")
                try:
                    natives[name] = self.loader(model_dir)
                except ClearanceError:
                    raise
                except Exception as exc:
                    raise ClearanceError(f"{name} v{ref.version} failed to load ({type(exc).__name__})",
                                         code="model_load_failed", status=500) from exc
                cached = manifest.get(name, {})
                since = (datetime.fromisoformat(cached["served_since"])
                         if cached.get("version") == ref.version and cached.get("served_since") else now)
                loaded = now
            versions[name] = ServedVersion(name=name, version=ref.version, run_id=ref.run_id,
                                           metrics=MappingProxyType(dict(ref.metrics)), source=source, uri=ref.uri,
                                           served_since=since, loaded_at=loaded)
        try:
            suggester, scorer = self.compose(natives)
        except ClearanceError:
            raise
        except Exception as exc:
            raise ClearanceError(f"served models failed to compose ({type(exc).__name__})",
                                 code="model_load_failed", status=500) from exc
        return ServedModels(suggester=suggester, scorer=scorer, versions=MappingProxyType(versions),
                            natives=MappingProxyType(natives), stale=source == "cache", created_at=now)

    def load_cached(self) -> ServedModels:
        """Serve the last good set from the local cache (used when the registry is unreachable at start)."""
        manifest = self.cache.read_manifest()
        if not manifest or not all(n in manifest.get("models", {}) for n in self.names):
            raise UnavailableError("the registry is unreachable and no cached models exist")
        refs = {name: ChampionRef(name=name, version=int(entry["version"]), run_id=entry.get("run_id"),
                                  metrics=entry.get("metrics") or {})
                for name, entry in manifest["models"].items() if name in self.names}
        with self._reload_lock:
            snapshot = self._build(refs, None, source="cache")
            self._swap(snapshot)
            self._state = "stale"
        log.warning("serving cached models: registry unreachable", extra={"versions": snapshot.version_map()})
        return snapshot

    def load_initial(self) -> ServedModels | None:
        """Registry first; on failure the cached set. Returns None (and stays unready) when neither works."""
        try:
            self.reload()
            return self._snapshot
        except Exception as exc:
            # Registry unreachable, artifacts unreadable, a version that does not load: serve the last good set.
            message = exc.message if isinstance(exc, ClearanceError) else f"model load failed ({type(exc).__name__})"
            log.warning("registry load failed, trying the local cache: %s", message)
            try:
                snapshot = self.load_cached()
                self._last_error = message
                return snapshot
            except Exception as cache_exc:
                cache_message = (cache_exc.message if isinstance(cache_exc, ClearanceError)
                                 else f"cache load failed ({type(cache_exc).__name__})")
                self._state, self._last_error = "unavailable", f"{message}; {cache_message}"
        log.error("no models could be loaded", extra={"error": self._last_error})
        return None

    def _close_scorers(self) -> None:
        scorers = list(self._retired)
        if self._snapshot is not None:
            scorers.append(self._snapshot.scorer)
        for scorer in scorers:
            try:
                scorer.close()
            except Exception:
                log.exception("closing a scorer's processes failed")

    # -- background ----------------------------------------------------------------------------------------------
    def start(self, *, poll: bool = True) -> None:
        """Load in a background thread (so the server answers /healthz and /readyz meanwhile), then poll."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(poll,), name="clearance-model-poller", daemon=True)
        self._thread.start()

    def _run(self, poll: bool) -> None:
        if self._snapshot is None:
            try:
                self.load_initial()
            except Exception:  # never let the poller thread die: it is what recovers the service
                log.exception("initial model load failed")
        while poll and not self._stop.wait(self.settings.reload_interval_s):
            try:
                self.reload()
            except ClearanceError as exc:
                log.warning("model poll failed: %s", exc.message)
            except Exception:
                log.exception("model poll failed")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop polling and close the scorers' worker processes (the app's lifespan calls this at shutdown)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._close_scorers()
