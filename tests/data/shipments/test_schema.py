"""Shipment schema: clean documents pass and normalise; malformed ones fail with every bad field path named."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from data.shipments.examples import example_shipment
from data.shipments.schema import Shipment, error_details


def _set(doc: dict, path: str, value) -> dict:
    *parents, last = path.split(".")
    node = doc
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return doc


def _fields(doc: dict) -> dict[str, str]:
    with pytest.raises(ValidationError) as exc:
        Shipment.model_validate(doc)
    return {d["field"]: d["reason"] for d in error_details(exc.value)}


def test_example_is_valid_and_normalised():
    doc = example_shipment()
    doc["order"]["consignee"]["country"] = " us "
    doc["order"]["lines"][0]["hs_code"] = "6109.10"
    doc["order"]["lines"][1]["currency"] = "usd"
    doc["waybill"]["destination_port"] = "usnyc"
    s = Shipment.model_validate(doc)
    assert s.order.consignee.country == "US"
    assert s.order.lines[0].hs_code == "610910"
    assert s.order.lines[1].currency == "USD"
    assert s.waybill.destination_port == "USNYC"
    assert s.declaration.declared_at.utcoffset().total_seconds() == 8 * 3600
    assert s.timestamps.released is None


def test_json_round_trip_is_identical():
    s = Shipment.model_validate(example_shipment())
    assert Shipment.model_validate_json(s.model_dump_json()) == s


@pytest.mark.parametrize("path,value,reason_part", [
    ("order.lines.0.quantity", -3, "greater than 0"),
    ("order.lines.0.quantity", 0, "greater than 0"),
    ("order.lines.0.quantity", "12", "valid number"),  # strict: no silent string -> number coercion
    ("order.lines.0.quantity", True, "valid number"),
    ("order.lines.1.unit_price", -0.5, "greater than or equal to 0"),
    ("order.lines.1.unit_price", float("nan"), "finite number"),
    ("order.lines.0.currency", "ABC", "ISO 4217"),
    ("order.lines.0.currency", "XXX", "ISO 4217"),  # ISO "no currency" code is not money
    ("order.consignee.country", "XX", "ISO 3166-1"),
    ("order.consignee.country", "USA", "ISO 3166-1"),
    ("order.lines.0.hs_code", "61A910", "HS code"),
    ("order.lines.0.hs_code", "610", "HS code"),
    ("waybill.channel", "truck", "express"),
    ("waybill.packages", 0, "greater than or equal to 1"),
    ("waybill.packages", 2.5, "valid integer"),
    ("waybill.gross_weight_kg", 0, "greater than 0"),
    ("waybill.destination_port", "LAX", "UN/LOCODE"),
    ("waybill.destination_port", "QQLAX", "country code"),
    ("waybill.dangerous_goods.lithium_battery", "yes", "valid boolean"),
    ("declaration.mode", "list", "9710_list"),
    ("declaration.credit_grade", "AA", "advanced_certified"),
    ("declaration.declared_value", -1, "greater than or equal to 0"),
    ("declaration.declared_at", "2025-06-10T10:00:00", "timezone"),
    ("declaration.declared_at", "yesterday", "datetime"),
    ("shipment_id", "has space", "pattern"),
])
def test_bad_field_is_named(path, value, reason_part):
    fields = _fields(_set(example_shipment(), path, value))
    assert path in fields, fields
    assert reason_part.lower() in fields[path].lower()


def test_every_bad_field_is_reported_at_once():
    doc = example_shipment()
    _set(doc, "order.lines.0.quantity", -1)
    _set(doc, "waybill.channel", "truck")
    _set(doc, "declaration.currency", "ZZZ")
    doc["order"]["consignee"]["postal_code"] = "90021"  # misspelt field: an error, never silently dropped
    fields = _fields(doc)
    assert {"order.lines.0.quantity", "waybill.channel", "declaration.currency",
            "order.consignee.postal_code"} <= set(fields)


@pytest.mark.parametrize("missing", ["shipment_id", "order", "order.consignee", "order.consignee.name",
                                     "order.consignee.country", "order.lines.0.unit", "waybill.carrier",
                                     "declaration.credit_grade", "declaration.declared_at", "timestamps.order_created"])
def test_missing_required_field_is_named(missing):
    doc = example_shipment()
    *parents, last = missing.split(".")
    node = doc
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    del node[last]
    assert missing in _fields(doc)


def test_empty_lines_rejected():
    doc = example_shipment()
    doc["order"]["lines"] = []
    assert "order.lines" in _fields(doc)


def test_time_order_violations_name_the_field():
    doc = example_shipment()
    doc["timestamps"]["data_ready"] = "2025-06-01T00:00:00+08:00"  # before order_created
    assert "before order_created" in _fields(doc)["timestamps.data_ready"]

    doc = example_shipment()
    doc["timestamps"]["released"] = "2025-06-10T09:00:00+08:00"  # before declared
    assert "before declared" in _fields(doc)["timestamps.released"]

    doc = example_shipment()
    doc["timestamps"]["declared"] = "2025-06-11T10:00:00+08:00"
    assert "declaration.declared_at" in _fields(doc)["timestamps"]


def test_optional_clearance_data_may_be_missing_but_is_not_invented():
    doc = example_shipment()
    doc["order"]["consignee"]["phone"] = None
    del doc["order"]["consignee"]["postcode"]
    doc["order"]["lines"][0]["hs_code"] = None
    s = Shipment.model_validate(doc)
    assert s.order.consignee.phone is None and s.order.consignee.postcode is None
    assert s.order.lines[0].hs_code is None


def test_error_details_are_json_serialisable():
    doc = _set(example_shipment(), "order.lines.0.quantity", -1)
    with pytest.raises(ValidationError) as exc:
        Shipment.model_validate(doc)
    details = error_details(exc.value)
    assert json.loads(json.dumps(details)) == details
    assert all(set(d) == {"field", "reason", "type"} for d in details)
    assert {"field": "order.lines.0.quantity", "type": "greater_than"}.items() <= details[0].items()


def test_blank_text_rejected_and_compared_fields_stripped():
    doc = example_shipment()
    doc["order"]["lines"][0]["description"] = "   "
    assert "order.lines.0.description" in _fields(doc)
    doc = example_shipment()
    doc["order"]["consignee"].update(name="  Pacific Trading LLC ", postcode=" 90021 ", phone=" +1 213-555-0142 ")
    doc["waybill"]["carrier"] = " COSCO "
    s = Shipment.model_validate(doc)
    assert (s.order.consignee.name, s.order.consignee.postcode, s.waybill.carrier) == \
        ("Pacific Trading LLC", "90021", "COSCO")
    assert s.order.consignee.phone == "+1 213-555-0142"
    doc["order"]["consignee"]["name"] = "   "
    assert "order.consignee.name" in _fields(doc)


def test_route_option_is_validated_like_the_waybill_fields_it_replaces():
    from data.shipments.schema import RouteOption

    opt = RouteOption(destination_port=" uslax", carrier=" COSCO ", channel="rail")
    assert opt.model_dump(exclude_none=True) == {"destination_port": "USLAX", "carrier": "COSCO", "channel": "rail"}
    cases = [({"channel": "teleport"}, "channel"), ({"vessel": "X"}, "vessel"), ({"export_port": "ZZABC"}, "export_port"),
             ({"destination_port": "LAX"}, "destination_port"), ({"carrier": "  "}, "carrier"), ({}, "")]
    for raw, field in cases:
        with pytest.raises(ValidationError) as exc:
            RouteOption.model_validate(raw)
        assert [d["field"] for d in error_details(exc.value)] == [field or "shipment"], raw
