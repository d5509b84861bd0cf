"""Console sign-in sessions: a random token in the browser's cookie, the API key it stands for kept on the server.

Staff sign in by pasting an API key; the raw key is checked once (``verify_key``) and never stored. The session keeps
only the key's public id, so every request re-reads that key (cached ``key_cache_ttl_s``, the same 2 s as the API's
``KeyAuthenticator``): a revoked key loses its console sessions within that time, and scope changes apply at once.

Why server-side rows and not a signed cookie (itsdangerous): a table makes sign-out real (the token dies here, not
just in one browser) and needs no secret to share between replicas. The rows live in the store
(``data/store/sessions.py``), so a session made on one replica works on every other, and a restart signs nobody
out. The session clock is therefore wall-clock time (``time.time``): every replica must agree on it.

``last_seen`` is written at most every ``touch_every_s`` (30 s) per session: the idle limit is an hour, and a write
on every page view would turn each read into a store write.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import Engine

from data.store import sessions as rows
from data.store.keys import KeyRecord, active_key

LIFETIME_S = 8 * 3600  # one working shift; then sign in again, however active the session was
IDLE_S = 3600  # a console left open and unused for an hour is signed out
MAX_SESSIONS = 10_000
_MAX_CACHED_KEYS = 4096


class Ended(str, Enum):
    """Why a presented session is not valid (shown on the sign-in page)."""

    unknown = "unknown"  # no cookie, a forged token, signed out, or the service restarted
    expired = "expired"
    revoked = "revoked"  # the API key was revoked (or deleted) after sign-in


@dataclass(frozen=True)
class ConsoleSession:
    key_id: str
    csrf_token: str
    created_at: float
    last_seen: float


@dataclass(frozen=True)
class SignedIn:
    """A valid session and the key record it stands for, as read for this request."""

    session: ConsoleSession
    key: KeyRecord

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def scopes(self) -> tuple[str, ...]:
        return self.key.scopes

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token


def _digest(token: str) -> str:
    # Tokens are kept hashed, so a dump of the table (backup, debugger) does not hand out live cookies.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SessionStore:
    """Console sessions in the store, shared by every replica; ``clock`` is injectable so tests can let time pass."""

    def __init__(self, engine: Engine, *, lifetime_s: float = LIFETIME_S, idle_s: float = IDLE_S,
                 key_cache_ttl_s: float = 2.0, max_sessions: int = MAX_SESSIONS, touch_every_s: float = 30.0,
                 clock: Callable[[], float] = time.time):
        self.engine = engine
        self.lifetime_s = lifetime_s
        self.idle_s = idle_s
        self.key_cache_ttl_s = key_cache_ttl_s
        self.max_sessions = max_sessions
        self.touch_every_s = touch_every_s
        self.clock = clock
        # Only the key records are cached here (for key_cache_ttl_s): sessions themselves are always read from the
        # store, so a sign-out on one replica ends the session on all of them at once.
        self._keys: dict[str, tuple[KeyRecord | None, float]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return rows.count_sessions(self.engine)

    def create(self, key: KeyRecord) -> tuple[str, ConsoleSession]:
        """A new session for a key that was just verified; returns the cookie token (shown to nobody else)."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        session = ConsoleSession(key_id=key.key_id, csrf_token=secrets.token_urlsafe(32), created_at=now,
                                 last_seen=now)
        if rows.count_sessions(self.engine) >= self.max_sessions:
            self._prune(now)
            rows.delete_oldest(self.engine, keep=self.max_sessions - 1)  # still full of live ones: the oldest go
        rows.add_session(self.engine, rows.SessionRecord(_digest(token), key.key_id, session.csrf_token, now, now))
        with self._lock:
            self._keys[key.key_id] = (key, now + self.key_cache_ttl_s)
        return token, session

    def end(self, token: str | None) -> None:
        if token:
            rows.delete_session(self.engine, _digest(token))

    def end_all_for(self, key_id: str) -> int:
        return rows.delete_sessions_of_key(self.engine, key_id)

    def invalidate_keys(self) -> None:
        with self._lock:
            self._keys.clear()

    def resolve(self, token: str | None) -> SignedIn | Ended:
        """The session behind ``token`` with its key re-checked, or why there is none. Reads the store."""
        if not token:
            return Ended.unknown
        digest = _digest(token)
        now = self.clock()
        found = rows.get_session(self.engine, digest)
        if found is None:
            return Ended.unknown
        if now - found.created_at > self.lifetime_s or now - found.last_seen > self.idle_s:
            rows.delete_session(self.engine, digest)
            return Ended.expired
        key = self._key(found.key_id, now)
        if key is None:
            rows.delete_session(self.engine, digest)
            return Ended.revoked
        if now - found.last_seen >= self.touch_every_s and not rows.touch_session(self.engine, digest, now):
            return Ended.unknown  # signed out meanwhile (on this replica or another)
        session = ConsoleSession(key_id=found.key_id, csrf_token=found.csrf_token, created_at=found.created_at,
                                 last_seen=max(now, found.last_seen))
        return SignedIn(session=session, key=key)

    def _key(self, key_id: str, now: float) -> KeyRecord | None:
        hit = self._keys.get(key_id)
        if hit is not None and hit[1] > now:
            return hit[0]
        key = active_key(self.engine, key_id)
        with self._lock:
            if len(self._keys) >= _MAX_CACHED_KEYS:
                self._keys.clear()
            self._keys[key_id] = (key, now + self.key_cache_ttl_s)
        return key

    def _prune(self, now: float) -> None:
        rows.delete_expired(self.engine, created_before=now - self.lifetime_s, seen_before=now - self.idle_s)
