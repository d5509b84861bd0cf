"""Shared fixtures for the service tests: a temporary MLflow registry with champions, and app factories."""

from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
import pytest

from data.settings import Settings
from training import registry
from tests.serving.fakes import DELAY, HS, RISK, FakeNative


def register_fake(settings: Settings, name: str, tag: str, *, promote: bool = True) -> int:
    registry.configure_mlflow(settings)
    with mlflow.start_run(experiment_id=registry.experiment_id("serving-tests", settings)) as run:
        info = mlflow.pyfunc.log_model(name="model", python_model=FakeNative(name, tag))
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


@pytest.fixture
def registry_settings(fake_registry: Path, tmp_path: Path) -> Settings:
    """A private copy of the fake registry (tests may register and promote), with an empty model cache."""
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    for db in ("mlflow.db", "clearance.db"):
        if (fake_registry / db).exists():
            shutil.copy(fake_registry / db, data_dir / db)
    return Settings(data_dir=data_dir, reload_interval_s=3600)
