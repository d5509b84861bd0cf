"""``/v1/hs/*``: happy paths, field-path errors, limits, batches that keep their valid items."""

from __future__ import annotations

import pytest

from tests.serving.fakes import DELAY, HS, RISK

VERSIONS = {DELAY: 1, HS: 1, RISK: 1}
HEADER = f"{DELAY}=1,{HS}=1,{RISK}=1"


def test_suggest_hands_the_request_to_the_served_suggester_and_stamps_the_registry_version(client, keys):
    payload = {"text": "不锈钢真空保温杯 500ml", "declared_elements": {"材质": "不锈钢"}, "top_k": 3}
    r = client.post("/v1/hs/suggest", json=payload, headers=keys["suggest"])
    assert r.status_code == 200, r.text
    body = r.json()
    suggester = client.app.state.holder.current().suggester
    assert suggester.calls == [("不锈钢真空保温杯 500ml", {"材质": "不锈钢"}, 3)]
    assert len(body["candidates"]) == 3  # top_k reached the suggester
    assert body["query"]["declared_elements"] == {"材质": "不锈钢"}
    # the answer names the registry version that answered, not the version string the bundle carries
    assert suggester.tag != "1" and body["model"]["version"] == "1"
    assert body["model_versions"] == VERSIONS
    assert r.headers["X-Model-Versions"] == HEADER
    assert r.headers["X-Request-ID"]


def test_suggest_errors_name_the_field(client, keys):
    cases = [({"text": ""}, "body.text"), ({"text": "   "}, "body.text"), ({"text": "cup", "top_k": 0}, "body.top_k"),
             ({"txt": "cup"}, "body.text"),
             ({"text": "cup", "declared_elements": {"a": 1}}, "body.declared_elements.a"),
             ({"text": "cup", "colour": "red"}, "body.colour")]
    for payload, field in cases:
        r = client.post("/v1/hs/suggest", json=payload, headers=keys["suggest"])
        assert r.status_code == 422, (payload, r.text)
        error = r.json()["error"]
        assert error["code"] == "invalid_input"
        assert field in [d["field"] for d in error["details"]], (payload, error)


def test_suggest_rejects_malformed_json(client, keys):
    r = client.post("/v1/hs/suggest", content=b'{"text": "cup"', headers={**keys["suggest"],
                                                                         "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input"
    detail = r.json()["error"]["details"][0]
    assert detail["field"] == "body" and detail["type"] == "json_invalid" and "character" in detail["reason"]


def _details(response) -> list[dict]:
    assert response.status_code == 422, response.text
    return response.json()["error"]["details"]


def test_text_and_element_limits_come_from_the_settings(make_app):
    from fastapi.testclient import TestClient

    from tests.serving.conftest import wait_ready

    limits = {"max_text_chars": 20, "max_elements": 2, "max_element_key_chars": 4, "max_element_value_chars": 10}
    with TestClient(make_app(auth_disabled=True, **limits)) as c:
        wait_ready(c)
        detail = _details(c.post("/v1/hs/suggest", json={"text": "x" * 21}))[0]
        assert detail["field"] == "body.text" and detail["type"] == "string_too_long"
        assert "21" in detail["reason"] and "20" in detail["reason"]
        detail = _details(c.post("/v1/hs/suggest", json={"text": "cup", "declared_elements": {"材质": "y" * 11}}))[0]
        assert detail["field"] == "body.declared_elements.材质" and "10" in detail["reason"]
        detail = _details(c.post("/v1/hs/suggest", json={"text": "cup", "declared_elements": {"品牌名称型号": "a"}}))[0]
        assert detail["field"].startswith("body.declared_elements.品牌名称型号") and "4" in detail["reason"]
        detail = _details(c.post("/v1/hs/suggest", json={"text": "cup",
                                                         "declared_elements": {"a": "1", "b": "2", "c": "3"}}))[0]
        assert detail["field"] == "body.declared_elements" and "3" in detail["reason"] and "2" in detail["reason"]
        assert _details(c.post("/v1/hs/validate", json={"text": "x" * 21, "declared_code": "961700"}))[0]["field"] \
            == "body.text"
        ok = {"text": "x" * 20, "declared_elements": {"材质": "y" * 10, "用途": "z"}}
        assert c.post("/v1/hs/suggest", json=ok).status_code == 200
        assert c.post("/v1/hs/validate", json={**ok, "declared_code": "961700"}).status_code == 200


@pytest.mark.parametrize("max_text_chars", [1500, 3000])
def test_one_long_item_is_one_item_error_below_and_above_2000(make_app, max_text_chars):
    """The limit is the setting's, on either side of the 2,000 that bundles used to freeze in."""
    from fastapi.testclient import TestClient

    from tests.serving.conftest import wait_ready

    fits, too_long = "保" * max_text_chars, "保" * (max_text_chars + 1)
    with TestClient(make_app(auth_disabled=True, max_text_chars=max_text_chars)) as c:
        wait_ready(c)
        r = c.post("/v1/hs/suggest/batch", json={"items": [{"text": fits}, {"text": too_long}, {"text": "cup"}]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert [res is None for res in body["results"]] == [False, True, False]
        assert [(e["index"], e["field"], e["type"]) for e in body["errors"]] == [
            (1, "body.items.1.text", "string_too_long")]
        assert str(max_text_chars) in body["errors"][0]["reason"]
        assert c.post("/v1/hs/suggest", json={"text": fits}).status_code == 200
        assert _details(c.post("/v1/hs/suggest", json={"text": too_long}))[0]["field"] == "body.text"


@pytest.fixture(scope="module")
def real_suggester():
    """A real suggester (tiny demo library): it must answer every text the settings admit, however long."""
    from demo.rulings import generate_demo_rulings
    from models.encoders import load_encoder
    from training.hs import build_suggester

    return build_suggester(generate_demo_rulings(80, seed=4), encoder=load_encoder("use", threads=2), progress=False)


@pytest.mark.slow
def test_a_real_suggester_behind_a_limit_above_2000(make_app, real_suggester, monkeypatch):
    from fastapi.testclient import TestClient

    from tests.serving import fakes
    from tests.serving.conftest import wait_ready

    compose = fakes.compose_fakes
    monkeypatch.setattr(fakes, "compose_fakes", lambda natives: (real_suggester, compose(natives)[1]))
    long_ok = "不锈钢真空保温杯 500ml " * 180  # 2,700 characters
    with TestClient(make_app(auth_disabled=True, max_text_chars=3000)) as c:
        wait_ready(c)
        r = c.post("/v1/hs/suggest/batch", json={"items": [{"text": long_ok}, {"text": "x" * 3001},
                                                           {"text": "LED desk lamp"}]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["results"][0]["candidates"] and body["results"][2]["candidates"] and body["results"][1] is None
        assert [e["field"] for e in body["errors"]] == ["body.items.1.text"]
        assert c.post("/v1/hs/suggest", json={"text": long_ok}).json()["candidates"]


def test_batch_keeps_valid_items_and_reports_bad_ones_by_index(client, keys):
    r = client.post("/v1/hs/suggest/batch", json={"items": [{"text": "vacuum flask"}, {"text": ""},
                                                            {"text": "cup", "extra": 1}, {"text": "mug"}],
                                                  "top_k": 2}, headers=keys["suggest"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert [res is None for res in body["results"]] == [False, True, True, False]
    assert body["results"][0]["query"]["text"] == "vacuum flask" and body["results"][3]["query"]["text"] == "mug"
    assert {(e["index"], e["field"]) for e in body["errors"]} == {(1, "body.items.1.text"),
                                                                  (2, "body.items.2.extra")}
    assert body["model_versions"] == VERSIONS


def test_batch_limits_and_envelope_errors(make_app):
    from fastapi.testclient import TestClient

    from tests.serving.conftest import wait_ready

    with TestClient(make_app(auth_disabled=True, max_suggest_batch=3)) as c:
        wait_ready(c)
        r = c.post("/v1/hs/suggest/batch", json={"items": [{"text": "a"}] * 4})
        assert r.status_code == 422
        assert r.json()["error"]["details"] == [{"field": "body.items", "reason": "at most 3 items per request"}]
        r = c.post("/v1/hs/suggest/batch", json={"items": []})
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "body.items"
        r = c.post("/v1/hs/suggest/batch", json={"items": [{"text": "a"}], "top_k": 99})
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "body.top_k"
        r = c.post("/v1/hs/suggest/batch", content=b"[1, 2]", headers={"Content-Type": "application/json"})
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "body"
        assert c.post("/v1/hs/suggest/batch", json={"items": [{"text": "a"}] * 3}).status_code == 200


def test_validate_returns_agreement_confidence_and_alternatives(client, keys):
    r = client.post("/v1/hs/validate", json={"text": "vacuum flask", "declared_code": "9617.00"},
                    headers=keys["suggest"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["agreement"] == {"hs6": True, "hs4": True} and body["declared_code"] == "9617.00"
    assert body["alternatives"] and body["model_versions"] == VERSIONS
    r = client.post("/v1/hs/validate", json={"text": "vacuum flask"}, headers=keys["suggest"])
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "body.declared_code"


OWN_ROUTES = {"/v1/hs/suggest", "/v1/hs/suggest/batch", "/v1/hs/validate", "/v1/shipments/check", "/v1/risk/score",
              "/v1/risk/score/batch", "/v1/models", "/v1/admin/reload"}


def test_openapi_has_examples_for_every_route(client):
    spec = client.get("/openapi.json").json()
    missing = []
    for path, methods in spec["paths"].items():
        if path not in OWN_ROUTES:
            continue
        for method, op in methods.items():
            if method == "post" and "requestBody" in op:
                content = op["requestBody"]["content"].get("application/json", {})
                schema = content.get("schema", {})
                ref = schema.get("$ref", "").rsplit("/", 1)[-1]
                has = bool(content.get("examples") or content.get("example")
                           or spec["components"]["schemas"].get(ref, {}).get("examples"))
                if not has:
                    missing.append(f"{method} {path} request")
            response = op["responses"]["200"]["content"]["application/json"]
            ref = response.get("schema", {}).get("$ref", "").rsplit("/", 1)[-1]
            if not (response.get("example") or response.get("examples")
                    or spec["components"]["schemas"].get(ref, {}).get("examples")):
                missing.append(f"{method} {path} response")
    assert not missing, missing
    assert OWN_ROUTES <= set(spec["paths"])
    assert "SuggestBatchRequest" in spec["components"]["schemas"]
    assert "ScoreBatchRequest" in spec["components"]["schemas"]
    refs = set()

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.add(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    dangling = {r for r in refs if r.rsplit("/", 1)[-1] not in spec["components"]["schemas"]}
    assert not dangling, dangling
    assert {"HTTPBearer", "APIKeyHeader"} <= set(spec["components"]["securitySchemes"])
