"""The shipment models' training run: time split, LightGBM beside the baselines, MLflow logging and registration."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from models.names import DELAY, RISK
from tests.models.shipment_models import small_history
from training.shipment_models import evaluation_report, fit_shipment_models, time_split


def test_time_split_is_chronological():
    frame = small_history()
    train, valid, test = time_split(frame, test_months=4, valid_months=2)
    ts = {k: pd.to_datetime(v.declared_at, utc=True) for k, v in (("train", train), ("valid", valid), ("test", test))}
    assert ts["train"].max() < ts["valid"].min() and ts["valid"].max() < ts["test"].min()
    assert len(train) + len(valid) + len(test) == len(frame)
    span = (ts["test"].max() - ts["test"].min()).days
    assert 110 <= span <= 124  # the last four months


@pytest.fixture(scope="module")
def shipment_results():
    return fit_shipment_models(small_history(), num_threads=1, seed=0, baselines=True)


def test_shipment_models_beside_baselines(shipment_results):
    payload, md = evaluation_report(shipment_results)
    assert set(payload["delay"]["test"]) == {"lightgbm", "rules", "linear_quantile", "hist_gbm"}
    assert set(payload["risk"]["test"]) == {"lightgbm", "rules", "logistic", "hist_gbm"}
    for name, m in payload["delay"]["test"].items():
        assert {"mae", "pinball_p50", "pinball_p90", "coverage_p90"} <= set(m), name
    for name, m in payload["risk"]["test"].items():
        assert {"macro_f1", "auc_ovr", "precision_at_5pct", "precision_at_10pct", "ece"} <= set(m), name
    lgb_d, lgb_r = payload["delay"]["test"]["lightgbm"], payload["risk"]["test"]["lightgbm"]
    assert 0.8 <= lgb_d["coverage_p90"] <= 0.97
    assert lgb_r["auc_ovr"] > 0.7 and lgb_r["precision_at_5pct"] > 2 * lgb_r["high_rate"]
    assert lgb_r["ece"] < 0.06  # temperature-calibrated on the validation months
    assert "| lightgbm |" in md and "| hist_gbm |" in md
    json.dumps(payload)  # serialisable as written


def test_train_shipment_models_logs_and_registers(tmp_path, monkeypatch):
    import mlflow

    from data.settings import Settings
    from demo.history import history_frame
    from models.delay import DelayModel
    from models.risk import RiskModel
    from training import registry
    from training.shipment_models import train_shipment_models

    settings = Settings(data_dir=tmp_path / "var", threads=1)
    results = train_shipment_models(settings, history_frame(3000, seed=5), seed=5, register=True, progress=False,
                                    baselines=False, params={"history": "demo"})
    assert (tmp_path / "var" / "reports" / "shipment-models.md").exists()
    registry.configure_mlflow(settings)
    client = registry.client(settings)
    for name, cls in ((DELAY, DelayModel), (RISK, RiskModel)):
        res = results[name]
        assert res.version == 1 and res.run_id
        mv = client.get_model_version_by_alias(name, "challenger")
        assert int(mv.version) == res.version
        run = client.get_run(res.run_id)
        assert any(k.startswith("test_") for k in run.data.metrics)
        assert run.data.params["history"] == "demo" and run.data.params["n_shipments"] == "3000"
        assert run.info.run_name == name
        arts = [a.path for a in client.list_artifacts(res.run_id, "reports")]
        assert any("calibration" in a for a in arts) or name == DELAY
        assert any("contribution_summary" in a for a in arts) and any("feature_importance" in a for a in arts)
        native = mlflow.pyfunc.load_model(f"models:/{name}@challenger").unwrap_python_model().native
        assert isinstance(native, cls)
        frame = small_history().head(50)
        np.testing.assert_allclose(native.predict_frame(frame).select_dtypes("number").to_numpy(),
                                   res.native.predict_frame(frame).select_dtypes("number").to_numpy())

    # `clearance risk score` scores the valid documents of a file with the registered models and names the bad fields
    from typer.testing import CliRunner

    from data.settings import get_settings
    from data.shipments.examples import example_shipment
    from serving.cli.main import app

    bad = example_shipment()
    bad["declaration"]["currency"] = "ZZZ"
    (tmp_path / "ships.jsonl").write_text(json.dumps(example_shipment()) + "\n" + json.dumps(bad) + "\n")
    monkeypatch.setenv("CLEARANCE_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(app, ["risk", "score", str(tmp_path / "ships.jsonl"), "--alias", "challenger",
                                       "--out", str(tmp_path / "scored.jsonl")])
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 0, out.output
    lines = [json.loads(x) for x in (tmp_path / "scored.jsonl").read_text().splitlines()]
    assert lines[0]["result"]["shipment_id"] == "EX-0001" and lines[0]["result"]["risk"]["level"] in ("low", "medium",
                                                                                                     "high")
    assert lines[1]["errors"][0]["field"] == "declaration.currency"
