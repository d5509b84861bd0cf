"""Tariff facts in `clearance nomenclature import`: good, bad and missing values (issue 11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from data.nomenclature import Nomenclature, import_national_tariff
from data.store.db import init_db, make_engine
from data.tariff import TariffFacts, parse_fact_cells, rate_label

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tariff"
CHINA_HS8 = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "china-tariff-hs8" / "china-hs8-2023.utf8.csv"


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    init_db(engine)
    return engine


def test_facts_import_keeps_good_values_reports_bad_ones_by_line_and_field(engine):
    summary = import_national_tariff(engine, FIXTURES / "facts.csv", label="CNTEST")
    assert summary.inserted == 8 and summary.rejected == 2  # the short code and the hs6 contradiction
    by_line = {(e.line, e.field) for e in summary.errors}
    # line 9 (the coffee maker) is kept, with each bad fact reported under its own column
    assert {(9, "rebate_rate"), (9, "supervision"), (9, "inspection"), (9, "valid_from")} <= by_line
    assert {(10, "code10"), (11, "hs6")} <= by_line
    nom = Nomenclature.load(engine)
    coffee = nom.tariff_facts("8516710000")
    assert coffee.rebate_rate is None and coffee.vat_rate == 13.0
    assert coffee.supervision == "A" and coffee.inspection == "N" and coffee.valid_from is None
    flask = nom.tariff_facts("9617001100")
    assert (flask.rebate_rate, flask.supervision, flask.inspection, flask.unit1, flask.version) == (
        13.0, "AB", "MN", "个", "CNTEST")
    assert nom.tariff_facts("4202220000").rebate_rate == 9.0  # "9%"
    assert nom.tariff_facts("8112921090").rebate_rate == 0.0  # a real 0 % stays 0 %
    assert nom.tariff_facts("9503002100").valid_to.isoformat() == "2027-12-31"
    assert summary.facts["rebate_rate"] == {"column": "rebate_rate", "known": 6, "unknown": 2}


def test_missing_rebate_is_unknown_never_zero(engine):
    import_national_tariff(engine, FIXTURES / "facts.csv", label="CNTEST")
    battery = Nomenclature.load(engine).tariff_facts("8507600010")
    assert battery.rebate_rate is None  # blank cell
    facts, problems = parse_fact_cells({"rebate_rate": "", "vat_rate": "未知"})
    assert facts == {"rebate_rate": None, "vat_rate": None} and problems == []
    assert rate_label([None]) == "unknown" and rate_label([13.0, None]) == "13 % / unknown"
    assert rate_label([9.0, 13.0]) == "9-13 %" and rate_label([0.0]) == "0 %"


def test_a_names_only_reimport_keeps_the_facts(engine, tmp_path):
    import_national_tariff(engine, FIXTURES / "facts.csv", label="CNTEST")
    names = tmp_path / "names.csv"
    names.write_text("code10,zh,en\n4202220000,新名称,New name\n", encoding="utf-8")
    summary = import_national_tariff(engine, names, label="CNTEST2")
    assert summary.updated == 1 and summary.facts == {}
    nom = Nomenclature.load(engine)
    assert nom.describe("4202220000").zh == "新名称"
    assert nom.tariff_facts("4202220000").rebate_rate == 9.0


def test_bad_values_per_kind():
    facts, problems = parse_fact_cells({"rebate_rate": "130", "supervision": "4x?", "valid_from": "2024-01-02",
                                        "valid_to": "2023-01-01"})
    assert facts["rebate_rate"] is None and facts["supervision"] == "4x"
    assert {p[0] for p in problems} == {"rebate_rate", "supervision", "valid_to"}
    assert facts["valid_from"] is None and facts["valid_to"] is None


def test_export_documents_include_the_inspection_certificate():
    assert TariffFacts(code="1", supervision="AB", inspection="MN").export_documents() == ["B"]
    assert TariffFacts(code="1", supervision="4xy", inspection="").export_documents() == ["4", "x", "y"]
    assert TariffFacts(code="1", supervision="A", inspection="M").export_documents() == []  # import-only
    assert TariffFacts(code="1", supervision="", inspection="N").export_documents() == ["B"]


@pytest.mark.datasets
@pytest.mark.skipif(not CHINA_HS8.exists(), reason="../shared/datasets/china-tariff-hs8 is absent")
def test_china_hs8_has_units_but_no_rebates(engine):
    summary = import_national_tariff(engine, CHINA_HS8)
    assert summary.inserted > 8000
    assert set(summary.facts) == {"unit1", "unit2"}  # the file has no rebate column: nothing is made up
    nom = Nomenclature.load(engine)
    facts = nom.tariff_facts("85076000")
    assert facts is not None and facts.rebate_rate is None and facts.unit1
