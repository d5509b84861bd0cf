"""The demo world's catalogues: data files in ``demo/catalogues/``, read once and checked by pydantic.

``rulings.yaml`` (materials, product families, HS6 codes for the demo ruling library), ``products.csv``,
``ports.csv``, ``carriers.csv`` and ``parties.yaml`` (the goods, port network, carriers and trading parties of the demo
shipment history). Only the demo generators read them: nothing in ``data/``, ``features/`` or ``models/`` knows the demo
world's carriers, ports or products. A bad row fails on load with the file, the row and the field.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from data.errors import InvalidInputError, pydantic_details

CATALOGUES = Path(__file__).resolve().parent / "catalogues"

Pair = tuple[str, str]  # (Chinese, English)
M = TypeVar("M", bound=BaseModel)
Mode = Literal["sea", "air", "rail"]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ------------------------------------------------------------------------------------------------ loading
def _details(exc: ValidationError, where: str) -> list[dict[str, Any]]:
    return pydantic_details(exc.errors(), prefix=(where,))


def read_csv(path: Path, model: type[M]) -> tuple[M, ...]:
    """Every row of a CSV file as ``model``; empty cells are absent fields. Errors name ``file:line`` and the field."""
    rows, problems = [], []
    with path.open(encoding="utf-8", newline="") as fh:
        for line, raw in enumerate(csv.DictReader(fh), start=2):
            try:
                rows.append(model.model_validate({k: v for k, v in raw.items() if v != ""}))
            except ValidationError as exc:
                problems += _details(exc, f"{path.name}:{line}")
    if problems:
        raise InvalidInputError(f"{path}: {len(problems)} invalid value(s) in the demo catalogue", details=problems)
    return tuple(rows)


def read_yaml(path: Path, model: type[M]) -> M:
    """A YAML file as ``model``; errors name the file and the dotted path of each bad field."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        details = _details(exc, path.name)
        raise InvalidInputError(f"{path}: {len(details)} invalid value(s) in the demo catalogue",
                                details=details) from None


# ------------------------------------------------------------------------------------------------ rulings
class Family(_Entry):
    """What titles of one kind of goods are made of; ``material`` is the default pool when a code names none."""

    brands: tuple[str, ...] = Field(min_length=1)
    uses: tuple[Pair, ...] = Field(min_length=1)
    attrs: tuple[Pair, ...] = Field(min_length=1)
    sizes: tuple[str, ...] = Field(min_length=1)  # formats filled from RulingCatalogue.size_fields
    elements: tuple[str, ...] = Field(min_length=1)  # 申报要素 keys in declaration order
    material: str | None = None
    model_prefixes: tuple[str, ...] = ("XR", "HD", "KY", "ZM", "LT", "QF")


class CodeSpec(_Entry):
    """One HS6 of the demo library: its family, material pool and product nouns (zh, en, China national suffix)."""

    hs6: str = Field(pattern=r"^\d{6}$")
    family: str
    material: str | None = None
    cn: str = Field("00", pattern=r"^\d{2}$")  # China's 8-digit line is hs6 + cn
    nouns: tuple[tuple[str, str, str], ...] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _default_suffix(cls, raw: Any) -> Any:
        """A noun written ``[zh, en]`` takes the code's national suffix; ``[zh, en, cn]`` picks its own."""
        if isinstance(raw, dict) and isinstance(raw.get("nouns"), list):
            cn = raw.get("cn", "00")
            raw = {**raw, "nouns": [[*n, cn] if isinstance(n, list) and len(n) == 2 else n for n in raw["nouns"]]}
        return raw


class Fillers(_Entry):
    zh: tuple[str, ...]
    en: tuple[str, ...]


class RulingCatalogue(_Entry):
    materials: dict[str, tuple[Pair, ...]]
    families: dict[str, Family]
    size_fields: dict[str, tuple[int, int]]
    element_values: dict[str, tuple[Pair, ...]]
    fillers: Fillers
    codes: tuple[CodeSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _references_resolve(self) -> RulingCatalogue:
        seen: set[str] = set()
        for i, spec in enumerate(self.codes):
            where = f"codes.{i} ({spec.hs6})"
            if spec.hs6 in seen:
                raise ValueError(f"{where}: HS6 {spec.hs6} appears twice")
            seen.add(spec.hs6)
            if spec.family not in self.families:
                raise ValueError(f"{where}: unknown family '{spec.family}'")
            pool = spec.material or self.families[spec.family].material
            if pool is not None and pool not in self.materials:
                raise ValueError(f"{where}: unknown material pool '{pool}'")
        return self


@cache
def ruling_catalogue() -> RulingCatalogue:
    return read_yaml(CATALOGUES / "rulings.yaml", RulingCatalogue)


# ------------------------------------------------------------------------------------------------ shipments
DangerousGood = Literal["lithium", "liquid", "magnetic", "powder"]


def _words(v: Any) -> Any:
    """``"sea air"`` → ``["sea", "air"]``: a CSV cell holding a set of words."""
    return v.split() if isinstance(v, str) else v


class Product(_Entry):
    """One kind of goods the demo exporters ship: a real HS6, its unit price (USD) and net weight per unit."""

    hs6: str = Field(pattern=r"^\d{6}$")
    en: str
    zh: str
    unit: str
    usd: float = Field(gt=0)
    kg: float = Field(gt=0)
    dangerous_goods: Annotated[frozenset[DangerousGood], BeforeValidator(_words)] = frozenset()

    @property
    def chapter(self) -> str:
        return self.hs6[:2]


class Port(_Entry):
    """A UN/LOCODE of the demo port network and the transport modes that use it."""

    locode: str = Field(pattern=r"^[A-Z]{2}[A-Z2-9]{3}$")
    name: str
    country: str = Field(pattern=r"^[A-Z]{2}$")
    modes: Annotated[frozenset[Mode], BeforeValidator(_words)] = Field(min_length=1)


class Carrier(_Entry):
    """A carrier of one transport mode (express counts as its own): its delay effects and share of the mode."""

    mode: Literal["express", "air", "sea", "rail"]
    carrier: str
    delay_factor: float = Field(gt=0)
    late_probability: float = Field(ge=0, le=1)
    share: float = Field(gt=0)  # relative share among the carriers of its mode
    battery_certified_share: float = Field(ge=0, le=1)  # share of its shipments on a battery-certified channel


class CountryParties(_Entry):
    suffixes: tuple[str, ...] = Field(min_length=1)  # legal forms of consignee names
    cities: tuple[str, ...] = Field(min_length=1)


class Parties(_Entry):
    name_first: tuple[str, ...] = Field(min_length=1)
    name_second: tuple[str, ...] = Field(min_length=1)
    streets: tuple[str, ...] = Field(min_length=1)
    platforms: tuple[str, ...] = Field(min_length=1)
    countries: dict[str, CountryParties]


@cache
def products() -> tuple[Product, ...]:
    return read_csv(CATALOGUES / "products.csv", Product)


@cache
def ports() -> dict[str, Port]:
    return {p.locode: p for p in read_csv(CATALOGUES / "ports.csv", Port)}


@cache
def carriers() -> tuple[Carrier, ...]:
    return read_csv(CATALOGUES / "carriers.csv", Carrier)


@cache
def parties() -> Parties:
    return read_yaml(CATALOGUES / "parties.yaml", Parties)
