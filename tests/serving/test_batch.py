"""The default byte limit must admit a full batch: ``max_score_batch`` realistic shipments fit in ``max_request_bytes``.

Before, 8 MiB stopped a batch at ~4,900 real shipments while the count limit promised 10,000, so a routing system
sending a legal batch got a 413. These tests use the settings' *defaults* (not a test override), realistic-sized
documents and the fake scorer (the size check is the middleware's; models do not matter here).
"""

from __future__ import annotations

import copy
import json

import pytest
from fastapi.testclient import TestClient

from data.settings import Settings
from serving.shipments.examples import SHIPMENT_EXAMPLE
from tests.serving.conftest import wait_ready

# Bytes per shipment at the 99th percentile of the generator's documents (json.dumps defaults; mean ~1,650, max
# ~2,900): a whole batch of 99th-percentile shipments is a pessimistic but real batch.
REALISTIC_BYTES = 2400
DEFAULT_MAX_BYTES = Settings.model_fields["max_request_bytes"].default
DEFAULT_MAX_BATCH = Settings.model_fields["max_score_batch"].default
NDJSON = {"Content-Type": "application/x-ndjson"}


def _realistic_document() -> dict:
    """The API example with more lines (9710 orders often have several), padded to exactly REALISTIC_BYTES."""
    doc = copy.deepcopy(SHIPMENT_EXAMPLE)
    order_line = doc["order"]["lines"][0]
    declaration_line = doc["declaration"]["lines"][0]
    for i in range(3):
        doc["order"]["lines"].append({**order_line, "description": f"不锈钢保温杯 配件 {i} / flask spare part {i}",
                                      "quantity": 100 + i, "unit_price": 0.5})
        doc["declaration"]["lines"].append({**declaration_line, "description": f"保温杯配件 {i}",
                                            "quantity": 100 + i, "value": 0.5 * (100 + i)})
    shortfall = REALISTIC_BYTES - len(json.dumps(doc).encode())
    assert shortfall >= 0, "the base document is already larger than the target size"
    doc["order"]["consignee"]["address"] += " " + "x" * (shortfall - 1)
    return doc


def _lines(n: int) -> list[bytes]:
    template = json.dumps(_realistic_document())
    assert len(template.encode()) == REALISTIC_BYTES
    marker = json.dumps(SHIPMENT_EXAMPLE["shipment_id"])
    # ids of the same width, so every line keeps the realistic size
    return [template.replace(marker, json.dumps(f"SHP-{i:011d}"), 1).encode() for i in range(n)]


@pytest.fixture
def default_limits_client(make_app):
    # The field defaults, explicitly: a CLEARANCE_MAX_* variable in the environment must not change what is tested.
    app = make_app(auth_disabled=True, max_request_bytes=DEFAULT_MAX_BYTES, max_score_batch=DEFAULT_MAX_BATCH)
    with TestClient(app, raise_server_exceptions=False) as c:
        wait_ready(c)
        yield c


def test_default_byte_limit_fits_a_full_batch_of_realistic_shipments():
    assert DEFAULT_MAX_BATCH * (REALISTIC_BYTES + 1) < DEFAULT_MAX_BYTES  # +1: the newline of each NDJSON line


def test_a_full_batch_of_realistic_shipments_is_scored_not_refused_for_size(default_limits_client):
    lines = _lines(DEFAULT_MAX_BATCH)
    body = b"\n".join(lines) + b"\n"
    assert len(body) > 20_000_000  # a realistic full batch: well over the old 8 MiB limit
    r = default_limits_client.post("/v1/risk/score/batch?explain=false", content=body, headers=NDJSON)
    assert r.status_code == 200, r.text[:500]
    out = r.json()
    assert out["errors"] == [] and len(out["results"]) == DEFAULT_MAX_BATCH
    assert out["results"][-1]["shipment_id"] == f"SHP-{DEFAULT_MAX_BATCH - 1:011d}"

    # One shipment more, as a JSON envelope: the count limit answers (422 naming the list), not the byte limit.
    envelope = b'{"shipments": [' + b", ".join(lines + lines[:1]) + b'], "explain": false}'
    r = default_limits_client.post("/v1/risk/score/batch", content=envelope,
                                   headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text[:500]
    assert any(d["field"] == "body.shipments" for d in r.json()["error"]["details"])


def test_a_body_over_the_byte_limit_still_gets_413(default_limits_client):
    line = _lines(1)[0]
    body = b"\n".join([line] * (DEFAULT_MAX_BYTES // (len(line) + 1) + 1))
    assert len(body) > DEFAULT_MAX_BYTES
    r = default_limits_client.post("/v1/risk/score/batch", content=body, headers=NDJSON)
    assert r.status_code == 413
    assert r.json()["error"]["details"] == {"limit_bytes": DEFAULT_MAX_BYTES}

    def chunks():  # no Content-Length: the streamed size is what counts
        for start in range(0, len(body), 1 << 20):
            yield body[start:start + (1 << 20)]

    r = default_limits_client.post("/v1/risk/score/batch", content=chunks(), headers=NDJSON)
    assert r.status_code == 413 and "Content-Length" not in r.request.headers
