"""Console sign-in sessions: a random token in the browser's cookie, the API key it stands for kept on the server.

Staff sign in by pasting an API key; the raw key is checked once (``verify_key``) and never stored. The session keeps
only the key's public id, so every request re-reads that key (cached ``key_cache_ttl_s``, the same 2 s as the API's
``KeyAuthenticator``): a revoked key loses its console sessions within that time, and scope changes apply at once.

Why in memory and not a signed cookie (itsdangerous): a server-side table makes sign-out real (the token dies here,
not just in one browser) and needs no secret to keep across restarts. The cost is that sessions live in this process:
a restart signs everybody out, and it only works with one worker process, which is how ``clearance serve`` runs
(``uvicorn.run(app)`` with an app object cannot fork workers). Several workers would need a shared store.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum

from sqlalchemy import Engine

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
    # Tokens are kept hashed, so a dump of this table (debugger, heap) does not hand out live cookies.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SessionStore:
    """Thread-safe table of console sessions; ``clock`` is injectable so tests can let time pass."""

    def __init__(self, engine: Engine, *, lifetime_s: float = LIFETIME_S, idle_s: float = IDLE_S,
                 key_cache_ttl_s: float = 2.0, max_sessions: int = MAX_SESSIONS,
                 clock: Callable[[], float] = time.monotonic):
        self.engine = engine
        self.lifetime_s = lifetime_s
        self.idle_s = idle_s
        self.key_cache_ttl_s = key_cache_ttl_s
        self.max_sessions = max_sessions
        self.clock = clock
        self._sessions: dict[str, ConsoleSession] = {}
        self._keys: dict[str, tuple[KeyRecord | None, float]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self, key: KeyRecord) -> tuple[str, ConsoleSession]:
        """A new session for a key that was just verified; returns the cookie token (shown to nobody else)."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        session = ConsoleSession(key_id=key.key_id, csrf_token=secrets.token_urlsafe(32), created_at=now,
                                 last_seen=now)
        with self._lock:
            if len(self._sessions) >= self.max_sessions:
                self._prune(now)
            if len(self._sessions) >= self.max_sessions:  # still full of live sessions: the oldest one goes
                oldest = min(self._sessions, key=lambda d: self._sessions[d].created_at)
                del self._sessions[oldest]
            self._sessions[_digest(token)] = session
            self._keys[key.key_id] = (key, now + self.key_cache_ttl_s)
        return token, session

    def end(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._sessions.pop(_digest(token), None)

    def end_all_for(self, key_id: str) -> int:
        with self._lock:
            doomed = [d for d, s in self._sessions.items() if s.key_id == key_id]
            for d in doomed:
                del self._sessions[d]
        return len(doomed)

    def invalidate_keys(self) -> None:
        with self._lock:
            self._keys.clear()

    def resolve(self, token: str | None) -> SignedIn | Ended:
        """The session behind ``token`` with its key re-checked, or why there is none. May read the store."""
        if not token:
            return Ended.unknown
        digest = _digest(token)
        now = self.clock()
        with self._lock:
            session = self._sessions.get(digest)
        if session is None:
            return Ended.unknown
        if now - session.created_at > self.lifetime_s or now - session.last_seen > self.idle_s:
            self.end(token)
            return Ended.expired
        key = self._key(session.key_id, now)
        if key is None:
            self.end(token)
            return Ended.revoked
        session = replace(session, last_seen=now)
        with self._lock:
            if digest in self._sessions:  # not signed out meanwhile by another request
                self._sessions[digest] = session
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
        dead = [d for d, s in self._sessions.items()
                if now - s.created_at > self.lifetime_s or now - s.last_seen > self.idle_s]
        for d in dead:
            del self._sessions[d]
