"""``clearance shipments import``: summary, row errors by line and column, exit code when nothing was usable."""

from __future__ import annotations

import json

from serving.cli.shipments import app


def test_import_reports_and_is_idempotent(runner, tmp_path):
    path = tmp_path / "o.csv"
    path.write_text("ship,declared_at,delay_hours,inspected,result,first_pass\n"
                    "S1,2026-01-05T10:00:00+08:00,12,false,released,true\n"
                    "S2,2026-01-05T10:00:00+08:00,12,false,released,maybe\n")
    res = runner.invoke(app, ["import", str(path), "--shipment-id-col", "ship", "--json", "--no-progress"])
    assert res.exit_code == 0, res.output
    body = json.loads(res.output)
    assert body["outcomes"]["inserted"] == 1 and body["rejected"] == 1
    assert body["errors"][0]["line"] == 3 and body["errors"][0]["field"] == "first_pass"
    res = runner.invoke(app, ["import", str(path), "--shipment-id-col", "ship", "--no-progress"])
    assert res.exit_code == 0 and "0 new" in res.output and "1 unchanged" in res.output
    assert "line 3: first_pass" in res.output


def test_import_exit_code_when_every_row_is_bad(runner, tmp_path):
    path = tmp_path / "o.jsonl"
    path.write_text('{"shipment_id": "S1"}\n')
    res = runner.invoke(app, ["import", str(path), "--no-progress"])
    assert res.exit_code == 1, res.output
