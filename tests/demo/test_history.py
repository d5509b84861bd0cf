"""The demo history as a training frame: columns, the cache key, and training/serving parity of the feature rows."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from data.nomenclature import Nomenclature
from data.shipments.schema import Shipment
from demo.history import cache_path, history_frame
from demo.shipments import GENERATOR_REVISION, generate_shipments
from features.checks import run_checks
from features.shipment_features import CATEGORICAL, FEATURE_NAMES, FEATURES_VERSION, LABEL_COLUMNS


@pytest.fixture(scope="module")
def nom() -> Nomenclature:
    return Nomenclature.default()


@pytest.fixture(scope="module")
def small_frame(tmp_path_factory, nom) -> tuple[pd.DataFrame, object]:
    cache = tmp_path_factory.mktemp("cache")
    return history_frame(600, seed=9, nomenclature=nom, cache_dir=cache), cache


def _values(frame: pd.DataFrame) -> pd.DataFrame:
    """Categoricals as plain values: a one-row frame holds only its own open-ended levels, the history all of them."""
    return frame.astype({c: object for c in CATEGORICAL})


def test_history_frame_columns_and_labels(small_frame):
    frame, _ = small_frame
    assert list(frame.columns) == ["shipment_id", "declared_at", *FEATURE_NAMES, *LABEL_COLUMNS]
    assert len(frame) == 600 and frame.shipment_id.is_unique
    assert set(frame.risk_level) <= {"low", "medium", "high"}
    assert frame.carrier.notna().all() and frame.destination_port.notna().all()  # demo levels are not a fixed list


def test_history_frame_is_cached_by_feature_version_and_generator_revision(small_frame, nom, monkeypatch):
    frame, cache = small_frame
    files = list(cache.glob("*.parquet"))
    assert files == [cache_path(cache, 600, 9, 24)]
    assert FEATURES_VERSION in files[0].name and f"-g{GENERATOR_REVISION}" in files[0].name
    again = history_frame(600, seed=9, nomenclature=nom, cache_dir=cache)
    pd.testing.assert_frame_equal(frame, again)
    monkeypatch.setattr("demo.shipments.GENERATOR_REVISION", GENERATOR_REVISION + 1)
    assert cache_path(cache, 600, 9, 24) != files[0]  # a new generator revision never reads the old frame


def test_training_serving_parity(small_frame, nom):
    """A generated document served as JSON, with the congestion figures serving would read at its declaration
    (the history's outcomes known by then), yields exactly its training row."""
    from features.congestion import CongestionHistory
    from features.shipment_features import feature_row, rows_to_frame

    frame, _ = small_frame
    declared_s = (frame.declared_at - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    outcomes = CongestionHistory(frame.export_port.astype(str), frame.destination_port.astype(str), declared_s,
                                 frame.delay_hours)
    docs = generate_shipments(600, seed=9).shipments
    for i in range(0, 600, 7):
        s = Shipment.model_validate_json(json.dumps(docs[i]))
        snapshot = outcomes.snapshot(s.declaration.declared_at)
        served = rows_to_frame([feature_row(s, run_checks(s, nom), snapshot)])
        trained = frame.iloc[[i]][FEATURE_NAMES].reset_index(drop=True)
        pd.testing.assert_frame_equal(_values(served), _values(trained))
        assert frame.shipment_id.iloc[i] == s.shipment_id
