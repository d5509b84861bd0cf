"""Retraining on the store: the frame from stored shipments with outcomes (serving's feature rows, congestion as of
each declaration), training from it, and the promotion gate on the newest outcomes neither model saw."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data.settings import Settings
from data.store.db import open_store
from models.names import DELAY, RISK

N, MONTHS = 2500, 9


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A store holding a small generated history, imported as an ERP export (documents + outcomes)."""
    from training.pipeline import ensure_demo_history

    settings = Settings(data_dir=tmp_path_factory.mktemp("store-training") / "var", threads=1)
    assert ensure_demo_history(settings, N, seed=5, months=MONTHS, progress=False) == N
    return settings


@pytest.fixture(scope="module")
def frame(filled):
    from training.store_history import store_history_frame

    return store_history_frame(open_store(filled.database_url))


def test_frame_has_serving_features_labels_and_congestion_without_look_ahead(filled, frame):
    from demo.shipments import generate_shipments
    from features.congestion import CONGESTION_FEATURES
    from features.shipment_features import FEATURE_NAMES

    assert len(frame) == N and frame["declared_at"].is_monotonic_increasing
    assert list(frame.columns[2:2 + len(FEATURE_NAMES)]) == FEATURE_NAMES
    labels = generate_shipments(n=N, months=MONTHS, seed=5).labels.set_index("shipment_id")
    joined = frame.set_index("shipment_id")
    assert np.allclose(joined["delay_hours"], labels.loc[joined.index, "delay_hours"])
    assert (joined["risk_level"] == labels.loc[joined.index, "risk_level"]).all()  # the same documented rule
    # congestion: the first shipment knows no outcome yet; later ones do
    assert frame.iloc[0]["export_port_outcomes_7d"] == 0 and frame.iloc[0]["destination_port_outcomes_7d"] == 0
    assert frame[CONGESTION_FEATURES[:3]].iloc[-200:].notna().all().all()  # export ports are busy enough
    # recomputing one row's figure by hand from the outcomes known before its declaration
    row = frame.iloc[-1]
    start = row.declared_at.floor("h")
    known = frame.declared_at + pd.to_timedelta(frame.delay_hours, unit="h")
    same = frame[(frame.export_port == row.export_port) & (known < start) & (known >= start - pd.Timedelta(days=7))]
    assert row.export_port_outcomes_7d == len(same)
    assert row.export_port_release_p50_7d == pytest.approx(same.delay_hours.median())


def test_serving_reads_the_same_figures_from_the_store_as_training(filled, frame):
    from features.congestion import CONGESTION_FEATURES, current_congestion, current_congestion_table

    engine = open_store(filled.database_url)
    for _, row in frame.iloc[[-1, -500, -1500]].iterrows():
        served = current_congestion(engine, at=row.declared_at.to_pydatetime()).values(row.export_port,
                                                                                       row.destination_port)
        for name in CONGESTION_FEATURES:
            expected = row[name]
            assert (served[name] is None and np.isnan(expected)) or served[name] == pytest.approx(expected), name
    table = current_congestion_table(engine, at=frame.declared_at.iloc[-1].to_pydatetime())
    assert {r["kind"] for r in table} == {"export_port", "destination_port"}
    assert sum(r["outcomes"] for r in table if r["kind"] == "export_port") == \
        sum(r["outcomes"] for r in table if r["kind"] == "destination_port") > 0


def test_rows_of_another_feature_version_are_recomputed_from_the_document(filled, frame):
    from sqlalchemy import update

    from data.store.shipments import ShipmentRow
    from training.store_history import store_history_frame

    engine = open_store(filled.database_url)
    first = frame.iloc[0]
    with engine.begin() as conn:
        conn.execute(update(ShipmentRow).where(ShipmentRow.shipment_id == first.shipment_id)
                     .values(features={"_features_version": "old", "n_lines": -1}))
    again = store_history_frame(engine).set_index("shipment_id")
    assert again.loc[first.shipment_id, "n_lines"] == first.n_lines


@pytest.mark.slow
def test_training_from_the_store_and_the_recent_outcome_gate(filled, frame):
    from training import registry
    from training.pipeline import train_from_store
    from training.recent_gate import compare_on_recent, promote_on_recent
    from training.shipment_models import train_shipment_models

    settings = filled
    # v1: trained on the store and promoted (no champion yet)
    results, promotions = train_from_store(settings, seed=0, promote=True, baselines=False, progress=False)
    assert promotions[DELAY].promoted and promotions[RISK].promoted
    split = results[DELAY].metrics["split"]
    assert split["train_rows"] + split["valid_rows"] + split["test_rows"] == len(frame)

    # v2: trained on a corrupted history whose own test months look better (delays scaled down): the stored metric
    # would promote it, the real recent outcomes must not
    bad = frame.copy()
    bad["delay_hours"] = bad["delay_hours"] * 0.2
    bad["risk_level"] = bad["risk_level"].sample(frac=1.0, random_state=0).to_numpy()
    train_shipment_models(settings, bad, seed=0, baselines=False, progress=False)
    assert registry.get_version(DELAY, settings, alias=registry.CHALLENGER).primary_value < \
        registry.get_version(DELAY, settings, alias=registry.CHAMPION).primary_value
    for name in (DELAY, RISK):
        result = promote_on_recent(settings, name, frame)
        assert not result.promoted, result.reason
        assert "neither trained on them" in result.reason
        assert result.metrics["recent"]["rows"] == split["test_rows"]
        assert registry.get_version(name, settings, alias=registry.CHAMPION).version == 1

    # v3: a clean retrain is no worse on the recent outcomes: promoted, and the alias change keeps the figures
    train_shipment_models(settings, frame, seed=0, baselines=False, progress=False)
    verdict = compare_on_recent(settings, DELAY, frame)
    assert verdict.ok and set(verdict.metrics) == {"challenger", "champion"}
    assert promote_on_recent(settings, DELAY, frame).promoted
    change = registry.history(DELAY, settings)[-2]
    assert change.to_version == 3 and "recent" in change.metrics
    # too few recent outcomes is no evidence
    train_shipment_models(settings, frame, seed=1, baselines=False, progress=False)
    assert not promote_on_recent(settings, DELAY, frame, min_rows=10 * N).promoted
