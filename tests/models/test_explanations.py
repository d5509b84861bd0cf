"""Explanations: the generator's documented effects show up as reasons, and impacts add up as documented."""

from __future__ import annotations

import numpy as np
import pytest

from models.explanations import GroupMap, risk_group_impacts
from tests.models.shipment_models import scorer, shipment, small_models


@pytest.fixture(scope="module")
def sc():
    return scorer()


def _reason(reasons, group):
    return next((r for r in reasons if r.feature == group), None)


def test_lax_in_december_gets_a_congestion_reason_raising_delay(sc):
    peak = sc.score(shipment(month="2025-12", **{"waybill.destination_port": "USLAX"}))
    reason = _reason(peak.delay.reasons, "port_congestion_season")
    assert reason is not None and reason.unit == "hours" and reason.impact > 5.0
    assert "congestion" in reason.en and "拥堵" in reason.zh and "小时" in reason.zh
    # the same shipment to New York in June has no such push
    calm = sc.score(shipment(**{"waybill.destination_port": "USNYC"}))
    calm_reason = _reason(calm.delay.reasons, "port_congestion_season")
    assert calm_reason is None or calm_reason.impact < reason.impact / 3
    assert peak.delay.p90_hours > calm.delay.p90_hours


def test_lithium_to_us_without_certified_channel_raises_risk(sc):
    risky = sc.score(shipment(**{"waybill.dangerous_goods.lithium_battery": True}))
    reason = _reason(risky.risk.reasons, "lithium_battery_without_certified_channel")
    assert reason is not None and reason.unit == "probability" and reason.impact > 0.05
    assert risky.risk.reasons[0].feature == "lithium_battery_without_certified_channel"  # the strongest reason
    assert "风险" in reason.zh and "points" in reason.en
    certified = sc.score(shipment(**{"waybill.dangerous_goods.lithium_battery": True,
                                     "waybill.battery_certified_channel": True}))
    assert certified.risk.probabilities.high < risky.risk.probabilities.high - 0.05


def test_reasons_sorted_by_absolute_impact(sc):
    res = sc.score(shipment(month="2025-12", **{"waybill.destination_port": "USLAX",
                                                 "waybill.dangerous_goods.lithium_battery": True}))
    for reasons in (res.delay.reasons, res.risk.reasons):
        impacts = [abs(r.impact) for r in reasons]
        assert impacts == sorted(impacts, reverse=True) and len(reasons) <= 5


def test_impacts_add_up_to_the_prediction():
    delay, risk = small_models()
    from features.checks import run_checks
    from features.shipment_features import feature_row
    from tests.models.shipment_models import nomenclature

    rows = []
    for s in (shipment(), shipment(month="2025-12", **{"waybill.destination_port": "USLAX"}),
              shipment(**{"waybill.dangerous_goods.lithium_battery": True})):
        rows.append(feature_row(s, run_checks(s, nomenclature())))
    x = risk.matrix(rows)
    gmap = GroupMap(risk.feature_sources)
    impacts, p, p0 = risk_group_impacts(risk.contributions(x), gmap, risk.temperature, risk.classes.index("high"))
    np.testing.assert_allclose(p, risk.predict_matrix(x)[:, risk.classes.index("high")], atol=1e-9)
    np.testing.assert_allclose(impacts.sum(axis=1), p - p0, atol=1e-6)  # documented: sums to p - baseline
    xd = delay.matrix(rows)
    dc = delay.contributions(xd)
    np.testing.assert_allclose(dc.sum(axis=1), delay.model_.quantiles_from_matrix(xd)[:, 1], atol=1e-6)


def test_every_group_has_words():
    delay, _ = small_models()
    from features.shipment_features import GROUPS

    assert set(GroupMap(delay.feature_sources).groups) <= set(GROUPS)
