"""The local model cache: copies of registered versions, and a manifest of the last set that loaded cleanly.

Layout: ``<root>/<name>/<version>/`` holds one fetched version; a ``.complete`` marker (written last, naming the
directory with the ``MLmodel`` file) says the copy is whole. ``<root>/manifest.json`` records the versions of the last
served set that loaded and composed, so a service can start from disk while the registry is unreachable.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from training.registry_client import ChampionRef, ChampionSource

MANIFEST = "manifest.json"
_COMPLETE = ".complete"


@dataclass(frozen=True)
class ManifestEntry:
    """One model of the last good set: its version, where it came from, and since when it is served."""

    version: int
    run_id: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    served_since: datetime | None = None

    def ref(self, name: str) -> ChampionRef:
        return ChampionRef(name=name, version=self.version, run_id=self.run_id, metrics=dict(self.metrics))


class ModelCache:
    """Local copies of versions (``<root>/<name>/<version>/``) and the manifest of the last good set."""

    def __init__(self, root: Path, keep_versions: int = 3):
        self.root = Path(root)
        self.keep_versions = keep_versions

    def _dir(self, name: str, version: int) -> Path:
        return self.root / name / str(version)

    def model_dir(self, name: str, version: int) -> Path | None:
        """The cached model directory of ``name`` v``version``, or None when no whole copy exists."""
        marker = self._dir(name, version) / _COMPLETE
        if not marker.is_file():
            return None
        return self._dir(name, version) / marker.read_text().strip()

    def ensure(self, ref: ChampionRef, source: ChampionSource) -> Path:
        """The cached model directory of ``ref``, fetching it from ``source`` first when missing.

        The copy is written under a temporary name and renamed into place, so concurrent processes (a service and a
        CLI on one data directory) never see half a copy.
        """
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

    def read_manifest(self) -> dict[str, ManifestEntry]:
        """The last good set by model name; empty when no manifest was written (or it cannot be read)."""
        try:
            body = json.loads((self.root / MANIFEST).read_text())
            return {name: ManifestEntry(version=int(entry["version"]), run_id=entry.get("run_id"),
                                        metrics=entry.get("metrics") or {},
                                        served_since=(datetime.fromisoformat(entry["served_since"])
                                                      if entry.get("served_since") else None))
                    for name, entry in body.get("models", {}).items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}

    def cached_refs(self, names: Iterable[str]) -> dict[str, ChampionRef] | None:
        """The manifest's version of each of ``names``; None when the manifest lacks any of them."""
        manifest = self.read_manifest()
        names = tuple(names)
        if not all(name in manifest for name in names):
            return None
        return {name: manifest[name].ref(name) for name in names}

    def write_manifest(self, entries: Mapping[str, ManifestEntry]) -> None:
        """Record ``entries`` as the last good set (atomically), then prune versions beyond ``keep_versions``."""
        self.root.mkdir(parents=True, exist_ok=True)
        body = {"written_at": datetime.now(UTC).isoformat(), "models": {
            name: {"version": e.version, "run_id": e.run_id, "metrics": dict(e.metrics),
                   "served_since": e.served_since.isoformat() if e.served_since else None}
            for name, e in entries.items()}}
        tmp = self.root / f".{MANIFEST}.{uuid.uuid4().hex}"
        tmp.write_text(json.dumps(body, indent=2, sort_keys=True))
        os.replace(tmp, self.root / MANIFEST)  # atomic: a crash leaves the old manifest, never half a new one
        self._prune(entries)

    def _prune(self, served: Mapping[str, ManifestEntry]) -> None:
        for name, entry in served.items():
            base = self.root / name
            if not base.is_dir():
                continue
            kept = sorted((int(p.name) for p in base.iterdir() if p.name.isdigit()), reverse=True)
            for old in kept[self.keep_versions:]:
                if old != entry.version:
                    shutil.rmtree(base / str(old), ignore_errors=True)
