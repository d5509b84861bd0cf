"""Console sign-in sessions, kept in the store so that every service replica sees the same ones.

A row holds the sha256 of the cookie token (never the token: a dump of this table hands out no live cookie), the
public id of the API key it stands for, its CSRF token and two instants on the session clock (seconds since the
epoch; wall-clock time, because several processes must agree on it). ``serving/console/sessions.py`` decides what a
session may do; this module only reads and writes the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, Float, String, delete, func, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from data.store.db import Base, session_scope


class ConsoleSessionRow(Base):
    __tablename__ = "console_sessions"

    token_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float, index=True)
    last_seen: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True)
class SessionRecord:
    token_digest: str
    key_id: str
    csrf_token: str
    created_at: float
    last_seen: float


def _record(row: ConsoleSessionRow) -> SessionRecord:
    return SessionRecord(row.token_digest, row.key_id, row.csrf_token, row.created_at, row.last_seen)


def add_session(engine: Engine, record: SessionRecord) -> None:
    with session_scope(engine) as session:
        session.add(ConsoleSessionRow(token_digest=record.token_digest, key_id=record.key_id,
                                      csrf_token=record.csrf_token, created_at=record.created_at,
                                      last_seen=record.last_seen))


def get_session(engine: Engine, token_digest: str) -> SessionRecord | None:
    with session_scope(engine) as session:
        row = session.get(ConsoleSessionRow, token_digest)
        return _record(row) if row is not None else None


def touch_session(engine: Engine, token_digest: str, now: float) -> bool:
    """Move ``last_seen`` forward (never back: two replicas may touch at once); False when the session is gone."""
    with engine.begin() as conn:
        found = conn.execute(select(ConsoleSessionRow.token_digest)
                             .where(ConsoleSessionRow.token_digest == token_digest)).first()
        conn.execute(update(ConsoleSessionRow).where(ConsoleSessionRow.token_digest == token_digest,
                                                     ConsoleSessionRow.last_seen < now).values(last_seen=now))
    return found is not None


def delete_session(engine: Engine, token_digest: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.token_digest == token_digest))


def delete_sessions_of_key(engine: Engine, key_id: str) -> int:
    with engine.begin() as conn:
        return conn.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.key_id == key_id)).rowcount


def count_sessions(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ConsoleSessionRow)).scalar() or 0)


def delete_expired(engine: Engine, *, created_before: float, seen_before: float) -> int:
    """Drop sessions past their absolute lifetime or idle too long; returns how many went."""
    with engine.begin() as conn:
        return conn.execute(delete(ConsoleSessionRow).where(or_(ConsoleSessionRow.created_at < created_before,
                                                                ConsoleSessionRow.last_seen < seen_before))).rowcount


def delete_oldest(engine: Engine, keep: int) -> int:
    """Drop the oldest sessions until at most ``keep`` remain (a store full of live sessions makes room)."""
    with engine.begin() as conn:
        total = int(conn.execute(select(func.count()).select_from(ConsoleSessionRow)).scalar() or 0)
        extra = total - keep
        if extra <= 0:
            return 0
        oldest = select(ConsoleSessionRow.token_digest).order_by(ConsoleSessionRow.created_at).limit(extra)
        return conn.execute(delete(ConsoleSessionRow)
                            .where(ConsoleSessionRow.token_digest.in_(oldest))).rowcount
