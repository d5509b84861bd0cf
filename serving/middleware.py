"""The outermost ASGI layer: request id, body-size limit, model-version and security headers, per-key concurrency,
access log, metrics, 503 for work cut off by shutdown, last-resort 500.

Written as plain ASGI rather than ``BaseHTTPMiddleware`` because that wrapper adds a task and a stream per request,
which costs measurable throughput on the scoring route. The body limit lives here rather than in Starlette's
``RequestBodyLimitMiddleware`` so that an oversized body is refused before routing and auth, counted in the metrics
and logged with the request id like every other response.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from contextlib import nullcontext

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from data.errors import ClearanceError, OverloadedError
from data.store.keys import split_key
from serving.admission import Admission
from serving.errors import error_body, internal_error_response, retry_after_header
from serving.logging import new_request_id, request_id_var
from serving.metrics import UNMATCHED_ROUTE, Metrics

access_log = logging.getLogger("clearance.access")
log = logging.getLogger("clearance.errors")


class _TooLarge(Exception):
    pass


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics, max_body_bytes: int, served_header: Callable[[], str | None],
                 admission: Admission | None = None):
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.served_header = served_header
        self.admission = admission

    async def _read_body(self, receive: Receive) -> list[Message]:
        """Buffer the body, refusing it as soon as the streamed size passes the limit (Content-Length can lie)."""
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            size += len(message.get("body", b""))
            if size > self.max_body_bytes:
                raise _TooLarge
            if not message.get("more_body", False):
                return messages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k: v for k, v in scope["headers"] if k in (b"x-request-id", b"content-length")}
        rid = new_request_id(headers.get(b"x-request-id", b"").decode("latin-1"))
        token = request_id_var.set(rid)
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        started = time.perf_counter()
        status = {"code": 500, "sent": False}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["sent"] = message["status"], True
                out = MutableHeaders(scope=message)
                out["X-Request-ID"] = rid
                add_security_headers(out, scope["path"], message["status"])
                served = state.get("served")
                value = served.header() if served is not None else self.served_header()
                if value:
                    out["X-Model-Versions"] = value
            await send(message)

        try:
            length = headers.get(b"content-length")
            try:
                declared = int(length) if length is not None else 0
            except ValueError:
                await JSONResponse(error_body("bad_request", "Content-Length is not a number"), 400)(
                    scope, receive, send_with_headers)
                return
            if declared > self.max_body_bytes:
                await self._too_large(scope, receive, send_with_headers)
                return
            if scope["method"] in ("POST", "PUT", "PATCH"):
                try:
                    buffered = await self._read_body(receive)
                except _TooLarge:
                    await self._too_large(scope, receive, send_with_headers)
                    return
                receive = _replay(buffered, receive)
            if self.admission is not None and self.admission.draining and not _is_probe(scope["path"]):
                raise OverloadedError("the service is shutting down; retry on another instance",
                                      code="shutting_down", retry_after=2.0)
            with (self.admission.hold_key(key_identity(scope)) if self.admission is not None
                  and not _is_probe(scope["path"]) else nullcontext()):
                await self.app(scope, receive, send_with_headers)
        except ClearanceError as exc:  # refused here, before routing: too many in flight, shutting down
            if status["sent"]:
                raise
            await JSONResponse(exc.to_body(), exc.status, headers=retry_after_header(exc.retry_after))(
                scope, receive, send_with_headers)
        except asyncio.CancelledError:
            # The server cut this request off (graceful-shutdown timeout): answer 503, never 500, when we still can.
            log.warning("request cancelled before it finished (shutdown)")
            if status["sent"]:
                raise
            await JSONResponse(error_body("shutting_down", "the service shut down before this request finished; "
                                          "retry it", None), 503,
                               headers={"Retry-After": "2", "Connection": "close"})(scope, receive, send_with_headers)
        except Exception:
            log.exception("unhandled error")
            if status["sent"]:
                raise
            await internal_error_response()(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED_ROUTE
            self.metrics.observe_request(scope["method"], template, status["code"], elapsed)
            access_log.info("request", extra={
                "request_id": rid, "method": scope["method"], "path": scope["path"], "route": template,
                "status": status["code"],
                "duration_ms": round(elapsed * 1000, 3), "api_key": state.get("api_key_name"),
                "model_versions": (state["served"].header() if state.get("served") is not None else None)})
            request_id_var.reset(token)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = error_body("payload_too_large", f"request body exceeds {self.max_body_bytes} bytes",
                          {"limit_bytes": self.max_body_bytes})
        await JSONResponse(body, 413, headers={"Connection": "close"})(scope, receive, send)


#: Content-Security-Policy per kind of response. Console pages load only their own script and style (inline style
#: attributes only: the confidence bars' widths); /docs loads Swagger UI from its CDN with an inline bootstrap script;
#: everything else is data and may load nothing.
CSP_CONSOLE = ("default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
               "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
CSP_DOCS = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
            "frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
CSP_API = "default-src 'none'; frame-ancestors 'none'"
_PROBES = ("/healthz", "/readyz", "/metrics")


def _is_probe(path: str) -> bool:
    return path in _PROBES


def add_security_headers(headers: MutableHeaders, path: str, status: int) -> None:
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if path.startswith(("/docs", "/redoc")):
        csp = CSP_DOCS
    elif headers.get("content-type", "").startswith("text/html"):
        csp = CSP_CONSOLE
    else:
        csp = CSP_API
    headers.setdefault("Content-Security-Policy", csp)
    if status in (429, 503) and "retry-after" not in headers:
        headers["Retry-After"] = "1"


def key_identity(scope: Scope) -> str | None:
    """Who a request is for the per-key limit, from its headers alone (before auth): the API key's public id, or
    the console session; None for anonymous requests (they are refused by auth, and counted by the rate limiter)."""
    for name, value in scope["headers"]:
        if name == b"x-api-key" or (name == b"authorization" and value[:7].lower() == b"bearer "):
            raw = value.decode("latin-1").removeprefix("Bearer ").removeprefix("bearer ").strip()
            return "key:" + (split_key(raw) or hashlib.sha256(raw.encode()).hexdigest()[:16])
        if name == b"cookie" and b"clearance_session=" in value:
            token = value.split(b"clearance_session=", 1)[1].split(b";", 1)[0]
            return "session:" + hashlib.sha256(token).hexdigest()[:16]
    return None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
