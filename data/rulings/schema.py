"""The ruling: one historical classification decision, the unit of the ruling library (the system of record).

A ruling ties a product text (name, description, declaration elements 申报要素) to an HS code at 6, 8 or 10 digits.
Validation here is structural only (digits, length, chapter): checking a code against a nomenclature version is the
reader's job, because the same ruling stays valid data when the nomenclature changes.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from data.rulings.language import Language, detect_language, normalise_language

# Limits keep one bad row (a whole document pasted into a title cell) from bloating the library and the index.
MAX_NAME_CHARS = 1000
MAX_DESCRIPTION_CHARS = 20_000
MAX_ELEMENTS = 50
MAX_ELEMENT_KEY_CHARS = 64
MAX_ELEMENT_VALUE_CHARS = 1000
MAX_NOTES_CHARS = 5000

HS_CODE_LENGTHS = (6, 8, 10)
# HS chapters 01-97 (77 is reserved and unused) plus 98/99, which national tariffs use for special provisions.
# 77 is reserved for future use by the WCO; 98 and 99 are reserved for national special uses (China: none a 9710
# exporter declares), so a "ruling" under them is noise, or a probe, and never becomes searchable.
VALID_CHAPTERS = frozenset(f"{i:02d}" for i in range(1, 98)) - {"77"}

_CODE_SEPARATORS = re.compile(r"[\s.\-_/,']+")


class RulingSource(str, Enum):
    customs_ruling = "customs_ruling"
    pre_classification = "pre_classification"
    declaration = "declaration"
    reviewer = "reviewer"


def code_digits(raw: Any) -> str:
    """Strip the separators people write codes with ("8516.71.00", "8516 71", "８５１６．７１"); keep the rest as is.

    Raises ValueError with a reason for anything that is not digits after that.
    """
    if raw is None:
        raise ValueError("empty HS code")
    if isinstance(raw, bool):
        raise ValueError(f"invalid HS code '{raw}': not a code")
    if isinstance(raw, float):
        if not raw.is_integer():
            raise ValueError(f"invalid HS code '{raw}': not a whole number")
        raw = int(raw)
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    if not text:
        raise ValueError("empty HS code")
    digits = _CODE_SEPARATORS.sub("", text)
    if not digits.isdigit() or not digits.isascii():
        bad = sorted({ch for ch in digits if not (ch.isascii() and ch.isdigit())})
        raise ValueError(f"invalid HS code '{raw}': non-digit characters {''.join(bad)!r}")
    return digits


def normalise_hs_code(raw: Any, lengths: tuple[int, ...] = HS_CODE_LENGTHS) -> str:
    """Digits-only HS code of an allowed length with a known chapter; ValueError naming the reason otherwise."""
    digits = code_digits(raw)
    if len(digits) not in lengths:
        allowed = ", ".join(str(n) for n in lengths[:-1]) + f" or {lengths[-1]}"
        numeric = isinstance(raw, (int, float))
        hint = " (a leading zero lost in a numeric column?)" if numeric and len(digits) + 1 in lengths else ""
        raise ValueError(f"invalid HS code '{raw}': {len(digits)} digits, need {allowed}{hint}")
    if digits[:2] not in VALID_CHAPTERS:
        raise ValueError(f"invalid HS code '{raw}': unknown chapter '{digits[:2]}'")
    return digits


def parse_declared_elements(value: Any) -> dict[str, str]:
    """Declaration elements from a dict, a JSON object text or ``"品名:水杯|用途:家用"`` text.

    Full-width separators (｜ ：) are accepted because Chinese declaration tools write them.
    """
    if value is None:
        return {}
    if isinstance(value, float) and value != value:  # NaN from a dataframe cell
        return {}
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return {}
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"declared elements are not valid JSON: {exc.msg} at column {exc.colno}") from None
        else:
            value = {}
            for part in re.split(r"[|｜]", text):
                part = part.strip()
                if not part:
                    continue
                pieces = re.split(r"[:：]", part, maxsplit=1)
                if len(pieces) != 2:
                    raise ValueError(f"declared element '{part[:40]}' has no ':' between key and value")
                value[pieces[0]] = pieces[1]
    if isinstance(value, list):  # [{"key":..,"value":..}] as parquet map columns arrive
        try:
            value = {str(item["key"] if isinstance(item, dict) else item[0]): item["value"] if isinstance(item, dict)
                     else item[1] for item in value}
        except (KeyError, IndexError, TypeError):
            raise ValueError("declared elements must be an object of key/value pairs") from None
    if not isinstance(value, dict):
        raise ValueError("declared elements must be an object of key/value pairs")
    if len(value) > MAX_ELEMENTS:
        raise ValueError(f"too many declared elements: {len(value)} (limit {MAX_ELEMENTS})")
    out: dict[str, str] = {}
    for key, val in value.items():
        k = str(key).strip()
        if not k:
            raise ValueError("declared element with an empty key")
        if len(k) > MAX_ELEMENT_KEY_CHARS:
            raise ValueError(f"declared element key '{k[:20]}…' too long: {len(k)} chars (limit {MAX_ELEMENT_KEY_CHARS})")
        if val is None:
            continue
        v = val if isinstance(val, str) else json.dumps(val, ensure_ascii=False) if isinstance(val, (dict, list)) else str(val)
        v = v.strip()
        if not v:
            continue  # an empty element says nothing; keeping it would fake a declared-but-blank value
        if len(v) > MAX_ELEMENT_VALUE_CHARS:
            raise ValueError(f"declared element '{k}' too long: {len(v)} chars (limit {MAX_ELEMENT_VALUE_CHARS})")
        out[k] = v
    return out


def _clean_text(value: Any, limit: int, what: str, required: bool) -> str:
    if value is None or (isinstance(value, float) and value != value):
        value = ""
    if isinstance(value, (dict, list, tuple, set, bytes)):
        raise ValueError(f"{what} must be a string, not {type(value).__name__}")
    text = str(value).replace("\x00", "").strip()
    if required and not text:
        raise ValueError("empty text")
    if len(text) > limit:
        raise ValueError(f"{what} too long: {len(text)} chars (limit {limit})")
    return text


def ruling_content_id(product_name: str, description: str, declared_elements: dict[str, str], hs_code: str,
                      source: str) -> str:
    """Stable id from the content, so importing the same ruling twice lands on the same row.

    The source is part of it: a reviewer confirming a declaration's text and code is new evidence, not a duplicate.
    Whitespace runs are collapsed so that re-exports with different spacing still match.
    """
    norm = lambda s: " ".join(s.split())  # noqa: E731
    payload = json.dumps([norm(product_name), norm(description), sorted(declared_elements.items()), hs_code,
                          str(source)], ensure_ascii=False, separators=(",", ":"))
    return "r" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:23]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Ruling(BaseModel):
    """One classification decision. ``ruling_id`` defaults to a content hash; ``language`` is detected when absent."""

    model_config = ConfigDict(use_enum_values=False, validate_assignment=False)

    ruling_id: str = Field("", max_length=64, description="Stable id; a content hash when not given.")
    product_name: str = Field(..., description="Product name or title (the main text).")
    description: str = ""
    declared_elements: dict[str, str] = Field(default_factory=dict, description="申报要素 key/value pairs.")
    hs_code: str = Field(..., description="Digits only, 6, 8 or 10 digits.")
    language: Language | None = None
    source: RulingSource
    ruling_date: date | None = None
    nomenclature_version: str = Field("HS2022", description="Nomenclature edition the code is expressed in.")
    tariff_version: str | None = Field(None, description="National tariff version of a 8/10-digit code (CN2023).")
    notes: str = ""
    reviewer: str | None = None
    model_version: str | None = None
    created_at: datetime = Field(default_factory=_utcnow)

    @field_validator("product_name", mode="before")
    @classmethod
    def _name(cls, v: Any) -> str:
        return _clean_text(v, MAX_NAME_CHARS, "text", required=True)

    @field_validator("description", mode="before")
    @classmethod
    def _description(cls, v: Any) -> str:
        return _clean_text(v, MAX_DESCRIPTION_CHARS, "description", required=False)

    @field_validator("notes", mode="before")
    @classmethod
    def _notes(cls, v: Any) -> str:
        return _clean_text(v, MAX_NOTES_CHARS, "notes", required=False)

    @field_validator("declared_elements", mode="before")
    @classmethod
    def _elements(cls, v: Any) -> dict[str, str]:
        return parse_declared_elements(v)

    @field_validator("hs_code", mode="before")
    @classmethod
    def _code(cls, v: Any) -> str:
        return normalise_hs_code(v)

    @field_validator("language", mode="before")
    @classmethod
    def _language(cls, v: Any) -> str | None:
        if v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, float) and v != v):
            return None
        return normalise_language(v)

    @field_validator("source", mode="before")
    @classmethod
    def _source(cls, v: Any) -> Any:
        if isinstance(v, str):
            key = v.strip().lower().replace("-", "_").replace(" ", "_")
            if key not in RulingSource.__members__:
                raise ValueError(f"unknown source '{v}' (use {', '.join(RulingSource.__members__)})")
            return RulingSource(key)
        return v

    @field_validator("ruling_id", "reviewer", "model_version", "nomenclature_version", mode="before")
    @classmethod
    def _strip(cls, v: Any) -> Any:
        if isinstance(v, float) and v != v:
            return None
        return v.strip() if isinstance(v, str) else v

    @field_validator("ruling_date", mode="before")
    @classmethod
    def _date(cls, v: Any) -> Any:
        if v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, float) and v != v):
            return None
        if isinstance(v, datetime):
            return v.date()
        if isinstance(v, str):
            text = v.strip()
            try:  # ISO dates (the common case) without strptime's locale machinery
                return date.fromisoformat(text[:10])
            except ValueError:
                pass
            for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", "%m/%d/%Y"):
                try:
                    return datetime.strptime(text[:10] if fmt == "%Y-%m-%d" else text, fmt).date()
                except ValueError:
                    continue
            raise ValueError(f"invalid date '{text}' (use YYYY-MM-DD)")
        return v

    @field_validator("created_at", mode="after")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)

    @model_validator(mode="after")
    def _derive(self) -> Ruling:
        if self.language is None:
            self.language = detect_language(f"{self.product_name} {self.description}")
        if not self.ruling_id:
            self.ruling_id = ruling_content_id(self.product_name, self.description, self.declared_elements,
                                               self.hs_code, self.source.value)
        return self

    @property
    def hs6(self) -> str:
        return self.hs_code[:6]

    @property
    def text(self) -> str:
        """Name and description as one searchable text."""
        return f"{self.product_name}\n{self.description}" if self.description else self.product_name
