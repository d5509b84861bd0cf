"""Models page: served versions with their MLflow run metrics and the plots logged to those runs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import mlflow
import pytest
from fastapi.testclient import TestClient

from tests.serving.console.fakes import FixedScorer, OverlaySuggester, StaticHolder, console_app, seed_rulings, sign_in
from training import registry


@pytest.fixture(scope="module")
def logged_run(mlflow_settings, tmp_path_factory) -> str:
    registry.configure_mlflow(mlflow_settings)
    folder = tmp_path_factory.mktemp("plots")
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1])
    fig.savefig(folder / "reliability.png")
    plt.close(fig)
    with mlflow.start_run(experiment_id=registry.experiment_id("console-models-test", mlflow_settings)) as run:
        mlflow.log_metrics({"hs6_top1": 0.873, "ece": 0.031})
        mlflow.log_artifact(str(folder / "reliability.png"), artifact_path="plots")
        mlflow.log_text("not a plot", "notes/readme.txt")
    return run.info.run_id


@pytest.fixture
def console(mlflow_settings, logged_run, tmp_path, nomenclature):
    settings = mlflow_settings.model_copy(update={"model_cache_dir": tmp_path / "cache",
                                                  "database_url": f"sqlite:///{tmp_path / 'store.db'}"})
    holder = StaticHolder(OverlaySuggester(seed_rulings(), nomenclature), FixedScorer(nomenclature),
                          run_id=logged_run, version=7)
    with TestClient(console_app(settings, holder)) as client:
        sign_in(client, "admin")  # the models page and its plots admit any valid key
        client.settings = settings
        yield client


def test_models_page_lists_versions_metrics_and_plots(console, logged_run):
    page = console.get("/models?lang=en")
    assert page.status_code == 200
    assert 'data-name="clearance-hs-suggester"' in page.text and '<span data-testid="model-version">7</span>' in page.text
    assert "hs6_top1" in page.text and "0.8730" in page.text
    src = f"/models/plots/{logged_run}/plots/reliability.png"
    assert f'src="{src}"' in page.text and "readme.txt" not in page.text
    image = console.get(src)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")
    assert (console.settings.model_cache_dir / "plots" / logged_run / "plots" / "reliability.png").is_file()


def test_plot_route_serves_only_plots_of_served_runs(console, logged_run):
    assert console.get(f"/models/plots/{logged_run}/notes/readme.txt").status_code == 404
    assert console.get(f"/models/plots/{logged_run}/plots/missing.png").status_code == 404
    assert console.get("/models/plots/0123456789abcdef/plots/reliability.png").status_code == 404


def test_models_page_says_when_the_registry_is_missing(console, tmp_path):
    console.app.state.settings = console.settings.model_copy(
        update={"mlflow_tracking_uri": f"sqlite:///{tmp_path / 'nowhere' / 'mlflow.db'}"})
    page = console.get("/models?lang=en")
    assert page.status_code == 200
    assert 'data-testid="plots-problem"' in page.text and "not found" in page.text
    assert "hs6_top1" in page.text  # the served version's own metrics are still shown
    assert not (tmp_path / "nowhere" / "mlflow.db").exists()


def test_monitoring_panel_above_the_models_with_charts_and_statements(mlflow_settings, tmp_path, nomenclature):
    import dataclasses
    from types import MappingProxyType

    import pandas as pd

    from models.names import DELAY, RISK
    from serving.served import ServedVersion
    from tests.data.store.rows import add_history
    from tests.models.shipment_models import small_history, small_models

    delay, risk = small_models()
    settings = mlflow_settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'store.db'}"})
    holder = StaticHolder(OverlaySuggester(seed_rulings(), nomenclature), FixedScorer(nomenclature))
    snap = holder.snapshot
    now = snap.created_at
    versions = {**snap.versions, **{n: ServedVersion(n, 5, None, MappingProxyType({"test_pinball_p90": 4.2}),
                                                     "registry", f"models:/{n}/5", now, now) for n in (DELAY, RISK)}}
    holder.snapshot = dataclasses.replace(snap, versions=MappingProxyType(versions),
                                          natives=MappingProxyType({**snap.natives, DELAY: delay, RISK: risk}))
    history = small_history()
    ts = pd.to_datetime(history["declared_at"], utc=True)
    with TestClient(console_app(settings, holder)) as client:
        sign_in(client, "score")
        add_history(client.app.state.engine, history[ts >= ts.max() - pd.Timedelta(weeks=12)], shift_hours=150.0)
        page = client.get("/models?lang=en")
    assert page.status_code == 200, page.text
    html = page.text
    assert html.index('data-testid="monitoring"') < html.index('data-testid="model"')
    assert html.count('data-testid="monitoring-model"') == 2
    assert html.count('data-testid="monitoring-chart"') >= 8  # 4 delay + 2 risk + reliability + drift per model
    assert 'data-testid="chart-band"' in html  # the training-time range is drawn
    assert 'data-kind="out_of_range"' in html and "P90 coverage was outside its training-time range" in html
    assert 'data-key="test_pinball_p90"' in html  # the delay model's headline metric
