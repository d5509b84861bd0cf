"""The HS 2028 page in a real browser: open it, resolve one split, and see the new ruling as evidence (issue 11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from data.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tariff"


def test_resolve_a_split_and_see_the_new_ruling_as_evidence(browser, serve, tiny_bundle, tiny_scorer, artifacts,
                                                            tmp_path):
    from data.rulings.repository import RulingRepository
    from data.store.db import open_store
    from data.store.reviews import list_reviews
    from data.transition import import_correlation
    from demo.rulings import generate_demo_rulings
    from tests.browser.test_console_browser import _app

    settings = Settings(data_dir=tmp_path / "var", auth_disabled=True, threads=1)
    engine = open_store(settings.database_url)
    RulingRepository(engine).upsert_many(generate_demo_rulings(n=400, seed=7))  # the bundle's library, stored
    import_correlation(engine, FIXTURES / "correlation.csv")
    server = serve(_app(settings, tiny_bundle, tiny_scorer))
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="zh-CN")

    # 1. The HS 2028 page: the toy ruling's code 9503.00 is split, the lamp's 9405.31 renumbered.
    page.goto(f"{server.url}/?lang=en")
    page.click("[data-testid=nav-transition]")
    page.wait_for_selector("[data-testid=transition-totals]")
    group = page.locator("[data-testid=transition-group][data-code='950300']")
    assert group.get_attribute("data-status") == "split"
    assert page.locator("[data-testid=transition-group][data-code='940531']").get_attribute("data-status") \
        == "renumbered"
    item = group.locator("[data-testid=transition-item]").first
    original_id = item.get_attribute("data-ruling-id")
    page.screenshot(path=str(artifacts / "11-transition-page.png"), full_page=True)

    # 2. Resolve the split: the reviewer picks the HS 2028 subheading for this product.
    page.fill("[data-testid=reviewer]", "李雷")
    item.locator("[data-testid=new-code]").select_option("950390")
    item.locator("[data-testid=resolve-reason]").fill("scooter toy: not a balloon")
    item.locator("[data-testid=resolve]").click()
    page.wait_for_selector("[data-testid=resolved]")
    new_id = page.locator("[data-testid=resolved-ruling]").inner_text()
    assert page.locator("[data-testid=resolved-code]").inner_text() == "9503.90"
    resolved = page.locator(f"[data-testid=transition-item][data-ruling-id='{original_id}']")
    assert resolved.get_attribute("data-resolved") == "true"
    page.screenshot(path=str(artifacts / "12-split-resolved.png"), full_page=True)
    review = list_reviews(engine, limit=1)[0]
    ruling = RulingRepository(engine).get(new_id)
    assert (review.reviewer, review.final_code, ruling.nomenclature_version, str(ruling.ruling_date)) == (
        "李雷", "950390", "HS2028", "2028-01-01")

    # 3. Classify the same product again: the new ruling is evidence, marked as an HS 2028 code.
    page.click("[data-testid=classify-again]")
    page.click("[data-testid=suggest]")
    page.wait_for_selector("[data-testid=top-evidence-row]")
    ids = [row.get_attribute("data-ruling-id") for row in page.locator("[data-testid=top-evidence-row]").all()]
    assert new_id in ids
    row = page.locator(f"[data-testid=top-evidence-row][data-ruling-id='{new_id}']")
    assert row.get_attribute("data-code") == "950390"
    assert row.locator("[data-testid=hs2028]").get_attribute("data-status") == "new"
    page.screenshot(path=str(artifacts / "13-new-ruling-as-evidence.png"), full_page=True)
    page.close()
