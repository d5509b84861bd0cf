"""API keys: who may call the service, with which scopes.

A key looks like ``clr_<key_id>_<secret>``. Only ``sha256(key)`` is stored, looked up by the public ``key_id`` and
compared with :func:`hmac.compare_digest`, so neither the database nor response timing reveals a usable key.
Why sha256 and not bcrypt/argon2: those slow hashes exist to protect low-entropy human passwords from guessing; these
keys carry 256 random bits, so guessing a preimage is infeasible even for a fast hash, while a slow hash would add
~100 ms of CPU to every API call (and hand out a cheap denial of service).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, Engine, Integer, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from data.errors import ConflictError, InvalidInputError, NotFoundError, field_error
from data.store.db import Base, session_scope

SCOPES: tuple[str, ...] = ("suggest", "score", "admin")
_PREFIX = "clr"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _record(row: ApiKey) -> KeyRecord:
    return KeyRecord(key_id=row.key_id, name=row.name, scopes=tuple(row.scopes or ()), created_at=row.created_at,
                     revoked_at=row.revoked_at)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def split_key(key: str) -> str | None:
    """The public key id inside ``key``, or None when the key is not in our format."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != _PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


def ensure_table(engine: Engine) -> None:
    Base.metadata.create_all(engine, tables=[ApiKey.__table__])


def create_key(engine: Engine, name: str, scopes: list[str] | tuple[str, ...]) -> tuple[KeyRecord, str]:
    """A new key named ``name`` with ``scopes``; returns the record and the plaintext key (shown once, never stored)."""
    name = (name or "").strip()
    problems = []
    if not name:
        problems.append(field_error("name", "must not be empty"))
    wanted = sorted(set(scopes))
    if not wanted:
        problems.append(field_error("scope", f"give at least one of {', '.join(SCOPES)}"))
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown:
        problems.append(field_error("scope", f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}"))
    if problems:
        raise InvalidInputError("cannot create the API key", details=problems)
    ensure_table(engine)
    key_id = secrets.token_hex(6)
    plaintext = f"{_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    taken = ConflictError(f"an API key named '{name}' already exists", details=[field_error("name", "taken")])
    try:
        with session_scope(engine) as session:
            if session.scalar(select(ApiKey).where(ApiKey.name == name)) is not None:
                raise taken
            row = ApiKey(key_id=key_id, name=name, key_hash=hash_key(plaintext), scopes=wanted)
            session.add(row)
            session.flush()
            record = _record(row)
    except IntegrityError as exc:  # another replica created the same name between the check and the insert
        raise taken from exc
    from data.store.audit import record_event  # here, not at the doors: every way of making a key is audited

    record_event(engine, "key_created", actor=record.name, key_prefix=record.key_id,
                 details={"scopes": list(record.scopes)})
    return record, plaintext


def list_keys(engine: Engine) -> list[KeyRecord]:
    ensure_table(engine)
    with session_scope(engine) as session:
        return [_record(r) for r in session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id))]


def revoke_key(engine: Engine, name_or_id: str) -> KeyRecord:
    """Revoke the key with this name or key id (idempotent for an already revoked key)."""
    ensure_table(engine)
    with session_scope(engine) as session:
        row = session.scalar(select(ApiKey).where((ApiKey.name == name_or_id) | (ApiKey.key_id == name_or_id)))
        if row is None:
            raise NotFoundError(f"no API key named or with id '{name_or_id}'")
        newly = row.revoked_at is None
        if newly:
            row.revoked_at = _utcnow()
        session.flush()
        record = _record(row)
    if newly:
        from data.store.audit import record_event

        record_event(engine, "key_revoked", actor=record.name, key_prefix=record.key_id)
    return record


def _active_row(session, key_id: str) -> ApiKey | None:
    row = session.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
    return None if row is None or row.revoked_at is not None else row


def active_key(engine: Engine, key_id: str) -> KeyRecord | None:
    """The active record with public id ``key_id``, or None (unknown or revoked); for sessions that hold the id."""
    with session_scope(engine) as session:
        row = _active_row(session, key_id)
        return _record(row) if row is not None else None


def verify_key(engine: Engine, key: str) -> KeyRecord | None:
    """The active record for ``key``, or None (unknown, malformed or revoked)."""
    key_id = split_key(key)
    if key_id is None:
        return None
    with session_scope(engine) as session:
        row = _active_row(session, key_id)
        if row is None or not hmac.compare_digest(row.key_hash, hash_key(key)):
            return None
        return _record(row)
