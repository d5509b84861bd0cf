"""The console in a real browser: classify, override, and see the override as the next product's top evidence.

Also: the language switch, the review log, a GBK upload refused on the page with nothing written, and a restart that
keeps the acknowledged override searchable. Screenshots go to ``test-artifacts/browser/``.
"""

from __future__ import annotations

import pytest

from data.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _app(settings: Settings, bundle, scorer):
    """The real service app serving a freshly loaded bundle, with the stored reviewer rulings replayed into it as the
    served-set loader does before a set is served."""
    from data.store.db import open_store
    from models.encoders import load_encoder
    from models.suggester.suggester import HSSuggester
    from serving.app import create_app
    from serving.feedback.service import ReviewerOverlays
    from tests.serving.console.fakes import StaticHolder

    suggester = HSSuggester.load(bundle, encoder=load_encoder("use", threads=settings.threads))
    overlays = ReviewerOverlays(open_store(settings.database_url))
    overlays.replay_into(suggester)
    return create_app(settings, holder=StaticHolder(suggester, scorer, overlays=overlays), start_models=False)


def _top_evidence(page) -> dict:
    row = page.locator("[data-testid=top-evidence-row]").first
    return {"source": row.get_attribute("data-source"), "code": row.get_attribute("data-code"),
            "ruling_id": row.get_attribute("data-ruling-id"), "text": row.locator("td").first.inner_text()}


def test_override_becomes_top_evidence_and_survives_a_restart(browser, serve, tiny_bundle, tiny_scorer, artifacts,
                                                              tmp_path):
    from data.rulings.repository import RulingRepository
    from data.store.db import make_engine
    from data.store.reviews import count_reviews, list_reviews

    settings = Settings(data_dir=tmp_path / "var", auth_disabled=True, threads=1)
    server = serve(_app(settings, tiny_bundle, tiny_scorer))
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="zh-CN")

    # 1. Classify a product, with one declaration element added through the row editor.
    page.goto(f"{server.url}/?lang=zh")
    page.fill("[data-testid=text]", "不锈钢真空保温杯 500ml")
    page.locator("input[name=el_key]").first.fill("材质")
    page.locator("input[name=el_value]").first.fill("304不锈钢")
    page.click("[data-testid=suggest]")
    page.wait_for_selector("[data-testid=result]")
    first = page.locator("[data-testid=candidate]").first.get_attribute("data-code")
    assert page.locator("[data-testid=candidate]").count() >= 3
    assert page.locator("[data-testid=hierarchy]").first.inner_text()  # chapter/heading/subheading names shown
    page.screenshot(path=str(artifacts / "01-classify.png"), full_page=True)

    # 2. Override with another code and a reason.
    override = "7323.93.00" if not first.startswith("7323") else "9617.00.90"
    page.fill("[data-testid=reviewer]", "王芳")
    page.fill("[data-testid=override-code]", override)
    page.fill("[data-testid=override-reason]", "不锈钢餐厨用具，按2024年归类决定")
    page.click("[data-testid=save-override]")
    page.wait_for_selector("[data-testid=saved]")
    saved_code = page.locator("[data-testid=saved-code]").inner_text()
    assert saved_code == override
    page.screenshot(path=str(artifacts / "02-override-saved.png"), full_page=True)

    # Committed before the page came back: read the store directly.
    engine = make_engine(settings.database_url)
    review = list_reviews(engine, limit=1)[0]
    assert (review.reviewer, review.action.value, review.final_code) == ("王芳", "override", override.replace(".", ""))
    assert review.declared_elements == {"材质": "304不锈钢"}
    assert RulingRepository(engine).get(review.ruling_id).source.value == "reviewer"

    # 3. A near-identical product: the override is the top evidence straight away (no rebuild, no restart).
    assert page.input_value("[data-testid=text]") == "不锈钢真空保温杯 500ml"  # the form comes back filled in
    page.fill("[data-testid=text]", "不锈钢真空保温杯 500ml 户外款")
    page.click("[data-testid=suggest]")
    page.wait_for_selector("[data-testid=top-evidence-row]")
    top = _top_evidence(page)
    assert top == {"source": "reviewer", "code": override.replace(".", ""), "ruling_id": review.ruling_id,
                   "text": "不锈钢真空保温杯 500ml"}
    assert page.input_value("[data-testid=reviewer]") == "王芳"  # remembered in a cookie
    page.screenshot(path=str(artifacts / "03-near-identical-top-evidence.png"), full_page=True)

    # 4. Language switch to English keeps working on the result page's GET address.
    page.click("[data-testid=lang-switch]")
    assert page.locator("h1").inner_text() == "HS code suggestion"

    # 5. Review log shows who overrode what, with which model.
    page.click("[data-testid=nav-reviews]")
    row = page.locator("[data-testid=review-row]").first.inner_text()
    assert "王芳" in row and override in row and "overrode" in row and "clearance-hs-suggester 3" in row
    assert page.locator("[data-testid=review-row]").count() == 1
    page.screenshot(path=str(artifacts / "04-review-log.png"), full_page=True)

    # 6. Check shipments: paste the example JSON, get findings, risk, delay, reasons, advisories and a CSV download.
    before = (RulingRepository(engine).count(), count_reviews(engine))
    page.click("[data-testid=nav-shipments]")
    example = page.request.get(f"{server.url}/shipments/example.json").text()
    page.fill("[data-testid=shipments-json]", example)
    page.click("[data-testid=check]")
    result = page.locator("[data-testid=shipment-result]").first
    assert result.get_attribute("data-shipment-id") == "SHP-DEMO-0001"
    assert result.locator("[data-testid=risk-level]").inner_text() in {"low", "medium", "high"}
    assert "LITHIUM_US_UNCERTIFIED_CHANNEL" in result.locator("[data-testid=findings]").inner_text()
    with page.expect_download() as download:
        page.click("[data-testid=download-results]")
    lines = download.value.path().read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("shipment_id,status,risk_level") and lines[1].startswith("SHP-DEMO-0001,scored,")
    page.screenshot(path=str(artifacts / "05-shipments-checked.png"), full_page=True)

    # 7. Bad input: a GBK-encoded CSV and an empty description get a clear message; nothing is written.
    page.fill("[data-testid=shipments-json]", "")
    page.set_input_files("[data-testid=shipments-file]", files=[{
        "name": "shipments.csv", "mimeType": "text/csv",
        "buffer": "shipment_id,order.platform\nSHP-1,阿里巴巴国际站\n".encode("gbk")}])
    page.click("[data-testid=check]")
    error = page.locator("[data-testid=error]")
    assert "UTF-8" in error.inner_text() and "GBK" in error.inner_text()
    page.screenshot(path=str(artifacts / "06-gbk-upload-refused.png"), full_page=True)
    page.click("[data-testid=nav-classify]")
    page.click("[data-testid=suggest]")
    assert "text" in page.locator("[data-testid=error]").inner_text()
    assert (RulingRepository(engine).count(), count_reviews(engine)) == before

    # 8. Restart: a new process state loads the same bundle; the acknowledged override is still the top evidence.
    server.stop()
    engine.dispose()
    restarted = serve(_app(settings, tiny_bundle, tiny_scorer))
    page.goto(f"{restarted.url}/classify?lang=zh")
    page.fill("[data-testid=text]", "不锈钢真空保温杯 500ml 户外款")
    page.click("[data-testid=suggest]")
    page.wait_for_selector("[data-testid=top-evidence-row]")
    assert _top_evidence(page)["ruling_id"] == review.ruling_id
    page.screenshot(path=str(artifacts / "07-after-restart.png"), full_page=True)
    page.close()
