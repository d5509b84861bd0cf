"""The Review log page and its CSV export: bounded paging, formulas defused in the export."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from data.store.reviews import ReviewEntry, add_review
from serving.console.service import to_csv
from tests.serving.console.fakes import build_console, sign_in


@pytest.fixture
def console(settings, nomenclature):
    app, _ = build_console(settings, nomenclature)
    with TestClient(app) as client:
        sign_in(client, "suggest")
        yield client


@pytest.mark.parametrize("offset", ["99999999999999999999999", "9223372036854775808", "1000000001", "²"])
def test_an_offset_no_database_can_bind_is_a_field_error_not_a_500(console, offset):
    response = console.get("/reviews", params={"offset": offset})
    assert response.status_code == 422
    assert "offset" in response.text


def test_a_saved_id_too_large_for_the_store_is_ignored(console):
    assert console.get("/classify", params={"saved": "9" * 30}).status_code == 200


@pytest.mark.parametrize("value", ["=HYPERLINK(\"http://evil\",\"x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
                                   "\t=1", "＝1"])
def test_csv_cells_that_spreadsheets_run_as_formulas_are_written_as_text(value):
    text = to_csv([{"a": value, "n": -3}], ["a", "n"])
    row = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))[0]
    assert row["a"] == "'" + value and row["n"] == "-3"


def test_the_review_export_defuses_formulas(console):
    add_review(console.app.state.engine, ReviewEntry(
        reviewer="x", query_text="=HYPERLINK(\"http://evil\")", final_code="961700", action="accept", ruling_id="r",
        reason="+cmd|' /C calc'!A0"))
    rows = list(csv.DictReader(io.StringIO(console.get("/reviews.csv").text.lstrip("\ufeff"))))
    assert rows[0]["query_text"].startswith("'=") and rows[0]["reason"].startswith("'+")
