"""Shared fixtures of the CLI tests."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from data.settings import get_settings


@pytest.fixture
def runner(tmp_path, monkeypatch):
    """A CLI runner whose settings point at a fresh data directory under ``tmp_path``."""
    monkeypatch.setenv("CLEARANCE_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()
