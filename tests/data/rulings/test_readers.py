"""Readers: every format, line numbers, column mapping, encodings, malformed rows."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from data.errors import InvalidInputError
from data.nomenclature import Nomenclature
from data.rulings.readers import ColumnMapping, read_rulings

ROWS = [
    {"product_name": "不锈钢真空保温杯 500ml", "hs_code": "9617.00.19", "declared_elements": "品名:保温杯|材质:不锈钢",
     "source": "declaration"},
    {"product_name": "   ", "hs_code": "851671", "declared_elements": "", "source": ""},
    {"product_name": "LED bulb E27", "hs_code": "8539.5", "declared_elements": "", "source": ""},
    {"product_name": "Wooden bookshelf", "hs_code": "940360", "declared_elements": '{"品名": "书架"}',
     "source": "pre_classification"},
    {"product_name": "Mystery", "hs_code": "851699", "declared_elements": "", "source": ""},
]


def write_csv(path: Path, rows: list[dict], delimiter: str = ",", encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        if delimiter == "\t":  # TSV is unquoted: cells go in as they are
            fh.write("\n".join("\t".join(r) for r in [list(rows[0])] + [list(r.values()) for r in rows]) + "\n")
            return path
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def nomenclature() -> Nomenclature:
    return Nomenclature.default()


def check_report(report, with_nomenclature: bool):
    # line numbers: CSV header = line 1, so row i (0-based) is on line i + 2; JSONL/Parquet row i is line i + 1
    assert report.total_rows == 5
    by_line = {}
    for e in report.errors:
        by_line.setdefault(e.line, []).append(e)
    return by_line


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_delimited_line_numbers_and_good_rows_kept(tmp_path, fmt, nomenclature):
    path = write_csv(tmp_path / f"r.{fmt}", ROWS, delimiter="," if fmt == "csv" else "\t")
    report = read_rulings(path, nomenclature=nomenclature)
    by_line = check_report(report, True)
    assert [r.product_name for r in report.rulings] == ["不锈钢真空保温杯 500ml", "Wooden bookshelf"]
    assert by_line[3][0].field == "product_name" and by_line[3][0].reason == "empty text"
    assert by_line[4][0].field == "hs_code" and "invalid HS code '8539.5': 5 digits" in by_line[4][0].reason
    assert "unknown subheading '851699'" in by_line[6][0].reason
    assert report.rejected_rows == 3 and report.format == fmt
    assert report.rulings[0].declared_elements == {"品名": "保温杯", "材质": "不锈钢"}
    assert report.rulings[1].declared_elements == {"品名": "书架"}


def test_without_nomenclature_only_structure_is_checked(tmp_path):
    report = read_rulings(write_csv(tmp_path / "r.csv", ROWS))
    assert len(report.rulings) == 3  # 851699 has a valid shape


def test_jsonl_malformed_line_is_a_row_error(tmp_path, nomenclature):
    path = write_jsonl(tmp_path / "r.jsonl", ROWS)
    text = path.read_text(encoding="utf-8").splitlines()
    text.insert(2, '{"product_name": "broken", ')  # becomes line 3
    text.insert(3, "")  # blank lines are skipped, not counted
    text.insert(4, "[1, 2]")
    text.append("[" * 100_000)  # nesting deep enough to exhaust the parser's recursion: a row error too
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    report = read_rulings(path, nomenclature=nomenclature)
    reasons = {e.line: e for e in report.errors}
    assert reasons[3].field == "json" and "malformed JSON" in reasons[3].reason
    assert "not a JSON object" in reasons[5].reason
    assert reasons[2].reason == "empty text"
    assert len(report.rulings) == 2 and report.total_rows == 8
    assert "JSON" in report.errors[-1].reason


def test_parquet_and_json_array(tmp_path, nomenclature):
    frame = pd.DataFrame(ROWS)
    frame.to_parquet(tmp_path / "r.parquet")
    report = read_rulings(tmp_path / "r.parquet", nomenclature=nomenclature)
    assert len(report.rulings) == 2 and {e.line for e in report.errors} == {2, 3, 5}
    (tmp_path / "r.json").write_text(json.dumps(ROWS, ensure_ascii=False), encoding="utf-8")
    report = read_rulings(tmp_path / "r.json", nomenclature=nomenclature)
    assert len(report.rulings) == 2 and {e.line for e in report.errors} == {2, 3, 5}


def test_parquet_native_types(tmp_path):
    frame = pd.DataFrame({"title": ["保温杯", "kettle"], "code": [96170019, 851679],
                          "when": pd.to_datetime(["2024-01-02", "2023-05-06"]).date})
    frame.to_parquet(tmp_path / "t.parquet")
    report = read_rulings(tmp_path / "t.parquet", ColumnMapping(text_col="title", code_col="code", date_col="when"))
    assert [r.hs_code for r in report.rulings] == ["96170019", "851679"]
    assert str(report.rulings[0].ruling_date) == "2024-01-02"


def test_column_mapping_and_unknown_column(tmp_path):
    rows = [{"hs10": "1905310000", "title_tokens": "饼干 袋装 全麦"}]
    path = write_csv(tmp_path / "t.tsv", rows, delimiter="\t")
    report = read_rulings(path, ColumnMapping(text_col="title_tokens", code_col="hs10", default_source="declaration"))
    assert report.rulings[0].hs_code == "1905310000" and report.rulings[0].source.value == "declaration"
    with pytest.raises(InvalidInputError) as info:
        read_rulings(path, ColumnMapping(text_col="title", code_col="hs10"))
    assert "'title'" in info.value.message and "hs10, title_tokens" in info.value.message
    # an explicitly mapped optional column must exist too
    with pytest.raises(InvalidInputError, match="'when'"):
        read_rulings(path, ColumnMapping(text_col="title_tokens", code_col="hs10", date_col="when"))


def test_column_used_as_text_is_not_also_the_description(tmp_path):
    path = write_csv(tmp_path / "c.csv", [{"description": "boot band", "hts_code": "3926.20.9050"}])
    report = read_rulings(path, ColumnMapping(text_col="description", code_col="hts_code"))
    assert report.rulings[0].product_name == "boot band" and report.rulings[0].description == ""


def test_gbk_file_is_detected_and_decoded(tmp_path):
    path = write_csv(tmp_path / "gbk.csv", ROWS[:1], encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    report = read_rulings(path)
    assert report.encoding == "gb18030" and report.rulings[0].product_name == "不锈钢真空保温杯 500ml"
    assert any("GBK" in w for w in report.warnings)


def test_undecodable_file_is_a_clear_error(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("product_name,hs_code\ncaf\xe9 cr\xe8me,210690\n".encode("latin-1"))
    with pytest.raises(InvalidInputError, match=r"not UTF-8.*line 2"):
        read_rulings(path)
    report = read_rulings(path, encoding="latin-1")
    assert report.rulings[0].product_name == "café crème"


def test_file_level_errors(tmp_path):
    with pytest.raises(InvalidInputError, match="not found"):
        read_rulings(tmp_path / "missing.csv")
    (tmp_path / "x.xlsx").write_bytes(b"PK")
    with pytest.raises(InvalidInputError, match="--format"):
        read_rulings(tmp_path / "x.xlsx")
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="empty"):
        read_rulings(tmp_path / "empty.csv")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InvalidInputError, match="Parquet"):
        read_rulings(tmp_path / "bad.parquet")


def test_multiline_record_reports_its_first_line(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text('product_name,hs_code\n"two\nlines",851671\nok,8516.7\n', encoding="utf-8")
    report = read_rulings(path)
    assert report.rulings[0].product_name == "two\nlines"
    assert report.errors[0].line == 4


def test_too_many_cells_and_too_long_text(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("product_name,hs_code\na,851671,extra\n" + "x" * 5000 + ",851671\n", encoding="utf-8")
    report = read_rulings(path)
    assert [(e.line, e.field) for e in report.errors] == [(2, "row"), (3, "product_name")]
    assert "too long" in report.errors[1].reason


cell = st.one_of(st.text(max_size=30), st.sampled_from(["851671", "8516.71.00", "94036099", "", "  ", "8516.7"]))


@given(st.lists(st.tuples(cell, cell, cell), min_size=1, max_size=25))
@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_reader_property_every_row_accounted_for(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("prop") / "p.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["product_name", "hs_code", "description"])
        w.writerows(rows)
    report = read_rulings(path)
    # nothing lost silently: every non-blank record is either a ruling or has an error on its line
    assert len(report.rulings) + report.rejected_rows == report.total_rows
    assert all(e.line >= 2 and e.reason for e in report.errors)
    for r in report.rulings:
        assert r.product_name.strip() and len(r.hs_code) in (6, 8, 10)


@pytest.mark.datasets
def test_real_cbec_titles_and_cbp_rulings(datasets_dir, nomenclature):
    cbec = datasets_dir / "cbec-zh-titles" / "train.tsv"
    cbp = datasets_dir / "cbp-cross-rulings" / "rulings.json"
    if not (cbec.is_file() and cbp.is_file()):
        pytest.skip("cbec-zh-titles or cbp-cross-rulings missing")
    report = read_rulings(cbec, ColumnMapping(text_col="title_tokens", code_col="hs10", default_source="declaration"),
                          nomenclature=nomenclature)
    assert report.total_rows == 30_000 and len(report.rulings) > 29_000
    # the rejects are codes of older HS editions (e.g. 3402.20, split in HS2022), each named with its reason
    assert all("in HS2022" in e.reason and e.field == "hs10" for e in report.errors)
    assert sum(r.language == "zh" for r in report.rulings) > 25_000
    report = read_rulings(cbp, ColumnMapping(text_col="description", code_col="hts_code", id_col="ruling_number",
                                             date_col="ruling_date"), nomenclature=nomenclature)
    assert len(report.rulings) > 450 and report.rulings[0].ruling_id == "N361710"
    assert all(r.language == "en" or r.language == "mixed" for r in report.rulings)


@given(st.binary(max_size=300), st.sampled_from(["csv", "tsv", "jsonl", "json", "parquet"]))
@hsettings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_reader_property_arbitrary_bytes_never_crash(tmp_path_factory, data, fmt):
    path = tmp_path_factory.mktemp("bytes") / f"junk.{fmt}"
    path.write_bytes(b"product_name,hs_code\n" + data if fmt == "csv" else data)
    try:
        report = read_rulings(path)
    except InvalidInputError as exc:
        assert exc.message  # a file-level problem, said clearly
        return
    assert len(report.rulings) + report.rejected_rows == report.total_rows
