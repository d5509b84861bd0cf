"""Advisories: evaluate the validated YAML rules (``data/rules``) against a shipment, findings and predictions.

Each condition is compiled once into a closure (no ``eval``, no per-rule Python), so evaluation per shipment costs
a handful of attribute lookups per rule.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
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
        return _walk(ctx.get(root), rest)

    return resolve


def _walk(v: Any, rest: Sequence[str]) -> Any:
    """Follow ``rest`` (dict keys, list indices, attributes) from ``v``; ``None`` as soon as a step is missing."""
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


def _leaf_fields(c: Condition) -> list[str]:
    if isinstance(c, Leaf):
        return [c.field]
    if isinstance(c, (All, AnyOf)):
        return [f for sub in (c.all if isinstance(c, All) else c.any) for f in _leaf_fields(sub)]
    return _leaf_fields(c.not_)


def _document_reader(paths: Sequence[str]) -> Callable[[Any], tuple]:
    """One shipment -> the values at ``paths`` (a tuple), each as :func:`_walk` would find it from the context."""
    if not paths:
        return lambda shipment: ()
    split = [p.split(".") for p in paths]
    if any(step.isdigit() for parts in split for step in parts):
        return lambda shipment: tuple(_walk(shipment, parts) for parts in split)
    # attribute paths all the way: one C-level attrgetter for all of them; a None on the way (an optional
    # sub-document) or a dict value raises AttributeError, and that shipment is walked path by path instead
    get = operator.attrgetter(*paths)
    single = len(paths) == 1

    def read(shipment: Any) -> tuple:
        try:
            v = get(shipment)
        except AttributeError:
            return tuple(_walk(shipment, parts) for parts in split)
        return (v,) if single else v

    return read


# ---- batch evaluation ----------------------------------------------------------------------------------------------
# A batch evaluates each leaf once over a whole column of values instead of once per shipment: numeric leaves on the
# prediction columns become one numpy comparison, the others one list comprehension. Semantics are those of the
# per-row closures above; ``tests/models/test_advisories.py`` checks both paths agree.
#: Context names read from the shipment itself (see :func:`build_context`).
SHIPMENT_ROOTS = frozenset({"shipment_id", "order", "waybill", "declaration", "timestamps"})


class BatchContext:
    """Columns a rule can read, for n shipments. ``roots[name]`` is a per-row list for a context name
    (or a callable building it on first use); ``columns[path]`` optionally gives a full dotted path precomputed
    (e.g. the prediction arrays), which wins over walking the root."""

    def __init__(self, n: int, roots: dict[str, Any], columns: dict[str, Sequence] | None = None):
        self.n = n
        self._roots = roots
        self._columns: dict[str, Sequence] = dict(columns or {})

    def root(self, name: str) -> list:
        v = self._roots.get(name)
        if v is None:
            v = [None] * self.n
        elif callable(v):
            v = v()
        self._roots[name] = v
        return v

    def column(self, path: str) -> Sequence:
        col = self._columns.get(path)
        if col is None:
            root, *rest = path.split(".")
            values = self.root(root)
            if not rest:
                col = values
            elif len(rest) == 1:
                p = rest[0]
                col = [v.get(p) if type(v) is dict else _walk(v, rest) for v in values]
            else:
                col = [_walk(v, rest) for v in values]
            self._columns[path] = col
        return col


def _batch_leaf(c: Leaf) -> Callable[[BatchContext], np.ndarray]:
    path, op, value = c.field, c.op, c.value

    def bools(values: list) -> np.ndarray:
        return np.array(values, dtype=bool)

    if op == "exists":
        return lambda b: bools([v is not None for v in b.column(path)])
    if op == "missing":
        return lambda b: bools([v is None for v in b.column(path)])
    if op in ("gt", "gte", "lt", "lte"):
        ufunc = {"gt": np.greater, "gte": np.greater_equal, "lt": np.less, "lte": np.less_equal}[op]
        ref = float(value)

        def numeric(b: BatchContext) -> np.ndarray:
            col = b.column(path)
            if type(col) is np.ndarray and col.dtype.kind == "f":
                x = col  # prediction arrays: NaN compares False, as _num(NaN) -> None does per row
            else:
                x = np.fromiter((_NAN if (n := _num(v)) is None else n for v in col), dtype=float, count=len(col))
            with np.errstate(invalid="ignore"):
                return ufunc(x, ref)

        return numeric
    if op == "eq":
        return lambda b: bools([bool(v == value) for v in b.column(path)])
    if op == "ne":
        return lambda b: bools([v is not None and v != value for v in b.column(path)])
    if op in ("in", "not_in"):
        allowed = list(value)
        if op == "in":
            return lambda b: bools([v in allowed for v in b.column(path)])
        return lambda b: bools([v is not None and v not in allowed for v in b.column(path)])
    if op == "contains":
        kinds = (list, tuple, set, frozenset, str)
        return lambda b: bools([isinstance(v, kinds) and value in v for v in b.column(path)])
    if op == "contains_any":
        wanted = set(value)
        kinds = (list, tuple, set, frozenset)
        return lambda b: bools([isinstance(v, kinds) and not wanted.isdisjoint(v) for v in b.column(path)])
    prefix = str(value)
    return lambda b: bools([isinstance(v, str) and v.startswith(prefix) for v in b.column(path)])


_NAN = float("nan")


def compile_batch_condition(c: Condition) -> Callable[[BatchContext], np.ndarray]:
    if isinstance(c, Leaf):
        return _batch_leaf(c)
    if isinstance(c, (All, AnyOf)):
        subs = [compile_batch_condition(s) for s in (c.all if isinstance(c, All) else c.any)]
        if len(subs) == 1:
            return subs[0]
        reduce = np.logical_or.reduce if isinstance(c, AnyOf) else np.logical_and.reduce
        return lambda b: reduce([f(b) for f in subs])
    if isinstance(c, Not):
        sub = compile_batch_condition(c.not_)
        return lambda b: ~sub(b)
    raise TypeError(f"unknown condition {type(c).__name__}")


class AdvisoryRules:
    """The compiled rule set. ``evaluate(context)`` returns the advisories whose conditions hold, in file order."""

    def __init__(self, rule_set: RuleSet):
        self.rule_set = rule_set
        self._compiled: list[tuple[Rule, Callable[[dict], bool], Advisory]] = [
            (r, compile_condition(r.when), Advisory(id=r.id, severity=r.severity, message_en=r.message_en,
                                                    message_zh=r.message_zh))
            for r in rule_set.rules]
        self._batch = [compile_batch_condition(r.when) for r in rule_set.rules]
        #: The paths into the shipment (order..., waybill..., shipment_id) that some rule reads.
        self.document_paths: tuple[str, ...] = tuple(sorted({
            f for r in rule_set.rules for f in _leaf_fields(r.when) if f.split(".", 1)[0] in SHIPMENT_ROOTS}))
        self._read_document = _document_reader(self.document_paths)

    def __len__(self) -> int:
        return len(self._compiled)

    def __getstate__(self) -> dict:
        return {"rule_set": self.rule_set}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["rule_set"])

    def read_document(self, shipment: Any) -> tuple:
        """The values the rules read from one shipment, in :attr:`document_paths` order. A batch takes them while
        the shipment is at hand and passes them to :func:`batch_context` as ``documents``, so it need not keep
        every shipment object alive until the rules run."""
        return self._read_document(shipment)

    @property
    def ids(self) -> list[str]:
        return [r.id for r, _, _ in self._compiled]

    def evaluate(self, context: dict) -> list[Advisory]:
        return [adv for _, cond, adv in self._compiled if cond(context)]

    def evaluate_batch(self, batch: BatchContext, contexts: Callable[[int], dict] | None = None
                       ) -> list[list[Advisory]]:
        """``evaluate`` for every row of a batch, one column operation per leaf."""
        return self.decode(self.evaluate_codes(batch, contexts))

    def evaluate_codes(self, batch: BatchContext, contexts: Callable[[int], dict] | None = None) -> list[int]:
        """One integer per row, bit j set when rule j fires: compact enough to send between processes.

        A leaf that raises on some value (e.g. ``contains`` with a number on a string field) could have been
        skipped by the per-row short-circuit; then, if ``contexts(i)`` gives row i's context, the batch falls back
        to per-row evaluation so both paths always return the same advisories.
        """
        n = batch.n
        if n == 0:
            return []
        try:
            masks = [np.asarray(f(batch), dtype=bool) for f in self._batch]
        except Exception:
            if contexts is None:
                raise
            bit = {id(adv): 1 << j for j, (_, _, adv) in enumerate(self._compiled)}
            return [sum(bit[id(a)] for a in self.evaluate(contexts(i))) for i in range(n)]
        code = np.zeros(n, dtype=object) if len(masks) > 62 else np.zeros(n, dtype=np.int64)
        for j, m in enumerate(masks):
            if m.any():
                code[m] += 1 << j
        return code.tolist()

    def decode(self, codes: Sequence[int]) -> list[list[Advisory]]:
        """Advisory lists for :meth:`evaluate_codes` results, in file order (rows with equal codes share a tuple)."""
        advs = [adv for _, _, adv in self._compiled]
        decoded: dict[int, tuple[Advisory, ...]] = {}
        out = []
        for k in codes:
            t = decoded.get(k)
            if t is None:
                t = decoded[k] = tuple(a for j, a in enumerate(advs) if k >> j & 1)
            out.append(list(t))
        return out


def batch_context(shipments: Sequence[Any] | None, findings_lists: Sequence[Sequence[Any]], rows: Sequence[dict],
                  columns: dict[str, Sequence] | None = None, *, delay: Callable[[], list] | None = None,
                  risk: Callable[[], list] | None = None,
                  documents: tuple[Sequence[str], Sequence[tuple]] | None = None) -> BatchContext:
    """The batch form of :func:`build_context`: the same names, as columns. ``columns`` carries the predictions by
    path (``delay.p90_hours``, ``risk.level``, ``risk.probabilities.high``...); ``delay``/``risk`` build the per-row
    dicts only if a rule reads a prediction path that is not given as a column.

    The shipment values come either from ``shipments`` or, without them, from ``documents``: ``(paths, one tuple
    per row)`` as :meth:`AdvisoryRules.read_document` gives them, which must cover every shipment path a rule reads.
    """
    n = len(rows)
    columns = dict(columns or {})
    if documents is not None:
        paths, values = documents
        if paths:
            transposed = list(zip(*values)) if values else [() for _ in paths]
            for path, col in zip(paths, transposed):
                columns.setdefault(path, list(col))

    def of_shipments(attr: str) -> Callable[[], list]:
        if shipments is None:
            def missing() -> list:
                raise LookupError(f"'{attr}' was not read from the shipments of this batch")

            return missing
        return lambda: [getattr(s, attr) for s in shipments]

    roots: dict[str, Any] = {name: of_shipments(name) for name in SHIPMENT_ROOTS}
    roots.update({
        "features": rows if isinstance(rows, list) else list(rows),
        "findings": lambda: [[f.code for f in fl] for fl in findings_lists],
        "delay": delay or (lambda: [{} for _ in range(n)]),
        "risk": risk or (lambda: [{} for _ in range(n)]),
    })
    return BatchContext(n, roots, columns)


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
