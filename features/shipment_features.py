"""Model features for one shipment: the only feature code, used for one row at serving and 200k rows in training.

``feature_row(shipment, findings)`` reads a validated :class:`~data.shipments.schema.Shipment` and the findings of
``features.checks.run_checks`` and returns a flat dict of plain Python values. It never reads ``timestamps.released``
(the label) and knows nothing of the demo world: effects reach the model only through what a served shipment carries —
the documents, their dates and what the checks found. Open-ended categoricals (carrier, ports, destination country)
have no fixed list here: their levels come from the training history and are stored in the model.

Every feature belongs to a business ``group``; explanations sum LightGBM contributions per group and use the group's
en/zh names (:data:`GROUPS`) to phrase reasons.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timezone
from time import gmtime
from typing import TYPE_CHECKING, Literal

from data.shipments.reference import (
    CHANNELS,
    CHINA_TZ,
    CREDIT_GRADE_ORDINAL,
    DECLARATION_MODES,
    FX_USD_PER_UNIT,
    POLICY_CHANGE_AT,
    SPLIT_ADVISORY_USD,
    US_WEST_COAST_PORTS,
)
from features.checks import Finding
from features.congestion import CONGESTION_FEATURES, NO_CONGESTION, CongestionSnapshot

if TYPE_CHECKING:
    import pandas as pd

    from data.shipments.schema import Shipment


@dataclass(frozen=True)
class FeatureDef:
    name: str
    kind: Literal["categorical", "numeric"]
    group: str
    en: str
    zh: str


# Business groups: explanations report contributions per group, in these words.
GROUPS: dict[str, tuple[str, str]] = {
    "channel": ("Shipping channel", "运输渠道"),
    "carrier": ("Carrier", "承运商"),
    "route": ("Export port", "出口口岸"),
    "destination": ("Destination", "目的地"),
    "port_congestion_season": ("US West Coast peak-season congestion", "美西港口旺季拥堵"),
    "lithium_battery_without_certified_channel": ("Lithium battery without a battery-certified channel",
                                                  "锂电池货物未走带电认证渠道"),
    "dangerous_goods": ("Other dangerous goods (liquid, magnetic, powder)", "其他危险品（液体、磁性、粉末）"),
    "declared_value": ("Declared value", "申报货值"),
    "shipment_size": ("Shipment size", "货物规模"),
    "three_document_match": ("Three-document match (order/waybill/declaration)", "三单对碰（订单/运单/报关单）"),
    "data_quality": ("Data quality of the documents", "单证数据质量"),
    "declaration_mode": ("Declaration mode", "申报方式"),
    "credit_grade": ("Exporter credit grade", "企业信用等级"),
    "hs_chapter": ("HS chapter of the goods", "商品 HS 章节"),
    "predeclaration": ("Pre-declaration", "提前申报"),
    "policy_period": ("Inspection policy period", "查验政策时期"),
    "recent_congestion": ("Recent port congestion (last 7 days of outcomes)", "近 7 天口岸拥堵（实际放行时长）"),
}

# finding code -> (feature name, group); each becomes a 0/1 feature
FLAG_FEATURES: dict[str, tuple[str, str, str, str]] = {
    "THREE_DOC_CONSIGNEE_MISMATCH": ("f_consignee_mismatch", "three_document_match", "Consignee names disagree",
                                     "收货人名称不一致"),
    "THREE_DOC_COUNTRY_MISMATCH": ("f_country_mismatch", "three_document_match", "Destination countries disagree",
                                   "目的国不一致"),
    "THREE_DOC_LINE_COUNT_MISMATCH": ("f_line_count_mismatch", "three_document_match", "Line counts disagree",
                                      "商品行数不一致"),
    "THREE_DOC_QUANTITY_MISMATCH": ("f_quantity_mismatch", "three_document_match", "Quantities disagree",
                                    "数量不一致"),
    "THREE_DOC_HS_MISMATCH": ("f_hs_mismatch", "three_document_match", "HS codes disagree", "HS 编码不一致"),
    "THREE_DOC_CURRENCY_MISMATCH": ("f_currency_mismatch", "three_document_match", "Currencies disagree",
                                    "币制不一致"),
    "THREE_DOC_VALUE_MISMATCH": ("f_value_mismatch", "three_document_match", "Values disagree", "金额不一致"),
    "THREE_DOC_WEIGHT_MISMATCH": ("f_weight_mismatch", "three_document_match", "Weights disagree", "重量不一致"),
    "CONSIGNEE_PHONE_MISSING": ("f_phone_missing", "data_quality", "Consignee phone missing", "缺少收货人电话"),
    "PHONE_INVALID": ("f_phone_invalid", "data_quality", "Consignee phone invalid", "收货人电话无效"),
    "CONSIGNEE_POSTCODE_MISSING": ("f_postcode_missing", "data_quality", "Postcode missing", "缺少邮编"),
    "POSTCODE_INVALID": ("f_postcode_invalid", "data_quality", "Postcode invalid", "邮编格式错误"),
    "CONSIGNEE_ADDRESS_MISSING": ("f_address_missing", "data_quality", "Address missing", "缺少地址"),
    "HS_CODE_MISSING": ("f_hs_missing", "data_quality", "HS code missing", "缺少 HS 编码"),
    "HS_CODE_INVALID": ("f_hs_invalid", "data_quality", "HS code not in nomenclature", "HS 编码不在税则中"),
    "UNIT_PRICE_OUTLIER": ("f_unit_price_outlier", "declared_value", "Unit price far from reference",
                           "单价偏离参考价"),
    "LIST_MODE_OVER_LIMIT": ("f_list_mode_over_limit", "declaration_mode", "List mode above RMB 5,000",
                             "申报清单超过 5000 元"),
    "LITHIUM_UNDECLARED": ("f_lithium_undeclared", "lithium_battery_without_certified_channel",
                           "Lithium battery not flagged on waybill", "运单未标注锂电池"),
}

_F = FeatureDef
FEATURES: list[FeatureDef] = [
    _F("channel", "categorical", "channel", "Shipping channel", "运输渠道"),
    _F("carrier", "categorical", "carrier", "Carrier", "承运商"),
    _F("export_port", "categorical", "route", "Export port", "出口口岸"),
    _F("destination_country", "categorical", "destination", "Destination country", "目的国"),
    _F("destination_port", "categorical", "destination", "Destination port", "目的港"),
    _F("destination_us", "numeric", "destination", "Destination is the US", "目的国为美国"),
    _F("declared_month", "numeric", "port_congestion_season", "Month of declaration", "申报月份"),
    _F("is_nov_dec", "numeric", "port_congestion_season", "Declared in November–December", "11–12 月申报"),
    _F("us_west_coast_port", "numeric", "port_congestion_season", "Los Angeles / Long Beach", "洛杉矶/长滩港"),
    _F("us_west_coast_peak", "numeric", "port_congestion_season", "Los Angeles / Long Beach in Nov–Dec",
       "11–12 月经洛杉矶/长滩"),
    _F("lithium_battery", "numeric", "lithium_battery_without_certified_channel", "Lithium-battery goods", "含锂电池"),
    _F("battery_certified_channel", "numeric", "lithium_battery_without_certified_channel",
       "Battery-certified channel", "带电认证渠道"),
    _F("lithium_us_uncertified", "numeric", "lithium_battery_without_certified_channel",
       "Lithium to the US without a certified channel", "锂电池经非认证渠道发往美国"),
    _F("other_dangerous_goods", "numeric", "dangerous_goods", "Liquid/magnetic/powder flags", "液体/磁性/粉末标记数"),
    _F("declared_value_usd", "numeric", "declared_value", "Declared value (USD)", "申报货值（美元）"),
    _F("log_declared_value_usd", "numeric", "declared_value", "Declared value (log USD)", "申报货值（对数美元）"),
    _F("over_50k_usd", "numeric", "declared_value", "Declared value above 50,000 USD", "申报货值超过 5 万美元"),
    _F("n_lines", "numeric", "shipment_size", "Number of lines", "商品行数"),
    _F("log_gross_weight_kg", "numeric", "shipment_size", "Gross weight (log kg)", "毛重（对数千克）"),
    _F("packages", "numeric", "shipment_size", "Packages", "件数"),
    _F("declaration_mode", "categorical", "declaration_mode", "Declaration mode", "申报方式"),
    _F("credit_grade", "numeric", "credit_grade", "Exporter credit grade (0 discredited … 2 advanced certified)",
       "企业信用等级（0 失信 … 2 高级认证）"),
    _F("hs_chapter", "categorical", "hs_chapter", "HS chapter of the main line", "主要商品 HS 章节"),
    _F("n_hs_chapters", "numeric", "hs_chapter", "Number of HS chapters", "HS 章节数"),
    _F("predeclared", "numeric", "predeclaration", "Pre-declared", "已提前申报"),
    _F("after_policy_change", "numeric", "policy_period", "Declared after the 2025-03-01 policy change",
       "2025-03-01 政策调整后申报"),
    _F("days_since_policy_change", "numeric", "policy_period", "Days since the 2025-03-01 policy change",
       "距 2025-03-01 政策调整天数"),
    _F("n_findings_error", "numeric", "data_quality", "Error findings", "错误项数"),
    _F("n_findings_warning", "numeric", "data_quality", "Warning findings", "警告项数"),
    _F("n_findings_info", "numeric", "data_quality", "Info findings", "提示项数"),
    _F("n_three_document_findings", "numeric", "three_document_match", "Three-document findings", "三单对碰问题数"),
    *[_F(name, "numeric", group, en, zh) for name, group, en, zh in FLAG_FEATURES.values()],
    # From the store's recent outcomes (features.congestion), not from the shipment: missing without a store.
    _F("export_port_release_p50_7d", "numeric", "recent_congestion", "Export port: median release hours, last 7 days",
       "出口口岸近 7 天放行时长中位数"),
    _F("export_port_release_p90_7d", "numeric", "recent_congestion", "Export port: P90 release hours, last 7 days",
       "出口口岸近 7 天放行时长 P90"),
    _F("export_port_outcomes_7d", "numeric", "recent_congestion", "Export port: outcomes in the last 7 days",
       "出口口岸近 7 天结果数"),
    _F("destination_port_release_p50_7d", "numeric", "recent_congestion",
       "Destination port: median release hours, last 7 days", "目的港近 7 天放行时长中位数"),
    _F("destination_port_release_p90_7d", "numeric", "recent_congestion",
       "Destination port: P90 release hours, last 7 days", "目的港近 7 天放行时长 P90"),
    _F("destination_port_outcomes_7d", "numeric", "recent_congestion", "Destination port: outcomes in the last 7 days",
       "目的港近 7 天结果数"),
]
FEATURE_NAMES: list[str] = [f.name for f in FEATURES]
CATEGORICAL: list[str] = [f.name for f in FEATURES if f.kind == "categorical"]
NUMERIC: list[str] = [f.name for f in FEATURES if f.kind == "numeric"]
assert {f.group for f in FEATURES} <= set(GROUPS), "every feature group needs en/zh names"
assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
assert FEATURE_NAMES[-len(CONGESTION_FEATURES):] == CONGESTION_FEATURES


#: Closed vocabularies: the product's own (channels and declaration modes, which the schema enforces; the HS chapters
#: 01-97). A frame types them with exactly these levels; a chapter outside them becomes missing.
CATEGORY_LEVELS: dict[str, list[str]] = {
    "channel": list(CHANNELS),
    "declaration_mode": list(DECLARATION_MODES),
    "hs_chapter": [f"{c:02d}" for c in range(1, 98)],
}
#: Open-ended categoricals: every exporter has its own carriers, ports and markets. A frame types them with the
#: levels its rows hold; the model fixes its levels when it is fitted (``models.tabular.TabularPreprocessor.levels``,
#: saved with the model), so a value it never saw in training is missing at serving, never a re-numbered category.
OPEN_CATEGORICAL: list[str] = [c for c in CATEGORICAL if c not in CATEGORY_LEVELS]
assert set(CATEGORY_LEVELS) <= set(CATEGORICAL) and OPEN_CATEGORICAL == ["carrier", "export_port",
                                                                         "destination_country", "destination_port"]

#: Bump when a feature's computation changes without its name changing.
FEATURE_LOGIC_REVISION = 2


def _features_version() -> str:
    key = repr([(f.name, f.kind) for f in FEATURES] + sorted(CATEGORY_LEVELS.items()) + [FEATURE_LOGIC_REVISION])
    return hashlib.sha256(key.encode()).hexdigest()[:12]


#: Changes whenever the feature list, the closed vocabularies or the feature logic change, so a cached feature frame is
#: never reused across versions (a cache of generated history adds the generator's own revision to its key).
FEATURES_VERSION = _features_version()

_SECONDS_PER_DAY = 86_400.0
_POLICY_TS = POLICY_CHANGE_AT.timestamp()
_CHINA_UTC_OFFSET_S = CHINA_TZ.utcoffset(None).total_seconds()  # fixed: China has no daylight saving time
assert isinstance(CHINA_TZ, timezone)
_FLAG_NAME = {code: v[0] for code, v in FLAG_FEATURES.items()}
_NO_FLAGS = dict.fromkeys(_FLAG_NAME.values(), 0)


def _main_chapter(shipment: Shipment) -> tuple[str | None, int]:
    """Chapter of the highest-value declaration line (order lines when the declaration has no codes)."""
    best, best_v, chapters = None, -1.0, set()
    for ln in shipment.declaration.lines:
        if ln.hs_code:
            chapters.add(ln.hs_code[:2])
            if ln.value > best_v:
                best, best_v = ln.hs_code[:2], ln.value
    if best is None:
        for ol in shipment.order.lines:
            if ol.hs_code:
                chapters.add(ol.hs_code[:2])
                v = ol.quantity * ol.unit_price
                if v > best_v:
                    best, best_v = ol.hs_code[:2], v
    return best, len(chapters)


def feature_row(shipment: Shipment, findings: Sequence[Finding], congestion: CongestionSnapshot | None = None
                ) -> dict[str, object]:
    """One flat row of plain Python values, keys in :data:`FEATURE_NAMES` order.

    ``congestion``: the ports' recent figures (``features.congestion``) as of now; without it they are missing.
    Training frames fill those columns as of each shipment's own declaration (``CongestionHistory.columns``)."""
    w, d = shipment.waybill, shipment.declaration
    ts = d.declared_at.timestamp()
    month = gmtime(ts + _CHINA_UTC_OFFSET_S).tm_mon  # the month in China (cheaper than astimezone + .month)
    nov_dec = month >= 11
    west = w.destination_port in US_WEST_COAST_PORTS
    us = d.destination_country == "US"
    dg = w.dangerous_goods
    rate = FX_USD_PER_UNIT.get(d.currency)
    usd = d.declared_value * rate if rate is not None else None
    chapter, n_chapters = _main_chapter(shipment)
    days = (ts - _POLICY_TS) / _SECONDS_PER_DAY
    sev = {"error": 0, "warning": 0, "info": 0}
    n_three = 0
    codes = set()
    for f in findings:
        if f.category == "tariff":
            # Tariff-fact findings exist only where facts are imported; the models were never trained with them,
            # so they are shown to the user but kept out of the model's counts (see docs/tariff.md).
            continue
        sev[f.severity] += 1
        if f.category == "three_document":
            n_three += 1
        codes.add(f.code)
    # A battery line without the waybill flag is still lithium goods: the checks see it, so the features do too.
    lithium = w.dangerous_goods.lithium_battery or "LITHIUM_UNDECLARED" in codes
    row: dict[str, object] = {
        "channel": w.channel,
        "carrier": w.carrier,
        "export_port": w.export_port,
        "destination_country": d.destination_country,
        "destination_port": w.destination_port,
        "destination_us": int(us),
        "declared_month": month,
        "is_nov_dec": int(nov_dec),
        "us_west_coast_port": int(west),
        "us_west_coast_peak": int(west and nov_dec),
        "lithium_battery": int(lithium),
        "battery_certified_channel": int(w.battery_certified_channel),
        # from the waybill, not from the finding: route options re-score an alternative waybill with the findings of
        # the submitted one, and a certified channel must then show its effect
        "lithium_us_uncertified": int(lithium and us and not w.battery_certified_channel),
        "other_dangerous_goods": int(dg.liquid) + int(dg.magnetic) + int(dg.powder),
        "declared_value_usd": usd,
        "log_declared_value_usd": math.log1p(usd) if usd is not None else None,
        "over_50k_usd": (int(usd > SPLIT_ADVISORY_USD) if usd is not None else None),
        "n_lines": len(d.lines),
        "log_gross_weight_kg": math.log1p(w.gross_weight_kg),
        "packages": w.packages,
        "declaration_mode": d.mode,
        "credit_grade": CREDIT_GRADE_ORDINAL[d.credit_grade],
        "hs_chapter": chapter,
        "n_hs_chapters": n_chapters,
        "predeclared": int(shipment.timestamps.predeclared is not None),
        "after_policy_change": int(days >= 0),
        "days_since_policy_change": days,
        "n_findings_error": sev["error"],
        "n_findings_warning": sev["warning"],
        "n_findings_info": sev["info"],
        "n_three_document_findings": n_three,
    }
    row.update(_NO_FLAGS)  # every flag 0 (keeps FEATURE_NAMES order), then 1 for the codes found
    for code in codes:
        name = _FLAG_NAME.get(code)
        if name is not None:
            row[name] = 1
    row.update(congestion.values(w.export_port, w.destination_port) if congestion is not None else NO_CONGESTION)
    return row


def feature_frame(shipments: Iterable[Shipment], findings_lists: Iterable[Sequence[Finding]]) -> pd.DataFrame:
    """Rows of :func:`feature_row` as a frame: :data:`FEATURE_NAMES` columns, numerics as float, categoricals typed."""
    rows = [feature_row(s, f) for s, f in zip(shipments, findings_lists, strict=True)]
    return rows_to_frame(rows)


def rows_to_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame.from_records(rows, columns=FEATURE_NAMES)
    for name in NUMERIC:
        frame[name] = pd.to_numeric(frame[name], errors="raise").astype("float64")
    for name in CATEGORICAL:
        frame[name] = pd.Categorical(frame[name], categories=CATEGORY_LEVELS.get(name))  # None: the rows' own levels
    return frame



#: A shipment history for training is ``shipment_id``, ``declared_at``, :data:`FEATURE_NAMES` and these outcomes
#: (the targets and leak-guarded columns of ``data/specs/shipments-*.yaml``).
LABEL_COLUMNS = ["delay_hours", "outcome", "risk_level"]
