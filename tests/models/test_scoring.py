"""ShipmentScorer (contract 11): one check pass, predictions, reasons, advisories, ranked routes, batch parity."""

from __future__ import annotations

import numpy as np
import pytest

from data.errors import UnavailableError
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


def _routes(*options):
    from data.shipments.schema import RouteOption

    return [RouteOption(**o) for o in options]


def test_route_options_rescored_and_ranked(sc):
    s = shipment(month="2025-12", **{"waybill.destination_port": "USLAX"})
    res = sc.score(s, route_options=_routes({"destination_port": "USSEA"}, {"channel": "air", "carrier": "Cathay Cargo"}))
    assert len(res.route_options) == 3 and [r.rank for r in res.route_options] == [1, 2, 3]
    current = [r for r in res.route_options if r.current]
    assert len(current) == 1 and current[0].option == {}
    assert current[0].delay == res.delay and current[0].risk == res.risk
    keys = [(round(r.risk.probabilities.high, 4), r.delay.p90_hours) for r in res.route_options]
    assert keys == sorted(keys)
    seattle = next(r for r in res.route_options if r.option == {"destination_port": "USSEA"})
    assert seattle.delay.p90_hours < res.delay.p90_hours  # leaving LA/Long Beach in December helps
    assert sc.score(s, route_options=()).route_options == []


@pytest.mark.parametrize("explain", [True, False])
def test_a_route_option_scores_like_the_shipment_sent_that_way(sc, explain):
    """Each alternative is the shipment with its waybill changed, scored as any shipment: the same delay and risk
    (reasons included) as submitting it so, even where the change alters the findings (a port in another country)."""
    s = shipment(month="2025-12", **{"waybill.destination_port": "USLAX"})
    options = _routes({"destination_port": "USSEA"}, {"channel": "air", "carrier": "Cathay Cargo"},
                      {"export_port": "cnngb"}, {"destination_port": "DEHAM", "channel": "rail"})
    res = sc.score(s, explain=explain, route_options=options)
    plain = sc.score(s, explain=explain)
    assert res.model_dump(exclude={"route_options"}) == plain.model_dump(exclude={"route_options"})
    for option in options:
        change = option.model_dump(exclude_none=True)
        sent = s.model_copy(update={"waybill": s.waybill.model_copy(update=change)})
        alone = sc.score(sent, explain=explain)
        route = next(r for r in res.route_options if r.option == change)
        assert route.delay == alone.delay and route.risk == alone.risk
        assert route.delay.reasons or not explain
    assert next(r for r in res.route_options if r.option == {"export_port": "CNNGB"})  # as the schema wrote it
    hamburg = s.model_copy(update={"waybill": s.waybill.model_copy(update={"destination_port": "DEHAM"})})
    assert "THREE_DOC_COUNTRY_MISMATCH" in {f.code for f in sc.score(hamburg).findings}


def test_route_options_are_validated_by_their_schema_not_the_model(sc):
    from pydantic import ValidationError

    from data.shipments.schema import RouteOption

    with pytest.raises(ValidationError):
        RouteOption(vessel="X")
    with pytest.raises(TypeError, match="RouteOption"):
        sc.score(shipment(), route_options=[{"channel": "air"}])  # unvalidated input is a programming error


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
    for b in batch:  # results are valid, serialisable models
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

