"""API-key authentication and scopes (``suggest``, ``score``, ``admin``).

Keys arrive as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. No key → 401, a key without the route's
scope → 403. ``settings.auth_disabled`` (local development only) lets every request through.
Verified keys are cached for a couple of seconds so that a hot route does not hit the store on every call; a revoked
key therefore stops working within ``cache_ttl_s``.
"""

from __future__ import annotations

import threading
import time

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from data.errors import ForbiddenError, UnauthorizedError
from data.store.keys import KeyRecord, hash_key, verify_key
from serving.ratelimit import key_prefix

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <api key>`")
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="`X-API-Key: <api key>`")

_MAX_CACHED = 4096


class KeyAuthenticator:
    def __init__(self, engine: Engine, *, disabled: bool = False, cache_ttl_s: float = 2.0):
        self.engine = engine
        self.disabled = disabled
        self.cache_ttl_s = cache_ttl_s
        self._cache: dict[str, tuple[KeyRecord, float]] = {}
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()

    def verify(self, key: str) -> KeyRecord | None:
        digest = hash_key(key)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[1] > now:
            return hit[0]
        record = verify_key(self.engine, key)
        if record is not None and self.cache_ttl_s > 0:
            with self._lock:
                if len(self._cache) >= _MAX_CACHED:
                    self._cache.clear()
                self._cache[digest] = (record, now + self.cache_ttl_s)
        return record

    async def authenticate(self, key: str | None, scope: str | None) -> KeyRecord | None:
        if self.disabled:
            return None
        if not key:
            raise UnauthorizedError("an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key'")
        cached = self._cache.get(hash_key(key))
        record = cached[0] if cached and cached[1] > time.monotonic() else await run_in_threadpool(self.verify, key)
        if record is None:
            raise UnauthorizedError("the API key is unknown or revoked")
        if scope is not None and scope not in record.scopes:
            raise ForbiddenError(f"this API key lacks the '{scope}' scope",
                                 details={"required": scope, "granted": list(record.scopes)})
        return record


def require_scope(scope: str | None):
    """A dependency that admits keys holding ``scope`` (any valid key when ``scope`` is None)."""

    async def dependency(request: Request,
                         bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
                         api_key: str | None = Depends(_api_key_header)) -> KeyRecord | None:
        key = api_key or (bearer.credentials if bearer is not None else None)
        authenticator = request.app.state.authenticator
        limiter = getattr(request.app.state, "auth_limiter", None)
        if limiter is None or authenticator.disabled:
            record = await authenticator.authenticate(key, scope)
        else:
            client, prefix = (request.client.host if request.client else None), key_prefix(key)
            limiter.check(client, prefix)
            try:
                record = await authenticator.authenticate(key, scope)
            except UnauthorizedError:
                # Off the event loop: an audit row is a store write.
                await run_in_threadpool(limiter.failed, client, prefix, door="api",
                                        reason="missing" if not key else "unknown")
                raise
        if record is not None:
            request.state.api_key_name = record.name
        return record

    return dependency
