"""KPI figures on a small hand-computed fixture: totals, weeks (an empty one is null, not 0), ports, chapters, CSV."""

from __future__ import annotations

from datetime import timedelta

import pytest

from data.store.db import init_db, make_engine
from data.store.reviews import ReviewEntry, add_review
from serving.kpi.service import kpi_csv, kpi_report, resolve_period
from tests.data.store.rows import T0, add_rows, outcome, shipment

W11 = T0 + timedelta(days=7)
END = T0 + timedelta(days=20)  # into week 12, which has nothing


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'kpi.db'}")
    init_db(engine)
    h = timedelta(hours=1)
    add_rows(engine, shipments=[
        shipment("s1", T0, order_created_at=T0 - 10 * h),
        shipment("s2", T0 + h, order_created_at=T0 - 19 * h, n_error_findings=1),
        shipment("s3", T0 + 2 * h, export_port="CNNGB", carrier="COSCO", channel="sea_fcl", hs_chapter="94",
                 n_three_document_findings=2),
        shipment("s4", W11, order_created_at=W11 - 30 * h, export_port="CNNGB", carrier="COSCO", channel="sea_fcl",
                 hs_chapter="94"),
    ], outcomes=[
        outcome("s1", T0, hours=10, costs={"declaration_cost": 50}),
        outcome("s2", T0 + h, hours=30, inspected=True, first_pass=False,
                costs={"declaration_cost": 50, "inspection_fees": 100, "demurrage": 200}),
        outcome("u1", T0 + 3 * h, hours=None, released_at=T0 + 53 * h),  # never scored; delay from the timestamps
        outcome("s4", W11, hours=None, result="held", first_pass=False, costs={"declaration_cost": 80, "detention": 40}),
    ])
    for when, action, suggested in ((T0, "override", "851671"), (T0 + h, "accept", "940520"),
                                    (W11, "accept", "940521")):
        add_review(engine, ReviewEntry(created_at=when, reviewer="li", query_text="x", suggested_code=suggested,
                                       final_code="732393" if action == "override" else suggested, action=action,
                                       ruling_id=f"r-{suggested}"))
    return engine


def test_totals_are_the_hand_computed_figures(engine):
    total = kpi_report(engine, T0 - timedelta(days=1), END, "week")["total"]
    assert total["n_shipments"] == 5 and total["n_outcomes"] == 4 and total["n_reviews"] == 3
    assert total["preparation_hours_p50"] == pytest.approx(20.0)
    assert total["release_hours_p50"] == pytest.approx(30.0)  # 10, 30, 50 (s4 was held: no release)
    assert total["release_hours_p90"] == pytest.approx(46.0)
    assert total["exception_handling_hours"] == pytest.approx(30.0)  # s2; s4 is an exception never released
    assert total["cost_per_declaration"] == pytest.approx((50 + 350 + 120) / 3)  # u1 reports no cost
    assert total["demurrage_incidence"] == pytest.approx(2 / 3)
    assert total["demurrage_amount"] == pytest.approx(240.0)
    assert total["first_pass_rate"] == pytest.approx(0.5)
    assert total["data_error_rate"] == pytest.approx(0.25)  # u1 has no documents: not counted
    assert total["three_document_match_rate"] == pytest.approx(0.75)
    assert total["override_rate"] == pytest.approx(1 / 3)


def test_weeks_cover_the_period_and_an_empty_week_is_null(engine):
    report = kpi_report(engine, T0, END, "week")
    assert [g["group"] for g in report["groups"]] == ["2026-W10", "2026-W11", "2026-W12"]
    w10, w11, w12 = report["groups"]
    assert (w10["n_shipments"], w10["n_outcomes"], w10["preparation_hours_p50"]) == (4, 3, pytest.approx(15.0))
    assert w10["first_pass_rate"] == pytest.approx(2 / 3) and w10["override_rate"] == pytest.approx(0.5)
    assert w10["cost_per_declaration"] == pytest.approx(200.0) and w10["demurrage_incidence"] == pytest.approx(0.5)
    assert w11["release_hours_p50"] is None and w11["first_pass_rate"] == 0.0 and w11["override_rate"] == 0.0
    assert w11["demurrage_amount"] == pytest.approx(40.0)
    assert w12["n_shipments"] == 0 and w12["n_reviews"] == 0
    assert all(w12[k] is None for k in ("first_pass_rate", "release_hours_p50", "override_rate", "data_error_rate",
                                        "cost_per_declaration", "demurrage_amount"))


def test_months_and_dimensions(engine):
    assert [g["group"] for g in kpi_report(engine, T0, END, "month")["groups"]] == ["2026-03"]
    ports = kpi_report(engine, T0, END, "port")["groups"]
    assert [(g["group"], g["n_shipments"]) for g in ports] == [("CNNGB", 2), ("CNSHA", 2), ("(unknown)", 1)]
    assert all(g["override_rate"] is None and g["n_reviews"] is None for g in ports)  # reviews have no port
    cnsha = ports[1]
    assert cnsha["release_hours_p50"] == pytest.approx(20.0) and cnsha["data_error_rate"] == pytest.approx(0.5)
    chapters = {g["group"]: g for g in kpi_report(engine, T0, END, "hs_chapter")["groups"]}
    assert chapters["85"]["override_rate"] == 1.0 and chapters["94"]["override_rate"] == 0.0
    assert chapters["94"]["three_document_match_rate"] == pytest.approx(0.5)


def test_csv_has_a_line_per_group_and_the_total(engine):
    text = kpi_csv(kpi_report(engine, T0, END, "week"))
    lines = text.lstrip("\ufeff").strip().splitlines()
    header = lines[0].split(",")
    assert header[:4] == ["group_by", "group", "n_shipments", "n_outcomes"] and "first_pass_rate" in header
    assert [line.split(",")[1] for line in lines[1:]] == ["2026-W10", "2026-W11", "2026-W12", "total"]
    w12 = dict(zip(header, lines[3].split(",")))
    assert w12["first_pass_rate"] == "" and w12["n_shipments"] == "0"


def test_period_parsing_and_bad_input(engine):
    start, end = resolve_period(engine, "2026-03-02", "2026-03-08")
    assert start.isoformat() == "2026-03-01T16:00:00+00:00" and end.isoformat() == "2026-03-08T16:00:00+00:00"
    _, latest = resolve_period(engine, None, None)
    assert latest > W11  # default: up to the latest stored declaration
    from data.errors import InvalidInputError

    with pytest.raises(InvalidInputError) as bad:
        resolve_period(engine, "last week", None)
    assert bad.value.details[0]["field"] == "query.from"
    with pytest.raises(InvalidInputError):
        kpi_report(engine, T0, END, "weekday")


def test_an_empty_store_has_counts_of_zero_and_no_figures(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    init_db(engine)
    report = kpi_report(engine, T0, END, "carrier")
    assert report["groups"] == [] and report["total"]["n_shipments"] == 0
    assert report["total"]["first_pass_rate"] is None and report["total"]["override_rate"] is None
    assert len(kpi_report(engine, T0, END, "week")["groups"]) == 3
