"""Port congestion from recent outcomes: no look-ahead in training, the same figures for serving."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from features.congestion import MIN_OUTCOMES, CongestionHistory, congestion_table

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
H = 3600.0


def _history(rows):
    """rows: (export port, destination port, declared at, release hours)."""
    return CongestionHistory.from_rows(rows)


def test_only_outcomes_known_before_the_declaration_count():
    # five outcomes at CNNGB known 1..5 days before T0, one declared before T0 but released after it
    rows = [("CNNGB", "USLAX", T0 - timedelta(days=d, hours=10), 10.0) for d in range(1, 6)]
    rows.append(("CNNGB", "USLAX", T0 - timedelta(hours=5), 100.0))  # known at T0 + 95 h: the future at T0
    hist = _history(rows)
    cols = hist.columns(["CNNGB"], ["USLAX"], [T0.timestamp()])
    assert cols["export_port_outcomes_7d"][0] == 5
    assert cols["export_port_release_p50_7d"][0] == 10.0 and cols["export_port_release_p90_7d"][0] == 10.0
    # 96 h later the late release is known; the outcomes known 4 and 5 days before T0 have left the window
    later = hist.columns(["CNNGB"], ["USLAX"], [(T0 + timedelta(hours=96)).timestamp()])
    assert later["export_port_outcomes_7d"][0] == 4 and np.isnan(later["export_port_release_p50_7d"][0])
    assert hist.snapshot(T0 + timedelta(hours=96)).values("CNNGB", "USLAX")["export_port_outcomes_7d"] == 4


def test_window_is_seven_days_and_the_hour_of_declaration():
    rows = [("CNSHA", "DEHAM", T0 - timedelta(days=8), 5.0)] * 3  # known 7.8 days before T0: outside the window
    # known at T0 + 20 min, before the declaration at T0 + 59 min but in its hour: figures move hourly → not yet
    rows += [("CNSHA", "DEHAM", T0 - timedelta(hours=2, minutes=10), 2.5)]
    rows += [("CNSHA", "DEHAM", T0 - timedelta(hours=4), 2.0)]  # known at T0 - 2 h: counted
    cols = _history(rows).columns(["CNSHA"], ["DEHAM"], [T0.timestamp() + 59 * 60])
    assert cols["export_port_outcomes_7d"][0] == 1 and cols["destination_port_outcomes_7d"][0] == 1


def test_too_few_outcomes_leave_the_figures_missing_but_count_them():
    rows = [("CNCAN", "JPTYO", T0 - timedelta(days=2), 30.0)] * (MIN_OUTCOMES - 1)
    cols = _history(rows).columns(["CNCAN", "CNXXX"], ["JPTYO", "JPTYO"], [T0.timestamp()] * 2)
    assert list(cols["export_port_outcomes_7d"]) == [MIN_OUTCOMES - 1, 0]
    assert np.isnan(cols["export_port_release_p50_7d"]).all()


def test_serving_snapshot_equals_the_training_columns_at_the_same_moment():
    rng = np.random.default_rng(0)
    ports = ["CNSZX", "CNNGB", "CNSHA"]
    dests = ["USLAX", "DEHAM"]
    rows = [(ports[i % 3], dests[i % 2], T0 - timedelta(hours=float(rng.uniform(0, 400))), float(rng.gamma(2, 15)))
            for i in range(400)]
    hist = _history(rows)
    at = T0 + timedelta(minutes=17)
    snap = hist.snapshot(at)
    for port in ports:
        for dest in dests:
            cols = hist.columns([port], [dest], [at.timestamp()])
            served = snap.values(port, dest)
            for name, value in served.items():
                assert cols[name][0] == pytest.approx(value), name
    table = congestion_table(snap)
    assert {(r["kind"], r["port"]) for r in table} == {("export_port", p) for p in ports} | {
        ("destination_port", d) for d in dests}
    assert all(r["release_hours_p90"] >= r["release_hours_p50"] for r in table)
    assert table[0]["as_of"] == "2026-03-10T12:00:00+00:00"


def test_feature_row_reads_the_snapshot_and_is_missing_without_one():
    from data.nomenclature import Nomenclature
    from data.shipments.examples import example_shipment
    from data.shipments.schema import Shipment
    from features.checks import run_checks
    from features.shipment_features import feature_row

    s = Shipment.model_validate(example_shipment())
    findings = run_checks(s, Nomenclature.default())
    rows = [(s.waybill.export_port, s.waybill.destination_port, T0 - timedelta(days=3), 40.0)] * MIN_OUTCOMES
    row = feature_row(s, findings, _history(rows).snapshot(T0))
    assert row["export_port_release_p50_7d"] == 40.0 and row["destination_port_outcomes_7d"] == MIN_OUTCOMES
    bare = feature_row(s, findings)
    assert bare["export_port_release_p50_7d"] is None and bare["export_port_outcomes_7d"] is None
