"""Advisory rules: declarative, validated on load (errors name rule and field), evaluated column-wise without eval."""

from __future__ import annotations

import numpy as np
import pytest

from data.errors import InvalidInputError
from data.rules.schema import parse_rules
from models.advisories import AdvisoryRules, load_rules
from tests.models.shipment_models import shipment


def _rule(when, rid="r1", **kw):
    return {"id": rid, "severity": "warning", "when": when, "message_en": "en", "message_zh": "中", **kw}


def _predictions(delays, risks):
    """Per-row prediction dicts as the scorer hands them to the rules: columns by path, numbers as numpy arrays."""
    columns = {}
    for root, rows in (("delay", delays), ("risk", risks)):
        paths = {}
        for row in rows:
            for key, value in row.items():
                if isinstance(value, dict):
                    for sub in value:
                        paths[f"{key}.{sub}"] = (key, sub)
                else:
                    paths[key] = (key, None)
        for path, (key, sub) in paths.items():
            col = [row.get(key) if sub is None else row.get(key, {}).get(sub) for row in rows]
            numeric = all(isinstance(v, float) for v in col)
            columns[f"{root}.{path}"] = np.array(col, dtype=float) if numeric else col
    return columns


def _evaluate(rules, ships, rows, findings, delays, risks):
    """Advisory ids per row of one batch."""
    advisories = rules.evaluate([rules.read_document(s) for s in ships], findings, rows, _predictions(delays, risks))
    return [[a.id for a in advs] for advs in advisories]


def _ids(rules, s, features=None, findings=(), delay=None, risk=None):
    """Advisory ids of one shipment: a batch of one."""
    return _evaluate(rules, [s], [features or {}], [list(findings)], [delay or {}], [risk or {}])[0]


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


def test_every_operator_on_odd_values_row_by_row_and_in_one_batch():
    """Each row of a batch gets the advisories it gets alone, and the expected ones: None and missing paths, NaN,
    booleans (not numbers), numbers written as strings, ``contains`` on strings and lists, values of the wrong type."""
    rules = AdvisoryRules(parse_rules({"rules": [
        _rule({"field": "features.a", "op": "gt", "value": 2}, rid="gt"),
        _rule({"field": "features.a", "op": "lte", "value": 2}, rid="lte"),
        _rule({"field": "features.b", "op": "eq", "value": "x"}, rid="eq"),
        _rule({"field": "features.b", "op": "ne", "value": "x"}, rid="ne"),
        _rule({"field": "features.b", "op": "not_in", "value": ["x", "y"]}, rid="not-in"),
        _rule({"field": "features.b", "op": "exists"}, rid="exists"),
        _rule({"not": {"field": "features.a", "op": "missing"}}, rid="not-missing"),
        _rule({"field": "features.b", "op": "contains", "value": "x"}, rid="contains"),
        _rule({"field": "features.b", "op": "contains_any", "value": ["x", 3]}, rid="contains-any"),
        _rule({"field": "features.b", "op": "startswith", "value": "x"}, rid="prefix"),
        _rule({"field": "findings", "op": "contains", "value": "A"}, rid="finding"),
        _rule({"any": [{"field": "delay.p90_hours", "op": "gte", "value": 100},
                       {"field": "risk.probabilities.high", "op": "lt", "value": 0.1}]}, rid="pred"),
        _rule({"all": [{"field": "waybill.carrier", "op": "startswith", "value": "CO"},
                       {"field": "risk.level", "op": "in", "value": ["high"]}]}, rid="doc-and-level"),
        _rule({"field": "order.lines.1.hs_code", "op": "exists"}, rid="deep"),
        _rule({"field": "risk.nothing.here", "op": "missing"}, rid="unknown-path"),
        _rule({"field": "risk.probabilities", "op": "exists"}, rid="sub-document"),
    ]}))
    always = ["unknown-path", "sub-document"]  # no row has risk.nothing.here, every row has risk.probabilities
    cases = [  # (a, b, expected besides the prediction and document rules)
        (3, None, ["gt", "not-missing"]),
        (2, "x", ["lte", "eq", "exists", "contains", "prefix", "not-missing"]),  # contains_any: not on strings
        ("3", "xyz", ["gt", "ne", "not-in", "exists", "contains", "prefix", "not-missing"]),  # a number as a string
        ("2.5e0", "y", ["gt", "ne", "exists", "not-missing"]),
        (float("nan"), "zz", ["ne", "not-in", "exists", "not-missing"]),  # NaN is neither above nor below
        (True, ["x", "q"], ["ne", "not-in", "exists", "contains", "contains-any", "not-missing"]),  # bool: no number
        (None, [3], ["ne", "not-in", "exists", "contains-any"]),
        ("high", 3, ["ne", "not-in", "exists", "not-missing"]),  # contains on a number: False, not an error
        (10**400, [[1], "q"], ["gt", "ne", "not-in", "exists", "not-missing"]),  # beyond float range; unhashable
        (1, {"x": 1}, ["lte", "ne", "not-in", "exists", "not-missing"]),
    ]
    from data.shipments.examples import example_shipment

    one_line = example_shipment()["order"]["lines"][:1]
    ships = [shipment(), shipment(**{"waybill.carrier": "DHL", "order.lines": one_line})]  # the example has 2 lines
    n = len(cases)
    ships = [ships[i % 2] for i in range(n)]
    rows = [{"a": a, "b": b} for a, b, _ in cases]
    findings = [["A"] if i % 3 == 0 else ["B"] for i in range(n)]
    delays = [{"p50_hours": 10.0, "p90_hours": 150.0 if i % 4 == 0 else 50.0} for i in range(n)]
    risks = [{"level": "high" if i % 2 == 0 else "low", "probabilities": {"high": 0.05 if i % 5 == 0 else 0.5}}
             for i in range(n)]
    batch = _evaluate(rules, ships, rows, findings, delays, risks)
    for i, (_, _, expected) in enumerate(cases):
        extra = (["finding"] if i % 3 == 0 else []) + (["pred"] if i % 4 == 0 or i % 5 == 0 else []) \
            + (["doc-and-level", "deep"] if i % 2 == 0 else [])
        want = [r.id for r in rules.rule_set.rules if r.id in {*expected, *always, *extra}]
        assert batch[i] == want, (i, cases[i])
        alone = _evaluate(rules, ships[i:i + 1], rows[i:i + 1], findings[i:i + 1], delays[i:i + 1], risks[i:i + 1])
        assert alone == [batch[i]]
    fired = {i for ids in batch for i in ids}
    assert fired == {r.id for r in rules.rule_set.rules}  # every rule fired somewhere: the comparison means something


def test_a_guarded_leaf_is_total_on_values_it_cannot_compare():
    # `contains` with a number on a string: False, in a batch as alone (the evaluator has no other path to fall to)
    rules = AdvisoryRules(parse_rules({"rules": [
        _rule({"all": [{"field": "features.a", "op": "gt", "value": 5},
                       {"field": "features.b", "op": "contains", "value": 3}]}, rid="guarded")]}))
    s = shipment()
    rows = [{"a": 1, "b": "text"}, {"a": 9, "b": [3]}, {"a": 9, "b": "3"}]
    assert _evaluate(rules, [s] * 3, rows, [[]] * 3, [{}] * 3, [{}] * 3) == [[], ["guarded"], []]


def test_batch_evaluation_matches_one_row_at_a_time_on_random_values():
    import random

    rules = AdvisoryRules(parse_rules({"rules": [
        _rule({"field": "features.a", "op": "gt", "value": 2}, rid="gt"),
        _rule({"field": "features.b", "op": "in", "value": ["x", 2]}, rid="in"),
        _rule({"field": "features.b", "op": "contains_any", "value": ["x", 1]}, rid="any-of"),
        _rule({"not": {"any": [{"field": "features.a", "op": "eq", "value": 0},
                               {"field": "features.b", "op": "contains", "value": "y"}]}}, rid="none-of"),
        _rule({"field": "delay.p90_hours", "op": "lt", "value": 100}, rid="fast"),
    ]}))
    rnd = random.Random(3)
    values = [None, 0, 1, 2, 2.0, 3, "7.5", float("nan"), True, "x", "y", "xy", [1], ["x", [2]], {"y": 1}]
    n = 200
    s = shipment()
    rows = [{"a": rnd.choice(values), "b": rnd.choice(values)} for _ in range(n)]
    delays = [{"p50_hours": 10.0, "p90_hours": rnd.choice([50.0, 100.0, float("nan")])} for _ in range(n)]
    batch = _evaluate(rules, [s] * n, rows, [[]] * n, delays, [{}] * n)
    one_by_one = [_evaluate(rules, [s], [rows[i]], [[]], [delays[i]], [{}])[0] for i in range(n)]
    assert batch == one_by_one
    assert {i for ids in batch for i in ids} == {r.id for r in rules.rule_set.rules}


def test_contains_any_takes_strings_and_numbers_only():
    with pytest.raises(InvalidInputError, match=r"rule 'r1': when: .*contains_any"):
        parse_rules({"rules": [_rule({"field": "findings", "op": "contains_any", "value": [["A"]]})]})


def test_codes_are_compact_and_decode_in_file_order():
    rules = AdvisoryRules(parse_rules({"rules": [
        _rule({"field": "features.a", "op": "exists"}, rid=f"r{j}") for j in range(70)]}))  # more than 62 bits
    s = shipment()
    codes = rules.evaluate_codes([rules.read_document(s)] * 2, [[], []], [{"a": 1}, {}], {})
    assert codes == [(1 << 70) - 1, 0]
    assert [a.id for a in rules.decode(codes)[0]] == [f"r{j}" for j in range(70)] and rules.decode(codes)[1] == []
