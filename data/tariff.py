"""Exporter's tariff facts of a national line: export rebate, VAT, supervision conditions, inspection category, units.

The product ships no official tariff data: the facts come from the optional columns of the national tariff file
imported with ``clearance nomenclature import`` (:func:`data.nomenclature.import_national_tariff`, which parses them
with :func:`parse_fact_cells`). A fact that is absent from the file, blank or malformed is *unknown* (``None``), never a
default: a missing export rebate is not 0 %, and a rebate of 0 % is a real fact.

Rates are percentages (``13``, ``13%`` or ``13.0``; 0-100). Supervision conditions (监管条件) and inspection
categories (检验检疫类别) are the customs letter codes, one character each (``"AB"``, ``"4xy"``, ``"MN"``); the table
below names the ones an export declaration has to answer for, so a check can say which document is missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

# -------------------------------------------------------------------------------------------------- the code tables
DocKind = Literal["licence", "inspection", "prohibited", "other"]


@dataclass(frozen=True, slots=True)
class SupervisionCode:
    code: str
    kind: DocKind
    export: bool  # does an export declaration have to answer for it?
    en: str
    zh: str


# China Customs supervision-condition codes (监管证件代码). ``export`` marks the ones an *export* declaration must
# present a document for; import-only codes are known (so a file using them is not "malformed") but never checked.
SUPERVISION_CODES: dict[str, SupervisionCode] = {c.code: c for c in (
    SupervisionCode("1", "licence", False, "import licence", "进口许可证"),
    SupervisionCode("2", "licence", False, "dual-use items import licence", "两用物项和技术进口许可证"),
    SupervisionCode("3", "licence", True, "dual-use items export licence", "两用物项和技术出口许可证"),
    SupervisionCode("4", "licence", True, "export licence", "出口许可证"),
    SupervisionCode("5", "licence", True, "textile temporary export licence", "纺织品临时出口许可证"),
    SupervisionCode("6", "prohibited", False, "used machinery import prohibited", "旧机电产品禁止进口"),
    SupervisionCode("7", "licence", False, "automatic import licence", "自动进口许可证"),
    SupervisionCode("8", "prohibited", True, "export prohibited", "禁止出口商品"),
    SupervisionCode("9", "prohibited", False, "import prohibited", "禁止进口商品"),
    SupervisionCode("A", "inspection", False, "inbound inspection and quarantine", "入境货物通关单（检验检疫）"),
    SupervisionCode("B", "inspection", True, "outbound inspection and quarantine certificate",
                    "出境货物通关单（检验检疫）"),
    SupervisionCode("D", "inspection", True, "rough diamond clearance form", "出/入境货物通关单（毛坯钻石用）"),
    SupervisionCode("E", "licence", True, "endangered species export permit", "濒危物种允许出口证明书"),
    SupervisionCode("F", "licence", False, "endangered species import permit", "濒危物种允许进口证明书"),
    SupervisionCode("G", "licence", True, "dual-use items export licence (targeted)", "两用物项和技术出口许可证（定向）"),
    SupervisionCode("H", "other", True, "Hong Kong/Macao OPA textile certificate", "港澳OPA纺织品证明"),
    SupervisionCode("I", "licence", True, "psychotropic drugs import/export permit", "精神药物进（出）口准许证"),
    SupervisionCode("J", "licence", True, "gold import/export permit", "黄金及其制品进出口准许证或批件"),
    SupervisionCode("K", "other", False, "deep-processing carry-over form", "深加工结转申请表"),
    SupervisionCode("L", "licence", True, "pharmaceuticals import/export permit", "药品进出口准许证"),
    SupervisionCode("M", "licence", False, "cryptographic products import licence", "密码产品和设备进口许可证"),
    SupervisionCode("O", "licence", False, "automatic import licence (machinery)", "自动进口许可证（新旧机电产品）"),
    SupervisionCode("P", "licence", False, "solid waste import licence", "固体废物进口许可证"),
    SupervisionCode("Q", "inspection", False, "imported drugs clearance form", "进口药品通关单"),
    SupervisionCode("R", "inspection", False, "imported veterinary drugs clearance form", "进口兽药通关单"),
    SupervisionCode("S", "licence", True, "pesticide import/export registration", "进出口农药登记证明"),
    SupervisionCode("T", "licence", True, "bank cash transport permit", "银行调运现钞进出境许可证"),
    SupervisionCode("U", "other", False, "legal catch certificate", "合法捕捞产品通关证明"),
    SupervisionCode("W", "licence", True, "narcotic drugs import/export permit", "麻醉药品进出口准许证"),
    SupervisionCode("X", "licence", True, "toxic chemicals release notice", "有毒化学品环境管理放行通知单"),
    SupervisionCode("Y", "other", False, "certificate of origin", "原产地证明"),
    SupervisionCode("Z", "licence", False, "audio-visual products import approval", "音像制品进口批准单"),
    SupervisionCode("e", "other", False, "cotton tariff-quota certificate", "关税配额外优惠税率进口棉花配额证"),
    SupervisionCode("q", "other", False, "country tariff-quota certificate", "国别关税配额证明"),
    SupervisionCode("r", "other", False, "pre-classification mark", "预归类标志"),
    SupervisionCode("s", "other", False, "ITA end-use certificate", "适用ITA税率的商品用途认定证明"),
    SupervisionCode("t", "other", False, "tariff-quota certificate", "关税配额证明"),
    SupervisionCode("v", "licence", False, "automatic import licence (processing trade)", "自动进口许可证（加工贸易）"),
    SupervisionCode("x", "licence", True, "export licence (processing trade)", "出口许可证（加工贸易）"),
    SupervisionCode("y", "licence", True, "export licence (border trade)", "出口许可证（边境小额贸易）"),
    SupervisionCode("z", "licence", False, "import licence (processing trade)", "进口许可证（加工贸易）"),
)}

# Inspection categories (检验检疫类别); the export ones need the outbound inspection (supervision code B).
INSPECTION_CODES: dict[str, tuple[bool, str, str]] = {
    "M": (False, "import commodity inspection", "进口商品检验"),
    "N": (True, "export commodity inspection", "出口商品检验"),
    "P": (False, "inbound animal and plant quarantine", "进境动植物、动植产品检疫"),
    "Q": (True, "outbound animal and plant quarantine", "出境动植物、动植产品检疫"),
    "R": (False, "imported food hygiene inspection", "进口食品卫生监督检验"),
    "S": (True, "exported food hygiene inspection", "出口食品卫生监督检验"),
    "L": (False, "civil goods inbound verification", "民用商品入境验证"),
    "V": (False, "inbound health quarantine", "进境卫生检疫"),
    "W": (True, "outbound health quarantine", "出境卫生检疫"),
}

#: The supervision code whose document answers an export inspection category.
INSPECTION_DOCUMENT = "B"


# ------------------------------------------------------------------------------------------------------- the facts
class TariffFacts(BaseModel):
    """What an exporter needs to know about one national line. ``None`` means unknown, not zero or none."""

    code: str
    rebate_rate: float | None = Field(None, description="Export rebate rate in percent (出口退税率); null = unknown.")
    vat_rate: float | None = Field(None, description="VAT rate in percent (增值税率); null = unknown.")
    supervision: str | None = Field(None, description="Supervision condition letter codes (监管条件), '' = none; "
                                                      "null = unknown.")
    inspection: str | None = Field(None, description="Inspection category letter codes (检验检疫类别), '' = none; "
                                                     "null = unknown.")
    unit1: str | None = None
    unit2: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    version: str | None = Field(None, description="National tariff version these facts come from (e.g. CN2023).")

    def valid_on(self, day: date | None) -> bool:
        if day is None:
            return True
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or day <= self.valid_to)

    def export_documents(self) -> list[str]:
        """Supervision codes an export declaration of this line must present a document for (inspection included)."""
        needed = [c for c in (self.supervision or "") if c in SUPERVISION_CODES and SUPERVISION_CODES[c].export]
        if any(INSPECTION_CODES.get(c, (False,))[0] for c in (self.inspection or "")) and INSPECTION_DOCUMENT not in needed:
            needed.append(INSPECTION_DOCUMENT)
        return needed


def rate_label(rates: list[float | None]) -> str:
    """'13 %', '9-13 %', 'unknown' or '13 % / unknown' for the rates of one code's lines."""
    known = sorted({r for r in rates if r is not None})
    text = "" if not known else (f"{known[0]:g} %" if len(known) == 1 else f"{known[0]:g}-{known[-1]:g} %")
    if any(r is None for r in rates) or not rates:
        return f"{text} / unknown" if text else "unknown"
    return text


def supervision_label(values: list[str | None]) -> str:
    """'AB', 'none', 'unknown' or 'AB / none' for the supervision conditions of one code's lines."""
    labels = sorted({"unknown" if v is None else (v or "none") for v in values})
    return " / ".join(labels) if labels else "unknown"


# ------------------------------------------------------------------------------------------------------ parsing
FACT_COLUMNS: dict[str, tuple[str, ...]] = {
    "rebate_rate": ("rebate_rate", "export_rebate", "export_rebate_rate", "rebate", "出口退税率", "退税率"),
    "vat_rate": ("vat_rate", "vat", "增值税率"),
    "supervision": ("supervision", "supervision_conditions", "监管条件"),
    "inspection": ("inspection", "inspection_category", "检验检疫类别", "检验检疫"),
    "unit1": ("unit1_zh", "unit1", "第一计量单位"),
    "unit2": ("unit2_zh", "unit2", "第二计量单位"),
    "valid_from": ("valid_from", "start_date", "生效日期"),
    "valid_to": ("valid_to", "end_date", "失效日期"),
}
_UNKNOWN = {"", "-", "--", "n/a", "na", "unknown", "none?", "?", "未知", "不详"}
_RATE_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*%?$")
_DATE_RE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")


def fact_columns(header: list[str]) -> dict[str, str]:
    """Fact name → column of ``header`` (first match, case-insensitive), for the fact columns the file has."""
    lower = {h.lower(): h for h in header}
    out = {}
    for fact, names in FACT_COLUMNS.items():
        for name in names:
            if name.lower() in lower:
                out[fact] = lower[name.lower()]
                break
    return out


def _rate(raw: str) -> float | None:
    m = _RATE_RE.match(raw)
    if not m or float(m.group(1)) > 100:
        raise ValueError(f"'{raw}' is not a rate (percent 0-100, e.g. 13 or 13%)")
    return float(m.group(1))


def _letters(raw: str, known: dict) -> tuple[str, list[str]]:
    """The known letter codes of a cell, in order, and the characters that are not codes."""
    cell = re.sub(r"[\s,;/、，]", "", raw)
    good = "".join(dict.fromkeys(c for c in cell if c in known))
    return good, [c for c in cell if c not in known]


def _day(raw: str) -> date:
    m = _DATE_RE.match(raw)
    try:
        if m:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        pass
    raise ValueError(f"'{raw}' is not a date (YYYY-MM-DD)")


def parse_fact_cells(cells: dict[str, str]) -> tuple[dict, list[tuple[str, str]]]:
    """Facts from one row's fact cells (fact name → raw text) and the problems (fact name, reason).

    A bad value is reported and that fact stays unknown; the rest of the row is kept.
    """
    facts: dict = {}
    problems: list[tuple[str, str]] = []
    for fact, raw in cells.items():
        raw = (raw or "").strip()
        try:
            if fact in ("rebate_rate", "vat_rate"):
                facts[fact] = None if raw.lower() in _UNKNOWN else _rate(raw)
            elif fact in ("supervision", "inspection"):
                if raw.lower() in ("?", "unknown", "未知"):
                    facts[fact] = None
                    continue
                table = SUPERVISION_CODES if fact == "supervision" else INSPECTION_CODES
                good, bad = _letters("" if raw in ("-", "--", "无") else raw, table)
                facts[fact] = good
                if bad:
                    what = "supervision condition" if fact == "supervision" else "inspection category"
                    problems.append((fact, f"unknown {what} code(s) {', '.join(repr(c) for c in bad)} in '{raw}' "
                                           f"(kept: '{good}')"))
            elif fact in ("unit1", "unit2"):
                facts[fact] = raw or None
            else:
                facts[fact] = None if raw.lower() in _UNKNOWN else _day(raw)
        except ValueError as exc:
            facts[fact] = None
            problems.append((fact, f"{exc}; recorded as unknown"))
    if facts.get("valid_from") and facts.get("valid_to") and facts["valid_to"] < facts["valid_from"]:
        problems.append(("valid_to", f"valid_to {facts['valid_to']} is before valid_from {facts['valid_from']}; "
                                     "both recorded as unknown"))
        facts["valid_from"] = facts["valid_to"] = None
    return facts, problems
