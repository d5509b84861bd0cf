"""``clearance train`` (``training.pipeline.train_all``, the code behind ``make run``) on a tiny demo world: it fills
the store (rulings, and the shipment history through the outcome import) and the registry, promotes champions,
skips what exists, and the champions answer."""

from __future__ import annotations

import pytest

from models.names import DELAY, HS_SUGGESTER, RISK, SERVED_MODELS

pytestmark = pytest.mark.slow

RULINGS, SHIPMENTS = 300, 3000


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny end-to-end run: demo library → store, suggester + delay + risk → registry, promoted to champion."""
    from data.settings import Settings
    from training.pipeline import train_all

    # threads=2: the encoder is then the one the model tests load (one per process, keyed by spec and threads)
    settings = Settings(data_dir=tmp_path_factory.mktemp("pipeline") / "var", threads=2)
    # baselines=False: they are tested with the shipment models, and here would cost more than the models
    report = train_all(settings, promote=True, rulings_n=RULINGS, shipments_n=SHIPMENTS, seed=42, baselines=False)
    return settings, report


def test_train_all_registers_and_promotes_every_served_model(trained):
    from data.rulings.repository import RulingRepository
    from data.store.db import open_store
    from training import registry

    settings, report = trained
    assert set(report.trained) == set(SERVED_MODELS) and report.skipped == []
    assert RulingRepository(open_store(settings.database_url)).count() == RULINGS  # the demo library was imported
    for name in SERVED_MODELS:
        assert report.promotions[name].promoted, report.promotions[name].reason
        champion = registry.get_version(name, settings, alias=registry.CHAMPION)
        assert champion.version == 1 and champion.primary_value is not None
    assert (settings.data_dir / "reports" / "shipment-models.md").exists()
    # the demo history went into the store through the outcome import, and delay/risk were trained from it
    from data.store.outcomes import ShipmentStore

    counts = ShipmentStore(open_store(settings.database_url)).count()
    assert counts["outcomes"] == counts["shipments"] == SHIPMENTS
    assert report.promotions[DELAY].reason == "no champion yet: first promotion"


def test_a_second_run_with_skip_existing_trains_nothing(trained):
    from training import registry
    from training.pipeline import train_all

    settings, _ = trained
    again = train_all(settings, skip_existing=True, promote=True, rulings_n=RULINGS, shipments_n=SHIPMENTS, seed=42)
    assert sorted(again.skipped) == sorted(SERVED_MODELS) and again.trained == {} and again.promotions == {}
    assert {v.version for v in registry.list_versions(settings, SERVED_MODELS)} == {1}  # no new version registered


def test_the_champions_answer_a_demo_product_and_score_a_shipment(trained):
    import mlflow.pyfunc
    import pandas as pd

    from data.shipments.examples import example_shipment
    from demo.rulings import generate_demo_rulings
    from training import registry

    settings, _ = trained
    registry.configure_mlflow(settings)
    suggester = mlflow.pyfunc.load_model(registry.champion_uri(HS_SUGGESTER))
    library = generate_demo_rulings(RULINGS, seed=7)  # what train_all imported
    queries = library[:20]
    answers = suggester.predict(pd.DataFrame({"text": [r.product_name for r in queries]}), params={"top_k": 3})
    hits = [r.hs6 in {c["code"][:6] for c in a["candidates"]} for r, a in zip(queries, answers)]
    assert sum(hits) >= 16, hits

    from data.nomenclature import Nomenclature
    from data.shipments.schema import Shipment
    from features.checks import run_checks
    from features.shipment_features import feature_row

    shipment = Shipment.model_validate(example_shipment())
    row = feature_row(shipment, run_checks(shipment, Nomenclature.default()))
    delay = mlflow.pyfunc.load_model(registry.champion_uri(DELAY)).unwrap_python_model().native
    risk = mlflow.pyfunc.load_model(registry.champion_uri(RISK)).unwrap_python_model().native
    p50, p90 = delay.predict_rows([row])[0]
    assert 0 <= p50 <= p90
    proba = risk.predict_rows([row])[0]
    assert proba.shape == (3,) and abs(proba.sum() - 1) < 1e-9
