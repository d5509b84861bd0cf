"""The dataset spec: what a data scientist writes (YAML) so the risk pipeline trains on their table without code.

A spec names the target and task, the time column, the id columns (dropped, or kept as high-cardinality keys that
are target/frequency encoded on the training split only), the categorical and numeric features, derived features
(HS hierarchy, ratios such as unit value, logs, calendar parts, crossed keys), optional business groups for
explanations, the class order and the quantiles. Every problem is reported with the dotted field path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from data.errors import InvalidInputError, error_path, field_error


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IdColumn(_Strict):
    name: str
    # exclude: never a feature (row ids); encode: out-of-fold target + frequency encoding fitted on train only.
    role: Literal["exclude", "encode"] = "exclude"


class HSPrefix(_Strict):
    kind: Literal["hs_prefix"]
    name: str
    source: str
    digits: int = Field(ge=1, le=10)
    # HS codes read as integers lose their leading zero ("10121" for 010121); pad back to this width first.
    width: int = Field(6, ge=2, le=10)
    encode: bool = False  # also target/frequency encode (for wide levels such as hs6)


class Ratio(_Strict):
    kind: Literal["ratio"]
    name: str
    numerator: str
    denominator: str
    log: bool = False


class Log(_Strict):
    kind: Literal["log"]
    name: str
    source: str


class DatePart(_Strict):
    kind: Literal["date_part"]
    name: str
    source: str
    part: Literal["month", "dayofweek", "dayofyear", "day", "hour"]


class Cross(_Strict):
    """Concatenated key of two or more columns (e.g. importer x HS4), target/frequency encoded like an id."""

    kind: Literal["cross"]
    name: str
    sources: list[str] = Field(min_length=2)


class Equal(_Strict):
    """1.0 when two columns hold the same value (e.g. country of departure = country of origin)."""

    kind: Literal["equal"]
    name: str
    left: str
    right: str


Derived = Annotated[HSPrefix | Ratio | Log | DatePart | Cross | Equal, Field(discriminator="kind")]


class FeatureGroup(_Strict):
    group: str
    en: str
    zh: str


class GroupLabel(_Strict):
    en: str
    zh: str


class Encoding(_Strict):
    folds: int = Field(5, ge=2, le=20)
    smoothing: float = Field(20.0, ge=0)
    min_frequency: int = Field(1, ge=1)


class ModelParams(_Strict):
    """LightGBM base params plus the small grid tuned on the validation split only."""

    params: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    num_boost_round: int = Field(2000, ge=1)
    early_stopping_rounds: int = Field(100, ge=1)
    calibration: Literal["none", "isotonic", "sigmoid", "temperature"] = "none"


class DatasetSpec(_Strict):
    name: str
    description: str = ""
    task: Literal["binary", "multiclass", "quantile", "regression"]
    target: str
    time_column: str | None = None
    id_columns: list[IdColumn] = Field(default_factory=list)
    drop: list[str] = Field(default_factory=list, description="Columns never used (e.g. leaking labels).")
    categorical: list[str] = Field(default_factory=list)
    numeric: list[str] = Field(default_factory=list)
    derived: list[Derived] = Field(default_factory=list)
    classes: list[str] | None = None
    positive_class: Any = 1
    quantiles: list[float] | None = None
    feature_groups: dict[str, FeatureGroup] = Field(default_factory=dict)
    group_labels: dict[str, GroupLabel] = Field(default_factory=dict)
    encoding: Encoding = Field(default_factory=Encoding)
    model: ModelParams = Field(default_factory=ModelParams)
    primary_metric: str | None = None

    @field_validator("quantiles")
    @classmethod
    def _quantiles_in_range(cls, v: list[float] | None) -> list[float] | None:
        if v is not None:
            bad = [q for q in v if not 0.0 < q < 1.0]
            if bad:
                raise ValueError(f"quantiles must lie strictly between 0 and 1, got {bad}")
            if len(set(v)) != len(v):
                raise ValueError("quantiles must be distinct")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> DatasetSpec:
        if self.task == "quantile" and not self.quantiles:
            raise ValueError("task 'quantile' needs 'quantiles' (e.g. [0.5, 0.9])")
        if self.task == "multiclass" and (not self.classes or len(self.classes) < 3):
            raise ValueError("task 'multiclass' needs 'classes' listing at least 3 class names in order")
        names: dict[str, str] = {}
        for where, cols in (("categorical", self.categorical), ("numeric", self.numeric),
                            ("id_columns", [c.name for c in self.id_columns]),
                            ("derived", [d.name for d in self.derived])):
            for c in cols:
                if c in names:
                    raise ValueError(f"column '{c}' is listed in both '{names[c]}' and '{where}'")
                names[c] = where
        if self.target in names:
            raise ValueError(f"target '{self.target}' is also listed in '{names[self.target]}'")
        if not (self.categorical or self.numeric or self.derived or self.encoded_ids):
            raise ValueError("the spec names no features (categorical, numeric, derived or id_columns with role encode)")
        return self

    # ---- views used by the pipeline -------------------------------------------------------------------------------
    @property
    def encoded_ids(self) -> list[str]:
        return [c.name for c in self.id_columns if c.role == "encode"]

    def required_columns(self) -> list[str]:
        """Raw columns a table must have to be scored (the target is extra for training/evaluation)."""
        cols: list[str] = [*self.categorical, *self.numeric, *self.encoded_ids]
        derived_names = {d.name for d in self.derived}
        for d in self.derived:
            for src in _derived_sources(d):
                if src not in derived_names:
                    cols.append(src)
        return list(dict.fromkeys(cols))


def _derived_sources(d: Any) -> list[str]:
    if isinstance(d, Ratio):
        return [d.numerator, d.denominator]
    if isinstance(d, Cross):
        return list(d.sources)
    if isinstance(d, Equal):
        return [d.left, d.right]
    return [d.source]


def derived_sources(d: Any) -> list[str]:
    return _derived_sources(d)


def _errors_to_details(exc: ValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        out.append(field_error(error_path(err["loc"], "(spec)"), err["msg"]))
    return out


def parse_spec(raw: Any, source: str = "spec") -> DatasetSpec:
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{source}: a dataset spec must be a mapping, got {type(raw).__name__}",
                                details=[field_error("(spec)", "not a mapping")])
    try:
        return DatasetSpec.model_validate(raw)
    except ValidationError as exc:
        details = _errors_to_details(exc)
        summary = "; ".join(f"{d['field']}: {d['reason']}" for d in details)
        raise InvalidInputError(f"{source}: invalid dataset spec: {summary}", details=details) from None


def load_spec(path: str | Path) -> DatasetSpec:
    """Read and validate a YAML spec; errors name the file and each bad field."""
    path = Path(path)
    if not path.exists():
        raise InvalidInputError(f"spec file not found: {path}", details=[field_error("spec", "file not found")])
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{path}: not valid YAML: {exc}", details=[field_error("spec", "invalid YAML")]) from None
    return parse_spec(raw, source=str(path))


SPECS_DIR = Path(__file__).resolve().parent


def builtin_spec(name: str) -> DatasetSpec:
    """A spec shipped in ``data/specs/`` by name (without ``.yaml``)."""
    return load_spec(SPECS_DIR / f"{name}.yaml")
