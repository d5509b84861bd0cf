"""`clearance risk train` and `clearance risk score` with CLEARANCE_DASK_SCHEDULER pointing at the test cluster: the
commands run on it and their JSON reports say so."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner


@pytest.fixture
def on_cluster(dask_cluster, tmp_path, monkeypatch):
    from data.settings import get_settings

    monkeypatch.setenv("CLEARANCE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CLEARANCE_THREADS", "1")
    monkeypatch.setenv("CLEARANCE_DASK_SCHEDULER", dask_cluster.scheduler_address)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _invoke(*args):
    from serving.cli.main import app

    return CliRunner().invoke(app, [str(a) for a in args])


def test_risk_train_on_a_partitioned_parquet_folder(on_cluster, tmp_path):
    rng = np.random.default_rng(1)
    n = 2400
    df = pd.DataFrame({"k": rng.choice(["x", "y", "z"], n), "v": rng.normal(size=n)})
    df["t"] = (rng.random(n) < np.where(df.k == "x", 0.6, 0.1) + 0.2 * (df.v > 1)).astype(int)
    (tmp_path / "train").mkdir()
    for i in range(4):  # a dataset folder, one file per part
        df.iloc[i * 450:(i + 1) * 450].to_parquet(tmp_path / "train" / f"part-{i}.parquet", index=False)
    df.iloc[1800:].to_parquet(tmp_path / "valid.parquet", index=False)
    (tmp_path / "spec.yaml").write_text("name: toy-dask\ntask: binary\ntarget: t\ncategorical: [k]\nnumeric: [v]\n"
                                        "model: {num_boost_round: 60, early_stopping_rounds: 10}\n")
    out = _invoke("risk", "train", "--spec", tmp_path / "spec.yaml", "--train", tmp_path / "train", "--valid",
                  tmp_path / "valid.parquet", "--json", tmp_path / "out.json", "--register")
    assert out.exit_code == 0, out.output
    payload = json.loads((tmp_path / "out.json").read_text())
    assert payload["engine"] == "dask" and payload["partitions"] == 4 and payload["train_rows"] == 1800
    assert payload["train"]["n"] == 1800 and payload["valid"]["roc_auc"] > 0.7
    assert payload["registered_version"] == 1  # logged and registered like a local model

    from data.settings import get_settings
    from training.registry_client import MlflowRegistrySource

    source = MlflowRegistrySource(get_settings(), "challenger")
    assert source.resolve("toy-dask").version == 1


def test_risk_score_writes_parquet_parts_and_a_report(on_cluster, tmp_path, monkeypatch):
    import serving.cli.risk as risk_cli
    from demo.shipments import generate_shipments
    from tests.models.shipment_models import scorer

    asked = []
    monkeypatch.setattr(risk_cli, "_load_scorer", lambda settings, alias, workers: asked.append(workers) or (scorer(), {}))
    docs = generate_shipments(n=30, months=24, seed=5).shipments
    lines = [json.dumps(d) for d in docs]
    lines[4] = '{"shipment_id": "TRUNCATED'
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    out = _invoke("risk", "score", tmp_path / "in.jsonl", "--out", tmp_path / "scored", "--report",
                  tmp_path / "report.json")
    assert out.exit_code == 0, out.output
    assert asked == [0]  # the cluster is the parallelism: no extra processes per worker
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["engine"] == "dask" and report["scored"] == 29 and report["invalid"] == 1
    assert len(pd.read_parquet(tmp_path / "scored")) == 29
    assert "engine dask" in out.output

    missing = _invoke("risk", "score", tmp_path / "in.jsonl")
    assert missing.exit_code != 0 and "--out" in str(missing.exception)
    assert missing.exception.details[0]["field"] == "out"


def test_without_the_setting_the_report_says_local(tmp_path, monkeypatch):
    import serving.cli.risk as risk_cli
    from data.settings import get_settings
    from demo.shipments import generate_shipments
    from tests.models.shipment_models import scorer

    monkeypatch.setenv("CLEARANCE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("CLEARANCE_DASK_SCHEDULER", raising=False)
    get_settings.cache_clear()
    monkeypatch.setattr(risk_cli, "_load_scorer", lambda settings, alias, workers: (scorer(), {}))
    docs = generate_shipments(n=5, months=24, seed=5).shipments
    (tmp_path / "in.jsonl").write_text("\n".join(json.dumps(d) for d in docs) + "\n")
    try:
        out = _invoke("risk", "score", tmp_path / "in.jsonl", "--out", tmp_path / "out.jsonl", "--report",
                      tmp_path / "report.json")
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 0, out.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["engine"] == "local" and report["scored"] == 5 and report["invalid"] == 0
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 5  # the local output is unchanged: JSONL
