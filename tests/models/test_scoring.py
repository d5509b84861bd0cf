"""ShipmentScorer (contract 11): one check pass, predictions, reasons, advisories, ranked routes, batch parity."""

from __future__ import annotations

import numpy as np
import pytest

import models.scoring as scoring_module
from data.errors import InvalidInputError, UnavailableError
from features.checks import Finding
from models.advisories import load_rules
from models.scoring import ScoreResult, ShipmentScorer
from tests.models.shipment_models import nomenclature, scorer, shipment


@pytest.fixture(scope="module")
def sc():
    return scorer()


def test_score_has_the_contract_shape(sc):
    res = sc.score(shipment(**{"waybill.dangerous_goods.lithium_battery": True}))
    assert isinstance(res, ScoreResult)
    body = ScoreResult.model_validate(res.model_dump(mode="json"))  # round-trips through the pydantic schema
    assert body.shipment_id == "EX-0001"
    assert 0 <= body.delay.p50_hours <= body.delay.p90_hours
    p = body.risk.probabilities
    assert p.low + p.medium + p.high == pytest.approx(1.0)
    assert body.risk.level == max(("low", "medium", "high"), key=lambda c: getattr(p, c))
    assert any(a.id == "lithium-certified-channel" for a in body.advisories)
    assert any(f.code == "LITHIUM_US_UNCERTIFIED_CHANNEL" for f in body.findings)
    assert all(r.unit == "hours" for r in body.delay.reasons)
    assert all(r.unit == "probability" for r in body.risk.reasons)


def test_route_options_rescored_ranked_and_checks_run_once(sc, monkeypatch):
    calls = []
    real = scoring_module.run_checks
    monkeypatch.setattr(scoring_module, "run_checks", lambda s, n: calls.append(1) or real(s, n))
    s = shipment(month="2025-12", **{"waybill.destination_port": "USLAX"})
    res = sc.score(s, route_options=[{"destination_port": "USSEA"}, {"channel": "air", "carrier": "Cathay Cargo"}])
    assert len(calls) == 1
    assert len(res.route_options) == 3 and [r.rank for r in res.route_options] == [1, 2, 3]
    current = [r for r in res.route_options if r.current]
    assert len(current) == 1 and current[0].option == {}
    assert current[0].delay.p90_hours == res.delay.p90_hours
    keys = [(round(r.risk.probabilities.high, 4), r.delay.p90_hours) for r in res.route_options]
    assert keys == sorted(keys)
    seattle = next(r for r in res.route_options if r.option == {"destination_port": "USSEA"})
    assert seattle.delay.p90_hours < res.delay.p90_hours  # leaving LA/Long Beach in December helps


def test_bad_route_option_is_a_clear_error(sc):
    with pytest.raises(InvalidInputError) as err:
        sc.score(shipment(), route_options=[{"vessel": "X"}])
    assert err.value.details[0]["field"] == "route_options.0.vessel"
    with pytest.raises(InvalidInputError) as err:
        sc.score(shipment(), route_options=[{"channel": "teleport"}])
    assert err.value.details[0]["field"] == "route_options.0.channel"


def test_route_ports_are_normalised(sc):
    s = shipment(month="2025-12")
    upper = sc.score(s, route_options=[{"destination_port": "USLAX"}]).route_options
    lower = sc.score(s, route_options=[{"destination_port": " uslax"}]).route_options
    pick = lambda routes: next(r for r in routes if not r.current)  # noqa: E731
    assert pick(lower).option == {"destination_port": "USLAX"}
    assert pick(lower).delay.p90_hours == pick(upper).delay.p90_hours


def test_batch_matches_single(sc):
    ships = [shipment(), shipment(month="2025-12", **{"waybill.destination_port": "USLAX"}),
             shipment(**{"waybill.dangerous_goods.lithium_battery": True})]
    batch = sc.score_batch(ships)
    assert [b.shipment_id for b in batch] == [s.shipment_id for s in ships]
    for s, b in zip(ships, batch):
        one = sc.score(s, explain=False)
        assert b.delay.reasons == [] and b.risk.reasons == []
        assert b.delay.p90_hours == pytest.approx(one.delay.p90_hours)
        assert b.risk.probabilities.high == pytest.approx(one.risk.probabilities.high)
        explained = sc.score(s)  # the explained path computes P90 and risk from contributions: same numbers
        assert explained.delay.p90_hours == pytest.approx(one.delay.p90_hours, abs=0.01)
        assert explained.risk.probabilities.high == pytest.approx(one.risk.probabilities.high, abs=1e-9)
        assert [a.id for a in b.advisories] == [a.id for a in one.advisories]
    assert sc.score_batch([]) == []
    for b in batch:  # results built without validation must still be valid, serialisable models
        again = ScoreResult.model_validate(b.model_dump(mode="json"))
        assert again.model_dump() == b.model_dump()


def test_missing_model_is_unavailable():
    sc = ShipmentScorer(None, None, load_rules(), nomenclature())
    with pytest.raises(UnavailableError):
        sc.score(shipment())
    with pytest.raises(UnavailableError):
        sc.score_batch([shipment()])


def test_scorer_pickles_with_models():
    import pickle

    sc2 = pickle.loads(pickle.dumps(scorer()))
    a = sc2.score(shipment(), explain=False)
    b = scorer().score(shipment(), explain=False)
    assert np.isclose(a.risk.probabilities.high, b.risk.probabilities.high)


def _documents(n):
    from demo.shipments import generate_shipments

    docs = generate_shipments(n=n, months=24, seed=5).shipments
    docs[3] = {**docs[3], "waybill": {**docs[3]["waybill"], "channel": "teleport"}}  # invalid: reported, not dropped
    docs[7] = "not a shipment"
    return docs


def _same(a, b):
    assert a.model_dump() == b.model_dump()


def test_score_documents_validates_and_matches_score_batch(sc):
    from data.shipments.schema import Shipment

    docs = _documents(60)
    out = sc.score_documents(docs)
    assert out.workers_used == 0
    assert out.results[3] is None and out.results[7] is None
    assert {e["index"] for e in out.errors} == {3, 7}
    assert any(e["field"] == "waybill.channel" for e in out.errors if e["index"] == 3)
    valid = [i for i in range(len(docs)) if i not in (3, 7)]
    batch = sc.score_batch([Shipment.model_validate(docs[i]) for i in valid])
    for i, b in zip(valid, batch):
        _same(out.results[i], b)
    assert any(r.findings for r in batch) and any(r.advisories for r in batch)  # the comparison covers both


def test_score_documents_on_worker_processes_gives_the_same_results():
    from data.shipments.schema import Shipment
    from models.advisories import load_rules
    from tests.models.shipment_models import small_models

    delay, risk = small_models()
    docs = _documents(400)
    docs[10] = Shipment.model_validate(docs[10])  # an already-validated object travels by pickle, not marshal
    single = ShipmentScorer(delay, risk, load_rules(), nomenclature()).score_documents(docs)
    par = ShipmentScorer(delay, risk, load_rules(), nomenclature(), workers=1, parallel_min_rows=100)
    par.CHUNK_ROWS = 40  # many chunks, so positions from different processes are interleaved correctly
    try:
        out = par.score_documents(docs)
    finally:
        par.close()
    assert out.workers_used == 1
    assert out.errors == single.errors
    assert [r is None for r in out.results] == [r is None for r in single.results]
    for a, b in zip(out.results, single.results):
        if a is not None:
            _same(a, b)
            assert all(isinstance(f, Finding) for f in a.findings)


def test_raw_json_documents_score_like_parsed_ones(sc):
    import json

    docs = _documents(60)
    raw = [json.dumps(d, ensure_ascii=False).encode() if isinstance(d, dict) else d for d in docs]
    raw[11] = b'{"shipment_id": "S-1", "order": '  # truncated line
    parsed = sc.score_documents(docs)
    out = sc.score_documents(raw)
    assert {e["index"] for e in out.errors} == {3, 7, 11}
    bad_json = [e for e in out.errors if e["index"] == 11]
    assert bad_json and bad_json[0]["field"] == "shipment" and bad_json[0]["type"] == "json_invalid"
    for i, (a, b) in enumerate(zip(out.results, parsed.results)):
        if i != 11:
            assert (a is None) == (b is None)
            if a is not None:
                _same(a, b)


def test_batch_rules_read_document_values_without_the_shipment_objects(sc):
    """Advisories of a document batch (documents dropped after their row) equal those of single scoring."""
    from data.shipments.schema import Shipment

    docs = [d for d in _documents(80) if isinstance(d, dict)]
    out = sc.score_documents(docs)
    fired = 0
    for doc, result in zip(docs, out.results):
        if result is None:
            continue
        single = sc.score(Shipment.model_validate(doc), explain=False)
        assert [a.id for a in result.advisories] == [a.id for a in single.advisories]
        fired += bool(result.advisories)
    assert fired  # the comparison covers rules that fire

