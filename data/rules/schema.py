"""Schema of the advisory rules file: a tiny condition language, validated on load, never ``eval``-ed.

A rule::

    - id: split-high-value
      severity: warning              # info | warning | error
      when: {all: [{field: features.declared_value_usd, op: gt, value: 50000}]}
      message_en: ...
      message_zh: ...

``when`` is a leaf ``{field, op, value}`` or ``{all: [...]}``, ``{any: [...]}``, ``{not: {...}}``. A field is a
dotted path whose first part is one of :data:`ROOTS`: the shipment's documents (``order``, ``waybill``,
``declaration``, ``timestamps``, ``shipment_id``), its model ``features`` (the feature row), ``findings`` (list of
finding codes), and the predictions ``delay`` (``p50_hours``, ``p90_hours``) and ``risk`` (``level``,
``probabilities.low|medium|high``). A bad rule raises :class:`~data.errors.InvalidInputError` naming the rule id and
the field path inside the rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from data.errors import InvalidInputError, error_path, field_error

ROOTS = ("shipment_id", "order", "waybill", "declaration", "timestamps", "features", "findings", "delay", "risk")
Op = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "contains_any", "exists", "missing",
             "startswith"]
_NUMERIC_OPS = {"gt", "gte", "lt", "lte"}
_LIST_OPS = {"in", "not_in", "contains_any"}
_NO_VALUE_OPS = {"exists", "missing"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Leaf(_Strict):
    field: str = Field(min_length=1)
    op: Op
    value: Any = None

    @model_validator(mode="after")
    def _check(self) -> Leaf:
        root = self.field.split(".", 1)[0]
        if root not in ROOTS:
            raise ValueError(f"field '{self.field}' must start with one of {', '.join(ROOTS)}")
        if self.op in _NUMERIC_OPS and (isinstance(self.value, bool) or not isinstance(self.value, (int, float))):
            raise ValueError(f"op '{self.op}' needs a number as value, got {self.value!r}")
        if self.op in _LIST_OPS and not isinstance(self.value, list):
            raise ValueError(f"op '{self.op}' needs a list as value, got {self.value!r}")
        if self.op == "contains_any" and not all(isinstance(x, (str, int, float)) for x in self.value):
            raise ValueError(f"op 'contains_any' needs a list of strings or numbers, got {self.value!r}")
        if self.op in _NO_VALUE_OPS and self.value is not None:
            raise ValueError(f"op '{self.op}' takes no value")
        if self.op not in _NO_VALUE_OPS and self.value is None:
            raise ValueError(f"op '{self.op}' needs a value")
        return self


class All(_Strict):
    all: list[Condition] = Field(min_length=1)


class AnyOf(_Strict):
    any: list[Condition] = Field(min_length=1)


class Not(_Strict):
    not_: Condition = Field(alias="not")


Condition = Leaf | All | AnyOf | Not
All.model_rebuild()
AnyOf.model_rebuild()
Not.model_rebuild()


class Rule(_Strict):
    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    severity: Literal["info", "warning", "error"]
    when: Condition
    message_en: str = Field(min_length=1)
    message_zh: str = Field(min_length=1)
    description: str = ""


class RuleSet(_Strict):
    version: int = 1
    rules: list[Rule]


def _condition_kind(raw: Any) -> str:
    if isinstance(raw, dict):
        for k in ("all", "any", "not"):
            if k in raw:
                return k
    return "leaf"


def _validate_condition(raw: Any, where: str) -> Condition:
    """Validate with the discriminating key so errors name the exact path (pydantic unions report every branch)."""
    kind = _condition_kind(raw)
    if kind == "all" or kind == "any":
        items = raw.get(kind)
        extra = set(raw) - {kind}
        if extra:
            raise _RuleError(where, f"unexpected keys {sorted(extra)} next to '{kind}'")
        if not isinstance(items, list) or not items:
            raise _RuleError(f"{where}.{kind}", "must be a non-empty list of conditions")
        subs = [_validate_condition(x, f"{where}.{kind}.{i}") for i, x in enumerate(items)]
        return All(all=subs) if kind == "all" else AnyOf(any=subs)
    if kind == "not":
        extra = set(raw) - {"not"}
        if extra:
            raise _RuleError(where, f"unexpected keys {sorted(extra)} next to 'not'")
        return Not(**{"not": _validate_condition(raw["not"], f"{where}.not")})
    if not isinstance(raw, dict):
        raise _RuleError(where, f"a condition is a mapping (field/op/value, all, any or not), got {raw!r}")
    try:
        return Leaf.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = error_path(err["loc"])
        raise _RuleError(f"{where}.{loc}" if loc else where, err["msg"].removeprefix("Value error, ")) from None


class _RuleError(Exception):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def parse_rules(raw: Any, source: str = "rules") -> RuleSet:
    """Validate a parsed rules document; the first bad rule raises naming its id and the field."""
    if not isinstance(raw, dict) or not isinstance(raw.get("rules"), list):
        raise InvalidInputError(f"{source}: a rules file is a mapping with a 'rules' list",
                                details=[field_error("rules", "missing or not a list")])
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, item in enumerate(raw["rules"]):
        rid = item.get("id") if isinstance(item, dict) else None
        label = f"rule '{rid}'" if rid else f"rule #{i}"
        try:
            if not isinstance(item, dict):
                raise _RuleError("(rule)", "a rule is a mapping")
            if "when" not in item:
                raise _RuleError("when", "missing")
            when = _validate_condition(item["when"], "when")
            rule = Rule.model_validate({**item, "when": when})
        except _RuleError as exc:
            raise InvalidInputError(f"{source}: {label}: {exc.field}: {exc.reason}",
                                    details=[{**field_error(exc.field, exc.reason), "rule": rid or i}]) from None
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = error_path(err["loc"])
            raise InvalidInputError(f"{source}: {label}: {loc}: {err['msg']}",
                                    details=[{**field_error(loc, err["msg"]), "rule": rid or i}]) from None
        if rule.id in seen:
            raise InvalidInputError(f"{source}: rule '{rule.id}': id: duplicate rule id",
                                    details=[{**field_error("id", "duplicate rule id"), "rule": rule.id}])
        seen.add(rule.id)
        rules.append(rule)
    return RuleSet(version=int(raw.get("version", 1)), rules=rules)


DEFAULT_RULES_PATH = Path(__file__).resolve().parent / "advisories.yaml"


def load_rule_set(path: str | Path | None = None) -> RuleSet:
    path = Path(path) if path is not None else DEFAULT_RULES_PATH
    if not path.exists():
        raise InvalidInputError(f"rules file not found: {path}", details=[field_error("rules", "file not found")])
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{path}: not valid YAML: {exc}", details=[field_error("rules", "invalid YAML")]) \
            from None
    return parse_rules(raw, source=str(path))
