"""The in-memory KPI rows: read once, served by period, re-read only when the store changed and the copy is old."""

from __future__ import annotations

from datetime import timedelta

from data.store.db import init_db, make_engine
from serving.kpi.cache import KpiSource
from serving.kpi.service import kpi_report
from tests.data.store.rows import T0, add_rows, outcome, shipment


def test_views_share_one_read_until_the_store_changes(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'cache.db'}")
    init_db(engine)
    add_rows(engine, shipments=[shipment("c1", T0), shipment("c2", T0 + timedelta(days=7))],
             outcomes=[outcome("c1", T0, first_pass=False)])
    source = KpiSource(engine, refresh_s=3600, background=False)
    week = kpi_report(engine, T0, T0 + timedelta(days=7), "week", source=source)
    both = kpi_report(engine, T0, T0 + timedelta(days=14), "carrier", source=source)
    assert (week["total"]["n_shipments"], both["total"]["n_shipments"], source.loads) == (1, 2, 1)
    assert week == kpi_report(engine, T0, T0 + timedelta(days=7), "week")  # same figures as a direct read

    add_rows(engine, shipments=[shipment("c3", T0)], outcomes=[outcome("c3", T0)])
    assert kpi_report(engine, T0, T0 + timedelta(days=7), "week", source=source)["total"]["n_shipments"] == 1
    source.refresh_s = 0  # the copy is now older than the refresh interval: a change is read
    again = kpi_report(engine, T0, T0 + timedelta(days=7), "week", source=source)
    assert again["total"]["n_shipments"] == 2 and again["total"]["first_pass_rate"] == 0.5 and source.loads == 2
    kpi_report(engine, T0, T0 + timedelta(days=7), "week", source=source)
    assert source.loads == 2  # nothing changed since: no re-read


def test_a_re_read_runs_in_the_background_while_views_use_the_copy(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'bg.db'}")
    init_db(engine)
    add_rows(engine, shipments=[shipment("b1", T0)])
    source = KpiSource(engine, refresh_s=0)
    assert kpi_report(engine, T0, T0 + timedelta(days=7), "week", source=source)["total"]["n_shipments"] == 1
    add_rows(engine, shipments=[shipment("b2", T0)])
    stale = kpi_report(engine, T0, T0 + timedelta(days=7), "week", source=source)
    assert stale["total"]["n_shipments"] == 1  # answered from the copy at once
    source.wait()
    assert kpi_report(engine, T0, T0 + timedelta(days=7), "week", source=source)["total"]["n_shipments"] == 2
    assert source.loads == 2
