"""``POST /v1/shipments/outcomes``: good items stored, bad ones named by index and field, re-sends applied once;
scored shipments kept in the store with their predictions."""

from __future__ import annotations

from data.store.outcomes import ShipmentStore
from serving.shipments.examples import SHIPMENT_EXAMPLE

GOOD = {"shipment_id": "SHP-2026-000123", "declared_at": "2026-03-02T09:30:00+08:00",
        "released_at": "2026-03-03T16:30:00+08:00", "inspected": True, "result": "released", "first_pass": True,
        "costs": {"inspection_fees": 120.0, "declaration_cost": 35.0}}


def test_outcomes_stores_the_good_and_names_each_bad_field(client, keys):
    bad = {**GOOD, "shipment_id": "SHP-2", "result": "lost", "costs": {"demurrage": -1}}
    r = client.post("/v1/shipments/outcomes", json={"outcomes": [GOOD, bad]}, headers=keys["score"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["received"] == 2
    assert body["stored"] == {"inserted": 1, "updated": 0, "unchanged": 0, "duplicates": 0}
    assert {(e["index"], e["field"]) for e in body["errors"]} == {(1, "body.outcomes.1.result"),
                                                                  (1, "body.outcomes.1.costs.demurrage")}
    stored = ShipmentStore(client.app.state.engine).outcome("SHP-2026-000123")
    assert stored.delay_hours == 31.0 and stored.inspected and stored.source == "api"
    assert stored.costs == {"inspection_fees": 120.0, "declaration_cost": 35.0}
    assert ShipmentStore(client.app.state.engine).outcome("SHP-2") is None


def test_outcomes_resend_applies_once_and_a_change_replaces(client, keys):
    post = lambda items: client.post("/v1/shipments/outcomes", json={"outcomes": items},  # noqa: E731
                                     headers=keys["score"]).json()["stored"]
    assert post([GOOD])["inserted"] == 1
    assert post([GOOD]) == {"inserted": 0, "updated": 0, "unchanged": 1, "duplicates": 0}
    held = {**GOOD, "result": "held", "released_at": None, "delay_hours": 80.0}
    assert post([GOOD, held]) == {"inserted": 0, "updated": 1, "unchanged": 0, "duplicates": 1}
    stored = ShipmentStore(client.app.state.engine).outcome(GOOD["shipment_id"])
    assert (stored.result, stored.delay_hours, stored.released_at) == ("held", 80.0, None)
    assert ShipmentStore(client.app.state.engine).count()["outcomes"] == 1


def test_outcomes_needs_the_score_scope_and_a_list(client, keys):
    assert client.post("/v1/shipments/outcomes", json={"outcomes": [GOOD]},
                       headers=keys["suggest"]).status_code == 403
    r = client.post("/v1/shipments/outcomes", json={"outcome": GOOD}, headers=keys["score"])
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "body.outcomes"


def test_outcomes_batch_limit(make_app):
    from fastapi.testclient import TestClient

    from tests.serving.conftest import make_key, wait_ready

    app = make_app(max_outcome_batch=1)
    with TestClient(app) as c:
        wait_ready(c)
        headers = {"X-API-Key": make_key(app, "score")}
        r = c.post("/v1/shipments/outcomes", json={"outcomes": [GOOD, GOOD]}, headers=headers)
        assert r.status_code == 422 and "too many" in r.json()["error"]["message"]


def test_scored_shipments_are_kept_with_their_predictions(client, keys):
    r = client.post("/v1/risk/score", json={"shipment": SHIPMENT_EXAMPLE, "explain": False}, headers=keys["score"])
    assert r.status_code == 200, r.text
    client.app.state.recorder.flush()
    from sqlalchemy import select

    from data.store.shipments import PredictionRow, ShipmentRow

    with client.app.state.engine.connect() as conn:
        [ship] = conn.execute(select(ShipmentRow.__table__)).mappings().all()
        [pred] = conn.execute(select(PredictionRow.__table__)).mappings().all()
    assert ship["shipment_id"] == "SHP-2026-000123" and ship["source"] == "api"
    assert ship["document"]["shipment_id"] == "SHP-2026-000123"
    assert ship["features"]["export_port"] == SHIPMENT_EXAMPLE["waybill"]["export_port"]
    assert pred["p90_hours"] == r.json()["delay"]["p90_hours"] and pred["risk_level"] == r.json()["risk"]["level"]
    assert (pred["delay_version"], pred["risk_version"]) == (1, 1)


def test_recording_can_be_switched_off(make_app):
    from fastapi.testclient import TestClient

    from tests.serving.conftest import make_key, wait_ready

    app = make_app(record_shipments=False)
    with TestClient(app) as c:
        wait_ready(c)
        r = c.post("/v1/risk/score", json={"shipment": SHIPMENT_EXAMPLE, "explain": False},
                   headers={"X-API-Key": make_key(app, "score")})
        assert r.status_code == 200
        app.state.recorder.flush()
        assert ShipmentStore(app.state.engine).count()["shipments"] == 0


def test_outcomes_under_an_idempotency_key_apply_once_and_a_resend_gets_the_first_answer(client, keys):
    import json

    body = json.dumps({"outcomes": [GOOD]})
    headers = {**keys["score"], "Idempotency-Key": "erp-batch-0001", "Content-Type": "application/json"}
    first = client.post("/v1/shipments/outcomes", content=body, headers=headers)
    assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers
    assert first.json()["stored"]["inserted"] == 1
    # The same request again (a client that never saw the first answer): the first answer, not "unchanged".
    again = client.post("/v1/shipments/outcomes", content=body, headers=headers)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    # The key with another body is refused; nothing is written under it.
    other = json.dumps({"outcomes": [{**GOOD, "result": "held", "released_at": None, "delay_hours": 80.0}]})
    clash = client.post("/v1/shipments/outcomes", content=other, headers=headers)
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "idempotency_key_reused"
    assert ShipmentStore(client.app.state.engine).outcome(GOOD["shipment_id"]).result == "released"
