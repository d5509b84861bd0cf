"""Engine, declarative base and session handling shared by every store table.

Each domain keeps its tables in its own module under ``data/store/`` on this one ``Base``; :func:`init_db` imports
them all so that ``create_all`` sees every table.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

# Modules that define tables on Base. A module listed here must exist: a missing table is a bug, not an option.
TABLE_MODULES: tuple[str, ...] = (
    "data.store.aliases",
    "data.store.keys",
    "data.store.reviews",
    "data.store.rulings",
)


class Base(DeclarativeBase):
    pass


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their folder created, WAL and a busy timeout for concurrent use."""
    kwargs: dict = {}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
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


def init_db(engine: Engine) -> None:
    """Create every table that is missing (idempotent)."""
    for module in TABLE_MODULES:
        importlib.import_module(module)
    Base.metadata.create_all(engine)


@lru_cache(maxsize=16)
def open_store(url: str) -> Engine:
    """The engine of the store at ``url`` with every table created; one engine (and pool) per URL per process."""
    engine = make_engine(url)
    init_db(engine)
    return engine


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
