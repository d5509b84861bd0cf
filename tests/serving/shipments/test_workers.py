"""Large batches on the scorer's worker processes: the batch route and ``clearance risk score`` give the results of
one process. Real small models (tests/models/shipment_models.py); only the route test spawns a worker (~2-3 s)."""

from __future__ import annotations

import json
import time

import pytest

from models.score_pool import running_processes
from tests.models.shipment_models import nomenclature, small_models
from tests.serving.fakes import HS


def _scorer(**kw):
    from models.advisories import load_rules
    from models.scoring import ShipmentScorer

    delay, risk = small_models()
    return ShipmentScorer(delay, risk, load_rules(), nomenclature(), **kw)


def _documents(n: int) -> list[dict]:
    from demo.shipments import generate_shipments

    docs = generate_shipments(n=n, months=24, seed=5).shipments
    docs[3] = {**docs[3], "waybill": {**docs[3]["waybill"], "channel": "teleport"}}
    docs[n - 2] = {**docs[n - 2], "declaration": {**docs[n - 2]["declaration"], "currency": "ZZZ"}}
    return json.loads(json.dumps(docs))  # exactly what a client sends


def _expected(docs) -> dict:
    """The response of the route, computed in this process without workers."""
    from serving.shipments.service import item_errors

    single = _scorer().score_documents(docs)
    return {"results": [None if r is None else json.loads(r.model_dump_json()) for r in single.results],
            "errors": [e.model_dump() for e in item_errors(single.errors)]}


def test_batch_route_on_a_worker_process_gives_the_in_process_results(registry_settings, monkeypatch):
    from fastapi.testclient import TestClient

    from models.scoring import ShipmentScorer
    from serving.app import create_app
    from tests.serving.conftest import fake_holder, wait_ready

    settings = registry_settings.model_copy(update={"auth_disabled": True, "score_workers": 1})
    parallel_calls = []
    original = ShipmentScorer._score_parallel
    monkeypatch.setattr(ShipmentScorer, "_score_parallel",
                        lambda self, docs, *a, **k: parallel_calls.append(len(docs)) or original(self, docs, *a, **k))
    built = []

    def compose(natives):
        scorer = _scorer(workers=settings.score_workers, parallel_min_rows=50)
        scorer.CHUNK_ROWS = 40  # several chunks on each side, interleaved back into place
        built.append(scorer)
        return natives[HS], scorer

    docs = _documents(300)
    expected = _expected(docs)
    app = create_app(settings, holder=fake_holder(settings, compose=compose), poll=False)
    with TestClient(app) as client:
        wait_ready(client)
        scorer = built[0]
        deadline = time.monotonic() + 60
        while scorer._pool is None and time.monotonic() < deadline:  # the holder warms the pool on its own thread
            time.sleep(0.05)
        pool = scorer._pool
        assert pool is not None and pool.workers == 1 and not parallel_calls
        processes = list(pool._executor._processes.values())
        assert processes and running_processes(processes, 0) == processes

        r = client.post("/v1/risk/score/batch", json={"shipments": docs})
        assert r.status_code == 200, r.text
        assert parallel_calls == [300]
        body = r.json()
        assert body["results"] == expected["results"] and body["errors"] == expected["errors"]
        assert {e["field"] for e in body["errors"]} == {"body.shipments.3.waybill.channel",
                                                       "body.shipments.298.declaration.currency"}

        ndjson = "\n".join(json.dumps(d) for d in docs).encode()
        r = client.post("/v1/risk/score/batch", content=ndjson, headers={"Content-Type": "application/x-ndjson"})
        assert r.status_code == 200, r.text
        assert parallel_calls == [300, 300] and r.json()["results"] == expected["results"]
        assert [e["field"] for e in r.json()["errors"]] == [e["field"] for e in expected["errors"]]
    # lifespan shutdown closed the pool: no worker process outlives the app
    assert scorer._pool is None
    assert running_processes(processes, 10) == []


def test_a_retired_scorer_closes_its_worker_processes_after_the_grace_period():
    import threading

    scorer = _scorer(workers=1)
    scorer.warm()  # returns at once: the pool starts on a thread of its own
    assert scorer._warmer is not None and scorer._warmer is not threading.current_thread()
    scorer._warmer.join(60)
    processes = list(scorer._pool._executor._processes.values())
    assert processes and running_processes(processes, 0) == processes
    scorer.retire(0.1)
    assert scorer._pool is not None  # requests that still hold the old snapshot keep its processes meanwhile
    deadline = time.monotonic() + 30
    while scorer._pool is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert scorer._pool is None
    assert running_processes(processes, 30) == []  # generous: on a loaded machine a worker takes a while to exit


@pytest.fixture
def cli_scorer(monkeypatch):
    """``clearance risk score`` over the small models instead of a registry; records the workers it asked for."""
    import serving.cli.risk as risk_cli

    asked = []

    def load(settings, alias, workers):
        asked.append(workers)
        return _scorer(workers=workers), {"clearance-delay": 3, "clearance-risk": 4}

    monkeypatch.setattr(risk_cli, "_load_scorer", load)
    monkeypatch.setattr(risk_cli, "SCORE_CHUNK", 3)  # several chunks: indexes continue across them
    return asked


def test_cli_scores_jsonl_in_chunks_and_reports_bad_lines(cli, cli_scorer, tmp_path, monkeypatch):
    docs = _documents(8)
    lines = [json.dumps(d) for d in docs]
    lines[5] = '{"shipment_id": "TRUNCATED'  # not JSON: an error for this document, the others still scored
    (tmp_path / "in.jsonl").write_text("\n".join(lines[:2]) + "\n\n" + "\n".join(lines[2:]) + "\n")
    out = cli("risk", "score", tmp_path / "in.jsonl", "--no-explain", "--workers", 0, "--out", tmp_path / "out.jsonl")
    assert out.exit_code == 0, out.output
    assert cli_scorer == [0]
    got = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [g["index"] for g in got] == list(range(8))  # the blank line is not a document
    assert {g["index"] for g in got if "errors" in g} == {3, 5, 6}
    assert got[3]["errors"][0] == {"field": "waybill.channel", "reason": got[3]["errors"][0]["reason"]}
    assert got[5]["errors"][0]["field"] == "shipment" and "json" in got[5]["errors"][0]["reason"].lower()
    assert got[6]["errors"][0]["field"] == "declaration.currency"
    valid = [i for i in range(8) if i not in (3, 5, 6)]
    from data.shipments.schema import Shipment

    expected = _scorer().score_batch([Shipment.model_validate(docs[i]) for i in valid])
    for i, e in zip(valid, expected):
        assert got[i]["result"] == json.loads(e.model_dump_json())
    assert "scored 5, invalid 3" in out.output
    # the scored shipments are kept in the store, with the versions that scored them
    from sqlalchemy import select

    from data.settings import get_settings as settings_now
    from data.store.db import open_store
    from data.store.shipments import PredictionRow, ShipmentRow

    with open_store(settings_now().database_url).connect() as conn:
        stored = conn.execute(select(ShipmentRow.shipment_id, ShipmentRow.source)).all()
        versions = conn.execute(select(PredictionRow.delay_version, PredictionRow.risk_version)).all()
    assert sorted(stored) == sorted((docs[i]["shipment_id"], "cli") for i in valid)
    assert set(versions) == {(3, 4)}

    # a JSON list, and the default from settings (CLEARANCE_SCORE_WORKERS; too few documents to start them)
    from data.settings import get_settings

    monkeypatch.setenv("CLEARANCE_SCORE_WORKERS", "2")
    get_settings.cache_clear()
    (tmp_path / "in.json").write_text(json.dumps(docs[:4], indent=2))
    out = cli("risk", "score", tmp_path / "in.json", "--no-explain", "--out", tmp_path / "out2.jsonl")
    assert out.exit_code == 0, out.output
    assert cli_scorer == [0, 2]
    got2 = [json.loads(x) for x in (tmp_path / "out2.jsonl").read_text().splitlines()]
    assert got2[:3] == got[:3] and "errors" in got2[3]
    assert "scored 3, invalid 1" in out.output
