"""Advisories: evaluate the validated YAML rules (``data/rules``) over a batch of scored shipments.

One evaluator, column-wise: each leaf of a condition runs once over a column of values (one numpy comparison for
the numeric operators, one pass over the values otherwise) and ``all``/``any``/``not`` combine the boolean columns.
A single shipment is a batch of one. Every leaf is total: None, a missing path, NaN or a value of the wrong type makes
it False (``missing``: True), never an exception, so no odd value can fail a batch. Nothing is ``eval``-ed: rule
values are data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from data.rules.schema import All, AnyOf, Condition, Leaf, Not, RuleSet, load_rule_set


class Advisory(BaseModel):
    id: str
    severity: str
    message_en: str
    message_zh: str


#: Rule roots read from the shipment itself (:meth:`AdvisoryRules.read_document`); the others are ``features`` (the
#: feature row), ``findings`` (finding codes) and the predictions ``delay`` and ``risk``.
SHIPMENT_ROOTS = frozenset({"shipment_id", "order", "waybill", "declaration", "timestamps"})

_NAN = float("nan")
_NUMERIC = {"gt": np.greater, "gte": np.greater_equal, "lt": np.less, "lte": np.less_equal}
_SEQUENCES = (list, tuple, set, frozenset)


def _walk(v: Any, steps: Sequence[str]) -> Any:
    """Follow ``steps`` from ``v``: dict keys, list indices, attributes (documents); None once a step is missing."""
    for p in steps:
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


def _num(v: Any) -> float:
    """A value as a number for the numeric operators (numbers written as strings count); NaN when it is none."""
    if v is None or isinstance(v, bool):
        return _NAN
    try:
        return float(v)
    except OverflowError:  # an integer beyond float range still compares as a number
        return math.inf if v > 0 else -math.inf
    except (TypeError, ValueError):
        return _NAN


def _member(x: Any, values: frozenset) -> bool:
    try:
        return x in values
    except TypeError:  # unhashable (a list, a dict): equal to none of the hashable rule values
        return False


def _value_test(op: str, value: Any) -> Callable[[Any], bool]:
    """The non-numeric leaf as a total predicate on one value."""
    if op == "exists":
        return lambda v: v is not None
    if op == "missing":
        return lambda v: v is None
    if op == "eq":
        return lambda v: bool(v == value)
    if op == "ne":
        return lambda v: v is not None and bool(v != value)
    if op in ("in", "not_in"):
        allowed = list(value)
        if op == "in":
            return lambda v: v in allowed
        return lambda v: v is not None and v not in allowed
    if op == "contains":
        def contains(v: Any) -> bool:
            if isinstance(v, str):
                return isinstance(value, str) and value in v
            if isinstance(v, (list, tuple)):
                return value in v
            return isinstance(v, (set, frozenset)) and _member(value, v)

        return contains
    if op == "contains_any":
        wanted = frozenset(value)  # hashable: the rule schema allows strings and numbers only

        def contains_any(v: Any) -> bool:
            if not isinstance(v, _SEQUENCES):
                return False
            try:
                return not wanted.isdisjoint(v)
            except TypeError:  # an unhashable element on the way: compare element by element
                return any(_member(x, wanted) for x in v)

        return contains_any
    if op == "startswith":
        prefix = str(value)
        return lambda v: isinstance(v, str) and v.startswith(prefix)
    raise ValueError(f"unknown operator {op!r}")


class Columns:
    """The values rules read for ``n`` rows, by dotted path. ``known`` holds ready columns by full path (predictions,
    document values); any other path is walked from its root's per-row values (``roots``: a list, or a callable
    building it on first use), once per batch."""

    def __init__(self, n: int, known: dict[str, Sequence], roots: dict[str, Any]):
        self.n = n
        self._columns = dict(known)
        self._roots = roots

    def _root(self, name: str) -> list:
        v = self._roots.get(name)
        if callable(v):
            v = self._roots[name] = v()
        return [None] * self.n if v is None else v

    def get(self, path: str) -> Sequence:
        col = self._columns.get(path)
        if col is None:
            root, *steps = path.split(".")
            col = self._columns[path] = [_walk(v, steps) for v in self._root(root)]
        return col


def _nested(n: int, columns: dict[str, Sequence], root: str) -> list[dict]:
    """Per-row dicts of the columns under ``root``: ``risk.probabilities.high`` -> ``{"probabilities": {"high": x}}``
    (for a rule that reads ``risk.probabilities`` itself, or a path no column gives)."""
    rows: list[dict] = [{} for _ in range(n)]
    for path, col in columns.items():
        first, *steps = path.split(".")
        if first != root or not steps:
            continue
        values = col.tolist() if isinstance(col, np.ndarray) else col
        for row, v in zip(rows, values):
            for p in steps[:-1]:
                row = row.setdefault(p, {})
            row[steps[-1]] = v
    return rows


def _compile_leaf(c: Leaf) -> Callable[[Columns], np.ndarray]:
    path = c.field
    if c.op in _NUMERIC:
        ufunc, ref = _NUMERIC[c.op], float(c.value)

        def numeric(b: Columns) -> np.ndarray:
            col = b.get(path)
            if isinstance(col, np.ndarray) and col.dtype.kind == "f":
                x = col  # a prediction column: NaN compares False, like any value that is not a number
            else:
                x = np.fromiter((_num(v) for v in col), dtype=float, count=len(col))
            with np.errstate(invalid="ignore"):
                return ufunc(x, ref)

        return numeric
    test = _value_test(c.op, c.value)

    def values(b: Columns) -> np.ndarray:
        col = b.get(path)
        if isinstance(col, np.ndarray):
            col = col.tolist()  # Python scalars: comparisons with any rule value give a bool
        return np.fromiter((test(v) for v in col), dtype=bool, count=b.n)

    return values


def compile_condition(c: Condition) -> Callable[[Columns], np.ndarray]:
    """A condition as a function of the batch's columns giving one bool per row."""
    if isinstance(c, Leaf):
        return _compile_leaf(c)
    if isinstance(c, (All, AnyOf)):
        subs = [compile_condition(s) for s in (c.all if isinstance(c, All) else c.any)]
        if len(subs) == 1:
            return subs[0]
        reduce = np.logical_or.reduce if isinstance(c, AnyOf) else np.logical_and.reduce
        return lambda b: reduce([f(b) for f in subs])
    if isinstance(c, Not):
        sub = compile_condition(c.not_)
        return lambda b: ~sub(b)
    raise TypeError(f"unknown condition {type(c).__name__}")


def _leaf_fields(c: Condition) -> list[str]:
    if isinstance(c, Leaf):
        return [c.field]
    if isinstance(c, (All, AnyOf)):
        return [f for sub in (c.all if isinstance(c, All) else c.any) for f in _leaf_fields(sub)]
    return _leaf_fields(c.not_)


class AdvisoryRules:
    """The compiled rule set: :meth:`evaluate` gives, per row of a batch, the advisories whose conditions hold, in
    file order."""

    def __init__(self, rule_set: RuleSet):
        self.rule_set = rule_set
        self._conditions = [compile_condition(r.when) for r in rule_set.rules]
        self._advisories = [Advisory(id=r.id, severity=r.severity, message_en=r.message_en, message_zh=r.message_zh)
                            for r in rule_set.rules]
        #: The paths into the shipment (order..., waybill..., shipment_id) that some rule reads.
        self.document_paths: tuple[str, ...] = tuple(sorted({
            f for r in rule_set.rules for f in _leaf_fields(r.when) if f.split(".", 1)[0] in SHIPMENT_ROOTS}))
        self._document_steps = [p.split(".") for p in self.document_paths]

    def __len__(self) -> int:
        return len(self._advisories)

    def __getstate__(self) -> dict:
        return {"rule_set": self.rule_set}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["rule_set"])

    @property
    def ids(self) -> list[str]:
        return [a.id for a in self._advisories]

    def read_document(self, shipment: Any) -> tuple:
        """The values the rules read from one shipment, in :attr:`document_paths` order: a batch takes them while the
        shipment is at hand, so it need not keep every shipment object alive until the rules run."""
        return tuple(_walk(shipment, steps) for steps in self._document_steps)

    def evaluate_codes(self, documents: Sequence[tuple], findings: Sequence[Sequence[str]],
                       features: Sequence[dict], predictions: dict[str, Sequence]) -> list[int]:
        """One integer per row, bit j set when rule j fires (compact enough to send between processes).

        ``documents``: :meth:`read_document` per row; ``findings``: the finding codes per row; ``features``: the feature
        rows; ``predictions``: columns by path (``delay.p50_hours``, ``delay.p90_hours``, ``risk.level``,
        ``risk.probabilities.high``...).
        """
        n = len(features)
        if n == 0:
            return []
        known = dict(predictions)
        for path, col in zip(self.document_paths, zip(*documents)):
            known[path] = col
        columns = Columns(n, known, {"features": features, "findings": findings,
                                     "delay": lambda: _nested(n, predictions, "delay"),
                                     "risk": lambda: _nested(n, predictions, "risk")})
        code = np.zeros(n, dtype=object if len(self._conditions) > 62 else np.int64)
        for j, condition in enumerate(self._conditions):
            fired = condition(columns)
            if fired.any():
                code[fired] += 1 << j
        return code.tolist()

    def evaluate(self, documents: Sequence[tuple], findings: Sequence[Sequence[str]], features: Sequence[dict],
                 predictions: dict[str, Sequence]) -> list[list[Advisory]]:
        """The advisories per row (arguments as for :meth:`evaluate_codes`)."""
        return self.decode(self.evaluate_codes(documents, findings, features, predictions))

    def decode(self, codes: Sequence[int]) -> list[list[Advisory]]:
        """Advisory lists for :meth:`evaluate_codes` results, in file order."""
        decoded: dict[int, tuple[Advisory, ...]] = {}
        out = []
        for k in codes:
            t = decoded.get(k)
            if t is None:
                t = decoded[k] = tuple(a for j, a in enumerate(self._advisories) if k >> j & 1)
            out.append(list(t))
        return out


def load_rules(path: str | Path | None = None) -> AdvisoryRules:
    """Load, validate and compile the rules file (default: ``data/rules/advisories.yaml``)."""
    return AdvisoryRules(load_rule_set(path))
