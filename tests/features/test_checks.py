"""Checks: each fires on a crafted bad shipment, stays quiet on a clean one, and tolerances hold at the boundary."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from data.nomenclature import Nomenclature
from data.shipments.examples import example_shipment
from data.shipments.schema import Shipment, error_details
from features import checks
from features.checks import CATALOGUE, Finding, phone_status, postcode_ok, run_checks
from features.shipment_features import FEATURE_NAMES, feature_row


@pytest.fixture(scope="module")
def nom() -> Nomenclature:
    return Nomenclature.default()


def _run(doc: dict, nom) -> list[Finding]:
    return run_checks(Shipment.model_validate(doc), nom)


def _codes(doc: dict, nom) -> set[str]:
    return {f.code for f in _run(doc, nom)}


def test_clean_shipment_has_no_findings(nom):
    assert _run(example_shipment(), nom) == []


def _m(path: str, value):
    def mutate(doc):
        *parents, last = path.split(".")
        node = doc
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        node[int(last) if isinstance(node, list) else last] = value
    return mutate


def _many(*mutators):
    def mutate(doc):
        for m in mutators:
            m(doc)
    return mutate


def _drop_decl_line(doc):
    doc["declaration"]["lines"].pop()
    doc["declaration"]["declared_value"] = 3120.0


CASES = [
    ("CONSIGNEE_PHONE_MISSING", _m("order.consignee.phone", None), "order.consignee.phone"),
    ("CONSIGNEE_POSTCODE_MISSING", _m("order.consignee.postcode", None), "order.consignee.postcode"),
    ("CONSIGNEE_ADDRESS_MISSING", _m("order.consignee.address", None), "order.consignee.address"),
    ("CONSIGNEE_NAME_MISSING", _m("waybill.consignee_name", None), "waybill.consignee_name"),
    ("HS_CODE_MISSING", _m("order.lines.1.hs_code", None), "order.lines.1.hs_code"),
    ("PHONE_INVALID", _m("order.consignee.phone", "+1 213-555-01"), "order.consignee.phone"),
    ("PHONE_COUNTRY_MISMATCH", _m("order.consignee.phone", "+44 7400 123456"), "order.consignee.phone"),
    ("POSTCODE_INVALID", _m("order.consignee.postcode", "9002"), "order.consignee.postcode"),
    ("HS_CODE_INVALID", _many(_m("order.lines.0.hs_code", "850799"), _m("declaration.lines.0.hs_code", "850799")),
     "declaration.lines.0.hs_code"),
    ("HS_CODE_TOO_SHORT", _m("order.lines.0.hs_code", "6109"), "order.lines.0.hs_code"),
    ("DECLARED_VALUE_ZERO", _many(_m("declaration.declared_value", 0), _m("declaration.lines.0.value", 0),
                                  _m("declaration.lines.1.value", 0)), "declaration.declared_value"),
    ("DECLARATION_LINES_VALUE_MISMATCH", _m("declaration.lines.1.value", 100.0), "declaration.lines.1.value"),
    ("UNIT_PRICE_OUTLIER", _many(_m("order.lines.0.unit_price", 0.1), _m("declaration.declared_value", 780.0),
                                 _m("declaration.lines.0.value", 120.0)), "order.lines.0.unit_price"),
    ("CURRENCY_NO_FX_RATE", _many(*[_m(f"order.lines.{i}.currency", "CHF") for i in (0, 1)],
                                  _m("declaration.currency", "CHF")), "declaration.currency"),
    ("VALUE_OVER_50K_USD", _many(_m("order.lines.0.quantity", 20000), _m("declaration.lines.0.quantity", 20000),
                                 _m("declaration.lines.0.value", 52000.0), _m("declaration.declared_value", 52660.0)),
     "declaration.declared_value"),
    ("LIST_MODE_OVER_LIMIT", _m("declaration.mode", "9710_list"), "declaration.mode"),
    ("THREE_DOC_CONSIGNEE_MISMATCH", _m("waybill.consignee_name", "Summit Goods Inc."), "waybill.consignee_name"),
    ("THREE_DOC_COUNTRY_MISMATCH", _m("declaration.destination_country", "CA"), "declaration.destination_country"),
    ("THREE_DOC_LINE_COUNT_MISMATCH", _drop_decl_line, "declaration.lines"),
    ("THREE_DOC_QUANTITY_MISMATCH", _m("declaration.lines.0.quantity", 1100), "declaration.lines.0.quantity"),
    ("THREE_DOC_UNIT_MISMATCH", _m("declaration.lines.0.unit", "SET"), "declaration.lines.0.unit"),
    ("THREE_DOC_HS_MISMATCH", _m("declaration.lines.1.hs_code", "392410"), "declaration.lines.1.hs_code"),
    ("THREE_DOC_CURRENCY_MISMATCH", _m("order.lines.1.currency", "EUR"), "order.lines.1.currency"),
    ("THREE_DOC_VALUE_MISMATCH", _many(_m("declaration.declared_value", 2780.0), _m("declaration.lines.0.value",
                                                                                    2120.0)),
     "declaration.declared_value"),
    ("THREE_DOC_WEIGHT_MISMATCH", _m("declaration.gross_weight_kg", 640.0), "declaration.gross_weight_kg"),
    ("WEIGHT_NET_EXCEEDS_GROSS", _m("order.lines.1.net_weight_kg", 400.0), "waybill.gross_weight_kg"),
    ("LITHIUM_UNDECLARED", _many(_m("order.lines.1.hs_code", "850760"), _m("declaration.lines.1.hs_code", "850760")),
     "waybill.dangerous_goods.lithium_battery"),
    ("LITHIUM_US_UNCERTIFIED_CHANNEL", _m("waybill.dangerous_goods", {"lithium_battery": True}),
     "waybill.battery_certified_channel"),
]


@pytest.mark.parametrize("code,mutate,field", CASES, ids=[c[0] for c in CASES])
def test_check_fires_with_field_and_messages(code, mutate, field, nom):
    doc = example_shipment()
    mutate(doc)
    found = {f.code: f for f in _run(doc, nom)}
    assert code in found, sorted(found)
    f = found[code]
    assert field in f.fields
    assert f.severity == CATALOGUE[code].severity and f.category == CATALOGUE[code].category
    assert f.message_en and f.message_zh and f.message_en != f.message_zh
    assert Finding.model_validate(f.model_dump()) == f  # a valid, serialisable Finding


def test_every_catalogued_code_has_a_case():
    # POSTCODE_FORMAT_UNCHECKED and HS_NATIONAL_LINE_UNVERIFIED are covered by their own tests below
    # tariff-fact findings need imported facts: their cases are in test_tariff_checks.py
    tariff = {code for code, kind in CATALOGUE.items() if kind.category == "tariff"}
    assert set(CATALOGUE) - tariff - {c[0] for c in CASES} == {"POSTCODE_FORMAT_UNCHECKED",
                                                                "HS_NATIONAL_LINE_UNVERIFIED"}


def test_postcode_of_unsupported_country_is_reported_unchecked(nom):
    doc = example_shipment()
    doc["order"]["consignee"].update(country="BR", phone="+55 11 96123-4567")
    codes = _codes(doc, nom)
    assert "POSTCODE_FORMAT_UNCHECKED" in codes and "POSTCODE_INVALID" not in codes


def test_national_line_unverified_without_national_tariff():
    class HS6Only:
        version = "HS6-only"

        def is_valid(self, code):
            return code in {"610910", "392310"}

    doc = example_shipment()
    codes = {f.code for f in run_checks(Shipment.model_validate(doc), HS6Only())}
    assert codes == {"HS_NATIONAL_LINE_UNVERIFIED"}


@pytest.mark.parametrize("country,good,bad", [
    ("US", ["+1 213-555-0142", "(213) 555-0142", "+1 646 555 0187"], ["+1 213-555-01", "555-0142", "+1 000 555 0142"]),
    ("DE", ["+49 30 123456", "030 1234567", "+49 1512 3456789"], ["+49 30 1", "0049"]),
    ("GB", ["+44 7400 123456", "020 7946 0958"], ["+44 7400 1234", "07400"]),
    ("JP", ["+81 90-1234-5678", "03-1234-5678"], ["+81 90-1234", "090-12"]),
    ("AU", ["+61 412 345 678", "(02) 1234 5678"], ["+61 412 345", "0412 34"]),
])
def test_phone_formats_per_country(country, good, bad):
    for p in good:
        assert phone_status(p, country)[0] == "ok", p
    for p in bad:
        assert phone_status(p, country)[0] == "invalid", p


def test_phone_of_another_country():
    assert phone_status("+1 506-234-5678", "US") == ("other_country", "CA")


@pytest.mark.parametrize("country,good,bad", [
    ("US", ["90021", "10001-1234"], ["9002", "900211", "ABCDE", "90021-12"]),
    ("DE", ["20095", "01067"], ["2009", "00123", "200951"]),
    ("GB", ["SW1A 1AA", "M1 1AE", "EC1A1BB", "sw1a 1aa"], ["SW1A", "12345", "SW1A 1A"]),
    ("JP", ["100-0001", "1000001"], ["100-001", "10-00001"]),
    ("AU", ["2000", "3000"], ["200", "20000", "ABCD"]),
    ("CA", ["K1A 0B1"], ["K1A 0B", "D1A 0B1"]),
    ("NL", ["1012 AB", "1012AB"], ["0123 AB", "1012"]),
])
def test_postcode_formats_per_country(country, good, bad):
    for p in good:
        assert postcode_ok(p, country) is True, p
    for p in bad:
        assert postcode_ok(p, country) is False, p
    assert postcode_ok("12345", "BR") is None


# ---- tolerances at the boundary
def _value_doc(declared: float) -> dict:
    doc = example_shipment()
    doc["declaration"]["declared_value"] = declared
    doc["declaration"]["lines"][0]["value"] = declared - 660.0
    return doc


def test_value_tolerance_relative_boundary(nom):
    order_total = 3780.0
    tol = checks.VALUE_REL_TOLERANCE * order_total
    assert "THREE_DOC_VALUE_MISMATCH" not in _codes(_value_doc(order_total - tol * 0.99), nom)
    assert "THREE_DOC_VALUE_MISMATCH" in _codes(_value_doc(order_total - tol * 1.02), nom)


def test_value_tolerance_absolute_unit_for_small_amounts(nom):
    doc = example_shipment()
    doc["order"]["lines"] = doc["order"]["lines"][:1]
    doc["declaration"]["lines"] = doc["declaration"]["lines"][:1]
    doc["order"]["lines"][0].update(quantity=10, unit_price=2.6, net_weight_kg=1.8)
    doc["declaration"]["lines"][0].update(quantity=10)
    doc["waybill"]["gross_weight_kg"] = doc["declaration"]["gross_weight_kg"] = 2.0
    for declared, bad in ((26.0 - 0.99, False), (26.0 + 0.99, False), (26.0 - 1.01, True), (26.0 + 1.01, True)):
        doc["declaration"]["declared_value"] = doc["declaration"]["lines"][0]["value"] = round(declared, 2)
        assert ("THREE_DOC_VALUE_MISMATCH" in _codes(doc, nom)) is bad, declared


def test_weight_tolerance_boundary(nom):
    doc = example_shipment()
    gross = doc["waybill"]["gross_weight_kg"]
    doc["declaration"]["gross_weight_kg"] = gross * (1 + checks.WEIGHT_REL_TOLERANCE * 0.98)
    assert "THREE_DOC_WEIGHT_MISMATCH" not in _codes(doc, nom)
    doc["declaration"]["gross_weight_kg"] = gross * (1 + checks.WEIGHT_REL_TOLERANCE * 1.02)
    assert "THREE_DOC_WEIGHT_MISMATCH" in _codes(doc, nom)


def test_quantity_tolerance_counted_vs_weighed(nom):
    doc = example_shipment()
    doc["declaration"]["lines"][0]["quantity"] = 1200.4  # counted units: any difference is a mismatch
    assert "THREE_DOC_QUANTITY_MISMATCH" in _codes(doc, nom)
    doc = example_shipment()
    for d in (doc["order"]["lines"][0], doc["declaration"]["lines"][0]):
        d["unit"] = "KG"
    doc["order"]["lines"][0]["quantity"] = 1000.0
    doc["order"]["lines"][0]["unit_price"] = 3.12
    doc["declaration"]["lines"][0]["quantity"] = 1000.0 * (1 + checks.QUANTITY_WEIGHED_REL_TOLERANCE * 0.9)
    assert "THREE_DOC_QUANTITY_MISMATCH" not in _codes(doc, nom)
    doc["declaration"]["lines"][0]["quantity"] = 1000.0 * (1 + checks.QUANTITY_WEIGHED_REL_TOLERANCE * 1.2)
    assert "THREE_DOC_QUANTITY_MISMATCH" in _codes(doc, nom)


def test_consignee_names_compare_ignoring_case_and_punctuation(nom):
    doc = example_shipment()
    doc["waybill"]["consignee_name"] = "pacific  trading llc."
    assert "THREE_DOC_CONSIGNEE_MISMATCH" not in _codes(doc, nom)


def test_hs_codes_compare_at_six_digits(nom):
    doc = example_shipment()
    doc["order"]["lines"][0]["hs_code"] = "61091000"
    doc["declaration"]["lines"][0]["hs_code"] = "6109100090"
    assert "THREE_DOC_HS_MISMATCH" not in _codes(doc, nom)


def test_values_in_different_currencies_compare_through_usd(nom):
    doc = example_shipment()
    # the order in CNY at the fixed rate equals the USD declaration: a currency finding, no value finding
    from data.shipments.reference import FX_USD_PER_UNIT

    for ln in doc["order"]["lines"]:
        ln["currency"] = "CNY"
        ln["unit_price"] = round(ln["unit_price"] / FX_USD_PER_UNIT["CNY"], 4)
    codes = _codes(doc, nom)
    assert "THREE_DOC_CURRENCY_MISMATCH" in codes and "THREE_DOC_VALUE_MISMATCH" not in codes


def test_findings_are_stable_and_deterministic(nom):
    doc = example_shipment()
    doc["order"]["consignee"]["phone"] = None
    doc["declaration"]["lines"][0]["quantity"] = 1
    a, b = _run(doc, nom), _run(doc, nom)
    assert a == b
    assert [f.code for f in a] == ["CONSIGNEE_PHONE_MISSING", "THREE_DOC_QUANTITY_MISMATCH"]


def test_checks_find_the_generators_injected_errors(nom):
    """The generator's hidden error flags are recovered by the checks (what the model sees)."""
    from demo.shipments import generate_shipments

    h = generate_shipments(n=4000, seed=5)
    found = [{f.code for f in _run(d, nom)} for d in h.shipments]
    expect = {"err_phone_missing": "CONSIGNEE_PHONE_MISSING", "err_phone_invalid": "PHONE_INVALID",
              "err_postcode_missing": "CONSIGNEE_POSTCODE_MISSING", "err_postcode_invalid": "POSTCODE_INVALID",
              "err_hs_invalid": "HS_CODE_INVALID", "err_qty_mismatch": "THREE_DOC_QUANTITY_MISMATCH",
              "err_value_mismatch": "THREE_DOC_VALUE_MISMATCH", "err_weight_mismatch": "THREE_DOC_WEIGHT_MISMATCH",
              "err_currency_mismatch": "THREE_DOC_CURRENCY_MISMATCH",
              "err_price_undervalued": "UNIT_PRICE_OUTLIER", "err_lithium_undeclared": "LITHIUM_UNDECLARED"}
    lat = h.latent
    for col, code in expect.items():
        rows = lat.index[lat[col]].tolist()
        assert rows, col
        recall = sum(code in found[i] for i in rows) / len(rows)
        # another injected error can overwrite the same field (an HS error on the battery line), hence not 100%
        assert recall >= 0.9, (col, recall)
    # shipments with no injected error raise no error finding
    err_cols = [c for c in lat.columns if c.startswith("err_")]
    clean = lat.index[~lat[err_cols].any(axis=1)].tolist()
    errors_on_clean = [i for i in clean if any(CATALOGUE[c].severity == "error" for c in found[i])]
    assert len(errors_on_clean) <= 0.005 * len(clean), [found[i] for i in errors_on_clean[:5]]


# ---- bad input never crashes: any mutation is rejected naming fields, or checked and featurised

NOM = Nomenclature.default()


def _paths(node, prefix=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield prefix + (i,)
            yield from _paths(v, prefix + (i,))


PATHS = list(_paths(example_shipment()))
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**9), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), st.sampled_from(["", "  ", "US", "CN", "USD", "EUR", "CHF", "XXX", "610910", "850760",
                                           "8516.71.00", "USLAX", "2025-11-20T10:00:00+08:00", "2025-11-20",
                                           "+1 213-555-0142", "090-1234-5678", "SW1A 1AA", "9710_list", "rail"]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), VALUES), min_size=1, max_size=4))
def test_mutated_shipment_is_rejected_with_fields_or_checked(mutations):
    doc = example_shipment()
    for path, value in mutations:
        node = doc
        try:
            for p in path[:-1]:
                node = node[p]
            node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation replaced a parent
    try:
        shipment = Shipment.model_validate(doc)
    except ValidationError as exc:
        details = error_details(exc)
        assert details and all(d["field"] and d["reason"] for d in details)
        return
    findings = run_checks(shipment, NOM)
    row = feature_row(shipment, findings)
    assert list(row) == FEATURE_NAMES
    for v in row.values():
        assert v is None or isinstance(v, str) or math.isfinite(v)


def test_phone_numbers_are_parsed_once_per_number_and_country():
    phone_status.cache_clear()
    assert phone_status("+1 201-555-0123", "US") == ("ok", "US")
    assert phone_status("+1 201-555-0123", "US") == ("ok", "US")
    assert phone_status("+1 201-555-0123", "CA")[0] == "other_country"  # another country is another question
    info = phone_status.cache_info()
    assert (info.hits, info.misses) == (1, 2) and info.maxsize
