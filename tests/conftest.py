"""Fixtures shared by every test package: a temporary data directory and settings pointing at it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import data  # noqa: F401  (thread caps before numpy and friends load)
from data.settings import Settings

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose every path (store, MLflow, caches) lives in a fresh temporary folder."""
    return Settings(data_dir=tmp_path / "var", auth_disabled=False)


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    if not DATASETS.is_dir():
        pytest.skip(f"shared datasets not found at {DATASETS}")
    return DATASETS


@pytest.fixture(scope="session")
def mlflow_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One temporary data directory (store + MLflow) for the whole session.

    Creating an MLflow sqlite database runs its migrations (seconds each), so tests that only need *a* registry share
    this one and keep their model names distinct.
    """
    return Settings(data_dir=tmp_path_factory.mktemp("shared") / "var", auth_disabled=False)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Invoke the ``clearance`` CLI in-process with every path under a temporary data directory."""
    from typer.testing import CliRunner

    from data.settings import get_settings

    monkeypatch.setenv("CLEARANCE_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    from serving.cli.main import app

    runner = CliRunner()
    yield lambda *args: runner.invoke(app, [str(a) for a in args])
    get_settings.cache_clear()


# PostgreSQL ------------------------------------------------------------------------------------------------------
# One throwaway server per test session (tests/postgres_server.py), a fresh database per test. Without the binaries
# the PostgreSQL variants skip, except in CI (CI=1) or with CLEARANCE_REQUIRE_POSTGRES=1, where they fail.


@pytest.fixture(scope="session")
def postgres():
    from tests import postgres_server

    try:
        server = postgres_server.start()
    except RuntimeError as exc:
        if postgres_server.required():
            pytest.fail(f"PostgreSQL is required here (CI or CLEARANCE_REQUIRE_POSTGRES) but: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres) -> str:
    """The URL of a fresh, empty PostgreSQL database (dropped after the test)."""
    url = postgres.create_database("store")
    yield url
    from data.store.db import open_store

    open_store.cache_clear()  # its pool holds connections to the database about to go
    postgres.drop_database(url)


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def store_url(request, tmp_path: Path) -> str:
    """A fresh empty store, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def backend_settings(store_url: str, tmp_path: Path) -> Settings:
    """``settings`` whose store is ``store_url`` (SQLite, then PostgreSQL)."""
    return Settings(data_dir=tmp_path / "var", auth_disabled=False, database_url=store_url)


@pytest.fixture(scope="session")
def pg_mlflow_settings(postgres, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Like ``mlflow_settings``, with the MLflow tracking/registry backend and the store on PostgreSQL (one each per
    session: MLflow's own migrations take seconds); artifacts in a shared folder, as in a deployment."""
    return Settings(data_dir=tmp_path_factory.mktemp("shared-pg") / "var", auth_disabled=False,
                    database_url=postgres.create_database("store"),
                    mlflow_tracking_uri=postgres.create_database("mlflow"))


@pytest.fixture(params=BACKENDS)
def registry_backend(request) -> Settings:
    """The session's shared registry settings, once with SQLite and once with PostgreSQL behind MLflow and the store."""
    return request.getfixturevalue("mlflow_settings" if request.param == "sqlite" else "pg_mlflow_settings")
