"""``clearance shipments generate|check`` end to end on small files."""

from __future__ import annotations

import json

import pandas as pd

from data.shipments.examples import example_shipment
from serving.cli.shipments import app


def test_generate_parquet_and_jsonl(runner, tmp_path):
    res = runner.invoke(app, ["generate", "--n", "200", "--seed", "3", "--out", str(tmp_path / "h.parquet")])
    assert res.exit_code == 0, res.output
    frame = pd.read_parquet(tmp_path / "h.parquet")
    assert len(frame) == 200 and {"shipment_id", "delay_hours", "outcome", "risk_level", "document"} <= set(frame)
    res = runner.invoke(app, ["generate", "--n", "200", "--seed", "3", "--out", str(tmp_path / "h.jsonl")])
    assert res.exit_code == 0, res.output
    lines = (tmp_path / "h.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["shipment_id"] for x in lines] == frame.shipment_id.tolist()


def test_generate_rejects_unknown_extension(runner, tmp_path):
    res = runner.invoke(app, ["generate", "--n", "10", "--out", str(tmp_path / "h.csv")])
    assert res.exit_code != 0 and "out" in str(res.exception.details)


def test_check_reports_every_document(runner, tmp_path):
    bad = example_shipment()
    bad["order"]["lines"][0]["quantity"] = -1
    finding = example_shipment()
    finding["order"]["consignee"]["phone"] = None
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join([json.dumps(example_shipment()), json.dumps(bad), "{not json", json.dumps(finding)]),
                    encoding="utf-8")
    res = runner.invoke(app, ["check", str(path), "--json"])
    assert res.exit_code == 1  # a rejected document
    out = json.loads(res.output)
    assert out["documents"] == 4 and out["rejected"] == 2
    r = out["results"]
    assert r[0]["valid"] and r[0]["findings"] == []
    assert r[1]["errors"][0]["field"] == "order.lines.0.quantity"
    assert r[2]["item"] == 3 and "invalid JSON" in r[2]["errors"][0]["reason"]
    assert [f["code"] for f in r[3]["findings"]] == ["CONSIGNEE_PHONE_MISSING"]


def test_check_single_json_file_ok(runner, tmp_path):
    path = tmp_path / "one.json"
    path.write_text(json.dumps(example_shipment()), encoding="utf-8")
    res = runner.invoke(app, ["check", str(path)])
    assert res.exit_code == 0 and "ok" in res.output
