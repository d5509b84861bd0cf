"""Outcome import: good rows kept, bad rows reported by line and column, re-imports applied once, documents stored."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest

from data.shipments.examples import example_shipment
from data.store.db import init_db, make_engine
from data.store.outcomes import ShipmentStore
from features.shipment_features import FEATURES_VERSION
from features.shipment_records import VERSION_KEY, import_outcomes


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    init_db(engine)
    return engine


CSV = """shipment_id,declared_at,released_at,inspected,result,first_pass,demurrage
A1,2026-01-05T10:00:00+08:00,2026-01-06T12:00:00+08:00,true,released,yes,
A2,2026-01-05T10:00:00+08:00,,no,lost,1,12.5
A3,2026-01-05T10:00:00+08:00,2026-01-04T10:00:00+08:00,false,released,0,-3
A1,2026-01-05T10:00:00+08:00,2026-01-06T12:00:00+08:00,true,released,yes,
"""


def test_csv_good_rows_kept_bad_rows_by_line_and_column_duplicates_once(engine, tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(CSV)
    summary = import_outcomes(engine, path)
    assert summary.rows_read == 4 and summary.rejected == 2
    assert {(e.line, e.field) for e in summary.errors} == {(3, "result"), (4, "demurrage")}
    assert summary.outcomes.as_dict() == {"inserted": 1, "updated": 0, "unchanged": 0, "duplicates": 1}
    stored = ShipmentStore(engine).outcome("A1")
    assert stored.delay_hours == 26.0 and stored.inspected and stored.first_pass and stored.source == "import"
    again = import_outcomes(engine, path)
    assert again.outcomes.as_dict() == {"inserted": 0, "updated": 0, "unchanged": 1, "duplicates": 1}
    assert ShipmentStore(engine).count()["outcomes"] == 1


def test_column_mapping_and_cost_columns(engine, tmp_path):
    from data.shipments.outcome_readers import OutcomeColumns

    path = tmp_path / "erp.jsonl"
    rows = [{"id": "E1", "decl": "2026-02-01T08:00:00Z", "hours": 50.5, "inspected": False, "result": "held",
             "ok": False, "costs": {"detention": 40}, "fee": 15}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    columns = OutcomeColumns(shipment_id_col="id", declared_at_col="decl", delay_hours_col="hours",
                             first_pass_col="ok", declaration_cost_col="fee")
    summary = import_outcomes(engine, path, columns)
    assert summary.errors == [] and summary.outcomes.inserted == 1
    stored = ShipmentStore(engine).outcome("E1")
    assert (stored.result, stored.delay_hours, stored.costs) == ("held", 50.5, {"detention": 40.0,
                                                                                  "declaration_cost": 15.0})
    with pytest.raises(Exception, match="column 'nope'"):
        import_outcomes(engine, path, OutcomeColumns(shipment_id_col="nope"))


def test_parquet_with_documents_stores_the_shipments(engine, tmp_path):
    good = example_shipment()
    other = copy.deepcopy(good)
    other["shipment_id"] = "EX-0002"
    other["order"]["lines"][0]["quantity"] = -1
    frame = pd.DataFrame([
        {"shipment_id": good["shipment_id"], "declared_at": good["declaration"]["declared_at"], "delay_hours": 20.0,
         "inspected": False, "result": "released", "first_pass": True, "document": json.dumps(good)},
        {"shipment_id": "EX-0002", "declared_at": good["declaration"]["declared_at"], "delay_hours": 20.0,
         "inspected": False, "result": "released", "first_pass": True, "document": json.dumps(other)},
        {"shipment_id": "EX-0003", "declared_at": good["declaration"]["declared_at"], "delay_hours": 20.0,
         "inspected": False, "result": "released", "first_pass": True, "document": json.dumps(good)},
    ])
    path = tmp_path / "history.parquet"
    frame.to_parquet(path)
    summary = import_outcomes(engine, path)
    fields = {(e.line, e.field) for e in summary.errors}
    assert fields == {(2, "document.order.lines.0.quantity"), (3, "document.shipment_id")}
    assert summary.shipments.inserted == 1 and summary.outcomes.inserted == 1
    [row] = list(ShipmentStore(engine).training_rows())
    assert row["shipment_id"] == good["shipment_id"] and row["features"][VERSION_KEY] == FEATURES_VERSION
    document = ShipmentStore(engine).documents([good["shipment_id"]])[good["shipment_id"]]
    assert document["waybill"]["export_port"] == good["waybill"]["export_port"]
    assert import_outcomes(engine, path).shipments.unchanged == 1
