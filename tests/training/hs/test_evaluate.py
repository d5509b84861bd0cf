"""HS training and evaluation: evaluate files (temporary store), JSON keys, baseline, MLflow logging, train_and_log."""

from __future__ import annotations

import json

import pytest

from data.errors import InvalidInputError
from training.hs import evaluate_files, topk_table

pytestmark = pytest.mark.slow

LEVEL_KEYS = {"top1", "top3", "top5"}


@pytest.fixture(scope="module")
def encoder():
    from models.encoders import load_encoder

    return load_encoder("use", threads=2)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from demo.rulings import generate_demo_rulings

    rulings = generate_demo_rulings(500, seed=21)
    root = tmp_path_factory.mktemp("hs-eval")
    lib, queries = root / "library.jsonl", root / "queries.csv"
    with open(lib, "w", encoding="utf-8") as fh:
        for r in rulings[:420]:
            fh.write(r.model_dump_json(include={"product_name", "description", "declared_elements", "hs_code",
                                                "source"}) + "\n")
    import pandas as pd

    pd.DataFrame([{"title": r.product_name, "code": r.hs_code} for r in rulings[420:]]).to_csv(queries, index=False)
    return lib, queries


def _check_levels(block):
    assert set(block) >= LEVEL_KEYS
    assert all(0.0 <= block[k] <= 1.0 for k in LEVEL_KEYS)
    assert block["top1"] <= block["top3"] <= block["top5"]


def test_topk_table_and_score_answers_by_hand():
    assert topk_table([["a", "b"], ["c"], ["x", "y", "z", "w", "a"]], ["b", "c", "a"]) == \
        {"top1": 1 / 3, "top3": 2 / 3, "top5": 1.0}


def test_evaluate_files_report_keys(files, encoder, tmp_path):
    from data.rulings.readers import ColumnMapping

    lib, queries = files
    # Library in the export format (JSONL), queries in a CSV with other column names: one mapping cannot serve both,
    # so the queries are rewritten with the library's names.
    import pandas as pd

    q = pd.read_csv(queries).rename(columns={"title": "product_name", "code": "hs_code"})
    qpath = tmp_path / "q.csv"
    q.to_csv(qpath, index=False)
    run = evaluate_files(lib, qpath, mapping=ColumnMapping(), encoder=encoder, baseline=True, progress=False)
    report = run.report
    assert report["n"] == 80
    for level in ("hs2", "hs4", "hs6"):
        _check_levels(report[level])
        _check_levels(report["baseline"][level])
    assert report["hs2"]["top1"] >= report["hs4"]["top1"] >= report["hs6"]["top1"]
    assert set(report["confident"]) == {"coverage", "accuracy"}
    assert 0.0 <= report["confident"]["coverage"] <= 1.0 and 0.0 <= report["confident"]["accuracy"] <= 1.0
    assert 0.0 <= report["ece"] <= 1.0
    assert sum(v["n"] for v in report["by_language"].values()) == 80
    assert report["hs6"]["top5"] >= 0.6  # generated library: a working suggester finds most codes
    assert report["library"]["stored"] == 420
    json.dumps({k: v for k, v in report.items() if k != "reliability"})


def test_evaluate_unknown_column_is_a_clear_error(files, encoder):
    from data.rulings.readers import ColumnMapping

    lib, queries = files
    with pytest.raises(InvalidInputError) as err:
        evaluate_files(lib, queries, mapping=ColumnMapping(text_col="nope"), encoder=encoder, progress=False)
    assert "nope" in err.value.message


def test_cli_evaluate_writes_json_and_logs_to_mlflow(files, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from serving.cli.main import app

    lib, queries = files
    import pandas as pd

    # Both files with the same custom column names, as --text-col/--code-col expect.
    lib2 = tmp_path / "lib.csv"
    rows = [json.loads(line) for line in open(lib, encoding="utf-8")]
    pd.DataFrame([{"title": r["product_name"], "code": r["hs_code"]} for r in rows]).to_csv(lib2, index=False)
    out = tmp_path / "report.json"
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("CLEARANCE_DATA_DIR", str(tmp_path / "var"))
    result = CliRunner().invoke(app, ["hs", "evaluate", "--library", str(lib2), "--queries", str(queries),
                                      "--text-col", "title", "--code-col", "code", "--json", str(out), "--baseline",
                                      "--tracking-uri", tracking])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert {"n", "hs2", "hs4", "hs6", "confident", "ece", "baseline"} <= set(report)
    assert set(report["baseline"]["hs6"]) >= LEVEL_KEYS
    assert "reliability" not in report
    import mlflow

    run = mlflow.get_run(report["mlflow_run_id"])
    assert run.data.metrics["hs6_top1"] == pytest.approx(report["hs6"]["top1"])
    assert "baseline_hs6_top1" in run.data.metrics
    arts = {a.path for a in mlflow.MlflowClient(tracking).list_artifacts(run.info.run_id, "plots")}
    assert arts == {"plots/reliability.png", "plots/accuracy_by_chapter.png"}
    assert not (tmp_path / "var" / "clearance.db").exists()  # the user's store is never touched


def test_train_and_log_registers_challenger(mlflow_settings, encoder):
    import mlflow

    from demo.rulings import generate_demo_rulings
    from models.suggester.suggester import HSSuggester
    from training.hs import train_and_log

    rulings = generate_demo_rulings(300, seed=5)
    result = train_and_log(mlflow_settings, rulings, encoder_spec="use", register=True, progress=False)
    assert isinstance(result.version, int) and result.version >= 1
    assert 0.0 <= result.metrics["hs6_top1"] <= 1.0 and "ece" in result.metrics
    run = mlflow.get_run(result.run_id)
    assert run.data.metrics["hs6_top1"] == pytest.approx(result.metrics["hs6_top1"])
    assert run.data.params["n_rulings"] == "300"
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_settings.mlflow_tracking_uri)
    mv = client.get_model_version_by_alias("clearance-hs-suggester", "challenger")
    assert int(mv.version) == result.version
    native = mlflow.pyfunc.load_model(f"models:/clearance-hs-suggester/{result.version}").unwrap_python_model().native
    assert isinstance(native, HSSuggester) and native.n_rulings == 300


def test_train_and_log_without_registering(mlflow_settings, encoder):
    from demo.rulings import generate_demo_rulings
    from training.hs import train_and_log

    result = train_and_log(mlflow_settings, generate_demo_rulings(120, seed=9), register=False, progress=False)
    assert result.version is None and result.run_id and result.model_uri


def test_train_and_log_refuses_an_empty_library(mlflow_settings):
    from training.hs import train_and_log

    with pytest.raises(InvalidInputError):
        train_and_log(mlflow_settings, [], register=False, progress=False)
