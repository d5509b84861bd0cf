"""Advisory rules: declarative, validated on load (errors name rule and field), evaluated without eval."""

from __future__ import annotations

import pytest

from data.errors import InvalidInputError
from data.rules.schema import parse_rules
from models.advisories import AdvisoryRules, build_context, load_rules
from tests.models.shipment_models import shipment


def _rule(when, rid="r1", **kw):
    return {"id": rid, "severity": "warning", "when": when, "message_en": "en", "message_zh": "中", **kw}


def _ids(rules, s, features=None, findings=(), delay=None, risk=None):
    class F:
        def __init__(self, code):
            self.code = code

    ctx = build_context(s, [F(c) for c in findings], features or {}, delay, risk)
    return [a.id for a in rules.evaluate(ctx)]


def test_shipped_rules_load_and_cover_the_examples():
    rules = load_rules()
    assert {"split-high-value", "lithium-certified-channel", "avoid-us-west-coast-peak",
            "fix-three-document-mismatch"} <= set(rules.ids)
    for r in rules.rule_set.rules:
        assert r.message_en and r.message_zh


def test_examples_fire_on_the_right_shipments():
    rules = load_rules()
    clean = shipment()
    assert "split-high-value" in _ids(rules, clean, {"declared_value_usd": 60_000.0})
    assert "split-high-value" not in _ids(rules, clean, {"declared_value_usd": 40_000.0})
    assert "split-high-value" not in _ids(rules, clean, {"declared_value_usd": None})  # unknown is not "above"
    lithium = shipment(**{"waybill.dangerous_goods.lithium_battery": True})
    assert "lithium-certified-channel" in _ids(rules, lithium)
    certified = shipment(**{"waybill.dangerous_goods.lithium_battery": True, "waybill.battery_certified_channel": True})
    assert "lithium-certified-channel" not in _ids(rules, certified)
    to_de = shipment(**{"waybill.dangerous_goods.lithium_battery": True, "declaration.destination_country": "DE",
                        "order.consignee.country": "DE"})
    assert "lithium-certified-channel" not in _ids(rules, to_de)
    lax = shipment(**{"waybill.destination_port": "USLGB"})
    assert "avoid-us-west-coast-peak" in _ids(rules, lax, {"declared_month": 11})
    assert "avoid-us-west-coast-peak" not in _ids(rules, lax, {"declared_month": 6})
    assert "fix-three-document-mismatch" in _ids(rules, clean, {"n_three_document_findings": 2})
    assert "fix-hs-codes" in _ids(rules, clean, findings=["HS_CODE_INVALID"])
    assert "high-risk-review" in _ids(rules, clean, risk={"level": "high", "probabilities": {"high": 0.7}})
    assert "predeclare" not in _ids(rules, clean)  # the example is pre-declared


@pytest.mark.parametrize("when, field", [
    ({"all": [{"field": "declaration.declared_value", "op": "gtt", "value": 1}]}, "when.all.0.op"),
    ({"all": [{"field": "invoice.total", "op": "gt", "value": 1}]}, "when.all.0"),
    ({"any": [{"field": "features.x", "op": "gt", "value": "high"}]}, "when.any.0"),
    ({"field": "features.x", "op": "in", "value": 3}, "when"),
    ({"not": {"field": "features.x", "op": "exists", "value": 1}}, "when.not"),
    ({"all": []}, "when.all"),
    ({"all": [{"field": "features.x", "op": "gt", "value": 1}], "extra": 1}, "when"),
])
def test_bad_rule_error_names_rule_and_field(when, field):
    with pytest.raises(InvalidInputError) as err:
        parse_rules({"rules": [_rule({"field": "features.a", "op": "exists"}, rid="fine"), _rule(when, rid="bad-one")]},
                    source="advisories.yaml")
    msg = err.value.message
    assert "rule 'bad-one'" in msg and f"{field}:" in msg and "advisories.yaml" in msg
    assert err.value.details[0]["rule"] == "bad-one"


def test_other_rule_fields_validated():
    with pytest.raises(InvalidInputError, match=r"rule 'r1': severity"):
        parse_rules({"rules": [_rule({"field": "features.a", "op": "exists"}, severity="loud")]})
    with pytest.raises(InvalidInputError, match=r"rule 'r1': message_zh"):
        parse_rules({"rules": [{k: v for k, v in _rule({"field": "features.a", "op": "exists"}).items()
                                if k != "message_zh"}]})
    with pytest.raises(InvalidInputError, match=r"rule 'r1': id: duplicate"):
        parse_rules({"rules": [_rule({"field": "features.a", "op": "exists"})] * 2})


def test_condition_language_semantics():
    rules = AdvisoryRules(parse_rules({"rules": [
        _rule({"any": [{"field": "features.a", "op": "gte", "value": 5},
                       {"not": {"field": "features.b", "op": "in", "value": ["x", "y"]}}]}, rid="any-not"),
        _rule({"field": "waybill.carrier", "op": "startswith", "value": "CO"}, rid="prefix"),
        _rule({"field": "findings", "op": "contains_any", "value": ["A", "B"]}, rid="codes"),
        # values are data, never code
        _rule({"field": "features.c", "op": "eq", "value": "__import__('os').system('false')"}, rid="inert"),
    ]}))
    s = shipment()  # carrier COSCO
    assert _ids(rules, s, {"a": 5, "b": "x"}) == ["any-not", "prefix"]
    assert _ids(rules, s, {"a": 1, "b": "x"}) == ["prefix"]
    assert _ids(rules, s, {"a": 1, "b": "z"}, findings=["B"]) == ["any-not", "prefix", "codes"]
    assert "inert" not in _ids(rules, s, {"c": "something"})


def _batch_vs_rows(rules, ships, rows, findings, delays, risks):
    from models.advisories import batch_context

    class F:
        def __init__(self, code):
            self.code = code

    fls = [[F(c) for c in fl] for fl in findings]
    contexts = [build_context(s, fl, r, d, k) for s, fl, r, d, k in zip(ships, fls, rows, delays, risks)]
    per_row = [[a.id for a in rules.evaluate(c)] for c in contexts]
    ctx = batch_context(ships, fls, rows, delay=lambda: delays, risk=lambda: risks)
    batch = [[a.id for a in advs] for advs in rules.evaluate_batch(ctx, lambda i: contexts[i])]
    return per_row, batch


def test_batch_evaluation_matches_per_row_on_every_operator():
    """The batch path (one column operation per leaf) must give exactly the per-row advisories."""
    import random

    rules = AdvisoryRules(parse_rules({"rules": [
        _rule({"field": "features.a", "op": "gt", "value": 2}, rid="gt"),
        _rule({"field": "features.a", "op": "lte", "value": 2}, rid="lte"),
        _rule({"field": "features.b", "op": "eq", "value": "x"}, rid="eq"),
        _rule({"field": "features.b", "op": "ne", "value": "x"}, rid="ne"),
        _rule({"field": "features.b", "op": "not_in", "value": ["x", "y"]}, rid="not-in"),
        _rule({"field": "features.b", "op": "exists"}, rid="exists"),
        _rule({"not": {"field": "features.a", "op": "missing"}}, rid="not-missing"),
        _rule({"field": "findings", "op": "contains", "value": "A"}, rid="contains"),
        _rule({"any": [{"field": "delay.p90_hours", "op": "gte", "value": 100},
                       {"field": "risk.probabilities.high", "op": "lt", "value": 0.1}]}, rid="pred"),
        _rule({"all": [{"field": "waybill.carrier", "op": "startswith", "value": "CO"},
                       {"field": "risk.level", "op": "in", "value": ["high"]}]}, rid="doc-and-level"),
        _rule({"field": "order.lines.1.hs_code", "op": "exists"}, rid="deep"),
        _rule({"field": "risk.nothing.here", "op": "missing"}, rid="unknown-path"),
    ]}))
    rnd = random.Random(3)
    ships = [shipment(), shipment(**{"waybill.carrier": "DHL"})]
    n = 200
    values = [None, 0, 1, 2, 2.0, 3, 7.5, float("nan"), True, "x", "y", "z", [1]]
    ships = [ships[i % 2] for i in range(n)]
    rows = [{"a": rnd.choice(values), "b": rnd.choice(values)} for _ in range(n)]
    findings = [rnd.sample(["A", "B", "C"], rnd.randint(0, 2)) for _ in range(n)]
    delays = [{"p50_hours": 10.0, "p90_hours": rnd.choice([50.0, 100.0, 150.0])} for _ in range(n)]
    risks = [{"level": rnd.choice(["low", "high"]), "probabilities": {"high": rnd.random()}} for _ in range(n)]
    per_row, batch = _batch_vs_rows(rules, ships, rows, findings, delays, risks)
    assert batch == per_row
    fired = {i for ids in per_row for i in ids}
    assert fired == {r.id for r in rules.rule_set.rules}  # every rule fired somewhere: the comparison means something


def test_batch_evaluation_falls_back_to_rows_when_a_leaf_cannot_run_column_wise():
    # `contains` with a number on a string raises; per row it is never reached when the first leaf is False.
    rules = AdvisoryRules(parse_rules({"rules": [
        _rule({"all": [{"field": "features.a", "op": "gt", "value": 5},
                       {"field": "features.b", "op": "contains", "value": 3}]}, rid="guarded")]}))
    s = shipment()
    rows = [{"a": 1, "b": "text"}, {"a": 9, "b": [3]}]
    per_row, batch = _batch_vs_rows(rules, [s, s], rows, [[], []], [{}, {}], [{}, {}])
    assert per_row == batch == [[], ["guarded"]]
