"""The model holder: serves one set of champions, polls the registry, hot-swaps new sets, and reports status.

Readers call :meth:`ModelHolder.current` once per request and keep the immutable :class:`ServedModels` snapshot it
returns until the request ends, so a swap never changes a model under a request in flight. Loading happens off the
request path (a background poller thread, or a worker thread for ``/v1/admin/reload``) and is the served-set
loader's job (``serving.served``: registry, model cache, composition, reviewer-ruling replay); the swap itself is one
attribute assignment, which is atomic under the GIL, so readers never see a half-built set.

After each clean swap the holder records the set in the model cache's manifest. When the registry is unreachable at
start, it serves that set from the cache and reports itself *stale* until the registry answers again.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from data.errors import ClearanceError, UnavailableError
from data.settings import Settings
from models.names import SERVED_MODELS
from serving.served import ServedLoader, ServedModels
from training.registry_client import RegistryUnavailable

log = logging.getLogger("clearance.holder")

#: Seconds a swapped-out scorer keeps its worker processes, for requests that took the old snapshot before the swap.
RETIRE_GRACE_S = 120.0
# Reviewer rulings are caught up from a little before the previous catch-up (see catch_up_reviews).
REVIEW_CATCH_UP_OVERLAP = timedelta(minutes=5)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ReloadResult:
    changed: bool
    previous: dict[str, int]
    current: dict[str, int]
    stale: bool


class ModelHolder:
    """Serves the champions: initial load (registry, else cache), background polling, atomic hot swap, status.

    ``loader`` builds each set (default: a :class:`ServedLoader` over the registry's ``champion`` aliases).
    """

    def __init__(self, settings: Settings, *, loader: ServedLoader | None = None,
                 names: tuple[str, ...] = SERVED_MODELS):
        self.settings = settings
        self.loader = loader or ServedLoader(settings)
        self.names = names
        self._snapshot: ServedModels | None = None
        self._reload_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listeners: list[Callable[[ServedModels], None]] = []
        self._state = "loading"
        self._last_check: dict[str, Any] = {"at": None, "ok": None, "error": None}
        self._last_error: str | None = None
        self._retired: weakref.WeakSet[Any] = weakref.WeakSet()  # swapped-out scorers, closed at stop at the latest
        # When reviewer rulings were last caught up; the composition of the first set replays everything before it.
        self._reviews_seen: datetime = _utcnow()

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
        """``status``: loading | unavailable (nothing served: 503) | ready | stale (serving the cached set, the
        registry unreachable since start) | registry_unavailable (serving what the registry gave, but its last check
        failed: no new champion can arrive). ``degraded`` is true for the last two."""
        snapshot = self._snapshot
        check = dict(self._last_check)
        if snapshot is None:
            state = self._state
        elif snapshot.stale:
            state = "stale"
        elif check.get("ok") is False:
            state = "registry_unavailable"
        else:
            state = "ready"
        error = self._last_error or (check.get("error") if check.get("ok") is False else None)
        return {
            "status": state,
            "degraded": state in ("stale", "registry_unavailable"),
            "source": None if snapshot is None else ("cache" if snapshot.stale else "registry"),
            "stale": bool(snapshot and snapshot.stale),
            "last_check": check,
            "error": error,
            "models": [] if snapshot is None else [v.to_json() for _, v in sorted(snapshot.versions.items())],
        }

    def add_listener(self, fn: Callable[[ServedModels], None]) -> None:
        self._listeners.append(fn)
        if self._snapshot is not None:
            fn(self._snapshot)

    # -- loading -------------------------------------------------------------------------------------------------
    def _swap(self, snapshot: ServedModels) -> None:
        previous, self._snapshot = self._snapshot, snapshot
        if snapshot.scorer is not None:
            snapshot.scorer.warm()
        if previous is not None and previous.scorer is not None and previous.scorer is not snapshot.scorer:
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
                refs = self.loader.resolve(self.names)
            except RegistryUnavailable as exc:
                self._note_check(False, exc.message)
                raise
            self._note_check(True, None)
            prev_map = previous.version_map() if previous else {}
            wanted = {name: ref.version for name, ref in refs.items()}
            if previous is not None and not previous.stale and prev_map == wanted:
                return ReloadResult(False, prev_map, prev_map, False)
            try:
                snapshot = self.loader.build(refs, previous)
            except ClearanceError as exc:
                self._last_error = exc.message
                raise
            self._swap(snapshot)
            self.loader.cache.write_manifest({name: v.manifest_entry() for name, v in snapshot.versions.items()})
            self._state, self._last_error = "ready", None
            log.info("models swapped in", extra={"previous": prev_map, "current": snapshot.version_map()})
            return ReloadResult(True, prev_map, snapshot.version_map(), False)

    def load_cached(self) -> ServedModels:
        """Serve the last good set from the local cache (used when the registry is unreachable at start)."""
        refs = self.loader.cached_refs(self.names)
        with self._reload_lock:
            snapshot = self.loader.build(refs, None, stale=True)
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
        if self._snapshot is not None and self._snapshot.scorer is not None:
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
            try:
                self.catch_up_reviews()
            except Exception:  # the store is down: the next poll tries again, from the same point
                log.exception("catching up reviewer rulings failed")

    def catch_up_reviews(self) -> int:
        """Make reviewer rulings that other replicas stored searchable here too (called on every poll).

        Reads the rulings created since the previous catch-up, less an overlap that covers clocks a little apart
        and decisions committed a moment after their timestamp; matching by id makes the overlap free of doubles.
        """
        overlays = getattr(self.loader, "overlays", None)
        if overlays is None or self._snapshot is None:
            return 0
        now = _utcnow()
        since = self._reviews_seen - REVIEW_CATCH_UP_OVERLAP
        added = overlays.catch_up(since)
        self._reviews_seen = now
        return added

    def stop(self, timeout: float = 10.0) -> None:
        """Stop polling and close the scorers' worker processes (the app's lifespan calls this at shutdown)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._close_scorers()
