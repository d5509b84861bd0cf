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
    # documented: sums to p - baseline, unless opposing groups cancel (then the slope keeps signs)
    feats = risk.contributions(x)[:, :, :-1]
    d = gmap(feats[:, risk.classes.index("high"), :] - feats.mean(axis=1))
    proportional = np.abs(d.sum(axis=1)) >= 0.25 * np.abs(d).sum(axis=1)
    assert proportional.any()
    np.testing.assert_allclose(impacts.sum(axis=1)[proportional], (p - p0)[proportional], atol=1e-6)
    assert (np.sign(impacts) == np.sign(d)).all()
    xd = delay.matrix(rows)
    dc = delay.contributions(xd)
    np.testing.assert_allclose(dc.sum(axis=1), delay.model_.quantiles_from_matrix(xd)[:, 1], atol=1e-6)


def test_every_group_has_words():
    delay, _ = small_models()
    from features.shipment_features import GROUPS

    assert set(GroupMap(delay.feature_sources).groups) <= set(GROUPS)


def test_spec_models_explain_with_their_feature_groups():
    from models.explanations import explain_tabular
    from models.tabular import TabularModel
    from tests.models.test_tabular import toy_frame, toy_spec

    spec = toy_spec(id_columns=[{"name": "shop", "role": "encode"}],
                    feature_groups={"colour": {"group": "look", "en": "Look", "zh": "外观"},
                                    "x": {"group": "look", "en": "Look", "zh": "外观"}},
                    model={"num_boost_round": 60})
    df = toy_frame(3000)
    model = TabularModel(spec, num_threads=1).fit(df.iloc[:2500], valid_df=df.iloc[2500:])
    rows = df.iloc[2500:2520]
    reasons = explain_tabular(model, rows)
    assert len(reasons) == 20
    groups = {r.feature for rs in reasons for r in rs}
    assert "look" in groups and "colour" not in groups and groups <= {"look", "shop"}
    red = next(rs for rs, c in zip(reasons, rows.colour) if c == "red")
    look = next(r for r in red if r.feature == "look")
    assert look.en.startswith("Look (colour red") and look.unit == "probability" and "外观" in look.zh
