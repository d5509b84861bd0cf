"""The KPI dashboard page: figures, one chart per figure (a gap for an empty week), both languages, CSV export."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tests.data.store.rows import T0, add_rows, outcome, shipment
from tests.serving.console.fakes import FixedScorer, OverlaySuggester, StaticHolder, console_app, seed_rulings, sign_in


@pytest.fixture
def console(mlflow_settings, tmp_path, nomenclature):
    settings = mlflow_settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'store.db'}"})
    holder = StaticHolder(OverlaySuggester(seed_rulings(), nomenclature), FixedScorer(nomenclature))
    with TestClient(console_app(settings, holder)) as client:
        sign_in(client, "score")
        add_rows(client.app.state.engine,
                 shipments=[shipment("k1", T0), shipment("k2", T0 + timedelta(days=14), carrier="YTO")],
                 outcomes=[outcome("k1", T0, hours=20, costs={"declaration_cost": 60}),
                           outcome("k2", T0 + timedelta(days=14), hours=40, first_pass=False)])
        yield client


def test_dashboard_shows_figures_and_charts(console):
    page = console.get("/kpi", params={"from": "2026-03-02", "to": "2026-03-22", "lang": "en"})
    assert page.status_code == 200, page.text
    html = page.text
    assert 'data-testid="nav-kpi"' in html and "Customs performance dashboard" in html
    assert 'data-figure="first_pass_rate"' in html and "50.0%" in html
    assert html.count('data-testid="chart"') == 12  # every figure of the three sections, and port congestion
    assert [line for line in html.split('data-testid="kpi-row"')[1:] if 'data-group="2026-W11"' in line]
    # Week 11 has no shipments: its point is missing (a gap), not drawn at zero.
    release_chart = html.split("<title>Release time P50 (h)</title>")[1].split("</svg>")[0]
    assert release_chart.count('data-testid="chart-point"') == 2
    assert "2026-W11" in release_chart and "2026-W11: " not in release_chart


def test_dashboard_in_chinese_grouped_by_carrier_and_export(console):
    page = console.get("/kpi", params={"from": "2026-03-02", "to": "2026-03-22", "group_by": "carrier",
                                       "lang": "zh"})
    assert page.status_code == 200
    assert "报关一次通过率" in page.text and 'data-testid="chart-bar"' in page.text
    assert 'data-group="SF"' in page.text and 'data-group="YTO"' in page.text
    export = console.get("/kpi.csv", params={"from": "2026-03-02", "to": "2026-03-22", "group_by": "carrier"})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "carrier,total,2,2," in export.text


def test_dashboard_names_a_bad_parameter(console):
    page = console.get("/kpi", params={"from": "soon", "lang": "en"})
    assert page.status_code == 422 and 'data-testid="error"' in page.text and "query.from" in page.text


def test_an_extra_panel_is_shown_under_the_figures(console, monkeypatch):
    from serving.console import kpi_page

    def congestion(request, report):
        return {"key": "congestion", "title_en": "Port congestion", "title_zh": "口岸拥堵",
                "columns": [("port", "Port", "口岸"), ("p50", "P50 h", "P50 小时"), ("n", "n", "票数")],
                "rows": [{"port": "CNSHA", "p50": 30.5, "n": 12}, {"port": "CNNGB", "p50": None, "n": 0}],
                "chart": ("port", "p50")}

    monkeypatch.setattr(kpi_page, "PANELS", [congestion, lambda request, report: None])
    page = console.get("/kpi", params={"from": "2026-03-02", "to": "2026-03-22", "lang": "zh"})
    assert page.status_code == 200
    panel = page.text.split('data-panel="congestion"')[1].split("</section>")[0]
    assert "口岸拥堵" in panel and "30.5" in panel and "CNSHA" in panel and 'data-testid="chart-bar"' in panel
    assert page.text.count('data-testid="kpi-panel"') == 1


def test_the_port_congestion_panel_shows_the_last_week_of_outcomes_before_the_period_end(console):
    # Six releases at CNSHA in the week before the period's end (the minimum count is 5): the panel shows them with
    # the same figures the models read; the default panel list is used (no monkeypatch).
    end = T0 + timedelta(days=21)
    ids = [f"c{i}" for i in range(6)]
    add_rows(console.app.state.engine,
             shipments=[shipment(i, end - timedelta(days=3, hours=n)) for n, i in enumerate(ids)],
             outcomes=[outcome(i, end - timedelta(days=3, hours=n), hours=10.0 + n) for n, i in enumerate(ids)])
    page = console.get("/kpi", params={"from": "2026-03-02", "to": end.date().isoformat(), "lang": "en"})
    assert page.status_code == 200, page.text
    panel = page.text.split('data-panel="congestion"')[1].split("</section>")[0]
    assert "Port congestion" in panel and "CNSHA" in panel and 'data-testid="chart-bar"' in panel
