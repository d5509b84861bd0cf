"""Load shedding and shutdown: bounded lanes per kind of work, per-key concurrency, 503 (never 500) for work cut off,
security headers on every response."""

from __future__ import annotations

import asyncio
import threading

import anyio
import pytest

from data.errors import OverloadedError, TooManyRequestsError
from data.settings import Settings
from serving.admission import Admission, kind_of
from serving.metrics import Metrics
from serving.middleware import CSP_API, CSP_CONSOLE, CSP_DOCS, RequestContextMiddleware


def _settings(**kw) -> Settings:
    return Settings(threads=1, **kw)


def test_a_full_lane_sheds_at_once_while_another_lane_still_runs():
    admission = Admission(_settings(batch_slots=1, batch_queue=1))
    release = threading.Event()

    async def scenario():
        async with anyio.create_task_group() as tg:
            tg.start_soon(admission.run, "batch", release.wait, 10)  # running
            tg.start_soon(admission.run, "batch", release.wait, 10)  # waiting (the queue holds one)
            await anyio.sleep(0.2)
            with pytest.raises(OverloadedError) as err:
                await admission.run("batch", lambda: None)
            assert err.value.status == 503 and err.value.retry_after
            # Interactive work has slots of its own: it runs while the batch lane is full.
            assert await admission.run("interactive", lambda: 42) == 42
            release.set()
        assert admission.lanes["batch"].shed == 1

    anyio.run(scenario)


def test_per_key_concurrency_is_bounded():
    admission = Admission(_settings(per_key_concurrency=2))
    with admission.hold_key("key:a"), admission.hold_key("key:a"):
        with pytest.raises(TooManyRequestsError):
            with admission.hold_key("key:a"):
                pass
        with admission.hold_key("key:b"):  # another key is not affected
            pass
    with admission.hold_key("key:a"):  # released
        pass


def test_routes_are_sorted_into_kinds():
    class Route:
        def __init__(self, path, kind=None):
            self.path = path
            if kind:
                self.work_kind = kind

    assert kind_of(Route("/v1/hs/suggest")) == "interactive"
    assert kind_of(Route("/v1/risk/score/batch")) == "batch"
    assert kind_of(Route("/classify", "console")) == "console"


def _call(middleware, path="/v1/hs/suggest", headers=(), method="GET"):
    sent: list[dict] = []

    async def receive():
        await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": list(headers), "query_string": b""}
    return scope, receive, send, sent


def test_a_request_cut_off_by_shutdown_gets_503_not_500():
    started = asyncio.Event()

    async def slow_app(scope, receive, send):
        started.set()
        await asyncio.sleep(3600)

    middleware = RequestContextMiddleware(slow_app, metrics=Metrics(), max_body_bytes=1000, served_header=lambda: None)
    scope, receive, send, sent = _call(middleware)

    async def scenario():
        task = asyncio.ensure_future(middleware(scope, receive, send))
        await started.wait()
        task.cancel()  # what uvicorn does when timeout_graceful_shutdown runs out
        await task

    asyncio.run(scenario())
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = dict(start["headers"])
    assert start["status"] == 503 and headers[b"retry-after"] == b"2"


def test_while_draining_new_requests_get_503_and_probes_still_answer():
    async def ok_app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})

    admission = Admission(_settings())
    admission.draining = True
    middleware = RequestContextMiddleware(ok_app, metrics=Metrics(), max_body_bytes=1000, served_header=lambda: None,
                                          admission=admission)
    for path, expected in (("/v1/hs/suggest", 503), ("/healthz", 200)):
        scope, receive, send, sent = _call(middleware, path)
        asyncio.run(middleware(scope, receive, send))
        assert sent[0]["status"] == expected


@pytest.mark.parametrize("path,content_type,csp", [
    ("/v1/hs/suggest", b"application/json", CSP_API), ("/classify", b"text/html; charset=utf-8", CSP_CONSOLE),
    ("/docs", b"text/html; charset=utf-8", CSP_DOCS)])
def test_every_response_has_the_security_headers(path, content_type, csp):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", content_type)]})
        await send({"type": "http.response.body", "body": b""})

    middleware = RequestContextMiddleware(app, metrics=Metrics(), max_body_bytes=1000, served_header=lambda: None)
    scope, receive, send, sent = _call(middleware, path)
    asyncio.run(middleware(scope, receive, send))
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "same-origin"
    assert headers["content-security-policy"] == csp and headers["x-frame-options"] == "DENY"
    if csp == CSP_CONSOLE:  # a real policy: no inline script, no foreign origin
        assert "script-src 'self';" in csp and "https:" not in csp


def test_the_app_answers_head_on_probes_and_headers_on_errors(client):
    assert client.head("/healthz").status_code == 200
    r = client.get("/v1/models")  # 401: error responses carry the headers too
    assert r.status_code == 401 and r.headers["x-content-type-options"] == "nosniff"
    assert client.get("/docs").headers["content-security-policy"] == CSP_DOCS


def test_an_unreadable_body_on_a_single_item_route_says_where(client, keys):
    r = client.post("/v1/risk/score", content=b"\xff\xfe{", headers={**keys["score"], "content-type": "application/json"})
    assert r.status_code in (400, 422)
    assert r.json()["error"]["details"][0]["field"] == "body"
