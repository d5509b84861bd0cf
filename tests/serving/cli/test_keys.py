"""``clearance keys create/list/revoke`` and ``clearance serve --help`` through the real CLI app."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from data.errors import InvalidInputError, NotFoundError
from data.settings import get_settings
from data.store.db import make_engine
from data.store.keys import verify_key


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("CLEARANCE_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    from serving.cli.main import app

    yield app, CliRunner()
    get_settings.cache_clear()


def test_create_prints_the_key_once_and_it_verifies(cli):
    app, runner = cli
    result = runner.invoke(app, ["keys", "create", "--name", "router-1", "--scope", "score", "--scope", "suggest"])
    assert result.exit_code == 0, result.output
    key = next(line for line in result.stdout.splitlines() if line.startswith("clr_"))
    record = verify_key(make_engine(get_settings().database_url), key)
    assert record is not None and record.name == "router-1" and record.scopes == ("score", "suggest")

    listed = json.loads(runner.invoke(app, ["keys", "list", "--json"]).stdout)
    assert [(k["name"], k["scopes"], k["revoked_at"]) for k in listed] == [("router-1", ["score", "suggest"], None)]
    assert key not in runner.invoke(app, ["keys", "list"]).stdout

    result = runner.invoke(app, ["keys", "revoke", "router-1"])
    assert result.exit_code == 0 and "revoked" in result.stdout
    assert verify_key(make_engine(get_settings().database_url), key) is None
    assert json.loads(runner.invoke(app, ["keys", "list", "--json"]).stdout)[0]["revoked_at"]


def test_bad_scope_duplicate_name_and_unknown_revoke_are_clear_errors(cli):
    app, runner = cli
    result = runner.invoke(app, ["keys", "create", "--name", "x", "--scope", "everything"])
    assert isinstance(result.exception, InvalidInputError)
    assert "unknown scope(s) everything" in result.exception.details[0]["reason"]
    assert runner.invoke(app, ["keys", "create", "--name", "x", "--scope", "admin"]).exit_code == 0
    result = runner.invoke(app, ["keys", "create", "--name", "x", "--scope", "admin"])
    assert result.exception is not None and result.exception.status == 409
    assert isinstance(runner.invoke(app, ["keys", "revoke", "nobody"]).exception, NotFoundError)


def test_serve_command_is_registered(cli):
    app, runner = cli
    result = runner.invoke(app, ["serve", "--help"])
    assert result.exit_code == 0 and "--reload-interval" in result.stdout and "--port" in result.stdout
