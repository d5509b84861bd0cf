"""Reviewer feedback: decisions become committed reviewer rulings, searchable at once, replayed into every new set
before it is served (after a restart, on a hot swap, and while a decision is being stored)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from data.errors import InvalidInputError
from data.nomenclature import Nomenclature
from data.rulings.repository import RulingRepository
from data.rulings.schema import Ruling, RulingSource
from data.store.db import init_db, make_engine, open_store
from data.store.keys import create_key
from data.store.reviews import count_reviews, list_reviews
from serving.app import create_app
from serving.feedback.service import Decision, ReviewerOverlays, record_decision, replay_reviewer_rulings
from tests.serving.conftest import fake_holder, register_fake, wait_ready
from tests.serving.console.fakes import FixedScorer, OverlaySuggester, StaticHolder, console_app, seed_rulings
from tests.serving.fakes import DELAY, HS, RISK, FakeScorer


@pytest.fixture(scope="module")
def nomenclature() -> Nomenclature:
    return Nomenclature.default()


@pytest.fixture
def engine(store_url):
    """A seeded store on SQLite, then on PostgreSQL: the service tests below run on both."""
    engine = make_engine(store_url)
    init_db(engine)
    RulingRepository(engine).upsert_many(seed_rulings())
    yield engine
    engine.dispose()


def _decision(**kw) -> Decision:
    base = dict(text="不锈钢真空保温杯 600ml", action="override", suggested_code="961700", final_code="7323.93.00",
                reason="kitchenware", reviewer="王芳", model_name="clearance-hs-suggester", model_version="3",
                index_fingerprint="idx-1", evidence_ids=["r1", "r2"])
    base.update(kw)
    return Decision(**base)


def _top_evidence(answer: dict) -> dict:
    return max((ev for c in answer["candidates"] for ev in c["evidence"]), key=lambda e: e["similarity"])


# ------------------------------------------------------------------------------------------------- service
def test_override_is_stored_with_provenance_then_searchable(engine, nomenclature):
    suggester = OverlaySuggester(seed_rulings(), nomenclature)
    receipt = record_decision(engine, suggester, _decision(), nomenclature=nomenclature)
    stored = RulingRepository(engine).get(receipt.ruling.ruling_id)
    assert stored.source == RulingSource.reviewer and stored.reviewer == "王芳"
    assert stored.hs_code == "73239300" and stored.model_version == "clearance-hs-suggester@3"
    # Provenance is the server's (what the suggester answers for this text), not the client's "idx-1", r1, r2.
    answer = OverlaySuggester(seed_rulings(), nomenclature).suggest("不锈钢真空保温杯 600ml")
    served_ids = {ev["ruling_id"] for c in answer["candidates"] for ev in c["evidence"]}
    assert '"index_fingerprint": "fake-index-0001"' in stored.notes and '"r1"' not in stored.notes
    review = list_reviews(engine, limit=1)[0]
    assert review.ruling_id == stored.ruling_id and set(review.evidence_ids) == served_ids
    assert review.suggested_code == answer["candidates"][0]["code"]
    assert review.suggested_confidence == pytest.approx(answer["candidates"][0]["confidence"])
    assert receipt.searchable
    top = _top_evidence(suggester.suggest("不锈钢真空保温杯 600ml"))
    assert (top["ruling_id"], top["source"]) == (stored.ruling_id, "reviewer")


def test_same_decision_twice_reuses_the_ruling_but_logs_both(engine, nomenclature):
    a = record_decision(engine, None, _decision(), nomenclature=nomenclature)
    b = record_decision(engine, None, _decision(reviewer="Li Lei"), nomenclature=nomenclature)
    assert a.ruling.ruling_id == b.ruling.ruling_id
    assert count_reviews(engine) == 2 and not a.searchable


@pytest.mark.parametrize("kw,field", [
    ({"text": "  "}, "text"),
    ({"reviewer": ""}, "reviewer"),
    ({"reason": ""}, "reason"),
    ({"final_code": ""}, "final_code"),
    ({"final_code": "8516.7"}, "final_code"),
    ({"final_code": "0000000000"}, "final_code"),
    ({"final_code": "961700"}, "final_code"),  # override to the suggested code
    ({"action": "accept", "suggested_code": None, "final_code": None}, "suggested_code"),
    ({"action": "accept", "final_code": "7323.93.00"}, "final_code"),  # accept must keep the suggestion
    ({"declared_elements": {"": "x"}}, "declared_elements"),
    ({"reason": "x" * 2001}, "reason"),
])
def test_invalid_decisions_write_nothing(engine, nomenclature, kw, field):
    before = RulingRepository(engine).count(), count_reviews(engine)
    with pytest.raises(InvalidInputError) as info:
        record_decision(engine, None, _decision(**kw), nomenclature=nomenclature)
    assert field in {d["field"] for d in info.value.details}
    assert (RulingRepository(engine).count(), count_reviews(engine)) == before


def test_all_problems_are_reported_at_once(engine, nomenclature):
    with pytest.raises(InvalidInputError) as info:
        record_decision(engine, None, _decision(reviewer="", reason="", final_code="12"), nomenclature=nomenclature)
    assert {"reviewer", "reason", "final_code"} <= {d["field"] for d in info.value.details}


def test_concurrent_searches_never_fail_while_rulings_are_added(engine, nomenclature):
    suggester = OverlaySuggester(seed_rulings(), nomenclature)
    errors: list[BaseException] = []
    stop = threading.Event()

    def search():
        while not stop.is_set():
            try:
                suggester.suggest("不锈钢真空保温杯")
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=search) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(15):
        record_decision(engine, suggester, _decision(text=f"保温杯 型号 {i}"), nomenclature=nomenclature)
    stop.set()
    for t in threads:
        t.join()
    assert errors == [] and suggester.n_rulings == len(seed_rulings()) + 15


def test_concurrent_decisions_from_many_writers_lose_nothing_and_share_one_ruling(engine, nomenclature):
    """Eight writers (threads here, replicas in production) store decisions at once: every distinct decision is a
    ruling and a review row; the same decision sent by all of them is one ruling (logged by each)."""
    from concurrent.futures import ThreadPoolExecutor

    before = RulingRepository(engine).count()

    def writer(w: int) -> list[str]:
        ids = [record_decision(engine, None, _decision(text=f"保温杯 writer {w} item {i}"),
                               nomenclature=nomenclature).ruling.ruling_id for i in range(6)]
        ids.append(record_decision(engine, None, _decision(reviewer=f"r{w}"), nomenclature=nomenclature)
                   .ruling.ruling_id)
        return ids

    with ThreadPoolExecutor(8) as pool:
        ids = [i for batch in pool.map(writer, range(8)) for i in batch]
    assert len(set(ids)) == 8 * 6 + 1
    assert RulingRepository(engine).count() == before + 8 * 6 + 1
    assert count_reviews(engine) == 8 * 7


# --------------------------------------------------------------------------------------------- restart/replay
def test_restart_replays_every_acknowledged_decision(settings, nomenclature):
    engine = make_engine(settings.database_url)
    init_db(engine)
    RulingRepository(engine).upsert_many(seed_rulings())
    before = OverlaySuggester(seed_rulings(), nomenclature)
    receipts = [record_decision(engine, before, _decision(text=f"不锈钢真空保温杯 {n}ml"), nomenclature=nomenclature)
                for n in (600, 700)]
    engine.dispose()

    # "Restart": a new engine on the same store and a suggester loaded from the bundle (seed rulings only).
    engine = make_engine(settings.database_url)
    after = OverlaySuggester(seed_rulings(), nomenclature)
    assert replay_reviewer_rulings(engine, after) == 2
    top = _top_evidence(after.suggest("不锈钢真空保温杯 700ml"))
    assert top["ruling_id"] == receipts[1].ruling.ruling_id and top["source"] == "reviewer"


def test_replay_decides_by_id_not_by_the_snapshot_time(engine, nomenclature):
    # Stored while the bundle was being built: older than its snapshot, yet not in it. Replayed all the same.
    old = Ruling(product_name="旧的审核", hs_code="9617009000", source="reviewer",
                 created_at=datetime.now(UTC) - timedelta(days=3))
    RulingRepository(engine).add(old)
    record_decision(engine, None, _decision(), nomenclature=nomenclature)
    suggester = OverlaySuggester(seed_rulings(), nomenclature)
    suggester.snapshot_at = datetime.now(UTC) - timedelta(days=1)
    assert replay_reviewer_rulings(engine, suggester) == 2
    inside = OverlaySuggester(seed_rulings(), nomenclature)
    inside.ruling_ids = [*inside.ruling_ids, old.ruling_id]  # this bundle does hold it
    assert replay_reviewer_rulings(engine, inside) == 1


# ------------------------------------------------------------------------------------------------- API route
@pytest.fixture
def api(settings, nomenclature):
    settings = settings.model_copy(update={"auth_disabled": False})
    suggester = OverlaySuggester(seed_rulings(), nomenclature)
    app = console_app(settings, StaticHolder(suggester, FixedScorer(nomenclature)))
    RulingRepository(app.state.engine).upsert_many(seed_rulings())
    _, suggest_key = create_key(app.state.engine, "erp-bot", ["suggest"])
    _, score_key = create_key(app.state.engine, "router", ["score"])
    with TestClient(app) as client:
        client.keys = {"suggest": suggest_key, "score": score_key}
        client.engine = app.state.engine
        client.suggester = suggester
        yield client


BODY = {"text": "不锈钢真空保温杯 600ml", "action": "override", "suggested_code": "961700",
        "final_code": "7323.93.00", "reason": "kitchenware", "reviewer": "ignored when a key is used"}


def test_feedback_api_needs_the_suggest_scope(api):
    assert api.post("/v1/hs/feedback", json=BODY).status_code == 401
    wrong = api.post("/v1/hs/feedback", json=BODY, headers={"X-API-Key": api.keys["score"]})
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "forbidden"
    assert count_reviews(api.engine) == 0


def test_feedback_api_records_under_the_key_name(api):
    response = api.post("/v1/hs/feedback", json=BODY, headers={"Authorization": f"Bearer {api.keys['suggest']}"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["reviewer"] == "erp-bot" and body["hs_code"] == "73239300" and body["searchable"] is True
    assert body["model_versions"] == {"clearance-hs-suggester": 3}
    review = list_reviews(api.engine, limit=1)[0]
    assert review.channel == "api" and review.model_version == "3" and review.index_fingerprint == "fake-index-0001"
    top = _top_evidence(api.suggester.suggest("不锈钢真空保温杯 600ml"))
    assert top["ruling_id"] == body["ruling_id"]


@pytest.mark.parametrize("patch,field", [
    ({"action": "maybe"}, "body.action"),
    ({"final_code": "7323"}, "final_code"),
    ({"reason": ""}, "reason"),
    ({"colour": "red"}, "body.colour"),
    ({"text": "x" * 2001}, "body.text"),  # the settings' input limits, as on /v1/hs/suggest
    ({"declared_elements": {"材质": "x" * 1001}}, "body.declared_elements.材质"),
])
def test_feedback_api_errors_name_the_field(api, patch, field):
    response = api.post("/v1/hs/feedback", json={**BODY, **patch}, headers={"X-API-Key": api.keys["suggest"]})
    assert response.status_code == 422
    assert field in {d["field"] for d in response.json()["error"]["details"]}
    assert count_reviews(api.engine) == 0


@pytest.mark.parametrize("patch,field", [
    ({"reason": "bad \udfff"}, "body.reason"),
    ({"evidence_ids": ["ok", "\udfff"]}, "body.evidence_ids.1"),
    ({"model_version": "\udfff"}, "body.model_version"),
    ({"index_fingerprint": "\ud800x"}, "body.index_fingerprint"),
    ({"suggested_code": "\udfff"}, "body.suggested_code"),
    ({"declared_elements": {"材质": "\udfff"}}, "body.declared_elements.材质"),
])
def test_lone_surrogates_in_any_field_are_refused_with_the_field(api, patch, field):
    raw = json.dumps({**BODY, **patch})  # ASCII JSON: the escape travels as "\\udfff", as a hostile client sends it
    response = api.post("/v1/hs/feedback", content=raw, headers={"X-API-Key": api.keys["suggest"],
                                                                 "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert field in {d["field"] for d in response.json()["error"]["details"]}
    assert count_reviews(api.engine) == 0


def test_lone_surrogates_are_refused_by_the_service_too(engine, nomenclature):
    with pytest.raises(InvalidInputError) as err:
        record_decision(engine, None, _decision(reason="\udfff"), nomenclature=nomenclature)
    assert {d["field"] for d in err.value.details} == {"reason"}


@pytest.mark.parametrize("text", ["保温杯" * 665 + "x", ("stainless flask " * 125)[:1996]])
def test_a_long_text_is_stored_once_so_retraining_takes_it(engine, nomenclature, text):
    receipt = record_decision(engine, None, _decision(text=text), nomenclature=nomenclature)
    stored = RulingRepository(engine).get(receipt.ruling.ruling_id)
    assert len(stored.text) <= len(text) + 1  # name + newline + description, not name + the whole text again
    assert stored.text.replace("\n", " ").replace(" ", "") == text.replace(" ", "")


@pytest.mark.parametrize("code", ["999999", "9999999999", "98010000"])
def test_reserved_chapters_never_become_rulings(engine, nomenclature, code):
    with pytest.raises(InvalidInputError) as err:
        record_decision(engine, None, _decision(final_code=code), nomenclature=None)
    assert "final_code" in {d["field"] for d in err.value.details}


def test_a_resent_decision_with_an_idempotency_key_writes_one_review(api):
    headers = {"X-API-Key": api.keys["suggest"], "Idempotency-Key": "order-42-line-1"}
    first = api.post("/v1/hs/feedback", json=BODY, headers=headers)
    again = api.post("/v1/hs/feedback", json=BODY, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert again.json()["review_id"] == first.json()["review_id"] and again.json()["replayed"] is True
    assert count_reviews(api.engine) == 1
    in_body = api.post("/v1/hs/feedback", json={**BODY, "idempotency_key": "order-42-line-1"},
                       headers={"X-API-Key": api.keys["suggest"]})
    assert in_body.json()["review_id"] == first.json()["review_id"] and count_reviews(api.engine) == 1
    changed = api.post("/v1/hs/feedback", json={**BODY, "reason": "another"}, headers=headers)
    assert changed.status_code == 409 and changed.json()["error"]["code"] == "idempotency_key_reused"
    assert count_reviews(api.engine) == 1


def test_without_a_key_a_resend_is_a_second_review(api):
    for _ in range(2):
        assert api.post("/v1/hs/feedback", json=BODY, headers={"X-API-Key": api.keys["suggest"]}).status_code == 201
    assert count_reviews(api.engine) == 2


def test_the_review_log_records_the_servers_provenance_not_the_clients(api):
    forged = {**BODY, "suggested_code": "9999999999", "suggested_confidence": 0.99, "model_version": "999",
              "index_fingerprint": "forged", "evidence_ids": ["made-up"]}
    answer = api.suggester.suggest(BODY["text"])  # what the served model says before the decision joins it
    assert api.post("/v1/hs/feedback", json=forged, headers={"X-API-Key": api.keys["suggest"]}).status_code == 201
    review = list_reviews(api.engine, limit=1)[0]
    assert review.model_version == "3" and review.index_fingerprint == "fake-index-0001"
    assert review.suggested_code == answer["candidates"][0]["code"] and "made-up" not in review.evidence_ids


def test_an_accept_of_a_code_the_model_did_not_suggest_is_refused(api):
    body = {"text": BODY["text"], "action": "accept", "suggested_code": "8507600000"}
    response = api.post("/v1/hs/feedback", json=body, headers={"X-API-Key": api.keys["suggest"]})
    assert response.status_code == 422 and response.json()["error"]["code"] == "accept_not_suggested"
    assert count_reviews(api.engine) == 0


def test_feedback_api_without_auth_needs_a_reviewer(api):
    api.app.state.authenticator.disabled = True
    no_name = api.post("/v1/hs/feedback", json={**BODY, "reviewer": None})
    assert no_name.status_code == 422 and no_name.json()["error"]["details"][0]["field"] == "reviewer"
    named = api.post("/v1/hs/feedback", json={**BODY, "reviewer": "Li Lei"})
    assert named.status_code == 201 and named.json()["reviewer"] == "Li Lei"


def test_replay_skips_rulings_the_suggester_already_holds(engine, nomenclature):
    a = record_decision(engine, None, _decision(text="保温杯 A"), nomenclature=nomenclature)
    record_decision(engine, None, _decision(text="保温杯 B"), nomenclature=nomenclature)
    suggester = OverlaySuggester(seed_rulings(), nomenclature)
    suggester.ruling_ids = np.array([a.ruling.ruling_id, "r-other"], dtype=object)  # folded into the bundle's library by a rebuild
    assert replay_reviewer_rulings(engine, suggester) == 1
    assert replay_reviewer_rulings(engine, suggester) == 0  # a second load of the same bundle doubles nothing


def test_repeated_decision_does_not_double_the_evidence(engine, nomenclature):
    suggester = OverlaySuggester(seed_rulings(), nomenclature)
    record_decision(engine, suggester, _decision(), nomenclature=nomenclature)
    again = record_decision(engine, suggester, _decision(reviewer="Li Lei"), nomenclature=nomenclature)
    assert again.searchable and suggester.n_rulings == len(seed_rulings()) + 1


def test_feedback_route_is_documented_and_console_pages_are_not(api):
    paths = api.get("/openapi.json").json()["paths"]
    assert "/v1/hs/feedback" in paths and "post" in paths["/v1/hs/feedback"]
    assert not any(p.startswith(("/classify", "/shipments", "/reviews", "/console-static")) for p in paths)


def test_a_set_composed_during_the_decision_gets_the_ruling_too(engine, nomenclature):
    overlays = ReviewerOverlays(engine)
    old = OverlaySuggester(seed_rulings(), nomenclature)
    overlays.replay_into(old)  # the served set
    new = OverlaySuggester(seed_rulings(), nomenclature)
    overlays.replay_into(new)  # being composed for a swap: its replay read the store before this decision
    receipt = record_decision(engine, old, _decision(), nomenclature=nomenclature, overlays=overlays)
    assert receipt.searchable
    for suggester in (old, new):
        assert _top_evidence(suggester.suggest("不锈钢真空保温杯 600ml"))["ruling_id"] == receipt.ruling.ruling_id
    again = record_decision(engine, old, _decision(reviewer="Li Lei"), nomenclature=nomenclature, overlays=overlays)
    assert again.searchable and new.n_rulings == old.n_rulings == len(seed_rulings()) + 1
    assert overlays.replay_into(new) == 0  # a later composition of the same suggester doubles nothing


def test_a_failed_overlay_update_is_caught_up_by_the_next_composition(engine, nomenclature):
    overlays = ReviewerOverlays(engine)
    served = OverlaySuggester(seed_rulings(), nomenclature)
    overlays.replay_into(served)
    served.fail_next_add = True
    receipt = record_decision(engine, served, _decision(), nomenclature=nomenclature, overlays=overlays)
    assert not receipt.searchable and receipt.index_error == "index busy"
    assert RulingRepository(engine).get(receipt.ruling.ruling_id)  # stored all the same
    assert overlays.replay_into(served) == 1  # the next set composed around this suggester
    assert _top_evidence(served.suggest("不锈钢真空保温杯 600ml"))["ruling_id"] == receipt.ruling.ruling_id


def test_a_decision_taken_on_another_replica_is_caught_up_once(engine, nomenclature):
    """Two replicas: the decision is published at once into the suggester of the one that took it; the other's
    suggester gets it on its next catch-up, once, however often the catch-up runs."""
    here, there = ReviewerOverlays(engine), ReviewerOverlays(engine)
    ours, theirs = OverlaySuggester(seed_rulings(), nomenclature), OverlaySuggester(seed_rulings(), nomenclature)
    here.replay_into(ours)
    there.replay_into(theirs)
    since = datetime.now(UTC) - timedelta(minutes=5)
    receipt = record_decision(engine, ours, _decision(), nomenclature=nomenclature, overlays=here)
    assert receipt.searchable and theirs.n_rulings == len(seed_rulings())
    assert there.catch_up(since) == 1 and here.catch_up(since) == 0  # the deciding replica holds it already
    assert _top_evidence(theirs.suggest("不锈钢真空保温杯 600ml"))["ruling_id"] == receipt.ruling.ruling_id
    assert there.catch_up(since) == 0 and theirs.n_rulings == len(seed_rulings()) + 1


def test_the_holder_catches_up_reviewer_rulings_stored_elsewhere(registry_settings, nomenclature):
    holder = fake_holder(registry_settings, compose=_overlay_compose(nomenclature))
    holder.load_initial()
    assert holder.catch_up_reviews() == 0
    stored = _store_decision(registry_settings, nomenclature)  # written by another replica: no publish here
    assert holder.catch_up_reviews() == 1
    assert _top_evidence(holder.current().suggester.suggest(TEXT))["ruling_id"] == stored.ruling_id
    assert holder.catch_up_reviews() == 0


# ------------------------------------------------------------------ replay as a composition step of the served set
TEXT = "不锈钢真空保温杯 600ml"


def _overlay_compose(nomenclature, add_delay_s: float = 0.0):
    """Each composed set gets a fresh searching suggester tagged with the registered HS version."""

    def compose(natives):
        suggester = OverlaySuggester(seed_rulings(), nomenclature, tag=natives[HS].tag, add_delay_s=add_delay_s)
        return suggester, FakeScorer(natives[DELAY], natives[RISK])

    return compose


def _store_decision(settings, nomenclature, **kw):
    return record_decision(open_store(settings.database_url), None, _decision(**kw), nomenclature=nomenclature).ruling


def test_no_answer_after_a_swap_misses_a_stored_reviewer_ruling(registry_settings, nomenclature):
    stored = _store_decision(registry_settings, nomenclature)
    # Adding rulings takes 0.3 s (encoding): a replay after the swap would leave the new suggester without them.
    holder = fake_holder(registry_settings, compose=_overlay_compose(nomenclature, add_delay_s=0.3))
    holder.load_initial()
    register_fake(registry_settings, HS, f"{HS}-v2")
    answers: list[tuple[str, str]] = []
    stop = threading.Event()

    def ask() -> None:  # a request at every moment of the reload
        while not stop.is_set():
            suggester = holder.current().suggester
            answers.append((suggester.tag, _top_evidence(suggester.suggest(TEXT))["ruling_id"]))
            time.sleep(0.001)

    asker = threading.Thread(target=ask)
    asker.start()
    try:
        assert holder.reload().changed
        time.sleep(0.1)
    finally:
        stop.set()
        asker.join(10)
    assert {tag for tag, _ in answers} == {f"{HS}-v1", f"{HS}-v2"}
    missed = [tag for tag, ruling_id in answers if ruling_id != stored.ruling_id]
    assert missed == []


def test_readyz_waits_for_the_replay_of_the_initial_set(registry_settings, nomenclature):
    stored = _store_decision(registry_settings, nomenclature)
    settings = registry_settings.model_copy(update={"auth_disabled": True})
    holder = fake_holder(settings, compose=_overlay_compose(nomenclature, add_delay_s=0.5))
    with TestClient(create_app(settings, holder=holder, poll=False)) as client:
        assert client.get("/readyz").status_code == 503  # loading: the replay takes 0.5 s
        wait_ready(client)
        suggester = holder.current().suggester
        assert [r.ruling_id for r in suggester.overlay_rulings()] == [stored.ruling_id]
        assert _top_evidence(suggester.suggest(TEXT))["ruling_id"] == stored.ruling_id


def test_a_decision_stored_while_a_new_set_is_composed_is_searchable_in_the_set_served(registry_settings,
                                                                                         nomenclature, monkeypatch):
    settings = registry_settings.model_copy(update={"auth_disabled": True})
    holder = fake_holder(settings, compose=_overlay_compose(nomenclature))
    overlays = holder.loader.overlays
    replayed, release = threading.Event(), threading.Event()
    replay = overlays.replay_into

    def replay_then_wait(suggester):
        added = replay(suggester)
        if suggester.tag == f"{HS}-v2":  # the new set has read the store and is not swapped in yet
            replayed.set()
            assert release.wait(30)
        return added

    monkeypatch.setattr(overlays, "replay_into", replay_then_wait)
    with TestClient(create_app(settings, holder=holder, poll=False)) as client:
        wait_ready(client)
        old = holder.current()
        register_fake(settings, HS, f"{HS}-v2")
        reloaded: dict = {}
        reloader = threading.Thread(target=lambda: reloaded.update(response=client.post("/v1/admin/reload")))
        reloader.start()
        try:
            assert replayed.wait(30)
            decision = client.post("/v1/hs/feedback", json=BODY)
            assert decision.status_code == 201, decision.text
            assert decision.json()["searchable"] is True and decision.json()["model_versions"][HS] == 1
            assert holder.current() is old  # stored while v2 was being composed
        finally:
            release.set()
            reloader.join(30)
        assert reloaded["response"].status_code == 200 and reloaded["response"].json()["model_versions"][HS] == 2
        new = holder.current().suggester
        assert new.tag == f"{HS}-v2"
        for suggester in (old.suggester, new):  # the served set, and requests still on the old one
            assert _top_evidence(suggester.suggest(BODY["text"]))["ruling_id"] == decision.json()["ruling_id"]
        assert new.n_rulings == len(seed_rulings()) + 1  # once, not twice


def test_the_feedback_route_and_the_replay_do_not_depend_on_the_console(registry_settings, nomenclature,
                                                                        monkeypatch):
    import serving.console.router as console_router

    monkeypatch.setattr(console_router, "router", APIRouter())  # a service without the console
    earlier = _store_decision(registry_settings, nomenclature, text="不锈钢真空保温杯 650ml")
    settings = registry_settings.model_copy(update={"auth_disabled": True})
    holder = fake_holder(settings, compose=_overlay_compose(nomenclature))
    with TestClient(create_app(settings, holder=holder, poll=False)) as client:
        wait_ready(client)
        assert client.get("/classify").status_code == 404  # no console here
        suggester = holder.current().suggester
        assert _top_evidence(suggester.suggest("不锈钢真空保温杯 650ml"))["ruling_id"] == earlier.ruling_id
        response = client.post("/v1/hs/feedback", json=BODY)
        assert response.status_code == 201, response.text
        assert response.json()["searchable"] is True and response.json()["reviewer"] == BODY["reviewer"]
        assert _top_evidence(suggester.suggest(BODY["text"]))["ruling_id"] == response.json()["ruling_id"]
        assert "/v1/hs/feedback" in client.get("/openapi.json").json()["paths"]
