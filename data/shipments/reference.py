"""Fixed reference tables for shipments: ports, FX rates, credit grades, product catalogue, the policy date.

These are shared by the schema, the checks, the feature rows and the generator, so every layer sees the same numbers.
They are deliberately fixed (versioned with the code) rather than fetched: a feature computed at training time must be
computed identically at serving time, and the service has no internet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

# ---------------------------------------------------------------------------------------------------------------
# Ports (UN/LOCODE). Only the ports the product and the generator use; the schema accepts any well-formed LOCODE
# (two-letter country + three alphanumerics) and the checks only look ports up here for their country.
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Port:
    locode: str
    name: str
    country: str
    modes: frozenset[str]  # "sea", "air", "rail" — which channels can use it
    us_west_coast: bool = False


_P = Port
PORTS: dict[str, Port] = {p.locode: p for p in [
    # China (export side)
    _P("CNSZX", "Shenzhen", "CN", frozenset({"sea", "air"})),
    _P("CNSHA", "Shanghai", "CN", frozenset({"sea", "air"})),
    _P("CNNGB", "Ningbo", "CN", frozenset({"sea"})),
    _P("CNCAN", "Guangzhou", "CN", frozenset({"sea", "air"})),
    _P("CNCKG", "Chongqing", "CN", frozenset({"rail", "air"})),
    # United States — Los Angeles and Long Beach are the West Coast gateways that congest in Nov–Dec.
    _P("USLAX", "Los Angeles", "US", frozenset({"sea", "air"}), us_west_coast=True),
    _P("USLGB", "Long Beach", "US", frozenset({"sea"}), us_west_coast=True),
    _P("USNYC", "New York", "US", frozenset({"sea", "air"})),
    _P("USSAV", "Savannah", "US", frozenset({"sea"})),
    _P("USCHI", "Chicago", "US", frozenset({"air"})),
    # Europe
    _P("DEHAM", "Hamburg", "DE", frozenset({"sea"})),
    _P("DEFRA", "Frankfurt am Main", "DE", frozenset({"air"})),
    _P("DEDUI", "Duisburg", "DE", frozenset({"rail"})),
    _P("NLRTM", "Rotterdam", "NL", frozenset({"sea"})),
    _P("NLAMS", "Amsterdam", "NL", frozenset({"air"})),
    _P("NLVEN", "Venlo", "NL", frozenset({"rail"})),
    _P("FRLEH", "Le Havre", "FR", frozenset({"sea"})),
    _P("FRPAR", "Paris", "FR", frozenset({"air"})),
    _P("FRLIO", "Lyon", "FR", frozenset({"rail"})),
    _P("GBFXT", "Felixstowe", "GB", frozenset({"sea"})),
    _P("GBLHR", "London Heathrow", "GB", frozenset({"air"})),
    # Asia-Pacific and Canada
    _P("JPTYO", "Tokyo", "JP", frozenset({"sea", "air"})),
    _P("JPOSA", "Osaka", "JP", frozenset({"sea", "air"})),
    _P("AUSYD", "Sydney", "AU", frozenset({"sea", "air"})),
    _P("AUMEL", "Melbourne", "AU", frozenset({"sea"})),
    _P("CAVAN", "Vancouver", "CA", frozenset({"sea", "air"})),
    _P("CATOR", "Toronto", "CA", frozenset({"air"})),
]}
US_WEST_COAST_PORTS = frozenset(p.locode for p in PORTS.values() if p.us_west_coast)

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
HISTORY_START = date(2024, 1, 1)
POLICY_CHANGE_DATE = date(2025, 3, 1)  # month 15 of a 24-month history starting at HISTORY_START
CHINA_TZ = timezone(timedelta(hours=8))
POLICY_CHANGE_AT = datetime(POLICY_CHANGE_DATE.year, POLICY_CHANGE_DATE.month, POLICY_CHANGE_DATE.day, tzinfo=CHINA_TZ)


# ---------------------------------------------------------------------------------------------------------------
# Product catalogue: real HS6 codes typical of 9710 B2B exporters, with a reference unit price (USD) and net weight
# per unit. The checks use the price to flag unit-price outliers; the generator draws prices around it.
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    hs6: str
    en: str
    zh: str
    unit: str
    usd: float  # reference unit price
    kg: float  # net weight per unit
    lithium: bool = False
    liquid: bool = False
    magnetic: bool = False
    powder: bool = False

    @property
    def chapter(self) -> str:
        return self.hs6[:2]


_R = Product
PRODUCTS: tuple[Product, ...] = (
    _R("850760", "Lithium-ion battery pack 48V 20Ah", "锂离子电池组 48V 20Ah", "PCS", 180.0, 6.0, lithium=True),
    _R("851830", "Bluetooth wireless earphones", "蓝牙无线耳机", "PCS", 8.0, 0.08, lithium=True),
    _R("850440", "USB-C fast charger 65W", "USB-C 快充充电器 65W", "PCS", 6.0, 0.15),
    _R("854442", "USB charging cable 1 m", "USB 数据线 1米", "PCS", 0.8, 0.04),
    _R("851762", "Wi-Fi 6 wireless router", "WiFi6 无线路由器", "PCS", 18.0, 0.4),
    _R("851713", "Android smartphone 128 GB", "安卓智能手机 128GB", "PCS", 95.0, 0.2, lithium=True),
    _R("852852", "LCD monitor 24 inch", "24英寸液晶显示器", "PCS", 70.0, 3.5),
    _R("851660", "Electric air fryer 5 L", "电空气炸锅 5升", "PCS", 25.0, 4.0),
    _R("850940", "Portable electric blender", "便携式电动榨汁机", "PCS", 9.0, 0.6, lithium=True),
    _R("940542", "LED strip light 5 m", "LED 灯带 5米", "PCS", 3.5, 0.2),
    _R("851310", "Rechargeable LED flashlight", "充电式LED手电筒", "PCS", 4.0, 0.2, lithium=True),
    _R("847130", "Laptop computer 14 inch", "14英寸笔记本电脑", "PCS", 300.0, 1.5, lithium=True),
    _R("847160", "Wireless keyboard and mouse set", "无线键盘鼠标套装", "SET", 7.0, 0.6),
    _R("852589", "4K action camera", "4K 运动相机", "PCS", 40.0, 0.15, lithium=True),
    _R("950450", "Handheld video game console", "掌上游戏机", "PCS", 35.0, 0.3, lithium=True),
    _R("871160", "Electric bicycle with lithium battery", "锂电池电动自行车", "PCS", 420.0, 22.0, lithium=True),
    _R("851671", "Electric coffee maker", "电咖啡机", "PCS", 22.0, 2.5),
    _R("841451", "Desk fan 12 inch", "12英寸台式风扇", "PCS", 8.0, 1.8),
    _R("846721", "Cordless electric drill", "无绳电钻", "PCS", 18.0, 1.4, lithium=True),
    _R("850511", "Neodymium permanent magnets", "钕铁硼永磁体", "KG", 30.0, 1.0, magnetic=True),
    _R("950300", "Plastic building block toy set", "塑料拼装积木玩具", "SET", 6.0, 0.5),
    _R("950300", "Plush stuffed toy", "毛绒玩具", "PCS", 2.5, 0.2),
    _R("950691", "Resistance bands fitness set", "健身弹力带套装", "SET", 4.0, 0.4),
    _R("610910", "Cotton T-shirt, knitted", "针织棉质T恤", "PCS", 2.5, 0.18),
    _R("611030", "Polyester knitted sweater", "涤纶针织毛衣", "PCS", 6.0, 0.35),
    _R("620343", "Men's polyester trousers", "男式涤纶长裤", "PCS", 5.0, 0.4),
    _R("620462", "Women's cotton jeans", "女式棉质牛仔裤", "PCS", 7.0, 0.5),
    _R("611595", "Cotton socks", "棉袜", "PR", 0.4, 0.05),
    _R("620520", "Men's cotton shirt", "男式棉衬衫", "PCS", 4.5, 0.25),
    _R("392410", "Plastic kitchen storage containers", "塑料厨房保鲜盒", "SET", 2.0, 0.5),
    _R("392690", "TPU phone case", "TPU 手机壳", "PCS", 0.6, 0.03),
    _R("392310", "Plastic storage box", "塑料收纳箱", "PCS", 2.2, 0.8),
    _R("391990", "Self-adhesive PVC film", "自粘PVC膜", "KG", 2.0, 1.0),
    _R("420292", "Nylon travel backpack", "尼龙旅行背包", "PCS", 6.0, 0.6),
    _R("420221", "Leather handbag", "真皮手提包", "PCS", 15.0, 0.8),
    _R("640299", "PVC slippers", "PVC拖鞋", "PR", 1.5, 0.3),
    _R("640411", "Textile running shoes", "织物跑步鞋", "PR", 9.0, 0.7),
    _R("940360", "Wooden side table", "木制边桌", "PCS", 25.0, 8.0),
    _R("940171", "Upholstered office chair, metal frame", "金属框架软垫办公椅", "PCS", 30.0, 12.0),
    _R("732393", "Stainless steel cookware set", "不锈钢锅具套装", "SET", 15.0, 3.0),
    _R("731815", "Stainless steel screws", "不锈钢螺丝", "KG", 3.0, 1.0),
    _R("330499", "Skin care cream 50 ml", "护肤霜 50毫升", "PCS", 1.8, 0.08, liquid=True),
    _R("330491", "Compressed face powder", "压缩粉饼", "PCS", 1.2, 0.05, powder=True),
    _R("330300", "Eau de toilette 100 ml", "淡香水 100毫升", "PCS", 3.0, 0.25, liquid=True),
    _R("901910", "Electric massage gun", "电动筋膜枪", "PCS", 20.0, 1.0, lithium=True),
    _R("960321", "Electric toothbrush heads", "电动牙刷刷头", "SET", 1.0, 0.03),
    _R("630231", "Cotton bed sheet set", "纯棉床单套装", "SET", 8.0, 1.2),
    _R("691200", "Ceramic dinnerware set", "陶瓷餐具套装", "SET", 10.0, 4.0),
    _R("701337", "Glass drinking cups", "玻璃水杯", "PCS", 0.8, 0.3),
)

# Real-looking 6-digit codes that do not exist in the HS nomenclature: what a typo or an invented code looks like.
INVALID_HS6 = ("850799", "851899", "610999", "950399", "392699", "851839", "871199")


def chapter_of(code: str | None) -> str | None:
    return code[:2] if code and len(code) >= 2 else None


# Reference unit price (USD) by HS6 for unit-price sanity checks; when one HS6 has several products, the geometric
# middle of their prices.
def _reference_prices() -> dict[str, float]:
    import math

    by_code: dict[str, list[float]] = {}
    for p in PRODUCTS:
        by_code.setdefault(p.hs6, []).append(p.usd)
    return {c: math.exp(sum(map(math.log, v)) / len(v)) for c, v in by_code.items()}


REFERENCE_UNIT_PRICE_USD: dict[str, float] = _reference_prices()
# Goods that are lithium batteries themselves (lithium primary cells, lithium-ion accumulators): a line with one of
# these codes and no lithium flag on the waybill is an undeclared dangerous good.
LITHIUM_BATTERY_HS6 = frozenset({"850650", "850760"})
