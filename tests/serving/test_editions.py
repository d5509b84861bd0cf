"""Facts, transitions and edition stamps on answers: the API's suggest and validate (issue 11)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.serving.conftest import wait_ready

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tariff"
CORRELATION = "from,to,partial,note\n9617.00,9617.10,false,Vacuum flasks (fixture)\n" \
              "7323.93,7323.94,false,Of stainless steel: cups\n7323.93,7323.95,false,Of stainless steel: other\n" \
              "3924.10,9617.10,true,Insulated tableware (fixture)\n"


@pytest.fixture(autouse=True)
def _fresh_books():
    from serving import editions

    editions._books.clear()
    yield
    editions._books.clear()


def _store(settings, tmp_path, correlation: bool = True):
    from data.nomenclature import import_national_tariff
    from data.store.db import open_store
    from data.transition import import_correlation

    engine = open_store(settings.database_url)
    import_national_tariff(engine, FIXTURES / "facts.csv", label="CNTEST")
    if correlation:
        path = tmp_path / "corr.csv"
        path.write_text(CORRELATION, encoding="utf-8")
        import_correlation(engine, path)
    return engine


def _client(make_app, registry_settings, **overrides):
    return TestClient(make_app(auth_disabled=True, **overrides))


def test_candidates_carry_facts_and_edition_without_a_correlation(make_app, registry_settings, tmp_path):
    _store(registry_settings, tmp_path, correlation=False)
    with _client(make_app, registry_settings) as c:
        wait_ready(c)
        body = c.post("/v1/hs/suggest", json={"text": "保温杯", "top_k": 3}).json()
    top = body["candidates"][0]
    assert top["code"] == "961700"
    assert [f["code"] for f in top["tariff"]] == ["9617001100"]
    facts = top["tariff"][0]
    assert (facts["rebate_rate"], facts["supervision"], facts["inspection"], facts["version"]) == (
        13.0, "AB", "MN", "CNTEST")
    assert top["transition"] is None and body["candidates"][1]["tariff"] == []
    assert body["edition"] == {"nomenclature": "HS2022", "tariff": "CNTEST"}


def test_renumbered_and_split_codes_before_the_effective_date(make_app, registry_settings, tmp_path):
    _store(registry_settings, tmp_path)
    with _client(make_app, registry_settings) as c:
        wait_ready(c)
        body = c.post("/v1/hs/suggest", json={"text": "保温杯", "top_k": 3}).json()
    by_code = {cand["code"]: cand for cand in body["candidates"]}
    assert by_code["961700"]["transition"]["status"] == "renumbered"
    assert by_code["961700"]["transition"]["new_code"] == "961710"
    split = by_code["732393"]["transition"]
    assert split["status"] == "split" and split["new_codes"] == ["732394", "732395"] and split["needs_review"]
    assert split["effective_date"] == "2028-01-01" and split["in_force"] is False
    assert by_code["392410"]["transition"]["status"] == "renumbered"
    assert body["answer"]["code"] == "961700" and body["edition"]["nomenclature"] == "HS2022"


def test_after_the_effective_date_the_answer_is_in_the_new_edition(make_app, registry_settings, tmp_path):
    _store(registry_settings, tmp_path)
    with _client(make_app, registry_settings, hs2028_effective_date=date(2026, 1, 1)) as c:
        wait_ready(c)
        body = c.post("/v1/hs/suggest", json={"text": "保温杯", "top_k": 3}).json()
    codes = [cand["code"] for cand in body["candidates"]]
    # 961700 and 392410 both move to 961710: one candidate, their confidences added (0.9 + 0.3)
    assert codes == ["961710", "732393"]
    assert body["candidates"][0]["confidence"] == 1.0
    assert body["candidates"][0]["transition"]["code"] == "961700"
    assert body["answer"]["code"] == "961710"
    assert body["candidates"][1]["transition"]["needs_review"] is True
    assert body["edition"] == {"nomenclature": "HS2028", "tariff": None}


def test_validate_across_the_effective_date(make_app, registry_settings, tmp_path):
    _store(registry_settings, tmp_path)
    with _client(make_app, registry_settings) as c:
        wait_ready(c)
        before = c.post("/v1/hs/validate", json={"text": "保温杯", "declared_code": "9617001100",
                                                 "declaration_date": "2027-12-31"}).json()
        after = c.post("/v1/hs/validate", json={"text": "保温杯", "declared_code": "9617001100",
                                                "declaration_date": "2028-01-02"}).json()
        new_early = c.post("/v1/hs/validate", json={"text": "保温杯", "declared_code": "961710",
                                                    "declaration_date": "2027-06-01"}).json()
    assert before["edition_problem"] is None and before["needs_review"] is False
    assert before["edition"] == {"nomenclature": "HS2022", "tariff": "CNTEST"}
    assert "renumbered 961710" in after["edition_problem"] and after["needs_review"] is True
    assert "code_not_in_edition" in [r["code"] for r in after["reasons"]]
    assert after["edition"]["nomenclature"] == "HS2028"
    assert after["declared_transition"]["status"] == "renumbered"
    assert "enters into force" in new_early["edition_problem"]


def test_split_candidate_on_top_needs_review_after_the_date():
    from data.transition import TariffBook, TransitionTarget
    from models.suggester.answer import SuggestionAnswer
    from serving.editions import annotate_suggestion

    answer = SuggestionAnswer.model_validate({
        "query": {"text": "t", "normalised": "t", "language": "en"},
        "candidates": [{"code": "950300", "level": 6, "confidence": 0.8,
                        "evidence": [{"ruling_id": "r1", "text": "toy", "hs_code": "9503002100", "similarity": 0.9,
                                      "source": "customs"}]}],
        "answer": {"code": "950300", "level": 6, "confidence": 0.8}, "needs_review": False,
        "model": {"name": "m", "index_fingerprint": "f", "encoder": "e"}})
    book = TariffBook(correlation={"950300": [TransitionTarget(code="950310"), TransitionTarget(code="950390")]},
                      effective_date=date(2028, 1, 1))
    annotate_suggestion(answer, book, date(2028, 3, 1))
    assert answer.answer is None and answer.needs_review
    assert answer.reasons[-1].code == "hs2028_split"
    assert answer.candidates[0].evidence[0].transition.status == "split"


def test_shipment_lines_carry_facts_and_transitions(make_app, registry_settings, tmp_path):
    from data.shipments.examples import example_shipment

    _store(registry_settings, tmp_path)
    doc = example_shipment()
    doc["declaration"]["lines"][0]["hs_code"] = "9617001100"
    doc["order"]["lines"][0]["hs_code"] = "9617001100"
    with _client(make_app, registry_settings) as c:
        wait_ready(c)
        checked = c.post("/v1/shipments/check", json=doc).json()
        scored = c.post("/v1/risk/score", json={"shipment": doc}).json()
    for body in (checked, scored):
        lines = {line["field"]: line for line in body["lines"]}
        line = lines["declaration.lines.0.hs_code"]
        assert line["tariff"]["rebate_rate"] == 13.0 and line["transition"]["status"] == "renumbered"
        assert lines["declaration.lines.1.hs_code"]["tariff"] is None
        assert lines["declaration.lines.1.hs_code"]["transition"]["status"] == "unchanged"
        assert body["edition"]["nomenclature"] == "HS2022"


def test_facts_imported_after_the_models_loaded_reach_the_checks(make_app, registry_settings, tmp_path):
    from data.shipments.examples import example_shipment

    doc = example_shipment()
    doc["declaration"]["lines"][0]["hs_code"] = "9617001100"
    doc["order"]["lines"][0]["hs_code"] = "9617001100"
    with _client(make_app, registry_settings) as c:
        wait_ready(c)
        before = {f["code"] for f in c.post("/v1/shipments/check", json=doc).json()["findings"]}
        _store(registry_settings, tmp_path, correlation=False)
        from serving import editions

        editions._books.clear()  # as if the few seconds of the book cache had passed
        after = {f["code"] for f in c.post("/v1/shipments/check", json=doc).json()["findings"]}
    assert "SUPERVISION_DOCUMENT_MISSING" not in before and "SUPERVISION_DOCUMENT_MISSING" in after
