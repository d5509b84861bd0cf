"""Fixed reference tables for shipments: channels, credit grades, declaration modes, FX rates, thresholds, the policy
date, reference unit prices and the lithium-battery codes.

These are the product's vocabularies, shared by the schema, the checks and the feature rows (and used by the demo
generator), so every layer sees the same numbers. They are deliberately fixed (versioned with the code) rather than
fetched: a feature computed at training time must be computed identically at serving time, and the service has no
internet. What only the demo world knows (its carriers, port network and products) is in ``demo/catalogues/``;
open-ended values such as carriers, ports and countries are not listed here at all: the models learn theirs from the
training history.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

# ---------------------------------------------------------------------------------------------------------------
# Ports (UN/LOCODE). The schema accepts any well-formed LOCODE (two-letter country + three alphanumerics); the only
# ports the product names are the US West Coast gateways Los Angeles and Long Beach, which congest in the peak season
# (November–December) and are a feature of their own.
# ---------------------------------------------------------------------------------------------------------------
US_WEST_COAST_PORTS = frozenset({"USLAX", "USLGB"})

# Shipping channels and the transport mode each travels by.
CHANNELS = ("express", "air", "sea_fcl", "sea_lcl", "rail")
CHANNEL_MODE = {"express": "air", "air": "air", "sea_fcl": "sea", "sea_lcl": "sea", "rail": "rail"}

# ---------------------------------------------------------------------------------------------------------------
# China Customs enterprise credit grades (海关企业信用管理办法): 高级认证企业 / 一般信用企业 / 失信企业.
# The ordinal is what the model sees: higher is more trusted.
# ---------------------------------------------------------------------------------------------------------------
CREDIT_GRADES = ("advanced_certified", "general", "discredited")
CREDIT_GRADE_ORDINAL = {"discredited": 0, "general": 1, "advanced_certified": 2}
CREDIT_GRADE_ZH = {"advanced_certified": "高级认证企业", "general": "一般信用企业", "discredited": "失信企业"}

DECLARATION_MODES = ("9710_list", "declaration_form")
# 9710 declarations may use the simplified list (申报清单) only when a ticket is at most RMB 5,000 and involves no
# licence, inspection or tax; above that the full declaration form (报关单) is required.
LIST_MODE_MAX_CNY = 5_000.0

# ---------------------------------------------------------------------------------------------------------------
# FX: USD per one unit of currency. Fixed on purpose (mid rates, 2025-01-02, rounded): the 50,000 USD threshold and
# value features must not move with the day's rate between training and serving, and the service has no feed. A
# currency that pycountry knows but this table does not gets an info finding and no USD value.
# ---------------------------------------------------------------------------------------------------------------
FX_USD_PER_UNIT: dict[str, float] = {
    "USD": 1.0, "CNY": 0.137, "EUR": 1.04, "GBP": 1.25, "JPY": 0.0064, "AUD": 0.62, "CAD": 0.70, "HKD": 0.129,
}
SPLIT_ADVISORY_USD = 50_000.0


def to_usd(amount: float, currency: str) -> float | None:
    rate = FX_USD_PER_UNIT.get(currency)
    return None if rate is None else amount * rate


# ---------------------------------------------------------------------------------------------------------------
# Policy change (drift): from this date inspection of knitted/woven apparel (chapters 61/62) and of chapter 85
# electronics is stricter, and a data-quality error weighs more. Features derive the period from declared_at only.
# ---------------------------------------------------------------------------------------------------------------
POLICY_CHANGE_DATE = date(2025, 3, 1)
CHINA_TZ = timezone(timedelta(hours=8))
POLICY_CHANGE_AT = datetime(POLICY_CHANGE_DATE.year, POLICY_CHANGE_DATE.month, POLICY_CHANGE_DATE.day, tzinfo=CHINA_TZ)


# ---------------------------------------------------------------------------------------------------------------
# Reference unit prices (USD) by HS6, for the unit-price outlier check: a line priced more than 10x above or below is
# flagged (under-/over-valuation). The list covers the HS6 codes of the demo catalogue (``demo/catalogues/
# products.csv`` prices its goods on it; a demo test keeps the two in step); a deployment puts its own price list here.
# A code without a reference price is not checked.
# ---------------------------------------------------------------------------------------------------------------
REFERENCE_UNIT_PRICE_USD: dict[str, float] = {
    "850760": 180.0, "851830": 8.0, "850440": 6.0, "854442": 0.8, "851762": 18.0, "851713": 95.0, "852852": 70.0,
    "851660": 25.0, "850940": 9.0, "940542": 3.5, "851310": 4.0, "847130": 300.0, "847160": 7.0, "852589": 40.0,
    "950450": 35.0, "871160": 420.0, "851671": 22.0, "841451": 8.0, "846721": 18.0, "850511": 30.0,
    "950300": 3.872983346207417,  # two demo products (building blocks 6.0, plush toys 2.5): their geometric middle
    "950691": 4.0, "610910": 2.5, "611030": 6.0, "620343": 5.0, "620462": 7.0, "611595": 0.4, "620520": 4.5,
    "392410": 2.0, "392690": 0.6, "392310": 2.2, "391990": 2.0, "420292": 6.0, "420221": 15.0, "640299": 1.5,
    "640411": 9.0, "940360": 25.0, "940171": 30.0, "732393": 15.0, "731815": 3.0, "330499": 1.8, "330491": 1.2,
    "330300": 3.0, "901910": 20.0, "960321": 1.0, "630231": 8.0, "691200": 10.0, "701337": 0.8,
}
# Goods that are lithium batteries themselves (lithium primary cells, lithium-ion accumulators): a line with one of
# these codes and no lithium flag on the waybill is an undeclared dangerous good.
LITHIUM_BATTERY_HS6 = frozenset({"850650", "850760"})
