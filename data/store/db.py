"""Engine, declarative base, schema migrations and session handling shared by every store table.

Each domain keeps its tables in its own module under ``data/store/`` on this one ``Base``. The schema is created and
changed only by Alembic migrations (``data/store/migrations/versions/``, one per change): :func:`upgrade_store` (what
``clearance db upgrade`` runs) applies them, and :func:`open_store` refuses a store whose schema is behind or ahead
of the code instead of touching it. Only a brand-new, empty database is migrated on open, so the embedded SQLite
default needs no extra step.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Connection, DateTime, Engine, TypeDecorator, create_engine, event, inspect, text
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from data.errors import ClearanceError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: The first migration: the schema as it stood before migrations existed (stores made by ``create_all``).
INITIAL_REVISION = "0001"
#: Any PostgreSQL advisory-lock key, fixed: two processes upgrading the same store at once take turns.
_PG_MIGRATION_LOCK = 9710_0001

# Modules that define tables on Base. A module listed here must exist: a missing table is a bug, not an option.
TABLE_MODULES: tuple[str, ...] = (
    "data.store.aliases",
    "data.store.audit",
    "data.store.idempotency",
    "data.store.keys",
    "data.store.reviews",
    "data.store.sessions",
    "data.store.rulings",
    "data.store.shipments",
    "data.store.tariff",
)


class Base(DeclarativeBase):
    pass


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, returns aware UTC: the same instant on SQLite, Postgres and MySQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their folder created, WAL and a busy timeout for concurrent use;
    server databases (PostgreSQL) get connections checked on checkout."""
    kwargs: dict = {}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        # A server restart or a failover leaves dead connections in the pool; test each one before handing it out
        # (one round trip) rather than fail the first request after the restart.
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised by every sqlite test
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

    return engine


class SchemaMismatchError(ClearanceError):
    """The store's schema is not the one this code was written for; ``clearance db upgrade`` fixes a store behind."""

    code = "store_schema_mismatch"
    status = 503


def import_table_modules() -> None:
    for module in TABLE_MODULES:
        importlib.import_module(module)


def _alembic_config(connection: Connection):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    config = _alembic_config(None)  # type: ignore[arg-type]
    heads = ScriptDirectory.from_config(config).get_heads()
    if len(heads) != 1:  # two migrations claiming the same parent: a merge mistake, never a valid schema
        raise ClearanceError(f"the store migrations have {len(heads)} heads ({', '.join(heads)}); expected one",
                             code="store_migrations_broken", status=500)
    return heads[0]


def _state(connection: Connection) -> tuple[str | None, bool]:
    """(current revision, whether the database holds any of our tables)."""
    from alembic.runtime.migration import MigrationContext

    current = MigrationContext.configure(connection).get_current_revision()
    import_table_modules()
    ours = set(Base.metadata.tables) & set(inspect(connection).get_table_names())
    return current, bool(ours)


def schema_revision(engine: Engine) -> str | None:
    """The migration the store is at (None: never migrated)."""
    with engine.connect() as connection:
        return _state(connection)[0]


def upgrade_store(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Apply the migrations up to ``revision``; returns (revision before, revision after).

    A store created before migrations existed (tables, no version) is stamped at the initial migration first: its
    tables are that migration's. On PostgreSQL an advisory lock serialises concurrent upgrades of one store.
    """
    from alembic import command

    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        before, has_tables = _state(connection)
        config = _alembic_config(connection)
        if before is None and has_tables:
            command.stamp(config, INITIAL_REVISION)
        command.upgrade(config, revision)
        after, _ = _state(connection)
    return before, after or ""


def check_schema(engine: Engine) -> str:
    """The store's revision when it is the code's head; :class:`SchemaMismatchError` saying what to do otherwise."""
    head = head_revision()
    with engine.connect() as connection:
        current, has_tables = _state(connection)
    if current == head:
        return current
    where = engine.url.render_as_string(hide_password=True)
    if current is None:
        what = "has no schema version (it was created before migrations existed)" if has_tables else "is empty"
        raise SchemaMismatchError(f"the store at {where} {what}: run `clearance db upgrade`",
                                  details={"current": None, "head": head})
    from alembic.script import ScriptDirectory

    known = {rev.revision for rev in ScriptDirectory.from_config(_alembic_config(None)).walk_revisions()}  # type: ignore[arg-type]
    if current not in known:
        raise SchemaMismatchError(f"the store at {where} is at schema revision {current}, newer than this code "
                                  f"(head {head}): upgrade the code, not the store",
                                  details={"current": current, "head": head})
    raise SchemaMismatchError(f"the store at {where} is at schema revision {current}, behind the code's {head}: run "
                              "`clearance db upgrade`", details={"current": current, "head": head})


def init_db(engine: Engine) -> None:
    """Bring the store at ``engine`` to the current schema (tests, temporary stores, ``clearance db upgrade``)."""
    upgrade_store(engine)


@lru_cache(maxsize=16)
def open_store(url: str) -> Engine:
    """The engine of the store at ``url``, one (and one pool) per URL per process.

    A brand-new empty database gets the current schema; any other store must already be at it
    (:func:`check_schema`): the service and the CLI never migrate a store that holds data behind its owner's back.
    """
    engine = make_engine(url)
    with engine.connect() as connection:
        current, has_tables = _state(connection)
    if current is None and not has_tables:
        upgrade_store(engine)
    else:
        check_schema(engine)
    return engine


def _lock_key(name: str) -> int:
    # A stable signed 64-bit key per name (PostgreSQL advisory locks take a bigint); Python's hash() is salted.
    import hashlib

    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)


@contextmanager
def exclusive(engine: Engine, name: str) -> Iterator[Connection]:
    """A transaction that no other process of any replica holds for the same ``name`` at the same time.

    For read-decide-write sequences whose state is partly outside this store (an MLflow alias move and its history
    row): two replicas promoting the same model at once must not both read the old champion and both move it.
    PostgreSQL: a transaction-scoped advisory lock on ``name`` (other names proceed). SQLite: ``BEGIN IMMEDIATE``,
    the database's one write lock (SQLite has no finer lock; readers carry on under WAL). Write the rows that
    belong to the decision on the yielded connection: it commits when the block ends, and the lock goes with it.
    """
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(name)})
        elif connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.rollback()
            raise
        connection.commit()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
