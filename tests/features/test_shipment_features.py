"""Feature rows: declared list, effects expressed from documents only, and training/serving parity."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from data.nomenclature import Nomenclature
from data.shipments.examples import example_shipment
from data.shipments.schema import Shipment
from features.checks import run_checks
from features.shipment_features import (
    CATEGORICAL,
    CATEGORY_LEVELS,
    FEATURE_NAMES,
    FEATURES,
    GROUPS,
    NUMERIC,
    OPEN_CATEGORICAL,
    feature_frame,
    feature_row,
)


@pytest.fixture(scope="module")
def nom() -> Nomenclature:
    return Nomenclature.default()


def _row(doc: dict, nom) -> dict:
    s = Shipment.model_validate(doc)
    return feature_row(s, run_checks(s, nom))


def test_feature_definitions():
    assert len(FEATURES) == len(FEATURE_NAMES) == len(set(FEATURE_NAMES))
    for f in FEATURES:
        assert f.kind in ("categorical", "numeric")
        assert f.group in GROUPS and f.en and f.zh
    for (en, zh) in GROUPS.values():
        assert en and zh
    assert set(CATEGORICAL) | set(NUMERIC) == set(FEATURE_NAMES)
    required_groups = {"channel", "carrier", "destination", "port_congestion_season",
                       "lithium_battery_without_certified_channel", "declared_value", "three_document_match",
                       "data_quality", "credit_grade", "hs_chapter", "policy_period"}
    assert required_groups <= {f.group for f in FEATURES}


def test_row_has_every_feature_in_order(nom):
    row = _row(example_shipment(), nom)
    assert list(row) == FEATURE_NAMES
    assert all(isinstance(v, (int, float, str)) or v is None for v in row.values())


def test_row_expresses_the_effects_from_the_documents(nom):
    doc = example_shipment()
    doc["waybill"].update(destination_port="USLAX", dangerous_goods={"lithium_battery": True})
    doc["declaration"]["declared_at"] = doc["timestamps"]["declared"] = "2025-11-20T10:00:00+08:00"
    doc["declaration"]["credit_grade"] = "advanced_certified"
    row = _row(doc, nom)
    assert row["declared_month"] == 11 and row["is_nov_dec"] == 1 and row["us_west_coast_peak"] == 1
    assert row["lithium_battery"] == 1 and row["lithium_us_uncertified"] == 1
    assert row["credit_grade"] == 2 and row["hs_chapter"] == "61" and row["n_hs_chapters"] == 2
    assert row["after_policy_change"] == 1 and row["days_since_policy_change"] > 250
    assert row["n_findings_warning"] == 1  # LITHIUM_US_UNCERTIFIED_CHANNEL
    doc["waybill"]["battery_certified_channel"] = True
    assert _row(doc, nom)["lithium_us_uncertified"] == 0


def test_month_is_taken_in_china_time(nom):
    doc = example_shipment()
    # 2025-10-31 17:00 UTC is already November 1st in China
    doc["declaration"]["declared_at"] = doc["timestamps"]["declared"] = "2025-10-31T17:00:00+00:00"
    assert _row(doc, nom)["declared_month"] == 11


def test_value_features_and_findings(nom):
    doc = example_shipment()
    doc["order"]["lines"][0].update(quantity=20000)
    doc["declaration"]["lines"][0].update(quantity=20000, value=52000.0)
    doc["declaration"]["declared_value"] = 52660.0
    doc["order"]["consignee"]["phone"] = None
    doc["waybill"]["consignee_name"] = "Someone Else Ltd"
    row = _row(doc, nom)
    assert row["over_50k_usd"] == 1 and row["declared_value_usd"] == pytest.approx(52660.0)
    assert row["log_declared_value_usd"] == pytest.approx(math.log1p(52660.0))
    assert row["f_phone_missing"] == 1 and row["f_consignee_mismatch"] == 1 and row["f_value_mismatch"] == 0
    assert row["n_findings_error"] == 2 and row["n_findings_info"] == 1 and row["n_three_document_findings"] == 1


def test_unknown_fx_currency_gives_missing_value_not_zero(nom):
    doc = example_shipment()
    for ln in doc["order"]["lines"]:
        ln["currency"] = "CHF"
    doc["declaration"]["currency"] = "CHF"
    row = _row(doc, nom)
    assert row["declared_value_usd"] is None and row["over_50k_usd"] is None
    frame = feature_frame([Shipment.model_validate(doc)], [[]])
    assert math.isnan(frame.loc[0, "declared_value_usd"])


def test_frame_dtypes_closed_and_open_vocabularies(nom):
    """Closed vocabularies are typed with the product's levels; an exporter's own carrier, ports and markets are kept
    as they are (the model learns its levels from the training history), not turned into missing values."""
    doc = example_shipment()
    doc["waybill"].update(carrier="Kerry Logistics", export_port="CNXMN", destination_port="BRSSZ")
    doc["declaration"]["destination_country"] = "BR"
    s = Shipment.model_validate(doc)
    frame = feature_frame([s], [run_checks(s, nom)])
    assert list(frame.columns) == FEATURE_NAMES
    assert set(CATEGORY_LEVELS) | set(OPEN_CATEGORICAL) == set(CATEGORICAL)
    for name, levels in CATEGORY_LEVELS.items():
        assert list(frame[name].cat.categories) == levels
    assert frame.loc[0, ["carrier", "export_port", "destination_port", "destination_country"]].tolist() == [
        "Kerry Logistics", "CNXMN", "BRSSZ", "BR"]
    assert all(isinstance(frame[name].dtype, pd.CategoricalDtype) for name in OPEN_CATEGORICAL)
    assert all(frame[name].dtype == "float64" for name in NUMERIC)


def test_undeclared_battery_line_still_counts_as_lithium(nom):
    doc = example_shipment()
    doc["order"]["lines"][1]["hs_code"] = doc["declaration"]["lines"][1]["hs_code"] = "850760"
    row = _row(doc, nom)
    assert row["f_lithium_undeclared"] == 1 and row["lithium_battery"] == 1 and row["lithium_us_uncertified"] == 1
    doc["waybill"]["battery_certified_channel"] = True
    doc["waybill"]["dangerous_goods"] = {"lithium_battery": True}
    row = _row(doc, nom)
    assert row["f_lithium_undeclared"] == 0 and row["lithium_battery"] == 1 and row["lithium_us_uncertified"] == 0


def test_route_alternative_with_original_findings_reflects_the_new_waybill(nom):
    """Route options re-score an alternative waybill with the submitted shipment's findings."""
    doc = example_shipment()
    doc["waybill"]["dangerous_goods"] = {"lithium_battery": True}
    s = Shipment.model_validate(doc)
    findings = run_checks(s, nom)
    alt = s.model_copy(update={"waybill": s.waybill.model_copy(update={"battery_certified_channel": True,
                                                                      "destination_port": "USLAX"})})
    before, after = feature_row(s, findings), feature_row(alt, findings)
    assert before["lithium_us_uncertified"] == 1 and after["lithium_us_uncertified"] == 0
    assert after["us_west_coast_port"] == 1 and after["destination_port"] == "USLAX"
