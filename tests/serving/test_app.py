"""Cross-cutting behaviour: auth and scopes, error bodies, 413, readiness, /v1/models, metrics, request ids, logs."""

from __future__ import annotations

import json
import logging
import threading

from fastapi.testclient import TestClient

from data.store.keys import revoke_key
from serving.logging import JsonFormatter
from tests.serving.conftest import fake_holder, make_key, wait_ready
from tests.serving.fakes import DELAY, HS, RISK
from training.registry_client import ChampionRef, MlflowRegistrySource

SUGGEST = {"text": "vacuum flask"}


def test_auth_401_without_or_with_unknown_key_and_403_for_wrong_scope(client, keys):
    r = client.post("/v1/hs/suggest", json=SUGGEST)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    r = client.post("/v1/hs/suggest", json=SUGGEST, headers={"X-API-Key": "clr_nope_nope"})
    assert r.status_code == 401
    r = client.post("/v1/hs/suggest", json=SUGGEST, headers={"Authorization": "Bearer not-even-our-format"})
    assert r.status_code == 401
    r = client.post("/v1/hs/suggest", json=SUGGEST, headers=keys["score"])
    assert r.status_code == 403 and r.json()["error"]["details"] == {"required": "suggest", "granted": ["score"]}
    assert client.post("/v1/risk/score", json={}, headers=keys["suggest"]).status_code == 403
    assert client.post("/v1/admin/reload", headers=keys["score"]).status_code == 403
    assert client.post("/v1/hs/suggest", json=SUGGEST, headers=keys["suggest"]).status_code == 200
    assert client.post("/v1/hs/suggest", json=SUGGEST, headers=keys["all"]).status_code == 200  # X-API-Key
    assert client.get("/v1/models", headers=keys["score"]).status_code == 200  # any valid key reads /v1/models
    assert client.get("/v1/models").status_code == 401


def test_auth_comes_before_body_validation(client):
    assert client.post("/v1/hs/suggest", json={"text": ""}).status_code == 401


def test_revoked_key_is_refused(client):
    key = make_key(client.app, "suggest", name="to-revoke")
    headers = {"X-API-Key": key}
    assert client.post("/v1/hs/suggest", json=SUGGEST, headers=headers).status_code == 200
    revoke_key(client.app.state.engine, "to-revoke")
    client.app.state.authenticator.invalidate()  # the few-second verification cache
    assert client.post("/v1/hs/suggest", json=SUGGEST, headers=headers).status_code == 401


def test_a_tampered_key_with_a_real_id_is_refused(client):
    key = make_key(client.app, "suggest", name="real")
    tampered = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert client.post("/v1/hs/suggest", json=SUGGEST, headers={"X-API-Key": tampered}).status_code == 401


def test_keys_are_stored_hashed(client):
    from sqlalchemy import text

    key = make_key(client.app, "score", name="hashed")
    with client.app.state.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text("select * from api_keys"))]
    assert rows and not any(key in str(cell) for row in rows for cell in row)


def test_auth_disabled_setting_admits_requests_without_a_key(make_app):
    with TestClient(make_app(auth_disabled=True)) as c:
        wait_ready(c)
        assert c.post("/v1/hs/suggest", json=SUGGEST).status_code == 200
        assert c.post("/v1/admin/reload").status_code == 200


def test_413_for_bodies_over_the_limit_declared_or_streamed(make_app):
    with TestClient(make_app(auth_disabled=True, max_request_bytes=1000)) as c:
        wait_ready(c)
        r = c.post("/v1/hs/suggest", json={"text": "x" * 2000})
        assert r.status_code == 413
        assert r.json()["error"] == {"code": "payload_too_large", "message": "request body exceeds 1000 bytes",
                                     "details": {"limit_bytes": 1000}}

        def chunks():  # no Content-Length: the limit must hold on the streamed size
            for _ in range(5):
                yield b"x" * 300

        r = c.post("/v1/hs/suggest", content=chunks(), headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and "Content-Length" not in r.request.headers
        assert c.post("/v1/hs/suggest", json={"text": "x" * 500}).status_code == 200


def test_unknown_route_and_wrong_method_use_the_error_body(client, keys):
    r = client.get("/v1/nothing-here", headers=keys["all"])
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.get("/v1/hs/suggest", headers=keys["all"])
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_internal_errors_leak_no_trace_or_path(client, keys, caplog):
    with caplog.at_level(logging.ERROR, logger="clearance"):
        r = client.post("/v1/hs/suggest", json={"text": "boom"}, headers={**keys["suggest"], "X-Request-ID": "rid-42"})
    assert r.status_code == 500
    body = r.json()
    assert body == {"error": {"code": "internal_error", "message": body["error"]["message"],
                              "details": {"request_id": "rid-42"}}}
    text = r.text
    assert "Traceback" not in text and "/secret" not in text and ".py" not in text and "exploded" not in text
    assert r.headers["X-Request-ID"] == "rid-42"
    assert any(rec.exc_info for rec in caplog.records)  # the trace is in the server log instead


def test_request_id_is_generated_or_echoed_and_sanitised(client):
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert len(generated) == 32
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    assert client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"}).headers["X-Request-ID"] != \
        "bad id\twith spaces"


def test_access_log_is_json_with_the_request_id(client, keys, caplog):
    with caplog.at_level(logging.INFO, logger="clearance.access"):
        r = client.post("/v1/hs/suggest", json=SUGGEST, headers={**keys["suggest"], "X-Request-ID": "trace-7"})
    records = [rec for rec in caplog.records if rec.name == "clearance.access"]
    assert records
    line = json.loads(JsonFormatter().format(records[-1]))
    assert line["request_id"] == "trace-7" == r.headers["X-Request-ID"]
    assert line["route"] == "/v1/hs/suggest" and line["status"] == 200 and line["duration_ms"] >= 0
    assert line["model_versions"] == f"{DELAY}=1,{HS}=1,{RISK}=1"


def test_models_route_lists_versions_run_ids_metrics_and_served_since(client, keys):
    r = client.get("/v1/models", headers=keys["all"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready" and body["stale"] is False and body["source"] == "registry"
    assert {m["name"]: m["version"] for m in body["models"]} == {DELAY: 1, HS: 1, RISK: 1}
    for m in body["models"]:
        assert m["run_id"] and m["metrics"] == {"score": 1.0} and m["served_since"] and m["source"] == "registry"
    assert body["model_versions"] == {DELAY: 1, HS: 1, RISK: 1}


def test_metrics_expose_requests_versions_and_risk_levels(client, keys):
    from serving.shipments.examples import SHIPMENT_EXAMPLE

    client.post("/v1/hs/suggest", json=SUGGEST, headers=keys["suggest"])
    client.post("/v1/risk/score", json={"shipment": SHIPMENT_EXAMPLE}, headers=keys["score"])
    client.get("/v1/does-not-exist/12345")
    text = client.get("/metrics").text
    assert 'clearance_http_requests_total{method="POST",route="/v1/hs/suggest",status="200"} 1.0' in text
    assert ('clearance_http_request_duration_seconds_count{method="POST",route="/v1/risk/score",status="200"} 1.0'
            in text)
    assert 'route="<unmatched>"' in text and "12345" not in text
    assert f'clearance_model_info{{model="{RISK}",source="registry",version="1"}} 1.0' in text
    assert f'clearance_model_version{{model="{HS}"}} 1.0' in text
    assert 'clearance_predicted_risk_level_total{level="low"} 1.0' in text


class _BlockingSource(MlflowRegistrySource):
    """The real registry, but ``resolve`` waits until the test lets it go."""

    def __init__(self, settings, gate: threading.Event):
        super().__init__(settings)
        self.gate = gate

    def resolve(self, name: str) -> ChampionRef:
        assert self.gate.wait(30)
        return super().resolve(name)


def test_readyz_is_503_until_the_champions_are_loaded(registry_settings):
    from serving.app import create_app

    gate = threading.Event()
    holder = fake_holder(registry_settings, source=_BlockingSource(registry_settings, gate))
    app = create_app(registry_settings.model_copy(update={"auth_disabled": True}), holder=holder, poll=False)
    with TestClient(app) as c:
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json()["error"]["details"]["status"] == "loading"
        assert c.get("/healthz").status_code == 200
        r = c.post("/v1/hs/suggest", json=SUGGEST)
        assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable"
        gate.set()
        ready = wait_ready(c)
        assert ready["status"] == "ready" and ready["model_versions"] == {DELAY: 1, HS: 1, RISK: 1}


def test_offline_start_serves_cached_versions_and_says_stale(make_app, registry_settings, tmp_path):
    with TestClient(make_app(auth_disabled=True)) as c:  # first start fills the cache
        wait_ready(c)
    offline = registry_settings.model_copy(update={"mlflow_tracking_uri": f"sqlite:///{tmp_path}/missing/mlflow.db",
                                                   "auth_disabled": True})
    with TestClient(make_app(offline)) as c:
        ready = wait_ready(c)
        assert ready["status"] == "stale" and ready["source"] == "cache" and "not found" in ready["error"]
        models = c.get("/v1/models").json()
        assert models["status"] == "stale" and models["stale"] is True
        assert all(m["source"] == "cache" for m in models["models"])
        r = c.post("/v1/hs/suggest", json=SUGGEST)
        assert r.status_code == 200 and r.json()["model_versions"] == {DELAY: 1, HS: 1, RISK: 1}
        r = c.post("/v1/admin/reload")
        assert r.status_code == 503 and r.json()["error"]["code"] == "registry_unavailable"
        assert "clearance_models_stale 1.0" in c.get("/metrics").text
