"""Demo ruling generator: reproducible, broad (>=150 HS6, zh+en+mixed), valid codes, realistic confusables."""

from __future__ import annotations

import csv
import json
from collections import Counter

import pytest

from data.nomenclature import Nomenclature
from data.rulings.readers import ColumnMapping, read_rulings
from demo.rulings import checked_catalog, generate_demo_rulings, write_demo_rulings


@pytest.fixture(scope="module")
def demo():
    return generate_demo_rulings()


def test_size_coverage_and_languages(demo):
    assert len(demo) == 3600 and len({r.ruling_id for r in demo}) == 3600
    hs6 = Counter(r.hs6 for r in demo)
    assert len(hs6) >= 150 and min(hs6.values()) >= 6
    langs = Counter(r.language for r in demo)
    assert langs["zh"] > 1000 and langs["en"] > 800 and langs["mixed"] > 100
    assert {len(r.hs_code) for r in demo} == {6, 8, 10}
    assert {r.source.value for r in demo} == {"customs_ruling", "pre_classification", "declaration"}
    years = {r.ruling_date.year for r in demo}
    assert years == {2022, 2023, 2024, 2025}
    assert sum(bool(r.declared_elements) for r in demo) > 1000
    assert any("品名" in r.declared_elements for r in demo)
    assert len({r.product_name for r in demo}) > 3000  # variation, not a few templates repeated


def test_every_hs6_valid_in_default_nomenclature(demo):
    nom = Nomenclature.default()
    assert all(nom.describe(spec.hs6) is not None for spec in checked_catalog().codes)
    assert all(nom.is_valid(r.hs_code) for r in demo)


def test_reproducible_and_seed_sensitive():
    a = [r.model_dump() for r in generate_demo_rulings(200, seed=11)]
    b = [r.model_dump() for r in generate_demo_rulings(200, seed=11)]
    c = [r.model_dump() for r in generate_demo_rulings(200, seed=12)]
    assert a == b and a != c
    assert len(generate_demo_rulings(20, seed=1)) == 20


def test_categories_of_9710_goods_present(demo):
    headings = {r.hs_code[:4] for r in demo}
    for heading in ("9401", "9403", "9405", "8539", "8509", "8516", "8507", "8506", "8711", "8513", "9503", "7323",
                    "7615", "3924", "6911", "6912", "8215", "8203", "8204", "8205", "8467", "8517", "8544", "3926",
                    "4202", "8504", "6109", "6204", "6302", "9617"):
        assert heading in headings, heading


def test_confusable_neighbours_share_nouns_and_differ_by_material(demo):
    metal = [r for r in demo if r.hs6 == "940320"]
    wood = [r for r in demo if r.hs6 == "940360"]
    assert any("书架" in r.product_name or "bookshelf" in r.product_name.lower() for r in metal)
    assert any("书架" in r.product_name or "bookshelf" in r.product_name.lower() for r in wood)
    wood_words = ("实木", "橡木", "松木", "胡桃木", "solid wood", "oak", "pine", "walnut", "wooden", "木")
    assert not any(w in r.product_name.lower() for r in metal for w in ("实木", "solid wood", "oak", "walnut"))
    assert sum(any(w in r.product_name.lower() for w in wood_words) for r in wood) > len(wood) / 2


def test_noise_present(demo):
    names = [r.product_name for r in demo]
    assert any(any("\uff01" <= ch <= "\uff5e" for ch in n) for n in names)  # full-width characters
    assert any(n.isupper() and n.isascii() for n in names)  # random case
    assert any(f in n for n in names for f in ("新款", "厂家直销", "wholesale"))


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_written_file_reads_back_without_errors(tmp_path, suffix):
    path = write_demo_rulings(tmp_path / f"demo{suffix}", n=150, seed=3)
    report = read_rulings(path, nomenclature=Nomenclature.default())
    assert not report.errors and len(report.rulings) == 150
    expected = generate_demo_rulings(150, 3)
    assert [r.model_dump(exclude={"created_at"}) for r in report.rulings] == \
        [r.model_dump(exclude={"created_at"}) for r in expected]
    kept = read_rulings(path, ColumnMapping(created_at_col="created_at"))  # the file's timestamps, when asked for
    assert [r.created_at for r in kept.rulings] == [r.created_at for r in expected]


def test_sample_files_are_generator_output():
    from pathlib import Path

    samples = Path(__file__).resolve().parents[2] / "data" / "samples"
    expected = [r.model_dump(mode="json") for r in generate_demo_rulings(20, seed=7)]
    lines = (samples / "rulings-sample.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x) for x in lines] == expected
    with (samples / "rulings-sample.csv").open(encoding="utf-8") as fh:
        assert [row["ruling_id"] for row in csv.DictReader(fh)] == [r["ruling_id"] for r in expected]


@pytest.mark.datasets
def test_national_lines_exist_in_china_tariff(demo, datasets_dir):
    path = datasets_dir / "china-tariff-hs8" / "china-hs8-2023.utf8.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with path.open(encoding="utf-8") as fh:
        lines = {row["code8"] for row in csv.DictReader(fh)}
    missing = Counter(r.hs_code[:8] for r in demo if len(r.hs_code) >= 8 and r.hs_code[:8] not in lines)
    assert not missing
