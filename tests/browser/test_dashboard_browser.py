"""The KPI dashboard and the model-monitoring panel in a real browser: the charts render (SVG with drawn points and
bars, visible size), in both languages. Screenshots go to ``test-artifacts/browser/``."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

import pandas as pd
import pytest

from data.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _app(settings: Settings, scorer):
    from data.nomenclature import Nomenclature
    from models.names import DELAY, RISK
    from serving.app import create_app
    from serving.served import ServedVersion
    from tests.serving.console.fakes import OverlaySuggester, StaticHolder, seed_rulings

    holder = StaticHolder(OverlaySuggester(seed_rulings(), Nomenclature.default()), scorer)
    snap = holder.snapshot
    now = snap.created_at
    versions = {**snap.versions, **{n: ServedVersion(n, 2, None, MappingProxyType({}), "registry",
                                                     f"models:/{n}/2", now, now) for n in (DELAY, RISK)}}
    holder.snapshot = dataclasses.replace(snap, versions=MappingProxyType(versions), natives=MappingProxyType(
        {**snap.natives, DELAY: scorer.delay_model, RISK: scorer.risk_model}))
    return create_app(settings, holder=holder, start_models=False)


def _visible_charts(page, selector: str) -> int:
    return page.eval_on_selector_all(
        selector, "els => els.filter(e => e.getBoundingClientRect().width > 200 && "
                  "e.getBoundingClientRect().height > 60).length")


def test_dashboard_and_monitoring_charts_render(browser, serve, tiny_scorer, artifacts, tmp_path):
    from data.store.db import open_store
    from demo.history import history_frame
    from tests.data.store.rows import add_history

    settings = Settings(data_dir=tmp_path / "var", auth_disabled=True, threads=1)
    history = history_frame(n=3000, seed=42)
    ts = pd.to_datetime(history["declared_at"], utc=True)
    add_history(open_store(settings.database_url), history[ts >= ts.max() - pd.Timedelta(weeks=16)])
    server = serve(_app(settings, tiny_scorer))
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="zh-CN")

    page.goto(f"{server.url}/kpi?lang=zh")
    page.wait_for_selector("[data-testid=kpi-section]")
    assert "报关一次通过率" in page.inner_text("body")
    assert _visible_charts(page, "svg[data-testid=chart]") == 12  # 11 figures and the port-congestion panel
    assert page.locator("svg[data-testid=chart] [data-testid=chart-point]").count() > 11
    page.screenshot(path=str(artifacts / "10-kpi-dashboard-zh.png"), full_page=True)

    page.select_option("[data-testid=kpi-group-by]", "carrier")
    page.click("button[type=submit]")
    page.wait_for_selector("svg [data-testid=chart-bar]")
    assert page.locator("[data-testid=kpi-row]").count() >= 2
    page.screenshot(path=str(artifacts / "11-kpi-by-carrier-zh.png"), full_page=True)

    page.goto(f"{server.url}/models?lang=en")
    page.wait_for_selector("[data-testid=monitoring-model]")
    assert page.locator("[data-testid=monitoring-model]").count() == 2
    assert _visible_charts(page, "svg[data-testid=monitoring-chart]") >= 8
    assert page.locator("svg[data-testid=monitoring-chart] [data-testid=chart-point]").count() > 10
    assert page.locator("[data-testid=monitoring-statement], [data-testid=monitoring-in-range]").count() >= 2
    page.screenshot(path=str(artifacts / "12-model-monitoring-en.png"), full_page=True)
    page.close()
