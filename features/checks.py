"""Data-quality and three-document (三单对碰) checks for a schema-valid 9710 shipment.

Every check returns :class:`Finding` objects with a stable ``code``, the field paths involved (the same dotted paths
the schema's validation errors use), a severity and a message in English and Chinese. The same findings are shown by
the API and counted into model features (``features.shipment_features``), so what a user is told to fix is exactly
what the model saw.

All tolerances are the named constants below; change them here and nowhere else. A relative tolerance is a share
of the reference document's figure: the order total for values, the waybill for weights, the order for quantities.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal, Protocol

import phonenumbers
import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from data.shipments.reference import (
    FX_USD_PER_UNIT,
    LIST_MODE_MAX_CNY,
    LITHIUM_BATTERY_HS6,
    REFERENCE_UNIT_PRICE_USD,
    SPLIT_ADVISORY_USD,
)
from data.shipments.schema import Shipment
from features.tariff_checks import tariff_checks

# ------------------------------------------------------------------------------------------------ tolerances
#: Declared value vs order total, and declaration total vs its own lines: the larger of 1% and one currency unit
#: (rounding of per-line prices and cents on invoices is normal; more is a different invoice).
VALUE_REL_TOLERANCE = 0.01
VALUE_ABS_TOLERANCE = 1.0
#: Values in different currencies are compared in USD through the fixed FX table, which is coarser: 3%.
VALUE_FX_REL_TOLERANCE = 0.03
#: Quantities must agree line by line up to float noise for counted units and 0.5% for weighed units (KG, G, T).
QUANTITY_ABS_TOLERANCE = 1e-6
QUANTITY_WEIGHED_REL_TOLERANCE = 0.005
WEIGHED_UNITS = frozenset({"KG", "G", "T", "TNE", "KGM", "GRM", "LB"})
#: Waybill gross weight vs declaration gross weight: the larger of 5% and 0.5 kg (packaging, scale differences).
WEIGHT_REL_TOLERANCE = 0.05
WEIGHT_ABS_TOLERANCE_KG = 0.5
#: A unit price this many times above or below the reference price for its HS6 is an outlier (under-/over-valuation).
UNIT_PRICE_OUTLIER_FACTOR = 10.0

Severity = Literal["info", "warning", "error"]
Category = Literal["mandatory", "format", "hs_code", "value", "three_document", "dangerous_goods", "declaration_mode",
                   "tariff"]


class Finding(BaseModel):
    """One problem found in a shipment. ``category`` is derived from the code (see :data:`CATALOGUE`)."""

    model_config = ConfigDict(frozen=True)

    code: str
    fields: list[str]
    severity: Severity
    message_en: str
    message_zh: str
    category: Category


class NomenclatureLike(Protocol):
    """The part of ``data.nomenclature.Nomenclature`` the checks need."""

    def is_valid(self, code: str) -> bool: ...


class FindingKind(BaseModel):
    """A catalogue entry: what every finding with this code is. ``en``/``zh`` are ``str.format`` templates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    category: Category
    severity: Severity
    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)


#: Every finding code, from ``findings.yaml`` beside this module (messages are data, kept apart from the checks).
CATALOGUE: dict[str, FindingKind] = TypeAdapter(dict[str, FindingKind]).validate_python(
    yaml.safe_load(Path(__file__).with_name("findings.yaml").read_text(encoding="utf-8")))
SEVERITIES = ("info", "warning", "error")
CATEGORIES = ("mandatory", "format", "hs_code", "value", "three_document", "dangerous_goods", "declaration_mode",
              "tariff")

_DOCS_ZH = {"waybill": "运单", "declaration": "报关单"}


def _finding(code: str, fields: list[str], **kw) -> Finding:
    """A Finding from the catalogue entry of ``code``, its messages filled with ``kw``."""
    kind = CATALOGUE[code]
    return Finding(code=code, fields=fields, severity=kind.severity, message_en=kind.en.format(**kw),
                   message_zh=kind.zh.format(**kw), category=kind.category)


# ------------------------------------------------------------------------------------------------ formats
# Postcode formats by destination country. pycountry has no postcode formats and phonenumbers has none either (the
# data that has them, e.g. Google's libaddressinput, is not a maintained PyPI package), so this small table covers the
# destination countries we ship to; other countries get an info finding instead of a guess.
POSTCODE_FORMATS: dict[str, tuple[re.Pattern[str], str]] = {
    "US": (re.compile(r"\d{5}(-\d{4})?"), "90210 or 90210-1234"),
    "CA": (re.compile(r"[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d"), "K1A 0B1"),
    "GB": (re.compile(r"(GIR ?0AA|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2})"), "SW1A 1AA"),
    "DE": (re.compile(r"(0[1-9]|[1-9]\d)\d{3}"), "20095"),
    "FR": (re.compile(r"\d{5}"), "75008"),
    "NL": (re.compile(r"[1-9]\d{3} ?[A-Z]{2}"), "1012 AB"),
    "JP": (re.compile(r"\d{3}-?\d{4}"), "100-0001"),
    "AU": (re.compile(r"\d{4}"), "2000"),
}


PhoneStatus = tuple[str, str | None]


@lru_cache(maxsize=65_536)
def phone_status(phone: str, country: str) -> PhoneStatus:
    """("ok"|"invalid"|"other_country", region). Cached: B2B consignees repeat, and parsing one costs ~40 µs."""
    return _parse_phone(phone, country)


def _parse_phone(phone: str, country: str) -> PhoneStatus:
    try:
        num = phonenumbers.parse(phone, country)
    except phonenumbers.NumberParseException:
        return "invalid", None
    # the region-specific test is the common case and is cheaper than resolving the number's region
    if phonenumbers.is_valid_number_for_region(num, country):
        return "ok", country
    if not phonenumbers.is_valid_number(num):
        return "invalid", None
    return "other_country", phonenumbers.region_code_for_number(num)


def postcode_ok(postcode: str, country: str) -> bool | None:
    """True/False for countries with a known format, None where the format is unknown."""
    fmt = POSTCODE_FORMATS.get(country)
    if fmt is None:
        return None
    return fmt[0].fullmatch(postcode.upper()) is not None


_NAME_JUNK = re.compile(r"[\W_]+", re.UNICODE)


@lru_cache(maxsize=65_536)
def _norm_name(name: str) -> str:
    return _NAME_JUNK.sub("", name.casefold())


# ------------------------------------------------------------------------------------------------ checks
def _mandatory(s: Shipment, out: list[Finding]) -> None:
    c = s.order.consignee
    if not c.phone:
        out.append(_finding("CONSIGNEE_PHONE_MISSING", ["order.consignee.phone"]))
    if not c.postcode:
        out.append(_finding("CONSIGNEE_POSTCODE_MISSING", ["order.consignee.postcode"]))
    if not c.address:
        out.append(_finding("CONSIGNEE_ADDRESS_MISSING", ["order.consignee.address"]))
    if not s.waybill.consignee_name or not s.declaration.consignee_name:
        missing_docs = [d for d, v in (("waybill", s.waybill.consignee_name),
                                       ("declaration", s.declaration.consignee_name)) if not v]
        out.append(_finding("CONSIGNEE_NAME_MISSING", [f"{d}.consignee_name" for d in missing_docs],
                            docs=" and ".join(missing_docs), docs_zh="、".join(_DOCS_ZH[d] for d in missing_docs)))
    missing = None
    for doc, lines in (("order", s.order.lines), ("declaration", s.declaration.lines)):
        for i, ln in enumerate(lines):
            if not ln.hs_code:
                if missing is None:
                    missing = []
                missing.append(f"{doc}.lines.{i}.hs_code")
    if missing:
        out.append(_finding("HS_CODE_MISSING", missing, n=len(missing)))


def _formats(s: Shipment, out: list[Finding]) -> None:
    c = s.order.consignee
    if c.phone:
        status, region = phone_status(c.phone, c.country)
        if status == "invalid":
            out.append(_finding("PHONE_INVALID", ["order.consignee.phone"], phone=c.phone, country=c.country))
        elif status == "other_country":
            out.append(_finding("PHONE_COUNTRY_MISMATCH", ["order.consignee.phone", "order.consignee.country"],
                                phone=c.phone, other=region, country=c.country))
    if c.postcode:
        ok = postcode_ok(c.postcode, c.country)
        if ok is None:
            out.append(_finding("POSTCODE_FORMAT_UNCHECKED", ["order.consignee.postcode"], country=c.country))
        elif not ok:
            out.append(_finding("POSTCODE_INVALID", ["order.consignee.postcode"], postcode=c.postcode,
                                country=c.country, example=POSTCODE_FORMATS[c.country][1]))


# Validity of a code depends only on (nomenclature, code) and the same few hundred codes recur in every batch, so
# statuses are memoised per nomenclature object (kept alive here so its id cannot be reused).
_HS_MEMO: dict[int, tuple[NomenclatureLike, dict[str, str]]] = {}


def _hs_memo(nomenclature: NomenclatureLike) -> dict[str, str]:
    entry = _HS_MEMO.get(id(nomenclature))
    if entry is None:
        if len(_HS_MEMO) > 8:
            _HS_MEMO.clear()
        entry = _HS_MEMO[id(nomenclature)] = (nomenclature, {})
    return entry[1]


def _hs_status(code: str, nomenclature: NomenclatureLike, memo: dict[str, str]) -> str:
    status = memo.get(code)
    if status is None:
        if len(code) < 6:
            status = "short"
        elif len(code) not in (6, 8, 10):
            status = "invalid"
        elif nomenclature.is_valid(code):
            status = "ok"
        elif len(code) > 6 and nomenclature.is_valid(code[:6]) and not getattr(nomenclature, "has_national", False):
            # without a national tariff loaded a national line cannot be judged beyond its HS6
            status = "national_unverified"
        else:
            status = "invalid"
        if len(memo) < 100_000:
            memo[code] = status
    return status


def _hs_codes(s: Shipment, nomenclature: NomenclatureLike, out: list[Finding]) -> None:
    memo = _hs_memo(nomenclature)
    bad: dict[str, list[str]] | None = None
    codes: dict[str, list[str]] = {}
    for doc, lines in (("order", s.order.lines), ("declaration", s.declaration.lines)):
        for i, ln in enumerate(lines):
            code = ln.hs_code
            if code:
                st = memo.get(code) or _hs_status(code, nomenclature, memo)
                if st != "ok":
                    if bad is None:
                        bad = {}
                    bad.setdefault(st, []).append(f"{doc}.lines.{i}.hs_code")
                    seen = codes.setdefault(st, [])
                    if code not in seen:
                        seen.append(code)
    if bad is None:
        return
    version = getattr(nomenclature, "version", "HS")
    if "invalid" in bad:
        out.append(_finding("HS_CODE_INVALID", bad["invalid"], codes=", ".join(codes["invalid"]), version=version))
    if "short" in bad:
        out.append(_finding("HS_CODE_TOO_SHORT", bad["short"], codes=", ".join(codes["short"])))
    if "national_unverified" in bad:
        out.append(_finding("HS_NATIONAL_LINE_UNVERIFIED", bad["national_unverified"],
                            codes=", ".join(codes["national_unverified"])))


def _outside(reference: float, other: float, rel: float, abs_: float) -> bool:
    """Relative tolerance is taken on the reference document's figure (order total, waybill weight, declared value)."""
    return abs(reference - other) > max(rel * abs(reference), abs_)


def _values(s: Shipment, out: list[Finding]) -> None:
    d = s.declaration
    if d.declared_value == 0:
        out.append(_finding("DECLARED_VALUE_ZERO", ["declaration.declared_value"]))
    lines_total = math.fsum([ln.value for ln in d.lines])
    if _outside(d.declared_value, lines_total, VALUE_REL_TOLERANCE, VALUE_ABS_TOLERANCE):
        out.append(_finding("DECLARATION_LINES_VALUE_MISMATCH", ["declaration.declared_value"] +
                            [f"declaration.lines.{i}.value" for i in range(len(d.lines))],
                            declared=d.declared_value, lines=lines_total, cur=d.currency))
    rate = FX_USD_PER_UNIT.get(d.currency)
    if rate is None:
        out.append(_finding("CURRENCY_NO_FX_RATE", ["declaration.currency"], cur=d.currency))
    else:
        usd = d.declared_value * rate
        if usd > SPLIT_ADVISORY_USD:
            out.append(_finding("VALUE_OVER_50K_USD", ["declaration.declared_value"], usd=usd))
        if d.mode == "9710_list":
            cny = usd / FX_USD_PER_UNIT["CNY"]
            if cny > LIST_MODE_MAX_CNY:
                out.append(_finding("LIST_MODE_OVER_LIMIT", ["declaration.mode", "declaration.declared_value"], cny=cny))
    outliers = []
    for i, ln in enumerate(s.order.lines):
        ref = REFERENCE_UNIT_PRICE_USD.get(ln.hs_code[:6]) if ln.hs_code else None
        lr = FX_USD_PER_UNIT.get(ln.currency)
        if ref is None or lr is None:
            continue
        ratio = ln.unit_price * lr / ref
        if ratio > UNIT_PRICE_OUTLIER_FACTOR or ratio * UNIT_PRICE_OUTLIER_FACTOR < 1:
            outliers.append(i)
    if outliers:
        out.append(_finding("UNIT_PRICE_OUTLIER", [f"order.lines.{i}.unit_price" for i in outliers],
                            lines=", ".join(str(i + 1) for i in outliers), factor=UNIT_PRICE_OUTLIER_FACTOR))


def _three_documents(s: Shipment, out: list[Finding]) -> None:
    o, w, d = s.order, s.waybill, s.declaration
    # consignee name (identical strings are the common case; normalise only when they differ)
    oname, wname, dname = o.consignee.name, w.consignee_name, d.consignee_name
    if (wname and wname != oname and _norm_name(wname) != _norm_name(oname)) or \
            (dname and dname != oname and _norm_name(dname) != _norm_name(oname)) or \
            (wname and dname and wname != dname and _norm_name(wname) != _norm_name(dname)):
        present = [(f, v) for f, v in (("order.consignee.name", oname), ("waybill.consignee_name", wname),
                                       ("declaration.consignee_name", dname)) if v]
        out.append(_finding("THREE_DOC_CONSIGNEE_MISMATCH", [f for f, _ in present],
                            names=" / ".join(f"'{v}'" for _, v in present)))
    # destination country
    if not (o.consignee.country == w.destination_port[:2] == d.destination_country):
        out.append(_finding("THREE_DOC_COUNTRY_MISMATCH", ["order.consignee.country", "waybill.destination_port",
                                                            "declaration.destination_country"],
                            order=o.consignee.country, waybill=w.destination_port, decl=d.destination_country))
    # lines: compared by position when both documents list the same number of lines
    olines, dlines = o.lines, d.lines
    if len(olines) != len(dlines):
        out.append(_finding("THREE_DOC_LINE_COUNT_MISMATCH", ["order.lines", "declaration.lines"],
                            order=len(olines), decl=len(dlines)))
    else:
        bad: dict[str, list[int]] | None = None
        for i, (ol, dl) in enumerate(zip(olines, dlines)):
            oq, dq = ol.quantity, dl.quantity
            if oq != dq:
                tol = QUANTITY_WEIGHED_REL_TOLERANCE * max(oq, dq) if ol.unit.upper() in WEIGHED_UNITS \
                    else QUANTITY_ABS_TOLERANCE
                if abs(oq - dq) > tol:
                    bad = bad or {}
                    bad.setdefault("quantity", []).append(i)
            if ol.unit != dl.unit and ol.unit.upper() != dl.unit.upper():
                bad = bad or {}
                bad.setdefault("unit", []).append(i)
            oc, dc = ol.hs_code, dl.hs_code
            if oc and dc and oc[:6] != dc[:6] and len(oc) >= 6 and len(dc) >= 6:
                bad = bad or {}
                bad.setdefault("hs_code", []).append(i)
        if bad:
            for code, attr in (("THREE_DOC_QUANTITY_MISMATCH", "quantity"), ("THREE_DOC_UNIT_MISMATCH", "unit"),
                               ("THREE_DOC_HS_MISMATCH", "hs_code")):
                idx = bad.get(attr)
                if idx:
                    fields = [f for i in idx for f in (f"order.lines.{i}.{attr}", f"declaration.lines.{i}.{attr}")]
                    out.append(_finding(code, fields, lines=", ".join(str(i + 1) for i in idx)))
    # currency and value
    dcur = d.currency
    same_currency = True
    for ln in olines:
        if ln.currency != dcur:
            same_currency = False
            break
    if not same_currency:
        order_currencies = {ln.currency for ln in olines}
        bad_fields = [f"order.lines.{i}.currency" for i, ln in enumerate(olines) if ln.currency != dcur]
        out.append(_finding("THREE_DOC_CURRENCY_MISMATCH", bad_fields + ["declaration.currency"],
                            order="/".join(sorted(order_currencies)), decl=dcur))
        # values can still be compared through USD when every currency has a fixed rate
        rates = [FX_USD_PER_UNIT.get(ln.currency) for ln in olines]
        drate = FX_USD_PER_UNIT.get(dcur)
        if drate is not None and all(r is not None for r in rates):
            order_usd = math.fsum(ln.quantity * ln.unit_price * r for ln, r in zip(olines, rates))
            if _outside(order_usd, d.declared_value * drate, VALUE_FX_REL_TOLERANCE, VALUE_ABS_TOLERANCE * drate):
                out.append(_finding("THREE_DOC_VALUE_MISMATCH", ["order.lines", "declaration.declared_value"],
                                    order=order_usd, ocur="USD", decl=d.declared_value * drate, dcur="USD"))
    else:
        order_total = math.fsum([ln.quantity * ln.unit_price for ln in olines])
        if _outside(order_total, d.declared_value, VALUE_REL_TOLERANCE, VALUE_ABS_TOLERANCE):
            out.append(_finding("THREE_DOC_VALUE_MISMATCH", ["order.lines", "declaration.declared_value"],
                                order=order_total, ocur=dcur, decl=d.declared_value, dcur=dcur))
    # weights
    gross = w.gross_weight_kg
    if d.gross_weight_kg is not None and _outside(gross, d.gross_weight_kg, WEIGHT_REL_TOLERANCE,
                                                  WEIGHT_ABS_TOLERANCE_KG):
        out.append(_finding("THREE_DOC_WEIGHT_MISMATCH", ["waybill.gross_weight_kg", "declaration.gross_weight_kg"],
                            waybill=gross, decl=d.gross_weight_kg))
    net = 0.0
    for ln in olines:
        if ln.net_weight_kg is None:
            return
        net += ln.net_weight_kg
    if net > gross * (1 + WEIGHT_REL_TOLERANCE) + WEIGHT_ABS_TOLERANCE_KG:
        out.append(_finding("WEIGHT_NET_EXCEEDS_GROSS", ["order.lines", "waybill.gross_weight_kg"], net=net,
                            gross=gross))


def _dangerous_goods(s: Shipment, out: list[Finding]) -> None:
    w = s.waybill
    lithium_lines = [i for i, ln in enumerate(s.order.lines) if ln.hs_code and ln.hs_code[:6] in LITHIUM_BATTERY_HS6]
    if lithium_lines and not w.dangerous_goods.lithium_battery:
        out.append(_finding("LITHIUM_UNDECLARED", [f"order.lines.{i}.hs_code" for i in lithium_lines] +
                            ["waybill.dangerous_goods.lithium_battery"],
                            lines=", ".join(str(i + 1) for i in lithium_lines)))
    if (w.dangerous_goods.lithium_battery or lithium_lines) and s.declaration.destination_country == "US" \
            and not w.battery_certified_channel:
        out.append(_finding("LITHIUM_US_UNCERTIFIED_CHANNEL", ["waybill.battery_certified_channel",
                                                               "waybill.dangerous_goods.lithium_battery"]))


def run_checks(shipment: Shipment, nomenclature: NomenclatureLike) -> list[Finding]:
    """All findings for one schema-valid shipment, in a stable order (check family, then position)."""
    out: list[Finding] = []
    _mandatory(shipment, out)
    _formats(shipment, out)
    _hs_codes(shipment, nomenclature, out)
    _values(shipment, out)
    _three_documents(shipment, out)
    _dangerous_goods(shipment, out)
    tariff_checks(shipment, nomenclature, out, _finding)
    return out
