"""Console pages through HTTP: classify, feedback, review log, language switch, and bad input on every form."""

from __future__ import annotations

import csv
import html
import io
import json
import re

import pytest
from fastapi.testclient import TestClient

from data.nomenclature import Nomenclature
from data.rulings.repository import RulingRepository
from data.rulings.schema import RulingSource
from data.store.reviews import list_reviews
from serving.console.shipments_page import EXAMPLE_PATH
from tests.serving.console.fakes import (
    FixedScorer,
    OverlaySuggester,
    StaticHolder,
    build_console,
    console_app,
    page_context,
    seed_rulings,
    stored,
)


@pytest.fixture
def settings(settings):
    """The console as local development runs it (auth off: a typed reviewer name, no sign-in, no form tokens).

    The signed-in console is covered by test_auth.py, and test_shipments_page.py/test_models_page.py run signed in.
    """
    return settings.model_copy(update={"auth_disabled": True})


@pytest.fixture
def console(settings, nomenclature):
    app, holder = build_console(settings, nomenclature)
    with TestClient(app) as client:
        client.suggester = holder.current().suggester
        client.engine = app.state.engine
        yield client


# ------------------------------------------------------------------------------------------------------ language
def test_language_switch_sets_cookie_and_translates(console):
    zh = console.get("/?lang=zh")
    assert zh.status_code == 200
    assert "商品归类建议" in zh.text and 'href="/?lang=en"' in zh.text
    assert console.cookies.get("clearance_lang") == "zh"
    en = console.get("/classify?lang=en")
    assert "HS code suggestion" in en.text and "商品归类建议" not in en.text
    # The cookie remembers the choice on the next page without ?lang=
    assert "Review log" in console.get("/reviews").text


def test_accept_language_picks_english_when_no_choice_was_made(console):
    console.cookies.clear()
    page = console.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "HS code suggestion" in page.text


# ------------------------------------------------------------------------------------------------------ classify
def test_classify_shows_candidates_bars_hierarchy_and_evidence(console):
    page = console.post("/classify?lang=en", data={"text": "不锈钢真空保温杯 600ml", "el_key": ["材质"],
                                                   "el_value": ["不锈钢"], "top_k": "3"})
    assert page.status_code == 200
    text = page.text
    assert 'data-testid="confident"' in text and 'data-needs-review="false"' in text
    assert 'data-code="961700"' in text  # top candidate
    assert re.search(r'class="bar"[^>]*><span style="width: \d+\.\d%"', text)
    # Hierarchy names from the nomenclature: chapter 96 and heading 9617 are named.
    assert "Miscellaneous manufactured articles" in text and "Vacuum flasks" in text
    # Evidence: the closest ruling is listed with its code and source.
    assert 'data-testid="top-evidence-row"' in text and "不锈钢真空保温杯 500ml" in text
    ctx = page_context(text)
    assert '"材质": "不锈钢"' in ctx and '"top_k": 3' in ctx


def test_needs_review_is_distinct_and_suggests_pre_classification(console):
    console.suggester.threshold = 0.99  # nothing is confident
    page = console.post("/classify?lang=zh", data={"text": "不锈钢 杯 壶", "top_k": "5"})
    assert page.status_code == 200
    assert 'data-testid="needs-review"' in page.text and 'class="result review"' in page.text
    assert 'data-testid="pre-classification"' in page.text and "预归类" in page.text
    missing = re.search(r'data-testid="missing-elements">(.*?)</ul>', page.text, re.S).group(1)
    assert "材质" in missing and "用途" in missing


def test_tariff_text_evidence_beside_ruling_evidence_and_weak_tariff_needs_review(console, monkeypatch):
    fake = console.suggester
    base_suggest = type(fake).suggest

    def open_world(text, declared_elements=None, top_k=5):
        answer = base_suggest(fake, text, declared_elements, top_k)
        answer["evidence_basis"] = "tariff_text"
        answer["answer"], answer["needs_review"] = None, True
        for cand in answer["candidates"]:
            cand.update(evidence=[], evidence_basis="tariff_text", has_rulings=False,
                        tariff_evidence=[{"code": cand["code"], "text": "Vacuum flasks and other vacuum vessels",
                                          "similarity": 0.41}])
        answer["candidates"][0]["evidence_basis"] = "tariff_text"
        return answer

    monkeypatch.setattr(fake, "suggest", open_world)
    page = console.post("/classify?lang=en", data={"text": "不锈钢真空保温杯 600ml", "top_k": "3"})
    text = page.text
    assert 'data-testid="tariff-evidence-row"' in text and "Vacuum flasks and other vacuum vessels" in text
    assert 'data-testid="evidence-basis" data-basis="tariff_text"' in text
    assert 'data-testid="weak-tariff-evidence"' in text and 'data-testid="needs-review"' in text
    assert "no ruling for this code" in text
    zh = console.post("/classify?lang=zh", data={"text": "不锈钢真空保温杯 600ml", "top_k": "3"}).text
    assert "依据（税则文本）" in zh and "仅税则文本" in zh


@pytest.mark.parametrize("form,field", [
    ({"text": "   "}, "text"),
    ({"text": "x" * 2001}, "text"),
    ({"text": "保温杯", "el_key": ["", "用途"], "el_value": ["不锈钢", "饮水"]}, "declared_elements"),
    ({"text": "保温杯", "el_key": ["材质", "材质"], "el_value": ["a", "b"]}, "declared_elements.材质"),
    ({"text": "保温杯", "top_k": "99"}, "top_k"),
])
def test_classify_bad_input_is_named_on_the_page(console, form, field):
    page = console.post("/classify?lang=en", data=form)
    assert page.status_code == 422
    assert 'data-testid="error"' in page.text and f"<code>{html.escape(field)}</code>" in page.text
    assert 'data-testid="result"' not in page.text


def test_element_rows_are_named_by_the_api_path_and_the_page_row():
    from data.errors import InvalidInputError
    from data.settings import InputLimits
    from serving.console.service import parse_elements

    limits = InputLimits()
    assert parse_elements(["材质", "", " 用途 "], ["铜", "", "装饰"], limits) == {"材质": "铜", "用途": "装饰"}
    with pytest.raises(InvalidInputError) as err:
        parse_elements(["材质", "", "材质"], ["铜", "不锈钢", "铁"], limits)
    assert [(d["field"], d["reason"]) for d in err.value.details] == [
        ("declared_elements", "row 2: value '不锈钢' has no element name"),
        ("declared_elements.材质", "element '材质' appears twice (rows 1 and 3)")]


@pytest.mark.parametrize("max_text_chars", [1500, 3000])
def test_classify_form_applies_the_api_limits_from_the_settings(settings, nomenclature, max_text_chars):
    limits = {"max_text_chars": max_text_chars, "max_element_value_chars": 12, "max_elements": 2}
    app = console_app(settings.model_copy(update=limits),
                      StaticHolder(OverlaySuggester(seed_rulings(), nomenclature), FixedScorer(nomenclature)))
    with TestClient(app) as console:
        form = console.get("/classify").text
        assert f'maxlength="{max_text_chars}"' in form and 'maxlength="12"' in form
        fits = "不锈钢真空保温杯" + "杯" * (max_text_chars - 8)
        assert 'data-testid="result"' in console.post("/classify", data={"text": fits}).text
        cases = [({"text": fits + "杯"}, "text", "too long"),
                 ({"text": "保温杯", "el_key": ["材质"], "el_value": ["不" * 13]}, "declared_elements.材质", "over the"),
                 ({"text": "保温杯", "el_key": ["a", "b", "c"], "el_value": ["1", "2", "3"]}, "declared_elements",
                  "At most 2")]
        for data, field, headline in cases:
            page = console.post("/classify?lang=en", data=data)
            assert page.status_code == 422, data
            assert f"<code>{html.escape(field)}</code>" in page.text and headline in page.text
            assert 'data-testid="result"' not in page.text


# ------------------------------------------------------------------------------------------------------ feedback
def test_override_commits_a_reviewer_ruling_and_is_searchable_at_once(console):
    before_rulings, before_reviews = stored(console)
    page = console.post("/classify", data={"text": "不锈钢真空保温杯 600ml 户外", "top_k": "5"})
    response = console.post("/classify/feedback", data={
        "context": page_context(page.text), "reviewer": "王芳", "override_code": "7323.93.00",
        "reason": "锅具类 per ruling 2024-17"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/classify?saved=")
    # Committed before the response: a fresh read of the store sees both rows.
    assert stored(console) == (before_rulings + 1, before_reviews + 1)
    review = list_reviews(console.engine, limit=1)[0]
    assert (review.reviewer, review.action.value, review.final_code) == ("王芳", "override", "73239300")
    assert review.suggested_code == "961700" and review.model_version == "3"
    assert review.index_fingerprint == "fake-index-0001" and review.evidence_ids
    ruling = RulingRepository(console.engine).get(review.ruling_id)
    assert ruling.source == RulingSource.reviewer and ruling.reviewer == "王芳"
    assert ruling.hs_code == "73239300" and ruling.model_version.endswith("@3")
    # The reviewer cookie remembers the name, percent-encoded.
    assert console.cookies.get("clearance_reviewer")
    confirmation = console.get(response.headers["location"])
    assert 'data-testid="saved"' in confirmation.text and "7323.93.00" in confirmation.text
    # A near-identical product now shows the override as its closest evidence.
    again = console.post("/classify", data={"text": "不锈钢真空保温杯 600ml 户外款"})
    first = re.search(r'data-testid="top-evidence-row" data-ruling-id="([^"]+)" data-source="([^"]+)" '
                      r'data-code="([^"]+)"', again.text)
    assert first.groups() == (review.ruling_id, "reviewer", "73239300")
    assert 'value="王芳"' in again.text  # reviewer name pre-filled from the cookie


def test_a_forged_context_does_not_reach_the_review_log(console):
    page = console.post("/classify", data={"text": "LED desk lamp usb", "top_k": "5"})
    ctx = json.loads(page_context(page.text))
    real = ctx["candidates"][0]["code"]
    forged = {**ctx, "model": {"name": "x", "version": "999", "index_fingerprint": "forged"},
              "candidates": [{"code": "999999", "confidence": 1.0, "evidence_ids": ["made-up"]}]}
    refused = console.post("/classify/feedback", data={"context": json.dumps(forged), "reviewer": "Li Lei",
                                                       "accept_code": "999999"}, follow_redirects=False)
    assert refused.status_code == 422 and list_reviews(console.engine, limit=1) == []
    forged["candidates"] = [{**ctx["candidates"][0], "confidence": 1.0, "evidence_ids": ["made-up"]}]
    response = console.post("/classify/feedback", data={"context": json.dumps(forged), "reviewer": "Li Lei",
                                                        "accept_code": real}, follow_redirects=False)
    assert response.status_code == 303
    review = list_reviews(console.engine, limit=1)[0]
    assert (review.model_version, review.index_fingerprint) == ("3", "fake-index-0001")
    assert review.suggested_confidence < 1.0 and "made-up" not in review.evidence_ids


def test_a_resubmitted_feedback_form_records_once(console):
    page = console.post("/classify", data={"text": "不锈钢真空保温杯 600ml 户外", "top_k": "5"})
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text).group(1)
    data = {"context": page_context(page.text), "reviewer": "王芳", "override_code": "7323.93.00",
            "reason": "锅具类", "idempotency_key": key}
    first = console.post("/classify/feedback", data=data, follow_redirects=False)
    again = console.post("/classify/feedback", data=data, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    assert len(list_reviews(console.engine)) == 1


def test_accept_records_the_chosen_candidate(console):
    page = console.post("/classify", data={"text": "LED desk lamp usb", "top_k": "5"})
    ctx = page_context(page.text)
    second = re.findall(r'name="accept_code" value="(\d+)"', page.text)
    assert len(second) >= 2
    response = console.post("/classify/feedback", data={"context": ctx, "reviewer": "Li Lei",
                                                        "accept_code": second[0]}, follow_redirects=False)
    assert response.status_code == 303
    review = list_reviews(console.engine, limit=1)[0]
    assert review.action.value == "accept" and review.final_code == second[0] == review.suggested_code
    assert review.reason == ""


@pytest.mark.parametrize("fields,field", [
    ({"reviewer": "", "override_code": "7323.93.00", "reason": "r"}, "reviewer"),
    ({"reviewer": "王芳", "override_code": "7323.93.00", "reason": ""}, "reason"),
    ({"reviewer": "王芳", "override_code": "7323", "reason": "r"}, "final_code"),
    ({"reviewer": "王芳", "override_code": "7777.77.77", "reason": "r"}, "final_code"),
    ({"reviewer": "王芳", "override_code": "abc", "reason": "r"}, "final_code"),
    ({"reviewer": "王芳", "override_code": "9617.00", "reason": "same as suggested"}, "final_code"),
    ({"reviewer": "王芳", "accept_code": "010121"}, "accept_code"),
    ({"reviewer": "王芳", "override_code": "7323.93.00", "reason": "r", "context": "{not json"}, "context"),
])
def test_bad_feedback_writes_nothing_and_names_the_field(console, fields, field):
    page = console.post("/classify", data={"text": "不锈钢真空保温杯 600ml"})
    before = stored(console)
    data = {"context": page_context(page.text), **fields}
    response = console.post("/classify/feedback?lang=en", data=data, follow_redirects=False)
    assert response.status_code == 422
    assert f"<code>{field}</code>" in response.text
    assert stored(console) == before
    if field != "context":  # the suggestion is shown again so the reviewer can fix the form and resend
        assert 'data-testid="candidates"' in response.text


def test_overlay_failure_keeps_the_ruling_and_says_so(console):
    page = console.post("/classify", data={"text": "儿童塑料积木玩具 1000片"})
    console.suggester.fail_next_add = True
    before = stored(console)
    response = console.post("/classify/feedback?lang=en", data={
        "context": page_context(page.text), "reviewer": "王芳", "override_code": "9503.00.90", "reason": "toy"},
        follow_redirects=False)
    assert response.status_code == 303 and "indexed=0" in response.headers["location"]
    assert stored(console) == (before[0] + 1, before[1] + 1)
    assert "after a restart" in console.get(response.headers["location"]).text


# ------------------------------------------------------------------------------------------------------ review log
def test_review_log_page_filters_and_exports_csv(console):
    for reviewer, code in (("王芳", "7323.93.00"), ("Li Lei", "9503.00.90")):
        page = console.post("/classify", data={"text": "不锈钢真空保温杯 600ml"})
        console.post("/classify/feedback", data={"context": page_context(page.text), "reviewer": reviewer,
                                                 "override_code": code, "reason": "r"})
    page = console.get("/reviews?lang=en")
    assert page.status_code == 200 and page.text.count('data-testid="review-row"') == 2
    assert "clearance-hs-suggester 3" in page.text
    only = console.get("/reviews", params={"reviewer": "Li Lei"})
    assert only.text.count('data-testid="review-row"') == 1
    export = console.get("/reviews.csv")
    assert export.status_code == 200 and "attachment" in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert [r["reviewer"] for r in rows] == ["Li Lei", "王芳"]  # newest first
    assert rows[1]["final_code"] == "73239300" and rows[1]["model_version"] == "3" and rows[1]["ruling_id"]
    assert console.get("/reviews", params={"action": "delete"}).status_code == 422
    assert console.get("/reviews.csv", params={"action": "delete"}).status_code == 422


def test_static_files_are_served_without_traversal(console):
    assert console.get("/console-static/console.css").status_code == 200
    assert console.get("/console-static/..%2Frouter.py").status_code == 404
    assert console.get("/console-static/shipment-example.json").status_code == 404


# ------------------------------------------------------------------------------------------------------ i18n
def test_every_string_exists_in_both_languages():
    from serving.console.i18n import LANGS, STRINGS

    assert all(set(texts) == set(LANGS) and all(texts.values()) for texts in STRINGS.values())


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("path", ["/", "/classify", "/shipments", "/reviews", "/models", "/transition"])
def test_every_page_renders_in_both_languages(console, path, lang):
    page = console.get(path, params={"lang": lang})
    assert page.status_code == 200 and f'<html lang="{"zh-CN" if lang == "zh" else "en"}">' in page.text


def test_hierarchy_names_are_chinese_where_the_nomenclature_has_them():
    from serving.console.service import classify_view

    nomenclature = Nomenclature.with_national([("96170090", "其他真空保温瓶", "Other vacuum flasks", "CN2025")])
    answer = {"candidates": [{"code": "96170090", "level": 8, "description_en": "Other vacuum flasks",
                              "description_zh": "其他真空保温瓶", "confidence": 0.8, "evidence": []}],
              "answer": None, "needs_review": True, "model": {}}
    zh = classify_view(answer, nomenclature, "zh").candidates[0]
    en = classify_view(answer, nomenclature, "en").candidates[0]
    assert [h.code for h in zh.hierarchy] == ["96", "9617", "961700", "96170090"]
    assert zh.hierarchy[-1].name == "其他真空保温瓶" and zh.name == "其他真空保温瓶"
    assert en.hierarchy[-1].name == "Other vacuum flasks"
    assert zh.hierarchy[0].name == "Miscellaneous manufactured articles"  # no Chinese chapter name: English shown


class _LoadingHolder(StaticHolder):
    def current(self):
        from data.errors import UnavailableError

        raise UnavailableError("models are not loaded yet")

    def peek(self):
        return None

    def add_listener(self, fn) -> None:
        pass


def test_pages_say_when_models_are_still_loading(settings, nomenclature):
    holder = _LoadingHolder(OverlaySuggester(seed_rulings(), nomenclature), FixedScorer(nomenclature))
    with TestClient(console_app(settings, holder)) as client:
        assert client.get("/").status_code == 200  # the form itself needs no model
        for response in (client.post("/classify?lang=en", data={"text": "保温杯"}),
                         client.post("/shipments?lang=en", data={"json": EXAMPLE_PATH.read_text("utf-8")}),
                         client.get("/models?lang=en")):
            assert response.status_code == 503
            assert 'data-testid="error"' in response.text and "not loaded yet" in response.text


def test_error_headlines_are_chinese_on_the_chinese_page(console):
    empty = console.post("/classify?lang=zh", data={"text": " "})
    assert "请输入商品描述" in empty.text and "<code>text</code>" in empty.text
    gbk = console.post("/shipments?lang=zh", files={"file": ("s.csv", "shipment_id\n甲\n".encode("gbk"), "text/csv")})
    assert gbk.status_code == 422 and "不是 UTF-8 编码" in gbk.text
    page = console.post("/classify", data={"text": "不锈钢真空保温杯 600ml"})
    bad = console.post("/classify/feedback?lang=zh", data={"context": page_context(page.text), "reviewer": "",
                                                           "override_code": "7323.93.00", "reason": "r"})
    assert bad.status_code == 422 and "未保存" in bad.text and "<code>reviewer</code>" in bad.text
    assert "Enter a product description" in console.post("/classify?lang=en", data={"text": ""}).text
