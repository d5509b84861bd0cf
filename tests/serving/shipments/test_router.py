"""``/v1/shipments/check`` and ``/v1/risk/score[/batch]``: findings, scores, field paths, per-item batch errors."""

from __future__ import annotations

import copy

from serving.shipments.examples import SHIPMENT_EXAMPLE
from tests.serving.fakes import DELAY, HS, RISK

VERSIONS = {DELAY: 1, HS: 1, RISK: 1}


def _shipment(**changes):
    doc = copy.deepcopy(SHIPMENT_EXAMPLE)
    doc.update(changes)
    return doc


def test_check_clean_shipment_has_no_findings(client, keys):
    r = client.post("/v1/shipments/check", json=SHIPMENT_EXAMPLE, headers=keys["score"])
    assert r.status_code == 200, r.text
    body = r.json()
    lines, edition = body.pop("lines"), body.pop("edition")
    assert body == {"shipment_id": "SHP-2026-000123", "schema_valid": True, "findings": [],
                    "counts": {"error": 0, "warning": 0, "info": 0}, "model_versions": VERSIONS}
    # every line code is listed; no facts or correlation imported in this store
    assert lines and all(line["tariff"] is None and line["transition"] is None for line in lines)
    assert edition == {"nomenclature": "HS2022", "tariff": None}


def test_check_reports_data_quality_and_three_document_findings(client, keys):
    doc = _shipment()
    doc["waybill"]["consignee_name"] = "Somebody Else Trading Co"
    doc["declaration"]["lines"][0]["quantity"] = 1000
    r = client.post("/v1/shipments/check", json=doc, headers=keys["score"])
    assert r.status_code == 200, r.text
    findings = r.json()["findings"]
    fields = {f for finding in findings for f in finding["fields"]}
    assert "waybill.consignee_name" in fields and any("quantity" in f for f in fields)
    assert all(f["message_en"] and f["message_zh"] for f in findings)


def test_check_turns_schema_errors_into_findings_with_paths(client, keys):
    doc = _shipment()
    doc["waybill"]["channel"] = "teleport"
    del doc["order"]["consignee"]["country"]
    r = client.post("/v1/shipments/check", json=doc, headers=keys["score"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["schema_valid"] is False and body["counts"]["error"] == 2
    assert {f["fields"][0] for f in body["findings"]} == {"waybill.channel", "order.consignee.country"}
    assert all(f["category"] == "schema" and f["severity"] == "error" for f in body["findings"])
    r = client.post("/v1/shipments/check", json=[1, 2], headers=keys["score"])
    assert r.status_code == 422


def test_score_hands_the_validated_shipment_and_route_options_to_the_served_scorer(client, keys):
    r = client.post("/v1/risk/score", json={"shipment": SHIPMENT_EXAMPLE, "explain": False,
                                            "route_options": [{"channel": "air", "destination_port": "uslax"}]},
                    headers=keys["score"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["shipment_id"] == "SHP-2026-000123"
    [(shipment_id, explain, options)] = client.app.state.holder.current().scorer.calls
    assert (shipment_id, explain) == ("SHP-2026-000123", False)
    # validated once, by the schema: the port is normalised before the model sees it
    assert [o.model_dump(exclude_none=True) for o in options] == [{"channel": "air", "destination_port": "USLAX"}]
    assert body["model_versions"] == VERSIONS
    assert r.headers["X-Model-Versions"] == f"{DELAY}=1,{HS}=1,{RISK}=1"


def test_score_errors_name_nested_fields(client, keys):
    doc = _shipment()
    doc["waybill"]["channel"] = "teleport"
    doc["order"]["lines"][0]["quantity"] = -5
    r = client.post("/v1/risk/score", json={"shipment": doc}, headers=keys["score"])
    assert r.status_code == 422
    fields = {d["field"] for d in r.json()["error"]["details"]}
    assert {"body.shipment.waybill.channel", "body.shipment.order.lines.0.quantity"} <= fields
    r = client.post("/v1/risk/score", json={"shipment": SHIPMENT_EXAMPLE, "route_options": [{}]},
                    headers=keys["score"])
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "body.route_options.0"
    r = client.post("/v1/risk/score", json={"shipment": SHIPMENT_EXAMPLE, "route_options": [
        {"channel": "air"}, {"channel": "teleport", "destination_port": "ZZABC"}, {"vessel": "X"}]}, headers=keys["score"])
    assert r.status_code == 422
    assert [d["field"] for d in r.json()["error"]["details"]] == [
        "body.route_options.1.channel", "body.route_options.1.destination_port", "body.route_options.2.vessel"]


def test_score_batch_scores_the_valid_and_reports_the_invalid(client, keys):
    bad = _shipment(shipment_id="BAD-1")
    bad["declaration"]["currency"] = "ZZZ"
    good2 = _shipment(shipment_id="SHP-2")
    r = client.post("/v1/risk/score/batch", json={"shipments": [SHIPMENT_EXAMPLE, bad, good2]},
                    headers=keys["score"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x and x["shipment_id"] for x in body["results"]] == ["SHP-2026-000123", None, "SHP-2"]
    assert body["errors"] == [{"index": 1, "field": "body.shipments.1.declaration.currency",
                               "reason": body["errors"][0]["reason"], "type": body["errors"][0]["type"]}]
    assert "ZZZ" in body["errors"][0]["reason"]
    assert body["model_versions"] == VERSIONS


def test_score_batch_limit(make_app):
    from fastapi.testclient import TestClient

    from tests.serving.conftest import wait_ready

    with TestClient(make_app(auth_disabled=True, max_score_batch=2)) as c:
        wait_ready(c)
        r = c.post("/v1/risk/score/batch", json={"shipments": [SHIPMENT_EXAMPLE] * 3})
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "body.shipments"
        r = c.post("/v1/risk/score/batch", json={"shipments": [SHIPMENT_EXAMPLE], "explain": "maybe"})
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "body.explain"


def _ndjson(*docs) -> bytes:
    import json

    return "\n".join(d if isinstance(d, str) else json.dumps(d) for d in docs).encode()


NDJSON = {"Content-Type": "application/x-ndjson"}


def test_score_batch_ndjson_one_shipment_per_line_bad_line_costs_only_itself(client, keys):
    bad = _shipment(shipment_id="BAD-1")
    bad["declaration"]["currency"] = "ZZZ"
    body = _ndjson(SHIPMENT_EXAMPLE, "", '{"shipment_id": "TRUNC', bad, "   ", _shipment(shipment_id="SHP-2")) + b"\n"
    r = client.post("/v1/risk/score/batch", content=body, headers={**keys["score"], **NDJSON})
    assert r.status_code == 200, r.text
    out = r.json()
    # blank lines are not items: 4 shipments, indexes count them
    assert [x and x["shipment_id"] for x in out["results"]] == ["SHP-2026-000123", None, None, "SHP-2"]
    by_index = {}
    for e in out["errors"]:
        by_index.setdefault(e["index"], []).append(e)
    assert set(by_index) == {1, 2}
    assert [e["field"] for e in by_index[1]] == ["body.shipments.1"] and "json" in by_index[1][0]["reason"].lower()
    assert [e["field"] for e in by_index[2]] == ["body.shipments.2.declaration.currency"]
    assert "ZZZ" in by_index[2][0]["reason"]
    assert out["model_versions"] == VERSIONS


def test_score_batch_ndjson_options_and_limits(make_app):
    from fastapi.testclient import TestClient

    from tests.serving.conftest import wait_ready

    with TestClient(make_app(auth_disabled=True, max_score_batch=2)) as c:
        wait_ready(c)
        r = c.post("/v1/risk/score/batch?explain=true", content=_ndjson(SHIPMENT_EXAMPLE) + b"\r\n", headers=NDJSON)
        assert r.status_code == 200 and r.json()["results"][0]["shipment_id"] == "SHP-2026-000123"
        r = c.post("/v1/risk/score/batch", content=_ndjson(*[SHIPMENT_EXAMPLE] * 3), headers=NDJSON)
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "body"
        assert "at most 2" in r.json()["error"]["details"][0]["reason"]
        r = c.post("/v1/risk/score/batch", content=b"\n \n", headers={"Content-Type": "application/x-ndjson; a=b"})
        assert r.status_code == 422 and r.json()["error"]["details"][0]["reason"] == "give at least one item"
        r = c.post("/v1/risk/score/batch?explain=maybe", content=_ndjson(SHIPMENT_EXAMPLE), headers=NDJSON)
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "query.explain"
        # a JSON body carries its own options: a query option would be ignored, so it is refused
        r = c.post("/v1/risk/score/batch?explain=true", json={"shipments": [SHIPMENT_EXAMPLE]})
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "query.explain"
        body = c.get("/openapi.json").json()["paths"]["/v1/risk/score/batch"]["post"]
        assert {"application/json", "application/x-ndjson"} <= set(body["requestBody"]["content"])
        assert "x-ndjson" in body["description"]
