"""Rate limits and lockout on authentication failures, per client address and per key prefix.

Every failed authentication (API key missing, malformed, unknown or revoked; a refused console sign-in) counts
against the client's address and against the key's public prefix (``clr_<key_id>_…``; "malformed" when the key is
not in our format). Past ``auth_failures_per_client`` / ``auth_failures_per_key`` failures within ``auth_window_s``,
that address or prefix is locked out for ``lockout_s``: every attempt, right or wrong, is answered 429 with
``Retry-After`` without touching the key store. Each failure is counted in ``/metrics``
(``clearance_auth_failures_total``) and written to the audit log until the lockout, which is written once.

The windows are ``cachetools.TTLCache`` entries (bounded in size, so a flood of addresses cannot grow memory):
a count lives until the caller has been quiet for a window. Locking out a key prefix lets a guesser lock out that
key's owner for ``lockout_s``; that is the accepted price of stopping the guessing (the owner sees 429 with
Retry-After and the audit log names the address).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cachetools import TTLCache
from sqlalchemy import Engine

from data.errors import TooManyRequestsError
from data.settings import InputLimits
from data.store.audit import record_event
from data.store.keys import split_key
from serving.metrics import Metrics

_MAX_TRACKED = 100_000


def key_prefix(key: str | None) -> str | None:
    """The public part of a key, safe to log and count: its key id, or "malformed"; None without a key."""
    if not key:
        return None
    return split_key(key) or "malformed"


class AuthLimiter:
    def __init__(self, limits: InputLimits, metrics: Metrics | None, engine: Engine | None, *,
                 clock: Callable[[], float] = time.monotonic):
        self.limits = limits
        self.metrics = metrics
        self.engine = engine
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: TTLCache = TTLCache(_MAX_TRACKED, ttl=limits.auth_window_s, timer=clock)
        self._locked: TTLCache = TTLCache(_MAX_TRACKED, ttl=limits.lockout_s, timer=clock)

    def check(self, client: str | None, prefix: str | None) -> None:
        """429 (with the seconds left) when the client or the key prefix is locked out."""
        now = self.clock()
        with self._lock:
            until = max((self._locked.get(name, 0.0) for name in _names(client, prefix)), default=0.0)
        if until > now:
            if self.metrics is not None:
                self.metrics.auth_refused.inc()
            raise TooManyRequestsError("too many failed authentications from here or for this key; wait before "
                                       "trying again", code="auth_locked_out", retry_after=until - now,
                                       details={"retry_after_s": round(until - now, 1)})

    def failed(self, client: str | None, prefix: str | None, *, door: str, reason: str) -> None:
        """Count one failure; lock out what passed its limit (audited once)."""
        if self.metrics is not None:
            self.metrics.auth_failures.labels(door, reason).inc()
        locked: list[str] = []
        now = self.clock()
        with self._lock:
            for name in _names(client, prefix):
                count = self._failures.get(name, 0) + 1
                self._failures[name] = count
                limit = (self.limits.auth_failures_per_client if name.startswith("client:")
                         else self.limits.auth_failures_per_key)
                if count >= limit and name not in self._locked:
                    self._locked[name] = now + self.limits.lockout_s
                    locked.append(name)
        if self.engine is None:
            return
        if locked:
            if self.metrics is not None:
                self.metrics.auth_lockouts.inc(len(locked))
            record_event(self.engine, "lockout", client=client, key_prefix=prefix, outcome="locked",
                         details={"door": door, "locked": locked, "seconds": self.limits.lockout_s})
        else:
            record_event(self.engine, "signin_failed" if door == "console" else "auth_failed", client=client,
                         key_prefix=prefix, outcome="failed", details={"door": door, "reason": reason})


def _names(client: str | None, prefix: str | None) -> list[str]:
    names = []
    if client:
        names.append(f"client:{client}")
    if prefix:
        names.append(f"key:{prefix}")
    return names
