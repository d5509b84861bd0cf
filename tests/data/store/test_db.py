"""The store's schema comes from Alembic migrations: a new store gets it, an old or foreign one is refused, and the
migrations describe exactly the tables the code defines."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from data.store.db import (
    INITIAL_REVISION,
    Base,
    SchemaMismatchError,
    check_schema,
    head_revision,
    import_table_modules,
    make_engine,
    open_store,
    schema_revision,
    upgrade_store,
)


def _url(tmp_path, name="store.db") -> str:
    return f"sqlite:///{tmp_path / name}"


def test_a_new_store_gets_the_current_schema_and_it_matches_the_tables_the_code_defines(store_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = open_store(store_url)
    assert schema_revision(engine) == head_revision()
    import_table_modules()
    with engine.connect() as conn:
        assert set(Base.metadata.tables) <= set(inspect(conn).get_table_names())
        # a table or column added to the code without a migration shows up here
        assert compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata) == []


def _store_made_before_migrations(url: str):
    """The tables of migration 0001 without a version table: what ``create_all`` made before migrations existed."""
    engine = make_engine(url)
    upgrade_store(engine, INITIAL_REVISION)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    return engine


def test_a_store_made_before_migrations_is_refused_until_upgraded_and_keeps_its_rows(tmp_path):
    url = _url(tmp_path)
    engine = _store_made_before_migrations(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO api_keys (key_id, name, key_hash, scopes, created_at) "
                          "VALUES ('k1', 'wang.fang', 'h', '[]', '2026-01-01')"))
    with pytest.raises(SchemaMismatchError, match="created before migrations.*clearance db upgrade"):
        open_store(url)
    before, after = upgrade_store(engine)
    assert (before, after) == (None, head_revision())
    assert check_schema(engine) == head_revision()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM api_keys")).scalars().all() == ["wang.fang"]
    assert upgrade_store(engine) == (head_revision(), head_revision())  # idempotent


def test_a_store_behind_or_ahead_of_the_code_is_refused_with_what_to_do(store_url):
    engine = make_engine(store_url)
    upgrade_store(engine, INITIAL_REVISION)  # a store the code has moved on from
    head = head_revision()
    assert head != INITIAL_REVISION
    with pytest.raises(SchemaMismatchError, match=rf"behind the code's {head}: run `clearance db upgrade`") as info:
        check_schema(engine)
    assert info.value.status == 503 and info.value.details == {"current": INITIAL_REVISION, "head": head}
    assert upgrade_store(engine) == (INITIAL_REVISION, head)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
    with pytest.raises(SchemaMismatchError, match="newer than this code"):
        check_schema(engine)


def test_the_service_refuses_to_start_on_a_store_whose_schema_is_behind(backend_settings):
    from serving.app import create_app

    settings = backend_settings
    upgrade_store(make_engine(settings.database_url), INITIAL_REVISION)
    with pytest.raises(SchemaMismatchError, match="clearance db upgrade"):
        create_app(settings, start_models=False)


def test_db_cli_upgrades_and_reports_the_schema(cli, tmp_path):
    out = cli("db", "status")
    assert out.exit_code == 1 and "revision (none)" in out.output
    out = cli("db", "upgrade")
    assert out.exit_code == 0, out.output
    assert f"-> {head_revision()}" in out.output
    out = cli("db", "upgrade")
    assert out.exit_code == 0 and "already at schema revision" in out.output
    out = cli("db", "status")
    assert out.exit_code == 0 and f"revision {head_revision()}; code: {head_revision()}" in out.output


def test_every_migration_downgrades_and_upgrades_again(store_url):
    from alembic import command

    from data.store.db import _alembic_config

    engine = make_engine(store_url)
    upgrade_store(engine)
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "base")
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    assert upgrade_store(engine)[1] == head_revision()


@pytest.mark.postgres
def test_replicas_upgrading_one_postgres_store_at_once_take_turns(pg_url):
    """Two processes running ``clearance db upgrade`` together: the advisory lock serialises them, both succeed."""
    from concurrent.futures import ThreadPoolExecutor

    engines = [make_engine(pg_url) for _ in range(3)]
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(upgrade_store, engines))
    assert sorted(r[1] for r in results) == [head_revision()] * 3
    assert sorted(str(r[0]) for r in results).count("None") == 1  # one migrated; the others found it done
    assert check_schema(engines[0]) == head_revision()


@pytest.mark.postgres
def test_db_cli_upgrades_a_postgres_store_named_by_the_setting(cli, pg_url, monkeypatch):
    monkeypatch.setenv("CLEARANCE_DATABASE_URL", pg_url)
    out = cli("db", "status")
    assert out.exit_code == 1 and "revision (none)" in out.output
    out = cli("db", "upgrade")
    assert out.exit_code == 0 and f"-> {head_revision()}" in out.output, out.output
    assert schema_revision(make_engine(pg_url)) == head_revision()


@pytest.mark.postgres
def test_the_store_survives_its_connections_being_killed(pg_url, postgres):
    """A PostgreSQL restart or failover kills pooled connections; the next use must reconnect, not fail."""
    import psycopg

    from data.store.keys import create_key, list_keys

    engine = open_store(pg_url)
    create_key(engine, "before", ["suggest"])
    with psycopg.connect(postgres.admin_url.replace("postgresql+psycopg://", "postgresql://"),
                         autocommit=True) as admin:
        killed = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE datname = %s AND pid <> pg_backend_pid()", (pg_url.rsplit("/", 1)[1],))
        assert killed.fetchone()[0] >= 1
    assert [k.name for k in list_keys(engine)] == ["before"]
