"""CLI: clearance rulings import/demo/stats and clearance nomenclature import/show."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from data.errors import InvalidInputError
from demo.rulings import write_demo_rulings

ROOT = Path(__file__).resolve().parents[3]


def test_import_summary_errors_and_idempotence(cli, tmp_path):
    path = write_demo_rulings(tmp_path / "lib.csv", n=60, seed=2)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(",   ,,,851671,,,,,,,,\n,x,,,8516.7,,,,,,,,\n")
    first = cli("rulings", "import", path, "--json", "--errors-out", tmp_path / "errors.jsonl")
    assert first.exit_code == 0, first.output
    body = json.loads(first.output)
    assert (body["rows_read"], body["inserted"], body["duplicates"], body["rejected"]) == (62, 60, 0, 2)
    assert {(e["line"], e["field"]) for e in body["errors"]} == {(62, "product_name"), (63, "hs_code")}
    written = [json.loads(x) for x in (tmp_path / "errors.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(written) == 2
    again = cli("rulings", "import", path)
    assert again.exit_code == 0 and "0 inserted, 60 duplicates, 2 rejected" in again.output
    assert "line 63: hs_code: invalid HS code '8516.7': 5 digits" in again.output
    stats = json.loads(cli("rulings", "stats", "--json").output)
    assert stats["rulings"] == 60


def test_an_import_under_an_idempotency_key_applies_once(cli, tmp_path):
    from sqlalchemy import func, select

    from data.settings import get_settings
    from data.store.db import open_store
    from data.store.rulings import ImportBatchRow

    path = write_demo_rulings(tmp_path / "lib.csv", n=20, seed=3)
    first = json.loads(cli("rulings", "import", path, "--json", "--idempotency-key", "nightly-2026-12-04").output)
    again = json.loads(cli("rulings", "import", path, "--json", "--idempotency-key", "nightly-2026-12-04").output)
    assert (first["inserted"], first["replayed"]) == (20, False)
    assert again == {**first, "replayed": True}  # the first run's summary, not "0 inserted, 20 duplicates"
    with open_store(get_settings().database_url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(ImportBatchRow.__table__)).scalar_one() == 1
    path.write_text(path.read_text(encoding="utf-8") + ",another row,,,851671,,,,,,,,\n", encoding="utf-8")
    changed = cli("rulings", "import", path, "--json", "--idempotency-key", "nightly-2026-12-04")
    assert changed.exit_code != 0 and getattr(changed.exception, "code", None) == "idempotency_key_reused"


def test_import_with_column_mapping_and_unknown_column(cli, tmp_path):
    path = tmp_path / "titles.tsv"
    path.write_text("hs10\ths6\ttitle_tokens\n1905310000\t190531\t饼干 袋装 全麦\n", encoding="utf-8")
    ok = cli("rulings", "import", path, "--text-col", "title_tokens", "--code-col", "hs10", "--source", "declaration",
             "--json")
    assert ok.exit_code == 0 and json.loads(ok.output)["inserted"] == 1
    bad = cli("rulings", "import", path, "--text-col", "title", "--code-col", "hs10")
    assert isinstance(bad.exception, InvalidInputError) and "hs10, hs6, title_tokens" in bad.exception.message
    bad_source = cli("rulings", "import", path, "--text-col", "title_tokens", "--code-col", "hs10", "--source", "x")
    assert isinstance(bad_source.exception, InvalidInputError)


def test_demo_to_store_and_file(cli, tmp_path):
    out = cli("rulings", "demo", "--n", "200", "--json")
    assert json.loads(out.output) == {"rulings": 200, "seed": 7, "inserted": 200, "duplicates": 0}
    again = json.loads(cli("rulings", "demo", "--n", "200", "--json").output)
    assert again["inserted"] == 0 and again["duplicates"] == 200
    res = cli("rulings", "demo", "--n", "30", "--out", tmp_path / "d.jsonl")
    assert res.exit_code == 0 and len((tmp_path / "d.jsonl").read_text(encoding="utf-8").splitlines()) == 30


def test_nomenclature_import_and_show(cli, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("code8,hs6,year,zh,en\n85167110,851671,2023,滴液式咖啡机,Drip coffee maker\n"
                    "85167190,851671,2023,其他电咖啡机或茶壶,Other coffee makers\n", encoding="utf-8")
    res = cli("nomenclature", "import", path, "--json")
    body = json.loads(res.output)
    assert body["inserted"] == 2 and body["nomenclature_version"] == "HS2022+CN2023"
    shown = json.loads(cli("nomenclature", "show", "8516.71.10", "--json").output)
    assert [h["code"] for h in shown["hierarchy"]] == ["85", "8516", "851671", "85167110"] and shown["valid"]
    text = cli("nomenclature", "show", "851671").output
    assert "85167110  Drip coffee maker | 滴液式咖啡机" in text
    bad = cli("nomenclature", "show", "851699")
    assert isinstance(bad.exception, InvalidInputError) and "unknown subheading" in bad.exception.message


def test_bad_input_exits_cleanly_without_traceback(tmp_path):
    env = {**os.environ, "CLEARANCE_DATA_DIR": str(tmp_path / "var")}
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "serving.cli.main", "rulings", "import", str(path)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "error [invalid_input]: column 'product_name' (text-col)" in proc.stderr
    assert "Traceback" not in proc.stderr
