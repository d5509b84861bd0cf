"""The local model cache: whole copies only, an atomic manifest of the last good set, pruning that spares it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from training.model_cache import ManifestEntry, ModelCache
from training.registry_client import ChampionRef

NAME = "clearance-risk"


class _Source:
    """Writes a fake pyfunc layout (``<dst>/model/MLmodel``); counts fetches; can fail mid-copy."""

    def __init__(self, fail: bool = False):
        self.fetches = 0
        self.fail = fail

    def resolve(self, name: str) -> ChampionRef:
        raise AssertionError("the cache never resolves")

    def fetch(self, ref: ChampionRef, dst: Path) -> Path:
        self.fetches += 1
        (dst / "model").mkdir()
        (dst / "model" / "MLmodel").write_text(f"{ref.name} v{ref.version}")
        if self.fail:
            raise OSError("connection reset")
        return dst / "model"


def test_ensure_fetches_once_and_returns_the_model_directory(tmp_path):
    cache, source = ModelCache(tmp_path / "cache"), _Source()
    ref = ChampionRef(NAME, 2)
    first = cache.ensure(ref, source)
    assert (first / "MLmodel").read_text() == f"{NAME} v2" and first == cache.model_dir(NAME, 2)
    assert cache.ensure(ref, source) == first and source.fetches == 1


def test_a_failed_fetch_leaves_no_copy_behind(tmp_path):
    cache = ModelCache(tmp_path / "cache")
    with pytest.raises(OSError):
        cache.ensure(ChampionRef(NAME, 3), _Source(fail=True))
    assert cache.model_dir(NAME, 3) is None
    assert [p.name for p in (tmp_path / "cache" / NAME).iterdir()] == []  # no temporary directory left either
    assert cache.ensure(ChampionRef(NAME, 3), _Source()) is not None  # a later fetch succeeds


def test_a_copy_without_its_marker_is_not_served_and_is_replaced(tmp_path):
    cache = ModelCache(tmp_path / "cache")
    half = tmp_path / "cache" / NAME / "4" / "model"
    half.mkdir(parents=True)  # a crash mid-copy: files, no .complete marker
    assert cache.model_dir(NAME, 4) is None
    source = _Source()
    assert (cache.ensure(ChampionRef(NAME, 4), source) / "MLmodel").is_file() and source.fetches == 1


def test_manifest_round_trips_and_names_the_cached_refs(tmp_path):
    cache = ModelCache(tmp_path / "cache")
    assert cache.read_manifest() == {} and cache.cached_refs([NAME]) is None
    since = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    (tmp_path / "cache" / NAME / "2").mkdir(parents=True)
    cache.write_manifest({NAME: ManifestEntry(version=2, run_id="r1", metrics={"f1": 0.7}, served_since=since)})
    assert cache.read_manifest() == {NAME: ManifestEntry(2, "r1", {"f1": 0.7}, since)}
    assert cache.cached_refs([NAME]) == {NAME: ChampionRef(NAME, 2, "r1", {"f1": 0.7})}
    assert cache.cached_refs([NAME, "clearance-delay"]) is None  # a partial set is no set
    (tmp_path / "cache" / "manifest.json").write_text("{not json")
    assert cache.read_manifest() == {}


def test_pruning_keeps_the_newest_versions_and_never_the_served_one(tmp_path):
    cache = ModelCache(tmp_path / "cache", keep_versions=2)
    for v in (1, 2, 3, 4):
        (tmp_path / "cache" / NAME / str(v)).mkdir(parents=True)
    now = datetime.now(UTC)
    cache.write_manifest({NAME: ManifestEntry(version=1, served_since=now)})  # rolled back to v1: keep it
    assert sorted(p.name for p in (tmp_path / "cache" / NAME).iterdir()) == ["1", "3", "4"]
    assert json.loads((tmp_path / "cache" / "manifest.json").read_text())["models"][NAME]["version"] == 1
