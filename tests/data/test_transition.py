"""HS 2022 → HS 2028 correlation import and what it says about a code (issue 11)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from data.store.db import init_db, make_engine
from data.transition import TariffBook, import_correlation

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tariff"
HS2028 = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "hs2028-correlations" / "hs2022_to_hs2028.json"
EFFECTIVE = date(2028, 1, 1)


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    init_db(engine)
    return engine


def test_csv_correlation_import_reports_bad_rows_and_keeps_good_ones(engine):
    summary = import_correlation(engine, FIXTURES / "correlation.csv")
    assert (summary.format, summary.subheadings, summary.renumbered, summary.split) == ("csv", 3, 1, 2)
    assert {(e.line, e.field) for e in summary.errors} == {(7, "from"), (8, "to"), (9, "partial")}
    book = TariffBook.load(engine, effective_date=EFFECTIVE)
    assert book.transition("940531").status == "renumbered" and book.transition("940531").new_code == "940532"
    split = book.transition("9503002100", date(2027, 6, 1))
    assert split.status == "split" and split.new_codes == ["950310", "950390"] and split.needs_review
    assert split.in_force is False and split.effective_date == EFFECTIVE
    assert book.transition("420221").status == "unchanged"
    assert book.transition("950310").status == "new"  # only HS 2028 has it


def test_json_correlation_in_the_datasets_format(engine):
    summary = import_correlation(engine, FIXTURES / "correlation.json")
    assert (summary.format, summary.subheadings, summary.renumbered, summary.split) == ("json", 3, 1, 2)
    assert {e.field for e in summary.errors} == {"9405.39.targets", "9405.41.targets.0.code"}
    # a re-import replaces the table as a whole
    import_correlation(engine, FIXTURES / "correlation.csv")
    assert TariffBook.load(engine, effective_date=EFFECTIVE).transition("850811").new_codes == ["850812", "850813"]


def test_no_correlation_no_transition(engine):
    book = TariffBook.load(engine, effective_date=EFFECTIVE)
    assert book.transition("950300") is None and book.edition_problem("950300", date(2029, 1, 1)) is None
    assert book.stamp(date(2029, 1, 1)).nomenclature == "HS2022"


def test_edition_in_force_across_the_effective_date(engine):
    import_correlation(engine, FIXTURES / "correlation.csv")
    book = TariffBook.load(engine, effective_date=EFFECTIVE)
    before, after = date(2027, 12, 31), date(2028, 1, 1)
    assert book.edition_on(before) == "HS2022" and book.edition_on(after) == "HS2028"
    assert book.edition_problem("9503000000", before) is None
    assert "split into 950310, 950390" in book.edition_problem("9503000000", after)
    assert "renumbered 940532" in book.edition_problem("940531", after)
    assert "enters into force on 2028-01-01" in book.edition_problem("950310", before)
    assert book.edition_problem("950310", after) is None
    assert book.edition_problem("420221", after) is None


@pytest.mark.datasets
@pytest.mark.skipif(not HS2028.exists(), reason="../shared/datasets/hs2028-correlations is absent")
def test_the_published_correlation(engine):
    summary = import_correlation(engine, HS2028)
    # the counts: 308 subheadings move, 121 one-to-one (88 to a new number, 33 keep theirs), 187 split
    assert (summary.subheadings, summary.rejected) == (308, 0)
    assert (summary.renumbered + summary.kept_number, summary.split) == (121, 187)
    book = TariffBook.load(engine, effective_date=EFFECTIVE)
    assert book.transition("950300").status == "split"
