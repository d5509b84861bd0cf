"""Model monitoring on stored shipments with outcomes: weekly figures, drift and range statements, the route."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

import numpy as np
import pandas as pd
import pytest

from data.settings import Settings
from data.store.db import init_db, make_engine
from features.congestion import CONGESTION_FEATURES
from models.names import DELAY, RISK
from serving.models_api.monitoring import monitoring_report
from tests.data.store.rows import add_history


@pytest.fixture(scope="module")
def served():
    from serving.served import ServedModels, ServedVersion
    from tests.models.shipment_models import small_models

    delay, risk = small_models()
    now = pd.Timestamp.now(tz="UTC").to_pydatetime()
    versions = {n: ServedVersion(n, 4, None, MappingProxyType({}), "registry", f"models:/{n}/4", now, now)
                for n in (DELAY, RISK)}
    return ServedModels(suggester=None, scorer=None, versions=MappingProxyType(versions),
                        natives=MappingProxyType({DELAY: delay, RISK: risk}), stale=False, created_at=now)


@pytest.fixture(scope="module")
def recent():
    from tests.models.shipment_models import small_history

    history = small_history()
    ts = pd.to_datetime(history["declared_at"], utc=True)
    return history[ts >= ts.max() - pd.Timedelta(weeks=12)]


def _report(tmp_path, served, frame, **shift):
    engine = make_engine(f"sqlite:///{tmp_path / 'monitoring.db'}")
    init_db(engine)
    add_history(engine, frame, **shift)
    return monitoring_report(served, engine, Settings(data_dir=tmp_path))


def test_weekly_figures_on_the_stored_outcomes(tmp_path, served, recent):
    report = _report(tmp_path, served, recent)
    delay, risk = {m["kind"]: m for m in report["models"]}["delay"], {m["kind"]: m for m in report["models"]}["risk"]
    assert report["n_outcomes"] == len(recent) and delay["version"] == 4
    judged = [w for w in delay["weeks"] if w["judged"]]
    assert len(judged) >= 10
    assert 0.75 < np.mean([w["coverage_p90"] for w in judged]) < 0.97
    assert 0.35 < np.mean([w["coverage_p50"] for w in judged]) < 0.65
    assert all(w["pinball_p90"] > 0 for w in judged)
    assert delay["training_ranges"]["coverage_p90"][0] <= delay["training_ranges"]["coverage_p90"][1]
    assert all(0 <= w["precision_at_review_rate"] <= 1 for w in risk["weeks"])
    assert risk["reliability"] and sum(b["n"] for b in risk["reliability"]) == len(recent)
    # The recent 12 weeks are the demo's Q4 peak: more shipments per port and slower releases, which the 7-day
    # congestion figures rightly show as drift. Nothing else moved, so nothing else may be flagged.
    drifted = {d["feature"] for d in delay["drift"] if d["drifted"]}
    assert drifted <= set(CONGESTION_FEATURES), drifted - set(CONGESTION_FEATURES)
    assert "declared_month" not in {d["feature"] for d in delay["drift"]}  # calendar features are not drift


def test_a_shifted_store_is_flagged(tmp_path, served, recent):
    report = _report(tmp_path, served, recent, shift_hours=150.0, shift_features=True)
    delay = next(m for m in report["models"] if m["kind"] == "delay")
    drifted = {d["feature"] for d in delay["drift"] if d["drifted"]}
    assert {"declared_value_usd", "channel"} <= drifted
    statements = {s["figure"]: s for s in delay["statements"]}
    assert "coverage_p90" in statements and "below" in statements["coverage_p90"]["en"]
    assert "训练时范围" in statements["coverage_p90"]["zh"]
    assert "psi" in statements and "declared_value_usd" in statements["psi"]["en"]


def test_an_empty_store_and_a_model_without_profile(tmp_path, served):
    import pickle

    old_delay = pickle.loads(pickle.dumps(served.natives[DELAY]))
    del old_delay.model_.profile_
    old = dataclasses.replace(served, natives=MappingProxyType({DELAY: old_delay}))
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    init_db(engine)
    report = monitoring_report(old, engine, Settings(data_dir=tmp_path))
    (entry,) = report["models"]
    assert entry["n_outcomes"] == 0 and entry["weeks"] == [] and entry["has_profile"] is False
    assert entry["drift"] == [] and entry["statements"] == []


def test_monitoring_route(make_app, recent):
    from fastapi.testclient import TestClient

    from tests.serving.conftest import make_key, wait_ready

    app = make_app()
    with TestClient(app) as client:
        wait_ready(client)
        add_history(app.state.engine, recent.tail(200))
        key = make_key(app, "score")
        assert client.get("/v1/models/monitoring").status_code == 401
        response = client.get("/v1/models/monitoring", headers={"X-API-Key": key})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["n_outcomes"] == 200 and body["models"] == []  # the fake champions have no delay/risk model
