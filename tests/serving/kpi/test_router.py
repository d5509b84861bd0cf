"""``GET /v1/kpi`` (JSON and CSV, auth, bad input) and the KPI Prometheus gauges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.data.store.rows import T0, add_rows, outcome, shipment


def _fill(engine, base=T0):
    add_rows(engine, shipments=[shipment("a1", base, n_error_findings=1), shipment("a2", base + timedelta(hours=1))],
             outcomes=[outcome("a1", base, hours=12, first_pass=False), outcome("a2", base, hours=36)])


def test_kpi_json_by_week_with_service_figures(client, keys):
    _fill(client.app.state.engine)
    client.get("/v1/models", headers=keys["score"])  # one API request the service counts
    response = client.get("/v1/kpi", params={"from": "2026-03-02", "to": "2026-03-15", "group_by": "week"},
                          headers=keys["score"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["from"].startswith("2026-03-01T16:00") and body["group_by"] == "week"
    assert [g["group"] for g in body["groups"]] == ["2026-W10", "2026-W11"]
    assert body["total"]["first_pass_rate"] == 0.5 and body["total"]["data_error_rate"] == 0.5
    assert body["total"]["release_hours_p50"] == 24.0
    assert body["groups"][1]["first_pass_rate"] is None  # an empty week is null, not 0
    service = body["service"]
    assert service["api_requests"] >= 1 and service["api_availability"] == 1.0
    assert service["api_latency_p50_ms"] is not None and service["api_latency_p50_ms"] > 0


def test_kpi_csv_export(client, keys):
    _fill(client.app.state.engine)
    response = client.get("/v1/kpi", params={"from": "2026-03-02", "to": "2026-03-08", "group_by": "carrier",
                                             "format": "csv"}, headers=keys["score"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="kpi-carrier-' in response.headers["content-disposition"]
    lines = response.text.lstrip("\ufeff").strip().splitlines()
    assert lines[1].startswith("carrier,SF,2,2,") and lines[-1].startswith("carrier,total,2,2,")


def test_kpi_needs_a_key_and_valid_parameters(client, keys):
    assert client.get("/v1/kpi").status_code == 401
    bad = client.get("/v1/kpi", params={"group_by": "weekday"}, headers=keys["score"])
    assert bad.status_code == 422
    bad_date = client.get("/v1/kpi", params={"from": "yesterday"}, headers=keys["score"])
    assert bad_date.status_code == 422 and bad_date.json()["error"]["details"][0]["field"] == "query.from"


def test_kpi_gauges_in_prometheus(client, keys):
    _fill(client.app.state.engine, datetime.now(UTC) - timedelta(days=2))
    text = client.get("/metrics").text
    assert 'clearance_kpi{figure="first_pass_rate",window_days="30"} 0.5' in text
    assert 'clearance_kpi{figure="n_shipments",window_days="30"} 2.0' in text
    assert 'figure="override_rate"' not in text  # no review decisions: absent, not 0
