"""Shipment checks from the tariff facts: supervision documents, the exporter's rebate ledger, validity (issue 11)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from data.nomenclature import Nomenclature, import_national_tariff
from data.shipments.examples import example_shipment
from data.shipments.schema import Shipment
from data.store.db import init_db, make_engine
from features.checks import run_checks

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tariff"


@pytest.fixture(scope="module")
def nom(tmp_path_factory) -> Nomenclature:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('tariff') / 'store.db'}")
    init_db(engine)
    import_national_tariff(engine, FIXTURES / "facts.csv", label="CNTEST")
    return Nomenclature.load(engine)


def _doc(code: str, **line) -> dict:
    doc = example_shipment()
    doc["order"]["lines"][0]["hs_code"] = code
    doc["declaration"]["lines"][0]["hs_code"] = code
    doc["declaration"]["lines"][0].update(line)
    return doc


def _findings(doc: dict, nom) -> dict:
    return {f.code: f for f in run_checks(Shipment.model_validate(doc), nom)}


def test_inspection_certificate_not_mentioned_is_a_finding(nom):
    found = _findings(_doc("9617001100"), nom)
    f = found["SUPERVISION_DOCUMENT_MISSING"]
    assert f.severity == "error" and f.category == "tariff"
    assert f.fields == ["declaration.lines.0.hs_code", "declaration.lines.0.documents"]
    assert "B (outbound inspection" in f.message_en and "出境货物通关单" in f.message_zh
    # presented (a CSV cell or a list, with or without the number): no finding
    assert "SUPERVISION_DOCUMENT_MISSING" not in _findings(_doc("9617001100", documents="B:310000123"), nom)
    assert "SUPERVISION_DOCUMENT_MISSING" not in _findings(_doc("9617001100", documents=["B"]), nom)


def test_export_licence_required(nom):
    f = _findings(_doc("8112921090", documents=["x"]), nom)["SUPERVISION_DOCUMENT_MISSING"]
    assert "4 (export licence)" in f.message_en and "y (export licence (border trade))" in f.message_en
    assert "x (" not in f.message_en


def test_rebate_ledger_differs_from_the_tariff(nom):
    f = _findings(_doc("4202220000", ledger_rebate_rate=13), nom)["REBATE_LEDGER_MISMATCH"]
    assert f.severity == "warning" and "ledger says 13 %" in f.message_en and "says 9 %" in f.message_en
    assert "REBATE_LEDGER_MISMATCH" not in _findings(_doc("4202220000", ledger_rebate_rate=9.0), nom)
    assert "REBATE_LEDGER_MISMATCH" not in _findings(_doc("4202220000"), nom)  # no ledger column: nothing to compare


def test_unknown_rebate_is_not_zero(nom):
    found = _findings(_doc("8507600010", ledger_rebate_rate=0), nom)
    assert "REBATE_LEDGER_MISMATCH" not in found and "REBATE_UNKNOWN" in found
    # a real 0 % in the tariff against a 13 % ledger is a mismatch
    assert "REBATE_LEDGER_MISMATCH" in _findings(_doc("8112921090", documents="4;x;y", ledger_rebate_rate=13), nom)


def test_line_outside_its_validity(nom):
    doc = _doc("9503002100", documents=["B"])
    at = datetime(2028, 2, 1, 10, tzinfo=UTC).isoformat()
    doc["declaration"]["declared_at"] = at
    doc["timestamps"]["declared"] = at
    found = _findings(doc, nom)
    assert "TARIFF_LINE_NOT_IN_FORCE" in found and "2027-12-31" in found["TARIFF_LINE_NOT_IN_FORCE"].message_en


def test_export_prohibited():
    from data.tariff import TariffFacts

    nom = Nomenclature.with_national([("8112921090", "镓", "Gallium", "CNTEST")])
    nom.facts = {"8112921090": TariffFacts(code="8112921090", supervision="8")}
    found = _findings(_doc("8112921090"), nom)
    assert found["EXPORT_PROHIBITED"].severity == "error" and "SUPERVISION_DOCUMENT_MISSING" not in found


def test_every_tariff_finding_has_a_case():
    from features.checks import CATALOGUE

    tested = {"SUPERVISION_DOCUMENT_MISSING", "REBATE_LEDGER_MISMATCH", "REBATE_UNKNOWN", "TARIFF_LINE_NOT_IN_FORCE",
              "EXPORT_PROHIBITED"}
    assert {code for code, kind in CATALOGUE.items() if kind.category == "tariff"} == tested


def test_without_facts_nothing_is_found():
    assert not {f.category for f in run_checks(Shipment.model_validate(_doc("9617001100")),
                                               Nomenclature.default())} & {"tariff"}


def test_bad_documents_are_schema_errors():
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as exc:
        Shipment.model_validate(_doc("9617001100", documents=["BB:1"], ledger_rebate_rate=130))
    locs = {tuple(e["loc"]) for e in exc.value.errors()}
    assert ("declaration", "lines", 0, "documents", 0) in locs
    assert ("declaration", "lines", 0, "ledger_rebate_rate") in locs


def test_tariff_findings_stay_out_of_the_model_features(nom):
    from features.shipment_features import feature_row

    shipment = Shipment.model_validate(_doc("9617001100", ledger_rebate_rate=9))
    findings = run_checks(shipment, nom)
    assert {f.category for f in findings} >= {"tariff"}
    without = [f for f in findings if f.category != "tariff"]
    assert feature_row(shipment, findings) == feature_row(shipment, without)
