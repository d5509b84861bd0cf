"""CLI: tariff facts and the HS 2028 correlation imported, and the transition report on a small library (issue 11)."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "tariff"
LIBRARY = """product_name,hs_code,source,ruling_date
电动玩具火车 带轨道,9503002100,customs_ruling,2024-03-01
儿童气球 乳胶 100只装,9503009000,customs_ruling,2024-04-01
毛绒玩具熊,9503008900,pre_classification,2024-05-01
LED吸顶灯 铝制,9405310000,customs_ruling,2024-06-01
真皮女士手提包,4202210090,customs_ruling,2024-07-01
扫地机器人 自动回充,8508110000,declaration,2024-08-01
"""


@pytest.fixture(autouse=True)
def _fresh_books():
    from serving import editions

    editions._books.clear()
    yield
    editions._books.clear()


def _library(cli, tmp_path) -> None:
    path = tmp_path / "lib.csv"
    path.write_text(LIBRARY, encoding="utf-8")
    assert cli("nomenclature", "import", FIXTURES / "facts.csv", "--label", "CNTEST").exit_code == 0
    r = cli("rulings", "import", path, "--json")
    assert r.exit_code == 0 and json.loads(r.output)["inserted"] == 6, r.output


def test_imported_rulings_carry_the_edition_and_tariff_version(cli, tmp_path):
    from data.rulings.repository import RulingRepository
    from data.settings import get_settings
    from data.store.db import open_store

    _library(cli, tmp_path)
    stamps = {(r.hs_code, r.nomenclature_version, r.tariff_version)
              for r in RulingRepository(open_store(get_settings().database_url)).iter_all()}
    assert ("4202210090", "HS2022", "CNTEST") in stamps and ("9405310000", "HS2022", "CNTEST") in stamps


def test_nomenclature_import_prints_facts_counts_and_bad_values(cli):
    r = cli("nomenclature", "import", FIXTURES / "facts.csv", "--label", "CNTEST", "--json")
    assert r.exit_code == 0, r.output
    body = json.loads(r.output)
    assert body["facts"]["rebate_rate"] == {"column": "rebate_rate", "known": 6, "unknown": 2}
    assert {"line": 9, "field": "rebate_rate"} in [{k: e[k] for k in ("line", "field")} for e in body["errors"]]
    text = cli("nomenclature", "import", FIXTURES / "facts.csv", "--label", "CNTEST").output
    assert "rebate_rate (column rebate_rate): 6 known, 2 unknown" in text


def test_import_correlation_csv_and_json(cli):
    r = cli("nomenclature", "import-correlation", FIXTURES / "correlation.csv")
    assert r.exit_code == 0, r.output
    assert "3 HS 2022 subheadings move (1 renumbered, 0 keep their number, 2 split)" in r.output
    assert "line 7: from: '1234.56' is not a subheading of HS2022" in r.output
    body = json.loads(cli("nomenclature", "import-correlation", FIXTURES / "correlation.json", "--json").output)
    assert body["format"] == "json" and body["split"] == 2 and body["errors_total"] == 2


def test_transition_report_groups_the_library_by_code(cli, tmp_path):
    from data.rulings.repository import RulingRepository
    from data.settings import get_settings
    from data.store.db import open_store
    from serving.feedback.service import Decision, record_decision

    _library(cli, tmp_path)
    assert cli("nomenclature", "import-correlation", FIXTURES / "correlation.csv").exit_code == 0
    engine = open_store(get_settings().database_url)
    # a reviewer decision under a split code, and one that resolves a split ruling under its HS 2028 code
    record_decision(engine, None, Decision(text="塑料积木玩具", action="override", final_code="9503006000",
                                           suggested_code="392490", reason="toy", reviewer="wang.fang"))
    toy = next(r for r in RulingRepository(engine).iter_all() if r.hs_code == "9503009000")
    receipt = record_decision(engine, None, Decision(
        text=toy.product_name, action="override", final_code="950310", suggested_code=toy.hs_code,
        reason="balloons", reviewer="li.lei", edition="HS2028", ruling_date=date(2028, 1, 1),
        transition_of=toy.ruling_id), edition_codes=frozenset({"950310", "950390"}))
    assert receipt.ruling.nomenclature_version == "HS2028" and receipt.ruling.ruling_date == date(2028, 1, 1)

    out = tmp_path / "report.json"
    rows = tmp_path / "report.csv"
    r = cli("rulings", "transition-report", "--json", out, "--csv", rows)
    assert r.exit_code == 0, r.output
    assert "split: 2 codes, 4 rulings, 1 reviewer decisions, 1 resolved by review" in r.output
    assert "renumbered: 1 codes, 1 rulings, 0 reviewer decisions" in r.output
    report = json.loads(out.read_text(encoding="utf-8"))
    groups = {g["hs6"]: g for g in report["groups"]}
    assert set(groups) == {"950300", "940531", "850811"}  # 4202.21 is unchanged, the HS 2028 ruling is not listed
    toys = groups["950300"]
    assert (toys["rulings"], toys["decisions"], toys["resolved"]) == (3, 1, 1)
    resolved = next(i for i in toys["items"] if i["ruling_id"] == toy.ruling_id)
    assert resolved["resolved_code"] == "950310" and resolved["resolved_by"] == receipt.ruling.ruling_id
    decision = next(i for i in toys["items"] if i["kind"] == "decision")
    assert decision["review_id"] is not None
    assert groups["940531"]["new_codes"] == ["940532"]
    with rows.open(encoding="utf-8-sig") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 6 and {r["status"] for r in table} == {"split", "renumbered"}


def test_split_decision_refuses_a_code_outside_the_new_subheadings(cli, tmp_path):
    from data.errors import InvalidInputError
    from data.settings import get_settings
    from data.store.db import open_store
    from serving.feedback.service import Decision, record_decision

    engine = open_store(get_settings().database_url)
    with pytest.raises(InvalidInputError) as exc:
        record_decision(engine, None, Decision(text="气球", action="override", final_code="950320", reason="x",
                                               reviewer="a", edition="HS2028"),
                        edition_codes=frozenset({"950310", "950390"}))
    assert exc.value.details[0]["field"] == "final_code" and "HS2028" in exc.value.details[0]["reason"]


def test_reviewer_rulings_carry_the_tariff_version(cli, tmp_path):
    from data.nomenclature import Nomenclature
    from data.settings import get_settings
    from data.store.db import open_store
    from serving.feedback.service import Decision, record_decision

    _library(cli, tmp_path)
    engine = open_store(get_settings().database_url)
    receipt = record_decision(engine, None, Decision(text="真皮手提包", action="override", final_code="4202210090",
                                                     suggested_code="420222", reason="leather", reviewer="a"),
                              nomenclature=Nomenclature.load(engine))
    stored = receipt.ruling
    assert (stored.nomenclature_version, stored.tariff_version) == ("HS2022", "CNTEST")
    from data.rulings.repository import RulingRepository

    assert RulingRepository(engine).get(stored.ruling_id).tariff_version == "CNTEST"
