"""Authentication failures: counted in /metrics, audited, locked out per client address and per key prefix (429 +
Retry-After); the audit log is shown to admin keys."""

from __future__ import annotations

import re

from data.settings import InputLimits
from data.store.audit import list_events
from data.store.keys import create_key, revoke_key
from serving.ratelimit import AuthLimiter
from tests.serving.conftest import make_key, wait_ready

SUGGEST = {"text": "vacuum flask"}


class _Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_wrong_keys_from_one_address_are_locked_out_with_retry_after(make_app):
    app = make_app(auth_failures_per_client=5, auth_failures_per_key=100, lockout_s=60)
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        good = make_key(app, "suggest", name="good")
        codes = [client.post("/v1/hs/suggest", json=SUGGEST, headers={"X-API-Key": f"clr_k{i}_wrong"}).status_code
                 for i in range(8)]
        assert codes == [401] * 5 + [429] * 3  # the 5th failure locks out; it is still answered 401
        locked = client.post("/v1/hs/suggest", json=SUGGEST, headers={"X-API-Key": good})
        assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
        assert locked.json()["error"]["code"] == "auth_locked_out"
        metrics = client.get("/metrics").text
        failures = sum(float(v) for v in re.findall(r'clearance_auth_failures_total\{door="api",reason="unknown"\} (\S+)',
                                                    metrics))
        assert failures == 5
        events = [e.event for e in list_events(app.state.engine)]
        assert events.count("auth_failed") == 4 and events.count("lockout") == 1


def test_a_key_prefix_is_locked_out_whatever_the_address():
    clock = _Clock()
    limiter = AuthLimiter(InputLimits(auth_failures_per_client=100, auth_failures_per_key=3, lockout_s=30,
                                      auth_window_s=10), None, None, clock=clock)
    for i in range(3):
        limiter.failed(f"10.0.0.{i}", "abc", door="api", reason="unknown")
    try:
        limiter.check("10.9.9.9", "abc")
        raise AssertionError("not locked out")
    except Exception as exc:
        assert getattr(exc, "status", None) == 429 and 0 < exc.retry_after <= 30
    limiter.check("10.9.9.9", "other")  # another key from anywhere is fine
    clock.now += 31
    limiter.check("10.9.9.9", "abc")  # the lockout ends


def test_failures_outside_the_window_do_not_add_up():
    clock = _Clock()
    limiter = AuthLimiter(InputLimits(auth_failures_per_client=3, auth_window_s=10), None, None, clock=clock)
    for _ in range(5):
        limiter.failed("10.0.0.1", None, door="api", reason="missing")
        clock.now += 11
    limiter.check("10.0.0.1", None)


def test_console_sign_in_failures_are_limited_too(make_app):
    from fastapi.testclient import TestClient

    app = make_app(auth_failures_per_client=3, lockout_s=60)
    with TestClient(app) as client:
        statuses = []
        for _ in range(5):
            form = client.get("/signin")
            token = re.search(r'name="signin_token" value="([^"]+)"', form.text).group(1)
            statuses.append(client.post("/signin", data={"api_key": "clr_x_wrong", "signin_token": token}).status_code)
        assert statuses[:2] == [401, 401] and statuses[-1] == 429


def test_security_events_are_audited_and_shown_to_admin_keys_only(make_app):
    from fastapi.testclient import TestClient

    app = make_app()
    with TestClient(app) as client:
        wait_ready(client)
        admin = make_key(app, "admin", name="ops")
        suggest = make_key(app, "suggest", name="bot")
        _, victim = create_key(app.state.engine, "victim", ["score"])
        revoke_key(app.state.engine, "victim")
        assert client.post("/v1/admin/reload", headers={"X-API-Key": admin}).status_code == 200
        assert client.get("/v1/admin/audit", headers={"X-API-Key": suggest}).status_code == 403
        body = client.get("/v1/admin/audit", headers={"X-API-Key": admin}).json()
        events = {e["event"] for e in body["events"]}
        assert {"key_created", "key_revoked", "admin_reload"} <= events
        reload = next(e for e in body["events"] if e["event"] == "admin_reload")
        assert reload["actor"] == "ops" and reload["outcome"] == "ok"
        only = client.get("/v1/admin/audit", params={"event": "key_revoked"}, headers={"X-API-Key": admin}).json()
        assert [e["actor"] for e in only["events"]] == ["victim"]
        assert victim not in str(body)  # never a key, only its public prefix
