"""Demo shipment-history generator: reproducible, valid documents, and every documented effect present in the labels."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from data.shipments.reference import POLICY_CHANGE_AT
from data.shipments.schema import Shipment
from demo import shipments as gen
from demo.shipments import generate_shipments, risk_level


@pytest.fixture(scope="module")
def history():
    return generate_shipments(n=40_000, seed=11)


@pytest.fixture(scope="module")
def frame(history) -> pd.DataFrame:
    return history.labels.join(history.latent.drop(columns="shipment_id"))


def _inspection_rate(df: pd.DataFrame) -> float:
    df = df[~df.outcome.isin(["held", "returned"])]
    return float((df.outcome == "inspected").mean())


def _held_rate(df: pd.DataFrame) -> float:
    return float(df.outcome.isin(["held", "returned"]).mean())


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = generate_shipments(1500, seed=3), generate_shipments(1500, seed=3), generate_shipments(1500, seed=4)
    assert json.dumps(a.shipments) == json.dumps(b.shipments)
    pd.testing.assert_frame_equal(a.labels, b.labels)
    assert json.dumps(a.shipments) != json.dumps(c.shipments)
    assert not a.labels.delay_hours.equals(c.labels.delay_hours)


def test_size_span_and_order(history):
    lab = history.labels
    assert len(history.shipments) == len(lab) == 40_000
    assert lab.shipment_id.is_unique
    local = lab.declared_at.dt.tz_convert("Asia/Shanghai")
    months = local.dt.year * 12 + local.dt.month
    assert local.min() >= pd.Timestamp("2024-01-01", tz="Asia/Shanghai")
    assert local.max() < pd.Timestamp("2026-01-01", tz="Asia/Shanghai")
    assert months.nunique() == 24
    assert lab.declared_at.is_monotonic_increasing
    assert set(lab.outcome) == {"released", "inspected", "held", "returned"}


def test_months_parameter():
    h = generate_shipments(3000, months=6, seed=2)
    local = h.labels.declared_at.dt.tz_convert("Asia/Shanghai")
    assert (local.dt.year * 12 + local.dt.month).nunique() == 6 and local.max() < pd.Timestamp("2024-07-01", tz="Asia/Shanghai")


def test_documents_are_valid_json_shipments(history):
    for doc in history.shipments[:3000]:
        s = Shipment.model_validate_json(json.dumps(doc))
        assert s.shipment_id == doc["shipment_id"]


def test_timestamps_agree_with_labels(history):
    lab = history.labels
    for i in range(0, 40_000, 397):
        doc, row = history.shipments[i], lab.iloc[i]
        s = Shipment.model_validate(doc)
        assert s.declaration.declared_at == row.declared_at.to_pydatetime()
        if row.outcome == "returned":
            assert s.timestamps.released is None
        else:
            hours = (s.timestamps.released - s.declaration.declared_at).total_seconds() / 3600
            assert abs(hours - row.delay_hours) < 1e-3


def test_risk_level_follows_the_documented_rule(history):
    lab = history.labels
    assert (lab.risk_level.to_numpy() == risk_level(lab.outcome.to_numpy(), lab.delay_hours.to_numpy())).all()
    assert (lab.loc[lab.outcome.isin(["held", "returned"]), "risk_level"] == "high").all()
    assert (lab.loc[lab.delay_hours > 120, "risk_level"] == "high").all()
    low = lab[lab.risk_level == "low"]
    assert (low.outcome == "released").all() and (low.delay_hours <= 48).all()
    assert np.array_equal(risk_level(np.array(["released", "inspected", "released", "held"]),
                                     np.array([48.0, 1.0, 48.1, 1.0])), ["low", "medium", "medium", "high"])


# ---- documented effects -------------------------------------------------------------------------------------------
def test_channel_base_times(frame):
    rel = frame[(frame.outcome == "released") & ~frame.congested]
    med = rel.groupby("channel").delay_hours.median()
    assert med["express"] < med["air"] < med["rail"] < med["sea_fcl"] < med["sea_lcl"]
    for ch, base in gen.CHANNEL_BASE_HOURS.items():
        assert 0.7 * base < med[ch] < 1.3 * base, (ch, med[ch])


def test_us_west_coast_congestion_in_nov_dec(frame):
    sea = frame[(frame.outcome == "released") & frame.channel.str.startswith("sea")]
    west = sea[sea.destination_port.isin(["USLAX", "USLGB"])]
    peak = west[west.month >= 11].delay_hours.median()
    off = west[west.month < 11].delay_hours.median()
    other_us_peak = sea[sea.destination_port.isin(["USNYC", "USSAV"]) & (sea.month >= 11)].delay_hours.median()
    assert peak > off + 25 and peak > other_us_peak + 25


def test_lithium_to_us_held_unless_certified(frame):
    li = frame[frame.lithium & frame.us]
    uncert, cert = _held_rate(li[~li.certified]), _held_rate(li[li.certified])
    assert uncert > 0.45 and uncert > 4 * cert
    nonus = frame[frame.lithium & ~frame.us & ~frame.certified]
    assert _held_rate(nonus) < 0.5 * uncert


def test_value_over_50k_inspected_more(frame):
    assert frame.over_50k.sum() > 500
    assert _inspection_rate(frame[frame.over_50k]) > 1.5 * _inspection_rate(frame[~frame.over_50k])


def test_document_mismatches_and_data_errors_cause_holds_and_returns(frame):
    clean = frame[(frame.n_doc_mismatches == 0) & (frame.n_data_errors == 0) & ~frame.lithium_cause
                  & ~frame.err_lithium_undeclared]
    assert _held_rate(frame[frame.n_doc_mismatches > 0]) > 10 * _held_rate(clean)
    assert _held_rate(frame[frame.n_data_errors > 0]) > 4 * _held_rate(clean)
    assert (frame[frame.err_hs_invalid].outcome == "returned").mean() > 5 * (clean.outcome == "returned").mean()


def test_carriers_on_time_rates_differ(frame):
    ex = frame[(frame.outcome == "released") & (frame.channel == "express") & ~frame.congested]
    mean = ex.groupby("carrier").delay_hours.mean()
    assert mean["YunExpress"] > 1.3 * mean["SF Express"]
    late = ex.groupby("carrier").delay_hours.apply(lambda s: (s > 24).mean())
    assert late["YunExpress"] > 2 * late["SF Express"]


def test_credit_grade_lowers_inspection(frame):
    r = {g: _inspection_rate(frame[frame.credit_grade == g]) for g in ("advanced_certified", "general", "discredited")}
    assert r["advanced_certified"] < 0.6 * r["general"] and r["general"] < 0.6 * r["discredited"]


def test_some_hs_chapters_inspected_more(frame):
    before = frame[~frame.after_policy]
    hot = _inspection_rate(before[before.main_chapter.isin(["85", "95"])])
    cold = _inspection_rate(before[~before.main_chapter.isin(list(gen.CHAPTER_INSPECTION))])
    assert hot > 1.5 * cold


def test_policy_change_drift(frame):
    textiles = frame[frame.main_chapter.isin(["61", "62"])]
    before = _inspection_rate(textiles[~textiles.after_policy])
    after = _inspection_rate(textiles[textiles.after_policy])
    assert after > 1.6 * before
    others = frame[~frame.main_chapter.isin(list(gen.POLICY_CHAPTER_INSPECTION))]
    assert abs(_inspection_rate(others[others.after_policy]) - _inspection_rate(others[~others.after_policy])) < 0.03
    # the period is a date, visible on every document
    assert (frame.after_policy == (frame.declared_at >= pd.Timestamp(POLICY_CHANGE_AT))).all()


def test_effects_are_documented_with_their_numbers():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "shipment-generator.md").read_text(encoding="utf-8")
    for needle in ("express 6", "sea_lcl 44", "USLAX", "50,000 USD", "battery-certified", "advanced_certified -1.2",
                   "85: +0.6", "2025-03-01", "high = held or returned or delay > 120 h", "YunExpress 1.3"):
        assert needle in doc, needle
        assert needle in gen.__doc__, needle


def test_every_carrier_is_documented_with_its_numbers():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "shipment-generator.md").read_text(encoding="utf-8")
    docstring = " ".join(gen.__doc__.split())  # wrapped lines read as one
    for c in gen.CARRIERS:
        needle = f"{c.carrier} {c.delay_factor!r}/{round(c.late_probability * 100)}%"
        assert needle in docstring, needle
        assert needle in doc, needle


def test_catalogue_codes_are_real_and_invalid_codes_are_not():
    from data.nomenclature import Nomenclature

    nom = Nomenclature.default()
    assert all(nom.is_valid(p.hs6) and len(p.hs6) == 6 for p in gen.PRODUCTS)
    assert not any(nom.is_valid(c) for c in gen.INVALID_HS6)
    assert all(len(code) == 5 and code[:2] == p.country for code, p in gen.PORTS.items())
