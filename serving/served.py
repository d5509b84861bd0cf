"""The served set, and the one way it is built: for the service's holder, the CLIs and the benchmarks alike.

:func:`load_served` (and the :class:`ServedLoader` behind it) resolves each model's alias in the registry, copies the
version into the local model cache and loads it from there, composes the HS suggester and the shipment scorer, and
replays the store's reviewer rulings into the suggester. Only then is the set handed over: the holder swaps it in,
a CLI uses it. So ``clearance risk score`` finds what ``/v1/risk/score`` finds (same rules, same nomenclature: the
store's, national lines included), and no request reaches a suggester without the reviewer rulings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from data.errors import ClearanceError, UnavailableError
from data.settings import Settings
from models.names import DELAY, HS_SUGGESTER, RISK, SERVED_MODELS
from serving.feedback.service import ReviewerOverlays
from training.model_cache import ManifestEntry, ModelCache
from training.registry import CHAMPION
from training.registry_client import (
    ChampionRef,
    ChampionSource,
    MlflowRegistrySource,
    RegistryUnavailable,
    load_native,
    resolve_all,
)


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

    def manifest_entry(self) -> ManifestEntry:
        return ManifestEntry(version=self.version, run_id=self.run_id, metrics=dict(self.metrics),
                             served_since=self.served_since)


@dataclass(frozen=True)
class ServedModels:
    """One immutable set of served models. Never mutated: a reload builds a new one.

    ``suggester`` or ``scorer`` is None when the set was loaded without its models (a CLI that needs only one);
    ``overlays`` keeps the suggester in step with reviewer decisions (``serving.feedback``).
    """

    suggester: Any
    scorer: Any
    versions: Mapping[str, ServedVersion]
    natives: Mapping[str, Any]
    stale: bool
    created_at: datetime
    overlays: ReviewerOverlays | None = None

    def version_map(self) -> dict[str, int]:
        return {name: v.version for name, v in sorted(self.versions.items())}

    def header(self) -> str:
        """The ``X-Model-Versions`` header value, e.g. ``clearance-delay=2,clearance-hs-suggester=3``."""
        return ",".join(f"{name}={v}" for name, v in self.version_map().items())


#: natives by model name → (suggester, scorer); either is None when its models are not in the set.
Composer = Callable[[Mapping[str, Any]], tuple[Any, Any]]


def compose_default(natives: Mapping[str, Any], *, nomenclature: Any, workers: int = 0) -> tuple[Any, Any]:
    """(suggester, scorer) from the champions' native objects; the scorer checks codes against ``nomenclature`` and
    spreads large batches over ``workers`` extra processes (``settings.score_workers``)."""
    scorer = None
    if DELAY in natives and RISK in natives:
        from models.scoring import ShipmentScorer

        risk = natives[RISK]
        rules = getattr(risk, "rules", None)
        if rules is None:
            from models.advisories import load_rules

            rules = load_rules()
        scorer = ShipmentScorer(natives[DELAY], risk, rules, nomenclature, workers=workers)
    return natives.get(HS_SUGGESTER), scorer


def load_bundle(directory: Path, settings: Settings) -> Any:
    """A suggester bundle saved by ``clearance hs build``, with the encoder it was built with."""
    from models.encoders import load_encoder
    from models.suggester.suggester import META_FILE, HSSuggester

    meta = json.loads((Path(directory) / META_FILE).read_text())
    return HSSuggester.load(directory, encoder=load_encoder(meta.get("encoder_spec") or settings.encoder,
                                                            threads=settings.threads))


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ServedLoader:
    """Builds served sets: versions from ``source`` (the registry under ``alias``) through the model cache, loaded
    with ``loader``, composed by ``compose`` (default: :func:`compose_default` with the store's nomenclature), then
    the reviewer rulings replayed into the suggester.

    ``__init__`` opens nothing; the store is opened on the first build.
    """

    def __init__(self, settings: Settings, *, alias: str = CHAMPION, source: ChampionSource | None = None,
                 loader: Callable[[Path], Any] = load_native, compose: Composer | None = None,
                 workers: int | None = None):
        self.settings = settings
        self.source = source or MlflowRegistrySource(settings, alias)
        self.loader = loader
        self.compose = compose or self._compose_default
        self.workers = settings.score_workers if workers is None else workers
        self.cache = ModelCache(Path(settings.model_cache_dir))
        self._overlays: ReviewerOverlays | None = None

    @property
    def overlays(self) -> ReviewerOverlays:
        """One per loader: every suggester it builds is kept in step with the same store."""
        if self._overlays is None:
            from data.store.db import open_store

            self._overlays = ReviewerOverlays(open_store(self.settings.database_url))
        return self._overlays

    # -- which versions ------------------------------------------------------------------------------------------
    def resolve(self, names: Iterable[str]) -> dict[str, ChampionRef]:
        """The registry's current version of each of ``names`` (RegistryUnavailable when it cannot say)."""
        return resolve_all(self.source, names)

    def cached_refs(self, names: Iterable[str]) -> dict[str, ChampionRef]:
        """The versions of the last good set in the local cache (UnavailableError when it holds no whole set)."""
        refs = self.cache.cached_refs(names)
        if refs is None:
            raise UnavailableError("the registry is unreachable and no cached models exist")
        return refs

    # -- building ------------------------------------------------------------------------------------------------
    def build(self, refs: Mapping[str, ChampionRef], previous: ServedModels | None = None, *, stale: bool = False,
              natives: Mapping[str, Any] | None = None) -> ServedModels:
        """The served set of ``refs``: versions ``previous`` already serves are reused, the rest fetched (``stale``:
        from the cache only) and loaded. ``natives`` adds objects loaded elsewhere (a local bundle), unversioned."""
        now = _utcnow()
        manifest = self.cache.read_manifest()
        loaded: dict[str, Any] = dict(natives or {})
        versions: dict[str, ServedVersion] = {}
        for name, ref in refs.items():
            old = previous.versions.get(name) if previous is not None else None
            if old is not None and old.version == ref.version:
                loaded[name] = previous.natives[name]  # type: ignore[union-attr]
                since, at = old.served_since, old.loaded_at
            else:
                loaded[name] = self._load(ref, stale)
                cached = manifest.get(name)
                since = cached.served_since if cached and cached.version == ref.version and cached.served_since else now
                at = now
            versions[name] = ServedVersion(name=name, version=ref.version, run_id=ref.run_id,
                                           metrics=MappingProxyType(dict(ref.metrics)),
                                           source="cache" if stale else "registry", uri=ref.uri,
                                           served_since=since, loaded_at=at)
        try:
            suggester, scorer = self.compose(loaded)
        except ClearanceError:
            raise
        except Exception as exc:
            raise ClearanceError(f"served models failed to compose ({type(exc).__name__})",
                                 code="model_load_failed", status=500) from exc
        if suggester is not None:
            self._replay(suggester)
        return ServedModels(suggester=suggester, scorer=scorer, versions=MappingProxyType(versions),
                            natives=MappingProxyType(loaded), stale=stale, created_at=now, overlays=self.overlays)

    def _load(self, ref: ChampionRef, stale: bool) -> Any:
        if stale:
            model_dir = self.cache.model_dir(ref.name, ref.version)
            if model_dir is None:
                raise UnavailableError(f"cached copy of {ref.name} v{ref.version} is missing")
        else:
            try:
                model_dir = self.cache.ensure(ref, self.source)
            except Exception as exc:  # artifact store gone or unreadable: as bad as an unreachable registry
                raise RegistryUnavailable(
                    f"could not fetch {ref.name} v{ref.version} from the registry ({type(exc).__name__})") from exc
        try:
            return self.loader(model_dir)
        except ClearanceError:
            raise
        except Exception as exc:
            raise ClearanceError(f"{ref.name} v{ref.version} failed to load ({type(exc).__name__})",
                                 code="model_load_failed", status=500) from exc

    def _replay(self, suggester: Any) -> None:
        """Reviewer rulings into the suggester before anyone can ask it: a set that cannot get them is not served."""
        try:
            self.overlays.replay_into(suggester)
        except Exception as exc:  # the store is down or a ruling does not encode: serving without them would hide
            raise UnavailableError(  # acknowledged decisions
                f"reviewer rulings could not be replayed into the suggester ({type(exc).__name__})",
                code="replay_failed") from exc

    def _compose_default(self, natives: Mapping[str, Any]) -> tuple[Any, Any]:
        nomenclature = None
        if DELAY in natives and RISK in natives:
            from data.nomenclature import Nomenclature

            nomenclature = Nomenclature.load(self.overlays.engine)  # the store's: national lines included
        return compose_default(natives, nomenclature=nomenclature, workers=self.workers)


def load_served(settings: Settings, alias: str = CHAMPION, *, names: Iterable[str] = SERVED_MODELS,
                hs_bundle: Path | None = None, workers: int | None = None) -> ServedModels:
    """The served set of ``names`` under ``alias``, built exactly as the service builds it.

    ``hs_bundle`` serves the HS suggester from a bundle directory instead of the registry (``clearance hs build``
    output); ``workers`` overrides ``settings.score_workers``. Raises :class:`RegistryUnavailable` when the registry
    cannot name a version and :class:`ClearanceError` when one fails to load.
    """
    loader = ServedLoader(settings, alias=alias, workers=workers)
    local = {HS_SUGGESTER: load_bundle(hs_bundle, settings)} if hs_bundle is not None else {}
    return loader.build(loader.resolve(n for n in names if n not in local), natives=local)
