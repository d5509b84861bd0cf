"""Console: tariff facts and the rebate comparison on Classify, and the HS 2028 page with a split resolved (issue 11)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from data.rulings.repository import RulingRepository
from data.rulings.schema import Ruling
from data.store.reviews import list_reviews
from tests.serving.console.fakes import FixedScorer, OverlaySuggester, StaticHolder, build_console

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "tariff"


@pytest.fixture(autouse=True)
def _fresh_books():
    from serving import editions

    editions._books.clear()
    yield
    editions._books.clear()


@pytest.fixture
def nomenclature():
    """A nomenclature of this module's own: the shipment routes give the scorer's nomenclature the imported facts."""
    from data.nomenclature import Nomenclature

    return Nomenclature.default()


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"auth_disabled": True})


def _import(engine, correlation: bool = True) -> None:
    from data.nomenclature import import_national_tariff
    from data.transition import import_correlation

    import_national_tariff(engine, FIXTURES / "facts.csv", label="CNTEST")
    if correlation:
        import_correlation(engine, FIXTURES / "correlation.csv")


@pytest.fixture
def console(settings, nomenclature):
    app, holder = build_console(settings, nomenclature)
    _import(app.state.engine)
    with TestClient(app) as client:
        client.suggester = holder.current().suggester
        client.engine = app.state.engine
        yield client


def test_classify_shows_facts_and_where_the_top_candidates_differ(settings, nomenclature):
    rulings = [Ruling(product_name=t, hs_code=c, source="customs_ruling") for t, c in (
        ("真皮女士手提包 牛皮", "4202210090"), ("真皮手提包 女式", "4202210010"),
        ("女士手提包 涤纶面", "4202220000"), ("手提包 PU 塑料面 女士", "4202220000"))]
    holder = StaticHolder(OverlaySuggester(rulings, nomenclature), FixedScorer(nomenclature))
    app, _ = build_console(settings, nomenclature, holder=holder, seeded=False)
    _import(app.state.engine, correlation=False)
    with TestClient(app) as client:
        page = client.post("/classify?lang=en", data={"text": "女士手提包", "top_k": "3"}).text
    assert 'data-testid="tariff-differences"' in page
    diff = re.findall(r'data-testid="tariff-difference" data-kind="rebate">([^<]+)<', page)
    assert diff and ("4202.21 vs 4202.22: rebate 13 % vs 9 %" in diff[0] or
                     "4202.22 vs 4202.21: rebate 9 % vs 13 %" in diff[0])
    assert 'data-rebate="13 %"' in page and 'data-rebate="9 %"' in page
    assert "HS2022 + CNTEST" in page


def test_classify_marks_split_codes(console):
    page = console.post("/classify?lang=en", data={"text": "儿童塑料积木玩具 500片"}).text
    assert 'data-testid="hs2028" data-status="split"' in page and "950310, 950390" in page


def test_transition_page_lists_affected_rulings_and_exports_csv(console):
    page = console.get("/transition?lang=en")
    assert page.status_code == 200
    groups = re.findall(r'data-testid="transition-group" data-code="(\d+)" data-status="(\w+)"', page.text)
    assert groups == [("950300", "split")]  # the seed library: two toy rulings; nothing else moves
    assert page.text.count('data-testid="resolve-form"') == 2
    zh = console.get("/transition?lang=zh").text
    assert "HS 2028 转换" in zh and "拆分" in zh
    export = console.get("/transition.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert len(rows) == 2 and {r["hs6"] for r in rows} == {"950300"} and rows[0]["new_codes"] == "950310|950390"


def test_a_split_resolved_through_the_console_becomes_a_ruling_under_the_new_code(console):
    toy = next(r for r in RulingRepository(console.engine).iter_all() if r.product_name == "儿童塑料积木玩具 500片")
    response = console.post("/transition/resolve", data={"ruling_id": toy.ruling_id, "new_code": "950390",
                                                         "reason": "building blocks are not balloons",
                                                         "reviewer": "王芳"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    review = list_reviews(console.engine, limit=1)[0]
    assert (review.final_code, review.suggested_code, review.reviewer) == ("950390", "9503009000", "王芳")
    ruling = RulingRepository(console.engine).get(review.ruling_id)
    assert ruling.nomenclature_version == "HS2028" and ruling.ruling_date == date(2028, 1, 1)
    assert ruling.source.value == "reviewer" and toy.ruling_id in ruling.notes
    page = console.get(response.headers["location"]).text
    assert 'data-testid="resolved"' in page and review.ruling_id in page
    item = re.search(rf'data-ruling-id="{toy.ruling_id}" data-resolved="(\w+)"', page)
    assert item.group(1) == "true"
    # searchable at once: the same product now has the new ruling as evidence, marked as an HS 2028 code
    again = console.post("/classify?lang=en", data={"text": "儿童塑料积木玩具 500片"}).text
    assert re.search(rf'data-testid="top-evidence-row" data-ruling-id="{review.ruling_id}"', again)
    assert 'data-status="new"' in again


def test_resolve_refuses_a_code_outside_the_split_and_an_unsplit_ruling(console):
    repo = RulingRepository(console.engine)
    toy = next(r for r in repo.iter_all() if r.hs_code == "9503009000")
    lamp = next(r for r in repo.iter_all() if r.hs_code == "9405210000")
    before = len(list_reviews(console.engine))
    bad = console.post("/transition/resolve", data={"ruling_id": toy.ruling_id, "new_code": "950320",
                                                    "reviewer": "王芳"})
    assert bad.status_code == 422 and "final_code" in bad.text
    unsplit = console.post("/transition/resolve", data={"ruling_id": lamp.ruling_id, "new_code": "940532",
                                                        "reviewer": "王芳"})
    assert unsplit.status_code == 422
    missing = console.post("/transition/resolve", data={"ruling_id": "nope", "new_code": "950390", "reviewer": "a"})
    assert missing.status_code == 404
    assert len(list_reviews(console.engine)) == before


def test_page_without_a_correlation_says_how_to_import_one(settings, nomenclature):
    app, _ = build_console(settings, nomenclature)
    with TestClient(app) as client:
        page = client.get("/transition?lang=en").text
    assert 'data-testid="no-correlation"' in page and "import-correlation" in page


def test_accepting_an_hs2028_code_records_it_in_that_edition(console):
    # the resolved split's ruling makes 9503.90 a candidate; accepting it records a ruling in HS 2028
    toy = next(r for r in RulingRepository(console.engine).iter_all() if r.hs_code == "9503009000")
    console.post("/transition/resolve", data={"ruling_id": toy.ruling_id, "new_code": "950390", "reviewer": "王芳"})
    from tests.serving.console.fakes import page_context

    page = console.post("/classify", data={"text": "儿童塑料积木玩具 500片 新款", "top_k": "5"})
    assert 'name="accept_code" value="950390"' in page.text
    response = console.post("/classify/feedback", data={"context": page_context(page.text), "reviewer": "王芳",
                                                         "accept_code": "950390"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    review = list_reviews(console.engine, limit=1)[0]
    ruling = RulingRepository(console.engine).get(review.ruling_id)
    assert (review.final_code, ruling.nomenclature_version) == ("950390", "HS2028")
    assert ruling.ruling_date == date(2028, 1, 1)
