"""Advisories: evaluate the validated YAML rules (``data/rules``) against a shipment, findings and predictions.

Each condition is compiled once into a closure (no ``eval``, no per-rule Python), so evaluation per shipment costs
a handful of attribute lookups per rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from pydantic import BaseModel

from data.rules.schema import All, AnyOf, Condition, Leaf, Not, Rule, RuleSet, load_rule_set

class Advisory(BaseModel):
    id: str
    severity: str
    message_en: str
    message_zh: str


def _resolver(path: str) -> Callable[[dict], Any]:
    """Compiled lookup of a dotted path: dicts by key, lists by index, documents (pydantic) by attribute.

    Runs for every rule on every scored shipment, so it stays a tight loop (no isinstance chains on the hot path).
    """
    root, *rest = path.split(".")

    def resolve(ctx: dict) -> Any:
        v = ctx.get(root)
        for p in rest:
            if v is None:
                return None
            t = type(v)
            if t is dict:
                v = v.get(p)
            elif (t is list or t is tuple) and p.isdigit():
                i = int(p)
                v = v[i] if i < len(v) else None
            else:
                v = getattr(v, p, None)
        return v

    return resolve


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if x != x else x


def _leaf(c: Leaf) -> Callable[[dict], bool]:
    get, op, value = _resolver(c.field), c.op, c.value
    if op == "exists":
        return lambda ctx: get(ctx) is not None
    if op == "missing":
        return lambda ctx: get(ctx) is None
    if op in ("gt", "gte", "lt", "lte"):
        cmp = {"gt": float.__gt__, "gte": float.__ge__, "lt": float.__lt__, "lte": float.__le__}[op]
        ref = float(value)

        def numeric(ctx: dict) -> bool:
            x = _num(get(ctx))
            return x is not None and cmp(x, ref)

        return numeric
    if op == "eq":
        return lambda ctx: bool(get(ctx) == value)
    if op == "ne":
        def ne(ctx: dict) -> bool:
            v = get(ctx)
            return v is not None and v != value

        return ne
    if op in ("in", "not_in"):
        allowed = list(value)
        if op == "in":
            return lambda ctx: get(ctx) in allowed

        def not_in(ctx: dict) -> bool:
            v = get(ctx)
            return v is not None and v not in allowed

        return not_in
    if op == "contains":
        def contains(ctx: dict) -> bool:
            v = get(ctx)
            return isinstance(v, (list, tuple, set, frozenset, str)) and value in v

        return contains
    if op == "contains_any":
        wanted = set(value)

        def contains_any(ctx: dict) -> bool:
            v = get(ctx)
            return isinstance(v, (list, tuple, set, frozenset)) and not wanted.isdisjoint(v)

        return contains_any
    # startswith
    prefix = str(value)
    def startswith(ctx: dict) -> bool:
        v = get(ctx)
        return isinstance(v, str) and v.startswith(prefix)

    return startswith


def compile_condition(c: Condition) -> Callable[[dict], bool]:
    if isinstance(c, Leaf):
        return _leaf(c)
    if isinstance(c, (All, AnyOf)):
        subs = [compile_condition(s) for s in (c.all if isinstance(c, All) else c.any)]
        if len(subs) == 1:
            return subs[0]
        want = isinstance(c, AnyOf)  # short-circuit value: any -> first True, all -> first False

        def combine(ctx: dict) -> bool:
            for f in subs:
                if f(ctx) is want:
                    return want
            return not want

        return combine
    if isinstance(c, Not):
        sub = compile_condition(c.not_)
        return lambda ctx: not sub(ctx)
    raise TypeError(f"unknown condition {type(c).__name__}")


class AdvisoryRules:
    """The compiled rule set. ``evaluate(context)`` returns the advisories whose conditions hold, in file order."""

    def __init__(self, rule_set: RuleSet):
        self.rule_set = rule_set
        self._compiled: list[tuple[Rule, Callable[[dict], bool], Advisory]] = [
            (r, compile_condition(r.when), Advisory(id=r.id, severity=r.severity, message_en=r.message_en,
                                                    message_zh=r.message_zh))
            for r in rule_set.rules]

    def __len__(self) -> int:
        return len(self._compiled)

    def __getstate__(self) -> dict:
        return {"rule_set": self.rule_set}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["rule_set"])

    @property
    def ids(self) -> list[str]:
        return [r.id for r, _, _ in self._compiled]

    def evaluate(self, context: dict) -> list[Advisory]:
        return [adv for _, cond, adv in self._compiled if cond(context)]


def build_context(shipment: Any, findings: Sequence[Any], features: dict, delay: dict | None = None,
                  risk: dict | None = None) -> dict:
    """The names a rule can read: documents (pydantic objects, read lazily), findings codes, features, predictions."""
    return {
        "shipment_id": shipment.shipment_id,
        "order": shipment.order,
        "waybill": shipment.waybill,
        "declaration": shipment.declaration,
        "timestamps": shipment.timestamps,
        "features": features,
        "findings": [f.code for f in findings],
        "delay": delay or {},
        "risk": risk or {},
    }


def load_rules(path: str | Path | None = None) -> AdvisoryRules:
    """Load, validate and compile the rules file (default: ``data/rules/advisories.yaml``)."""
    return AdvisoryRules(load_rule_set(path))
