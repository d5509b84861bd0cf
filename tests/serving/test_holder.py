"""The model holder: registry load, local cache, offline start, atomic hot swap, failed loads, polling, status."""

from __future__ import annotations

import json
import time

import pytest

from data.errors import ClearanceError, UnavailableError
from data.settings import Settings
from serving.holder import ModelHolder
from tests.serving.conftest import fake_holder, register_fake
from tests.serving.fakes import DELAY, HS, RISK
from training.registry_client import MlflowRegistrySource, RegistryUnavailable, load_native


def _holder(settings: Settings, **loader_options) -> ModelHolder:
    return fake_holder(settings, **loader_options)


def test_loads_champions_and_writes_the_cache_manifest(registry_settings):
    holder = _holder(registry_settings)
    with pytest.raises(UnavailableError):
        holder.current()
    assert holder.status()["status"] == "loading"
    served = holder.load_initial()
    assert served is holder.current()
    assert served.version_map() == {DELAY: 1, HS: 1, RISK: 1}
    assert served.suggester.tag == f"{HS}-v1" and served.scorer.risk["tag"] == f"{RISK}-v1"
    assert not served.stale and holder.status()["status"] == "ready"
    assert served.header() == f"{DELAY}=1,{HS}=1,{RISK}=1"
    assert served.versions[RISK].metrics == {"score": 1.0} and served.versions[RISK].run_id
    manifest = json.loads((registry_settings.model_cache_dir / "manifest.json").read_text())
    assert {n: m["version"] for n, m in manifest["models"].items()} == {DELAY: 1, HS: 1, RISK: 1}
    assert (registry_settings.model_cache_dir / RISK / "1" / ".complete").is_file()


def test_offline_start_serves_the_cached_versions_and_says_so(registry_settings, tmp_path):
    first = _holder(registry_settings)
    first.load_initial()
    since = first.current().versions[HS].served_since
    offline = registry_settings.model_copy(update={"mlflow_tracking_uri": f"sqlite:///{tmp_path}/gone/mlflow.db"})
    holder = _holder(offline)
    served = holder.load_initial()
    assert served is not None and served.stale
    assert served.version_map() == {DELAY: 1, HS: 1, RISK: 1}
    assert served.suggester.tag == f"{HS}-v1"
    assert served.versions[HS].served_since == since  # served since the first start, not since this restart
    status = holder.status()
    assert status["status"] == "stale" and status["source"] == "cache"
    assert "not found" in status["error"] and status["last_check"]["ok"] is False
    assert not (tmp_path / "gone").exists()  # the holder did not create an empty registry
    with pytest.raises(RegistryUnavailable):
        holder.reload()
    assert holder.current() is served


def test_no_registry_and_no_cache_is_unavailable(tmp_path):
    settings = Settings(data_dir=tmp_path / "empty")
    holder = _holder(settings)
    assert holder.load_initial() is None
    assert holder.status()["status"] == "unavailable"
    with pytest.raises(UnavailableError) as info:
        holder.current()
    assert info.value.status == 503


def test_stale_holder_recovers_when_the_registry_returns_without_reloading_models(registry_settings):
    _holder(registry_settings).load_initial()
    real_uri = registry_settings.mlflow_tracking_uri
    holder = _holder(registry_settings.model_copy(update={"mlflow_tracking_uri": "sqlite:////nonexistent/m.db"}))
    stale = holder.load_initial()
    assert stale.stale
    holder.loader.source.settings = registry_settings.model_copy(update={"mlflow_tracking_uri": real_uri})
    result = holder.reload()
    fresh = holder.current()
    assert result.changed and not fresh.stale and holder.status()["status"] == "ready"
    assert fresh.natives[HS] is stale.natives[HS]  # same version: reused, not loaded again


def test_hot_swap_replaces_only_what_changed_and_keeps_old_snapshots_intact(registry_settings):
    holder = _holder(registry_settings)
    old = holder.load_initial()
    assert holder.reload().changed is False
    v2 = register_fake(registry_settings, RISK, f"{RISK}-v2")
    result = holder.reload()
    new = holder.current()
    assert result.changed and result.previous[RISK] == 1 and result.current[RISK] == v2 == 2
    assert new is not old and new.scorer.risk["tag"] == f"{RISK}-v2"
    assert old.scorer.risk["tag"] == f"{RISK}-v1" and old.version_map()[RISK] == 1  # in-flight requests' view
    assert new.natives[HS] is old.natives[HS]
    assert new.versions[RISK].served_since > old.versions[RISK].served_since


def test_a_version_that_fails_to_load_leaves_the_served_set_in_place(registry_settings):
    calls = []

    def loader(path):
        calls.append(path)
        if "/2" in str(path).replace("\\", "/"):
            raise OSError("corrupt artifact")
        return load_native(path)

    holder = _holder(registry_settings, loader=loader)
    old = holder.load_initial()
    register_fake(registry_settings, DELAY, f"{DELAY}-v2")
    with pytest.raises(ClearanceError) as info:
        holder.reload()
    assert info.value.code == "model_load_failed" and "corrupt" not in info.value.message
    assert holder.current() is old
    assert "failed to load" in holder.status()["error"]


def test_background_poller_picks_up_a_new_champion(registry_settings):
    settings = registry_settings.model_copy(update={"reload_interval_s": 0.2})
    holder = _holder(settings)
    holder.start(poll=True)
    try:
        deadline = time.monotonic() + 30
        while not holder.ready and time.monotonic() < deadline:
            time.sleep(0.05)
        assert holder.current().version_map()[HS] == 1
        register_fake(settings, HS, f"{HS}-v2")
        while holder.current().version_map()[HS] != 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert holder.current().suggester.tag == f"{HS}-v2"
    finally:
        holder.stop()


class _NoArtifacts(MlflowRegistrySource):
    """The registry answers, but its artifact store cannot be read."""

    def fetch(self, ref, dst):
        raise OSError("artifact store unreachable")


def test_unreadable_artifacts_at_start_fall_back_to_the_cache(registry_settings):
    _holder(registry_settings).load_initial()  # fills the cache with v1
    register_fake(registry_settings, RISK, f"{RISK}-v2")
    holder = _holder(registry_settings, source=_NoArtifacts(registry_settings))
    served = holder.load_initial()
    assert served is not None and served.stale and served.version_map()[RISK] == 1
    status = holder.status()
    assert status["status"] == "stale" and "could not fetch clearance-risk v2" in status["error"]
    assert "unreachable" not in status["error"]  # the exception text (maybe a path) stays in the log


def test_the_poller_recovers_from_a_failed_start(registry_settings):
    class Exploding(MlflowRegistrySource):
        calls = 0

        def resolve(self, name):
            Exploding.calls += 1
            if Exploding.calls <= 3:
                raise RuntimeError("surprise")
            return super().resolve(name)

    settings = registry_settings.model_copy(update={"reload_interval_s": 0.1})
    holder = _holder(settings, source=Exploding(settings))
    holder.start(poll=True)
    try:
        deadline = time.monotonic() + 30
        while not holder.ready and time.monotonic() < deadline:
            time.sleep(0.05)
        assert holder.ready and not holder.current().stale
    finally:
        holder.stop()


class _PoolScorer:
    """Records what the holder asks of a scorer's worker-pool life cycle (no process is spawned)."""

    def __init__(self, tag: str):
        self.tag, self.workers = tag, 1
        self.calls: list[str] = []

    def warm(self):
        self.calls.append("warm")

    def retire(self, grace_s):
        self.calls.append(f"retire {grace_s}")

    def close(self):
        self.calls.append("close")


def test_the_holder_warms_each_served_scorer_retires_the_swapped_out_one_and_closes_at_stop(registry_settings):
    import serving.holder as holder_module

    holder = _holder(registry_settings, compose=lambda natives: (natives[HS], _PoolScorer(natives[RISK]["tag"])))
    first = holder.load_initial().scorer
    register_fake(registry_settings, RISK, f"{RISK}-v2")
    holder.reload()
    second = holder.current().scorer
    assert second.tag == f"{RISK}-v2"
    assert first.calls == ["warm", f"retire {holder_module.RETIRE_GRACE_S}"]
    assert second.calls == ["warm"]
    holder.stop()
    assert first.calls[-1] == "close" and second.calls == ["warm", "close"]


def test_status_follows_the_holder_through_load_failure_stale_and_recovery(registry_settings, tmp_path):
    _holder(registry_settings).load_initial()  # fills the cache
    offline = registry_settings.model_copy(update={"mlflow_tracking_uri": f"sqlite:///{tmp_path}/gone.db"})
    holder = _holder(offline)
    assert holder.status() == {"status": "loading", "degraded": False, "source": None, "stale": False, "error": None,
                               "models": [],
                               "last_check": {"at": None, "ok": None, "error": None}}
    holder.load_initial()
    stale = holder.status()
    assert (stale["status"], stale["source"], stale["stale"]) == ("stale", "cache", True)
    assert [m["source"] for m in stale["models"]] == ["cache"] * 3 and stale["last_check"]["ok"] is False
    holder.loader.source.settings = registry_settings
    assert holder.reload().changed
    ready = holder.status()
    assert (ready["status"], ready["source"], ready["stale"], ready["error"]) == ("ready", "registry", False, None)
    assert [m["source"] for m in ready["models"]] == ["registry"] * 3 and ready["last_check"]["ok"] is True
    assert [m["version"] for m in ready["models"]] == [1, 1, 1]


# ------------------------------------------------------------------------------------------ registry faults
def _garbage(path) -> None:
    """Replace ``path`` by a file of garbage, as a botched copy or a full disk leaves it (a new inode)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(b"this is not a sqlite database" * 100)
    tmp.replace(path)


def test_a_failed_registry_check_is_named_in_the_status(registry_settings):
    holder = _holder(registry_settings)
    holder.load_initial()
    db = registry_settings.data_dir / "mlflow.db"
    db.rename(db.with_suffix(".away"))
    with pytest.raises(RegistryUnavailable):
        holder.reload()
    status = holder.status()
    assert status["status"] == "registry_unavailable" and status["degraded"] is True
    assert "not found" in status["error"]
    db.with_suffix(".away").rename(db)
    holder.reload()
    assert holder.status()["status"] == "ready" and holder.status()["error"] is None


def test_a_registry_file_swapped_for_garbage_is_noticed(registry_settings):
    holder = _holder(registry_settings)
    holder.load_initial()
    db = registry_settings.data_dir / "mlflow.db"
    good = db.read_bytes()
    _garbage(db)
    with pytest.raises(RegistryUnavailable):
        holder.reload()
    assert holder.status()["status"] == "registry_unavailable"
    restored = db.with_suffix(".restore")
    restored.write_bytes(good)
    restored.replace(db)
    holder.reload()
    assert holder.status()["status"] == "ready"


def test_started_on_a_corrupt_registry_recovers_on_the_next_good_poll(registry_settings):
    _holder(registry_settings).load_initial()  # fills the model cache, as an earlier run of the service did
    db = registry_settings.data_dir / "mlflow.db"
    good = db.read_bytes()
    _garbage(db)
    holder = _holder(registry_settings)
    assert holder.load_initial().stale and holder.status()["status"] == "stale"
    with pytest.raises(RegistryUnavailable):
        holder.reload()
    restored = db.with_suffix(".restore")
    restored.write_bytes(good)
    restored.replace(db)
    result = holder.reload()
    assert result.changed and not holder.current().stale and holder.status()["status"] == "ready"
