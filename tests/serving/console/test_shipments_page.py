"""Check-shipments page: the flat CSV layout, pasted JSON, results CSV, and every kind of bad input."""

from __future__ import annotations

import base64
import copy
import csv
import io
import json
import re

import pytest
from fastapi.testclient import TestClient

from data.shipments.schema import Shipment
from serving.console import shipments_io
from serving.console.shipments_page import EXAMPLE_PATH
from tests.serving.console.fakes import build_console, sign_in


@pytest.fixture
def example() -> list[dict]:
    return json.loads(EXAMPLE_PATH.read_text(encoding="utf-8"))


@pytest.fixture
def console(settings, nomenclature):
    app, holder = build_console(settings, nomenclature, seeded=False)
    with TestClient(app) as client:
        sign_in(client, "score")  # auth on, as in production; the CSRF token travels in a header
        client.scorer = holder.current().scorer
        yield client


def _two_shipments(example: list[dict]) -> list[dict]:
    second = copy.deepcopy(example[0])
    second["shipment_id"] = "SHP-DEMO-0002"
    second["order"]["lines"] = second["order"]["lines"][:1]  # fewer order lines than declaration lines
    return [example[0], second]


# ------------------------------------------------------------------------------------------------- CSV layout
def test_csv_layout_round_trips_every_field(example):
    docs = _two_shipments(example)
    text = shipments_io.template_csv(docs)
    assert text.startswith("\ufeff")
    parsed = shipments_io.parse_csv(shipments_io.decode_upload(text.encode("utf-8")), max_items=10)
    assert parsed.rejected == []
    assert [s.model_dump() for s in parsed.shipments] == [Shipment.model_validate(d).model_dump() for d in docs]
    # Row k holds the k-th line of each document; the second shipment has one order line and two declaration lines.
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [r["shipment_id"] for r in rows] == ["SHP-DEMO-0001"] * 2 + ["SHP-DEMO-0002"] * 2
    assert rows[3]["order.lines.description"] == "" and rows[3]["declaration.lines.value"] != ""
    assert rows[1]["waybill.carrier"] == ""  # shipment-level columns only on the first row


def test_columns_follow_the_schema():
    paths = {c.path for c in shipments_io.COLUMNS}
    assert {"shipment_id", "order.consignee.country", "order.lines.quantity", "waybill.dangerous_goods.lithium_battery",
            "declaration.lines.value", "timestamps.order_created"} <= paths
    kinds = {c.path: c.kind for c in shipments_io.COLUMNS}
    assert kinds["waybill.packages"] == "int" and kinds["order.lines.unit_price"] == "float"
    assert kinds["waybill.battery_certified_channel"] == "bool" and kinds["declaration.declared_at"] == "datetime"


def test_csv_bad_rows_are_reported_with_line_and_field_and_good_ones_kept(example):
    text = shipments_io.template_csv(_two_shipments(example)).lstrip("\ufeff")
    lines = text.split("\r\n")
    header = lines[0].split(",")
    cells = next(csv.reader([lines[3]]))
    cells[header.index("order.lines.quantity")] = "many"  # the second shipment's only order line
    lines[3] = ",".join(f'"{c}"' if "," in c else c for c in cells)
    parsed = shipments_io.parse_csv("\r\n".join(lines), max_items=10)
    assert [s.shipment_id for s in parsed.shipments] == ["SHP-DEMO-0001"]
    (rejected,) = parsed.rejected
    assert rejected.shipment_id == "SHP-DEMO-0002"
    assert {"field": "order.lines.0.quantity", "line": "line 4"}.items() <= rejected.errors[0].items()


def test_csv_conflicting_shipment_values_are_an_error(example):
    text = shipments_io.template_csv(example).lstrip("\ufeff")
    header, first, second = text.split("\r\n")[:3]
    cols = header.split(",")
    cells = next(csv.reader([second]))
    cells[cols.index("waybill.carrier")] = "DHL"
    second = ",".join(f'"{c}"' if "," in c else c for c in cells)
    parsed = shipments_io.parse_csv("\r\n".join([header, first, second]), max_items=10)
    assert parsed.shipments == []
    assert parsed.rejected[0].errors[0]["field"] == "waybill.carrier"
    assert "differs" in parsed.rejected[0].errors[0]["reason"]


@pytest.mark.parametrize("text,needle", [
    ("", "empty"),
    ("shipment_id,colour\nA,red\n", "unknown columns: colour"),
    ("order.platform\nx\n", "no shipment_id column"),
    ("shipment_id,shipment_id\nA,A\n", "repeated columns"),
    ('shipment_id,order.platform\nA,"unterminated\n', "malformed CSV"),
    ("shipment_id,order.platform\nA,x,y\n", "3 cells, the header has 2"),
    ("shipment_id,order.platform\n", "no rows"),
])
def test_csv_file_level_problems_refuse_the_file(text, needle):
    with pytest.raises(Exception) as info:
        shipments_io.parse_csv(text, max_items=10)
    message = info.value.message + json.dumps(info.value.details, ensure_ascii=False)
    assert needle in message


def test_gbk_upload_is_refused_with_advice():
    raw = "shipment_id,order.platform\nA,阿里巴巴\n".encode("gbk")
    with pytest.raises(Exception) as info:
        shipments_io.decode_upload(raw)
    assert "not UTF-8" in info.value.message and "GBK" in info.value.message
    assert "CSV UTF-8" in info.value.details[0]["reason"] and "byte 29" in info.value.details[0]["reason"]


@pytest.mark.parametrize("text,needle", [
    ("   ", "empty"),
    ('{"shipment_id": ', "not valid JSON"),
    ("42", "expected a shipment object"),
    ("[]", "no shipments"),
])
def test_json_problems_refuse_the_input(text, needle):
    with pytest.raises(Exception) as info:
        shipments_io.parse_json(text, max_items=10)
    assert needle in info.value.message


def test_json_accepts_one_a_list_or_a_wrapper(example):
    one = shipments_io.parse_json(json.dumps(example[0]), 10)
    wrapped = shipments_io.parse_json(json.dumps({"shipments": _two_shipments(example)}), 10)
    assert len(one.shipments) == 1 and len(wrapped.shipments) == 2
    with pytest.raises(Exception) as info:
        shipments_io.parse_json(json.dumps(_two_shipments(example)), 1)
    assert "at most 1" in info.value.message


# --------------------------------------------------------------------------------------------------- the page
def _results_csv(page: str) -> list[dict]:
    uri = re.search(r'href="data:text/csv;charset=utf-8;base64,([^"]+)"', page).group(1)
    text = base64.b64decode(uri).decode("utf-8").lstrip("\ufeff")
    return list(csv.DictReader(io.StringIO(text)))


def test_uploaded_csv_is_scored_and_downloadable(console, example):
    template = console.get("/shipments/template.csv")
    assert template.status_code == 200 and "attachment" in template.headers["content-disposition"]
    page = console.post("/shipments?lang=en", files={"file": ("s.csv", template.content, "text/csv")})
    assert page.status_code == 200
    assert 'data-testid="shipment-result" data-shipment-id="SHP-DEMO-0001"' in page.text
    assert "LITHIUM_US_UNCERTIFIED_CHANNEL" in page.text  # a real finding from the checks
    assert "30.0 / 70.5" in page.text and "Use a battery-certified channel" in page.text
    (row,) = _results_csv(page.text)
    assert row["risk_level"] == "high" and row["delay_p90_hours"] == "70.5" and row["status"] == "scored"
    assert "LITHIUM_US_UNCERTIFIED_CHANNEL" in row["findings"] and "by 31.0 points" in row["risk_reasons"]
    assert "by 12.0 h" in row["delay_reasons"]


def test_pasted_json_with_one_bad_shipment_scores_the_rest(console, example):
    docs = _two_shipments(example)
    docs[1]["waybill"]["channel"] = "teleport"
    page = console.post("/shipments?lang=zh", data={"json": json.dumps(docs, ensure_ascii=False)})
    assert page.status_code == 200
    assert page.text.count('data-testid="shipment-result"') == 1
    assert 'data-testid="rejected"' in page.text and "waybill.channel" in page.text
    rows = _results_csv(page.text)
    assert [r["status"] for r in rows] == ["scored", "rejected"] and "waybill.channel" in rows[1]["errors"]
    assert "风险等级" in page.text


@pytest.mark.parametrize("kwargs,needle", [
    ({"data": {"json": ""}}, "Paste shipment JSON or choose a CSV file"),
    ({"data": {"json": "{oops"}}, "not valid JSON"),
    ({"files": {"file": ("s.csv", "shipment_id,order.platform\nA,阿里巴巴\n".encode("gbk"), "text/csv")}}, "GBK"),
    ({"files": {"file": ("s.csv", b"", "text/csv")}}, "empty"),
    ({"files": {"file": ("s.csv", b"a,b\n1,2\n", "text/csv")}}, "unknown columns"),
    ({"data": {"json": "[1]"}, "files": {"file": ("s.csv", b"x", "text/csv")}}, "not both"),
])
def test_bad_shipment_input_is_explained_and_nothing_is_scored(console, kwargs, needle):
    page = console.post("/shipments?lang=en", **kwargs)
    assert page.status_code == 422
    assert 'data-testid="error"' in page.text and needle in page.text
    assert console.scorer.calls == []


def test_huge_input_is_refused_before_scoring(console, settings):
    console.app.state.settings = settings.model_copy(update={"max_request_bytes": 2000})
    page = console.post("/shipments?lang=en", data={"json": "[" + " " * 5000 + "]"})
    assert page.status_code == 422 and "too large" in page.text
    page = console.post("/shipments?lang=en", files={"file": ("s.csv", b"x" * 1500, "text/csv")},
                        data={"json": ""})
    assert page.status_code == 422
    assert console.scorer.calls == []


def test_all_shipments_invalid_is_an_error_page(console, example):
    bad = copy.deepcopy(example[0])
    del bad["waybill"]
    page = console.post("/shipments?lang=en", data={"json": json.dumps(bad)})
    assert page.status_code == 422 and "nothing was scored" in page.text and "waybill" in page.text
    assert console.scorer.calls == []
