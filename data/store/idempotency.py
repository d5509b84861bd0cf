"""Idempotency keys: a client-chosen key makes a write apply once, however often the client resends it.

A client that sent a decision (or an outcome, or an import) and lost the answer, to a crash, a timeout or a dropped
connection, cannot know whether it was applied; resending it with the same ``Idempotency-Key`` is safe. The first
request's work and its key row are committed in **one transaction** (:func:`run_once`), so after a crash either both
are in the store or neither is: a resend after the commit gets the stored answer back (``replayed``), a resend
after a crash before it does the work once. Two identical requests racing each other: the second one's insert of
the key fails on the primary key, its transaction (work included) rolls back, and it answers what the first stored.

Keys are scoped (``scope``: what kind of write, e.g. ``hs_feedback``) and per owner (the API key's name), so two
clients cannot collide or read each other's answers. The same key with a different request body is refused (409):
it is a client bug, and applying either silently would lose the other.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Engine, Integer, String, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from data.errors import ConflictError, InvalidInputError, field_error
from data.store.db import Base, UTCDateTime, session_scope

MAX_KEY_CHARS = 200


@dataclass(frozen=True)
class Once:
    """One idempotent request: whose (``owner``), under which ``key``, with which content (``request_hash``)."""

    owner: str
    key: str
    request_hash: str


class IdempotencyRow(Base):
    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY_CHARS), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer, default=200)
    response: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


def check_key(key: str | None, field: str = "Idempotency-Key") -> str | None:
    """The key as given (None when absent); 1-200 printable ASCII characters, else an error naming ``field``."""
    if key is None:
        return None
    if not key or len(key) > MAX_KEY_CHARS or not key.isascii() or not key.isprintable():
        raise InvalidInputError(f"{field} must be 1-{MAX_KEY_CHARS} printable ASCII characters",
                                details=[field_error(field, f"1-{MAX_KEY_CHARS} printable ASCII characters")])
    return key


def fingerprint(payload: Any) -> str:
    """A hash of the request's content (canonical JSON), to tell a resend from a different request under one key."""
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()


def _stored(session: Session, scope: str, owner: str, key: str, request_hash: str) -> tuple[dict, int] | None:
    row = session.get(IdempotencyRow, (scope, owner, key))
    if row is None:
        return None
    if row.request_hash != request_hash:
        raise ConflictError(f"this Idempotency-Key was already used for a different {scope} request",
                            code="idempotency_key_reused",
                            details=[field_error("Idempotency-Key", "already used with another request body")])
    return dict(row.response or {}), int(row.status)


def lookup(engine: Engine, scope: str, owner: str, key: str, request_hash: str) -> tuple[dict, int] | None:
    """The stored answer of an earlier request under this key, (response, status); None when there is none."""
    with session_scope(engine) as session:
        return _stored(session, scope, owner, key, request_hash)


def run_once(engine: Engine, scope: str, owner: str, key: str | None, request_hash: str,
             work: Callable[[Session], dict], *, status: int = 200) -> tuple[dict, bool]:
    """``work(session)`` once per (scope, owner, key): (its response, False) the first time, (the stored response,
    True) on every resend. ``work`` writes through ``session``, so its rows commit with the key or not at all.
    Without a key, ``work`` simply runs (and commits)."""
    if key is None:
        with session_scope(engine) as session:
            return work(session), False
    earlier = lookup(engine, scope, owner, key, request_hash)
    if earlier is not None:
        return earlier[0], True
    try:
        with session_scope(engine) as session:
            response = work(session)
            session.add(IdempotencyRow(scope=scope, owner=owner, key=key, request_hash=request_hash, status=status,
                                       response=response, created_at=datetime.now(UTC)))
            session.flush()
    except IntegrityError:
        # Another request with this key committed first; ours rolled back entirely. Answer what it stored.
        earlier = lookup(engine, scope, owner, key, request_hash)
        if earlier is None:
            raise
        return earlier[0], True
    return response, False


def forget_before(engine: Engine, before: datetime) -> int:
    """Delete keys older than ``before`` (a client resends within minutes; keeping keys forever only grows)."""
    with session_scope(engine) as session:
        result = session.execute(delete(IdempotencyRow).where(IdempotencyRow.created_at < before))
        return int(result.rowcount or 0)

