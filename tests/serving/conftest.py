"""Shared fixtures for the service tests: a temporary MLflow registry with champions, and app factories."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import mlflow
import pytest

from data.settings import Settings
from tests.serving.fakes import DELAY, HS, RISK, FakeNative
from training import registry

# Apps built by these tests score in one process: a worker costs seconds to spawn. Tests that want one say so.
os.environ["CLEARANCE_SCORE_WORKERS"] = "0"


def register_fake(settings: Settings, name: str, tag: str, *, promote: bool = True) -> int:
    return register_model(settings, name, FakeNative(name, tag), promote=promote)


def register_model(settings: Settings, name: str, python_model, *, artifacts: dict | None = None,
                   promote: bool = True) -> int:
    """Log ``python_model`` (a pyfunc whose ``.native`` is the domain object), register it, promote it to champion."""
    registry.configure_mlflow(settings)
    with mlflow.start_run(experiment_id=registry.experiment_id("serving-tests", settings)) as run:
        info = mlflow.pyfunc.log_model(name="model", python_model=python_model, artifacts=artifacts)
    version = registry.register_challenger(run.info.run_id, info.model_uri, name, {"score": 1.0}, "score", True,
                                           settings, actor="tests")
    if promote:
        registry.promote(name, settings, actor="tests", force=True)
    return version


@pytest.fixture(scope="session")
def fake_registry(tmp_path_factory) -> Path:
    """A data dir whose registry has version 1 of each model as champion (fake natives)."""
    root = tmp_path_factory.mktemp("fake-registry")
    settings = Settings(data_dir=root)
    for name in (HS, DELAY, RISK):
        register_fake(settings, name, f"{name}-v1")
    return root


def copy_registry(source: Path, data_dir: Path) -> Path:
    """``data_dir`` with a copy of the registry and store in ``source`` (artifacts stay where they are)."""
    data_dir.mkdir(exist_ok=True)
    for db in ("mlflow.db", "clearance.db"):
        if (source / db).exists():
            shutil.copy(source / db, data_dir / db)
    return data_dir


@pytest.fixture
def registry_settings(fake_registry: Path, tmp_path: Path) -> Settings:
    """A private copy of the fake registry (tests may register and promote), with an empty model cache."""
    return Settings(data_dir=copy_registry(fake_registry, tmp_path / "var"), reload_interval_s=3600)


def fake_holder(settings: Settings, **loader_options):
    """A real holder over the registry's fake champions (``loader_options`` go to its ServedLoader)."""
    from serving.holder import ModelHolder
    from serving.served import ServedLoader
    from tests.serving.fakes import compose_fakes

    loader_options.setdefault("compose", compose_fakes)
    return ModelHolder(settings, loader=ServedLoader(settings, **loader_options))


def wait_ready(client, timeout: float = 60.0) -> dict:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get("/readyz")
        if response.status_code == 200:
            return response.json()
        time.sleep(0.05)
    raise AssertionError(f"service not ready after {timeout}s: {response.json()}")


@pytest.fixture
def make_app(registry_settings):
    """Build the app over the fake champions; ``auth_disabled`` defaults to False as in production."""
    from serving.app import create_app

    def make(settings: Settings | None = None, **overrides):
        settings = (settings or registry_settings).model_copy(update=overrides)
        return create_app(settings, holder=fake_holder(settings), poll=False)

    return make


@pytest.fixture
def client(make_app):
    from fastapi.testclient import TestClient

    app = make_app()
    with TestClient(app, raise_server_exceptions=False) as test_client:
        wait_ready(test_client)
        yield test_client


def make_key(app, *scopes: str, name: str | None = None) -> str:
    from data.store.keys import create_key

    _, key = create_key(app.state.engine, name or f"test-{'-'.join(scopes)}-{id(scopes)}", list(scopes))
    return key


@pytest.fixture
def keys(client) -> dict[str, dict[str, str]]:
    """Headers for keys with each single scope and one with all scopes."""
    app = client.app
    out = {scope: {"Authorization": f"Bearer {make_key(app, scope)}"} for scope in ("suggest", "score", "admin")}
    out["all"] = {"X-API-Key": make_key(app, "suggest", "score", "admin")}
    return out
