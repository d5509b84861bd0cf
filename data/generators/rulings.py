"""Demo ruling library: seeded synthetic rulings that look like a 9710 exporter's classification history.

What it makes
    ``generate_demo_rulings(n=3600, seed=7)`` returns ``n`` :class:`~data.rulings.schema.Ruling` objects over the
    ~180 HS6 subheadings in :data:`CATALOG`: the goods Chinese factories export B2B under customs mode 9710 —
    furniture (9401/9403/9404), lighting (9405, 8539, torches 8513), small appliances (8509, 8516, 8510, fans 8414),
    lithium batteries and battery-powered goods (8507.60 batteries and power banks, 8506 primary cells, e-scooters
    8711.60), garments and home textiles (61xx/62xx/63xx), toys and games (95xx), kitchenware (7323, 7615, 3924,
    6911/6912, 8211/8215, 9617 vacuum flasks), tools (8203-8207, 8467) and phone accessories (8517.62/8517.79,
    8518.30, 8544.42 cables, 8504.40 chargers, 3926/4202 cases), plus small consumer goods common in the same trade.

How a ruling is built
    Each HS6 has product nouns (zh/en pairs), a family (furniture, lighting, appliance, battery, garment, …) and a
    material pool that *decides* the code where the tariff does (metal vs wooden furniture, cotton vs synthetic and
    knitted vs woven garments, stainless steel vs aluminium vs plastic kitchenware). The family supplies invented
    brands, model numbers ("XR-2031"), uses, attributes, sizes and the declaration-element keys (申报要素: 品名, 用途,
    材质, 品牌, 型号, 规格 …). A title takes a random subset of those slots in a language-typical order; about half the
    titles are Chinese, a third English and the rest mixed ("Nordic 实木书架 solid wood bookshelf"). A quarter get
    spelling noise: dropped, swapped or doubled letters, FULL-WIDTH characters, random case, marketing fillers
    ("2024新款", "厂家直销"). Neighbouring codes share nouns on purpose (a "bookshelf" sits under 9403.20 when it is
    steel and under 9403.60 when it is wood), so a suggester has to read the material, not just the noun.

Codes, sources, dates
    Sources mix customs rulings (mostly HS6/8 digits), pre-classifications (8/10) and declarations (mostly China's
    10-digit codes: the national 8-digit line, chosen per product where the tariff splits the HS6, plus "00").
    Ruling dates spread over 2022-2025; ``created_at`` follows the ruling date, so the output is fully reproducible
    for a seed. Ids are content hashes and unique within one output.

Every HS6 in the catalogue is checked against the default nomenclature (HS2022) when the catalogue is first used.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path

from data.rulings.schema import Ruling, RulingSource

# ---------------------------------------------------------------------------------------------------------------------
# Materials (zh, en). A code's material pool is what separates it from its neighbours.

MATERIALS: dict[str, list[tuple[str, str]]] = {
    "metal": [("钢制", "steel"), ("铁艺", "wrought iron"), ("碳钢", "carbon steel"), ("铝合金", "aluminium alloy"),
              ("不锈钢", "stainless steel"), ("金属", "metal")],
    "wood": [("实木", "solid wood"), ("橡木", "oak"), ("松木", "pine"), ("胡桃木", "walnut"), ("中纤板", "MDF"),
             ("榉木", "beech wood"), ("橡胶木", "rubberwood"), ("木质", "wooden")],
    "plastic": [("塑料", "plastic"), ("PP", "PP plastic"), ("ABS", "ABS plastic"), ("PE", "polyethylene"),
                ("树脂", "resin")],
    "bamboo": [("竹制", "bamboo"), ("楠竹", "moso bamboo"), ("碳化竹", "carbonized bamboo")],
    "rattan": [("藤编", "rattan"), ("手工藤编", "hand-woven rattan"), ("PE藤", "PE rattan")],
    "wicker": [("柳编", "wicker"), ("草编", "seagrass"), ("水葫芦编", "water hyacinth")],
    "foam": [("记忆棉", "memory foam"), ("乳胶", "latex foam"), ("高密度海绵", "high density foam")],
    "spring": [("独立弹簧", "pocket spring"), ("椰棕", "coconut fibre"), ("弹簧", "bonnell spring")],
    "down": [("羽绒", "down"), ("鹅绒", "goose down"), ("鸭绒", "duck down")],
    "fiberfill": [("化纤棉", "polyester fiberfill"), ("丝棉", "silk floss"), ("纤维棉", "microfiber fill")],
    "cotton": [("纯棉", "cotton"), ("100%棉", "100% cotton"), ("精梳棉", "combed cotton"), ("全棉", "pure cotton")],
    "synthetic": [("聚酯纤维", "polyester"), ("涤纶", "polyester"), ("锦纶", "nylon"), ("涤纶氨纶", "polyester spandex")],
    "ss": [("不锈钢", "stainless steel"), ("304不锈钢", "304 stainless steel"), ("316不锈钢", "316 stainless steel")],
    "castiron": [("铸铁", "cast iron"), ("生铁", "pig iron")],
    "enamel": [("搪瓷", "enamel"), ("珐琅", "enamelled steel")],
    "iron": [("铁制", "iron"), ("碳钢", "carbon steel"), ("镀锌铁", "galvanized iron")],
    "alu": [("铝制", "aluminium"), ("铝合金", "aluminium alloy"), ("压铸铝", "die-cast aluminium")],
    "porcelain": [("骨瓷", "bone china"), ("陶瓷", "porcelain"), ("白瓷", "white porcelain"), ("强化瓷", "fine porcelain")],
    "ceramic": [("陶瓷", "ceramic"), ("粗陶", "stoneware"), ("陶制", "earthenware"), ("釉下彩陶", "glazed pottery")],
    "glass": [("玻璃", "glass"), ("高硼硅玻璃", "borosilicate glass"), ("钢化玻璃", "tempered glass")],
    "leather": [("真皮", "genuine leather"), ("牛皮", "cowhide leather"), ("头层牛皮", "top-grain leather")],
    "pu": [("PU皮", "PU leather"), ("硅胶", "silicone"), ("TPU", "TPU"), ("尼龙", "nylon"), ("牛津布", "oxford fabric")],
    "carbonfiber": [("碳纤维", "carbon fibre"), ("木质", "wooden"), ("金属", "metal")],
    "steeltool": [("铬钒钢", "chrome vanadium steel"), ("高碳钢", "high carbon steel"), ("合金钢", "alloy steel"),
                  ("S2钢", "S2 steel")],
    "textile": [("涤纶", "polyester"), ("棉麻", "cotton linen"), ("雪纺", "chiffon"), ("无纺布", "non-woven fabric")],
    "housing": [("塑料", "plastic"), ("ABS", "ABS"), ("不锈钢", "stainless steel"), ("铝合金", "aluminium alloy")],
    "lamp": [("铝", "aluminium"), ("铁艺", "iron"), ("亚克力", "acrylic"), ("玻璃", "glass"), ("水晶", "crystal")],
    "toy": [("塑料", "plastic"), ("ABS", "ABS"), ("毛绒", "plush"), ("木制", "wooden"), ("硅胶", "silicone")],
    "base": [("锌合金", "zinc alloy"), ("不锈钢", "stainless steel"), ("合金", "alloy"), ("铜", "brass")],
    "none": [],  # the code's goods carry no telling material (the family default does not apply either)
}

# ---------------------------------------------------------------------------------------------------------------------
# Families: brands, uses, attributes, size formats, default material pool and declaration-element keys.


@dataclass(frozen=True)
class Family:
    brands: tuple[str, ...]
    uses: tuple[tuple[str, str], ...]
    attrs: tuple[tuple[str, str], ...]
    sizes: tuple[str, ...]  # formats filled from _SIZE_FIELDS
    elements: tuple[str, ...]  # 申报要素 keys in declaration order
    material: str | None = None
    model_prefixes: tuple[str, ...] = ("XR", "HD", "KY", "ZM", "LT", "QF")


FAMILIES: dict[str, Family] = {
    "furniture": Family(
        brands=("森居", "木之语", "Homelux", "Nordwood", "栖家", "Casaline", "宜美家"),
        uses=(("家用", "home"), ("卧室", "bedroom"), ("客厅", "living room"), ("办公", "office"), ("酒店", "hotel"),
              ("户外", "outdoor"), ("儿童房", "kids room")),
        attrs=(("可折叠", "foldable"), ("北欧风", "Nordic style"), ("简约", "minimalist"), ("免安装", "no assembly"),
               ("加厚", "reinforced"), ("多层", "multi-tier"), ("带抽屉", "with drawers"), ("现代", "modern"),
               ("复古", "vintage"), ("可拆卸", "detachable")),
        sizes=("{a}x{b}x{c}cm", "{a}*{b}*{c}cm", "L{a}xW{b}xH{c}cm"),
        elements=("品名", "用途", "材质", "品牌", "型号"), model_prefixes=("JJ", "FN", "SF", "HM", "WD")),
    "bedding": Family(
        brands=("梦洁家纺", "Sleepwell", "罗兰", "CozyNest", "眠岛"),
        uses=(("家用", "home"), ("酒店", "hotel"), ("学生宿舍", "dormitory"), ("儿童", "kids")),
        attrs=(("四季通用", "all-season"), ("加厚", "thick"), ("透气", "breathable"), ("抗菌", "antibacterial"),
               ("可水洗", "washable"), ("软硬适中", "medium firm")),
        sizes=("{a}x{b}cm", "{a}*{b}cm", "1.5m", "1.8m", "Queen", "King"),
        elements=("品名", "材质", "填充物", "用途", "品牌", "规格"), model_prefixes=("BD", "MT", "PL")),
    "lighting": Family(
        brands=("光年", "Lumora", "亮达", "Brightex", "欧普光", "Nitelux"),
        uses=(("室内照明", "indoor lighting"), ("客厅", "living room"), ("卧室", "bedroom"), ("户外", "outdoor"),
              ("庭院", "garden"), ("商业照明", "commercial lighting")),
        attrs=(("调光", "dimmable"), ("暖白光", "warm white"), ("遥控", "remote control"), ("防水IP65", "IP65 waterproof"),
               ("智能", "smart"), ("节能", "energy saving"), ("三色变光", "3-colour")),
        sizes=("{w}W", "{w}W {v}V", "E27 {w}W", "{d}cm"),
        elements=("品名", "用途", "光源类型", "功率", "品牌", "型号"), material="lamp",
        model_prefixes=("LD", "LT", "GX", "DL", "ZD")),
    "appliance": Family(
        brands=("美厨", "Kitchwise", "小熊猫", "Homix", "佳电", "Voltaire", "九洋"),
        uses=(("家用", "household"), ("厨房", "kitchen"), ("宿舍", "dorm"), ("办公室", "office"), ("旅行", "travel")),
        attrs=(("智能", "smart"), ("迷你", "mini"), ("多功能", "multi-function"), ("静音", "quiet"), ("定时", "timer"),
               ("不粘内胆", "non-stick"), ("触控", "touch control"), ("便携", "portable")),
        sizes=("{w}W 220V", "{w}W", "{l}L", "{l}L {w}W"),
        elements=("品名", "用途", "功率", "电压", "品牌", "型号"), material="housing",
        model_prefixes=("KA", "MJ", "HX", "DK", "ST", "EW")),
    "personal": Family(
        brands=("飞科达", "Groomex", "Silkee", "雅美", "Beautix"),
        uses=(("家用", "home"), ("旅行", "travel"), ("理发店", "barber shop"), ("个人护理", "personal care")),
        attrs=(("充电式", "rechargeable"), ("防水", "waterproof"), ("便携", "portable"), ("负离子", "ionic"),
               ("USB充电", "USB charging"), ("低噪音", "low noise")),
        sizes=("{w}W", "{mah}mAh", "{v}V"),
        elements=("品名", "用途", "功率", "品牌", "型号"), material="housing", model_prefixes=("PC", "RS", "HT", "BZ")),
    "battery": Family(
        brands=("能量方", "Voltcell", "超越", "Powerion", "绿源电", "Ampex", "锂想"),
        uses=(("手机充电", "phone charging"), ("电动工具", "power tools"), ("储能", "energy storage"),
              ("户外", "outdoor"), ("遥控器", "remote controls"), ("电动车", "e-bikes")),
        attrs=(("快充", "fast charging"), ("大容量", "high capacity"), ("可充电", "rechargeable"), ("便携", "portable"),
               ("双向快充", "two-way fast charge"), ("PD20W", "PD 20W")),
        sizes=("{mah}mAh", "{v}V {mah}mAh", "{v}V {ah}Ah", "{wh}Wh"),
        elements=("品名", "用途", "原理", "电压", "容量", "品牌", "型号"), model_prefixes=("PB", "LB", "BT", "CR", "ES")),
    "vehicle": Family(
        brands=("速客", "Ecoride", "风行者", "Zoomer", "Voltride"),
        uses=(("代步", "commuting"), ("城市通勤", "urban commute"), ("休闲", "leisure"), ("外卖配送", "delivery")),
        attrs=(("可折叠", "foldable"), ("长续航", "long range"), ("双减震", "dual suspension"), ("智能APP", "app control")),
        sizes=("{v}V {ah}Ah", "{w}W {v}V", "{inch}寸", "{inch} inch"),
        elements=("品名", "用途", "动力类型", "电机功率", "品牌", "型号"), model_prefixes=("ES", "EB", "SC", "MX")),
    "garment_knit": Family(
        brands=("优衣坊", "Urbanfit", "森马克", "Mellow", "衣品汇", "Blanc&Co"),
        uses=(("日常", "daily wear"), ("运动", "sports"), ("休闲", "casual"), ("居家", "home wear")),
        attrs=(("修身", "slim fit"), ("宽松", "loose fit"), ("短袖", "short sleeve"), ("长袖", "long sleeve"),
               ("圆领", "crew neck"), ("V领", "V-neck"), ("印花", "printed"), ("纯色", "solid colour")),
        sizes=("S/M/L/XL", "M-XXL", "{cm}cm", "均码"),
        elements=("品名", "织造方法", "种类", "类别", "成分含量", "品牌", "货号"),
        model_prefixes=("TS", "KN", "SW", "DR", "PT")),
    "garment_woven": Family(
        brands=("优衣坊", "Urbanfit", "森马克", "Mellow", "衣品汇", "Denimo"),
        uses=(("日常", "daily wear"), ("通勤", "office wear"), ("休闲", "casual"), ("户外", "outdoor")),
        attrs=(("修身", "slim fit"), ("宽松", "loose fit"), ("长袖", "long sleeve"), ("短袖", "short sleeve"),
               ("格子", "plaid"), ("水洗", "washed"), ("纯色", "solid colour"), ("防风", "windproof")),
        sizes=("S/M/L/XL", "M-XXL", "{waist}码", "W{waist}"),
        elements=("品名", "织造方法", "种类", "类别", "成分含量", "品牌", "货号"),
        model_prefixes=("SH", "JN", "CT", "BL", "DR")),
    "hometextile": Family(
        brands=("梦洁家纺", "Linenly", "富安娜", "SoftHome", "洁丽雅"),
        uses=(("家用", "home"), ("酒店", "hotel"), ("厨房", "kitchen"), ("浴室", "bathroom"), ("客厅", "living room")),
        attrs=(("吸水", "absorbent"), ("加厚", "thick"), ("遮光", "blackout"), ("柔软", "soft"), ("印花", "printed")),
        sizes=("{a}x{b}cm", "{a}*{b}cm", "1.5m", "1.8m"),
        elements=("品名", "材质", "用途", "织造方法", "品牌", "规格"), model_prefixes=("HT", "TW", "CR", "BS")),
    "footwear": Family(
        brands=("步迅", "Stridex", "回力达", "Airwalkr", "踏浪"),
        uses=(("跑步", "running"), ("日常", "daily"), ("户外", "outdoor"), ("沙滩", "beach"), ("居家", "home")),
        attrs=(("防滑", "non-slip"), ("透气", "breathable"), ("轻便", "lightweight"), ("减震", "cushioned")),
        sizes=("{shoe}码", "EU{shoe}", "US {us}"),
        elements=("品名", "鞋面材料", "外底材料", "类别", "品牌", "货号"), model_prefixes=("SN", "RN", "SL")),
    "toy": Family(
        brands=("乐童", "Kidzplay", "积木王", "Brickle", "星趣", "Funtopia", "萌宝"),
        uses=(("儿童", "kids"), ("益智", "education"), ("礼品", "gift"), ("户外", "outdoor"), ("聚会", "party")),
        attrs=(("益智", "educational"), ("电动", "electric"), ("遥控", "remote control"), ("拼装", "DIY"),
               ("声光", "light and sound"), ("环保", "eco-friendly"), ("卡通", "cartoon")),
        sizes=("{pcs}片", "{pcs}pcs", "3+岁", "ages {age}+", "{d}cm"),
        elements=("品名", "用途", "材质", "品牌", "型号", "适用年龄"), material="toy",
        model_prefixes=("TY", "BL", "RC", "PZ", "XM")),
    "kitchen": Family(
        brands=("厨之道", "Chefmate", "苏泊家", "Cookline", "双立人家", "Kitchara", "爱家厨"),
        uses=(("家用", "household"), ("厨房", "kitchen"), ("餐厅", "restaurant"), ("户外野营", "camping"),
              ("酒店", "hotel")),
        attrs=(("加厚", "thickened"), ("防烫", "heat-resistant"), ("可洗碗机", "dishwasher safe"), ("不粘", "non-stick"),
               ("食品级", "food grade"), ("便携", "portable"), ("套装", "set")),
        sizes=("{d}cm", "{ml}ml", "{pcs}件套", "{pcs}-piece", "{l}L"),
        elements=("品名", "用途", "材质", "品牌", "型号", "规格"), model_prefixes=("KC", "CK", "TW", "SP", "GL")),
    "tool": Family(
        brands=("工匠", "Toolcraft", "钢盾", "Forgex", "巨力", "Handyman Pro", "长城精工"),
        uses=(("维修", "repair"), ("五金", "hardware"), ("汽修", "auto repair"), ("木工", "woodworking"),
              ("家用", "household"), ("电工", "electrical work")),
        attrs=(("专业", "professional"), ("多功能", "multi-purpose"), ("防滑手柄", "non-slip handle"),
               ("重型", "heavy duty"), ("绝缘", "insulated"), ("磁性", "magnetic")),
        sizes=("{mm}mm", "{inch}寸", "{inch} inch", "{pcs}件套", "{pcs}pcs"),
        elements=("品名", "用途", "材质", "品牌", "型号", "规格"), material="steeltool",
        model_prefixes=("TL", "GJ", "HT", "SW", "PL")),
    "powertool": Family(
        brands=("东成达", "Dewmax", "大艺牛", "Voltforce", "锐奇工", "Boshine"),
        uses=(("装修", "renovation"), ("木工", "woodworking"), ("金属加工", "metalworking"), ("家用", "DIY")),
        attrs=(("无刷", "brushless"), ("锂电", "cordless"), ("充电式", "rechargeable"), ("冲击", "impact"),
               ("调速", "variable speed")),
        sizes=("{v}V", "{w}W", "{v}V {ah}Ah", "{mm}mm"),
        elements=("品名", "用途", "工作原理", "功率", "品牌", "型号"), model_prefixes=("PT", "DC", "AG", "CS")),
    "phone": Family(
        brands=("绿联达", "Ankor", "品胜科", "Baseus Pro", "倍思达", "Cablix", "酷翼"),
        uses=(("手机", "smartphone"), ("平板", "tablet"), ("笔记本", "laptop"), ("车载", "car"), ("运动", "sports")),
        attrs=(("快充", "fast charging"), ("防摔", "shockproof"), ("磁吸", "magnetic"), ("透明", "clear"),
               ("无线", "wireless"), ("蓝牙5.3", "Bluetooth 5.3"), ("降噪", "noise cancelling"), ("编织", "braided")),
        sizes=("{m}m", "{w}W", "{inch}寸", "for iPhone {iphone}", "Type-C"),
        elements=("品名", "用途", "材质", "品牌", "型号", "适用机型"), model_prefixes=("PH", "CB", "EP", "CH", "CS")),
    "goods": Family(
        brands=("优品", "Dailyco", "良匠", "Everly", "美优"),
        uses=(("日常", "daily"), ("家用", "household"), ("礼品", "gift"), ("旅行", "travel"), ("户外", "outdoor")),
        attrs=(("便携", "portable"), ("时尚", "fashion"), ("简约", "minimalist"), ("耐用", "durable"), ("创意", "creative")),
        sizes=("{d}cm", "{pcs}pcs", "{pcs}个装", "{a}x{b}cm"),
        elements=("品名", "用途", "材质", "品牌", "型号"), model_prefixes=("DG", "YP", "LX", "MY")),
}

_SIZE_FIELDS = {
    "a": (30, 200), "b": (20, 120), "c": (30, 200), "w": (3, 2200), "v": (12, 60), "d": (8, 60), "l": (1, 8),
    "mah": (1000, 30000), "ah": (2, 30), "wh": (50, 2000), "inch": (6, 14), "cm": (90, 180), "waist": (26, 38),
    "shoe": (35, 46), "us": (5, 13), "pcs": (2, 24), "age": (3, 14), "ml": (150, 1500), "mm": (6, 300),
    "m": (1, 3), "iphone": (11, 16),
}

# ---------------------------------------------------------------------------------------------------------------------
# Catalogue. nouns: "zh/en|zh/en"; a noun may end in "@NN" to pick its China national line suffix (digits 7-8).
# cn: default national suffix for the HS6 (China's 8-digit line is hs6 + cn).


@dataclass(frozen=True)
class CodeSpec:
    hs6: str
    family: str
    nouns: tuple[tuple[str, str, str], ...]  # (zh, en, cn suffix)
    material: str | None
    cn: str


def _spec(hs6: str, family: str, nouns: str, material: str | None = None, cn: str = "00") -> CodeSpec:
    parsed = []
    for item in nouns.split("|"):
        item = item.strip()
        suffix = cn
        if "@" in item:
            item, suffix = item.rsplit("@", 1)
        zh, en = item.split("/", 1)
        parsed.append((zh.strip(), en.strip(), suffix))
    return CodeSpec(hs6, family, tuple(parsed), material, cn)


S = _spec
CATALOG: tuple[CodeSpec, ...] = (
    # Furniture: seats ----------------------------------------------------------------------------------------------
    S("940131", "furniture", "实木转椅/wooden swivel chair|升降木椅/height adjustable wooden chair|木质电脑转椅/wooden computer swivel chair", "wood"),
    S("940139", "furniture", "办公转椅/office swivel chair|电竞椅/gaming chair|升降吧台椅/adjustable bar stool|人体工学椅/ergonomic office chair", "metal"),
    S("940141", "furniture", "木质沙发床/wooden sofa bed|实木折叠沙发床/solid wood futon sofa bed|皮面木沙发床/leather wooden sofa bed@10", "wood", "90"),
    S("940149", "furniture", "金属沙发床/metal frame sofa bed|折叠沙发床/folding sofa bed|懒人沙发床/convertible lounge sofa bed", "metal", "90"),
    S("940152", "furniture", "竹椅/bamboo chair|竹凳/bamboo stool|竹制躺椅/bamboo lounge chair", "bamboo"),
    S("940153", "furniture", "藤椅/rattan chair|藤编吊椅/rattan hanging chair|藤摇椅/rattan rocking chair", "rattan"),
    S("940161", "furniture", "布艺沙发/fabric sofa@90|真皮沙发/leather sofa@10|软包餐椅/upholstered dining chair@90|实木框架沙发/wood frame sofa@90", "wood", "90"),
    S("940169", "furniture", "实木餐椅/solid wood dining chair|木质凳子/wooden stool|实木长凳/wooden bench", "wood"),
    S("940171", "furniture", "软包铁艺椅/upholstered metal chair@90|皮面吧椅/leather bar chair@10|金属框架沙发/metal frame sofa@90", "metal", "90"),
    S("940179", "furniture", "金属折叠椅/metal folding chair|铁艺餐椅/iron dining chair|不锈钢凳/stainless steel stool|户外铝椅/outdoor aluminium chair", "metal"),
    S("940180", "furniture", "塑料椅/plastic chair@90|儿童塑料凳/kids plastic stool@90|亚克力椅/acrylic chair@90", "plastic", "90"),
    S("940191", "furniture", "椅子木扶手/wooden chair armrest|木质椅腿/wooden chair legs|椅背木板/wooden chair back panel", "wood"),
    S("940199", "furniture", "办公椅底盘/office chair base@90|椅子五星脚/chair five-star base@90|气压棒/chair gas lift cylinder@90|椅子脚轮/chair casters@90", "metal", "90"),
    # Furniture: other ----------------------------------------------------------------------------------------------
    S("940310", "furniture", "金属文件柜/metal filing cabinet|钢制办公桌/steel office desk|铁皮更衣柜/steel locker|办公室金属书架/office metal shelf", "metal"),
    S("940320", "furniture", "铁艺床/metal bed frame|钢制书架/steel bookshelf|金属置物架/metal storage rack|铁艺鞋柜/metal shoe cabinet|金属衣柜/metal wardrobe|铁艺茶几/metal coffee table", "metal"),
    S("940330", "furniture", "木质办公桌/wooden office desk|实木会议桌/solid wood conference table|办公室木文件柜/wooden office filing cabinet", "wood"),
    S("940340", "furniture", "实木橱柜/wooden kitchen cabinet|厨房木质置物架/wooden kitchen shelf|木质餐边柜/wooden sideboard", "wood"),
    S("940350", "furniture", "实木床/solid wood bed@99|木质衣柜/wooden wardrobe@99|实木床头柜/wooden nightstand@99|红木床/rosewood bed@10|木质梳妆台/wooden dressing table@99", "wood", "99"),
    S("940360", "furniture", "实木书架/wooden bookshelf@99|木质茶几/wooden coffee table@99|实木电视柜/wooden TV stand@99|木质鞋柜/wooden shoe cabinet@99|红木茶桌/rosewood tea table@10", "wood", "99"),
    S("940370", "furniture", "塑料收纳柜/plastic storage cabinet|塑料桌/plastic table|儿童塑料桌椅/kids plastic table|塑料鞋架/plastic shoe rack", "plastic"),
    S("940382", "furniture", "竹制书架/bamboo bookshelf|竹茶几/bamboo coffee table|竹制置物架/bamboo storage rack", "bamboo"),
    S("940383", "furniture", "藤编茶几/rattan coffee table|藤制储物柜/rattan cabinet|藤编边桌/rattan side table", "rattan"),
    S("940389", "furniture", "柳编储物柜/wicker storage cabinet@10|大理石茶几/marble coffee table@20|玻璃边桌/glass side table@90", "wicker", "90"),
    S("940391", "furniture", "木质柜门/wooden cabinet door|实木桌腿/wooden table legs|木抽屉面板/wooden drawer front", "wood"),
    S("940399", "furniture", "金属桌腿/metal table legs|抽屉滑轨/drawer slide|铁艺床架配件/metal bed frame parts|家具五金件/furniture metal fittings", "metal"),
    S("940421", "bedding", "记忆棉床垫/memory foam mattress|乳胶床垫/latex mattress|海绵床垫/foam mattress", "foam"),
    S("940429", "bedding", "弹簧床垫/spring mattress|独立弹簧床垫/pocket spring mattress|椰棕床垫/coconut fibre mattress", "spring"),
    S("940440", "bedding", "羽绒被/down duvet@10|蚕丝被/silk quilt@30|夏凉被/summer quilt@40|化纤被/polyester comforter@40", "down", "40"),
    S("940490", "bedding", "羽绒枕/down pillow@10|记忆棉枕头/memory foam pillow@90|抱枕/cushion@40|靠垫/back cushion@40", "fiberfill", "90"),
    # Lighting -------------------------------------------------------------------------------------------------------
    S("940511", "lighting", "LED吸顶灯/LED ceiling light|LED吊灯/LED pendant light|LED壁灯/LED wall lamp|LED水晶吊灯/LED crystal chandelier"),
    S("940519", "lighting", "水晶吊灯/crystal chandelier|卤素吸顶灯/halogen ceiling lamp|复古吊灯/vintage pendant lamp"),
    S("940521", "lighting", "LED台灯/LED desk lamp|LED护眼台灯/LED eye-care table lamp|LED床头灯/LED bedside lamp|LED落地灯/LED floor lamp"),
    S("940529", "lighting", "落地灯/floor lamp|陶瓷台灯/ceramic table lamp|布艺床头灯/fabric bedside lamp"),
    S("940531", "lighting", "LED圣诞灯串/LED Christmas string lights|圣诞树彩灯/Christmas tree LED lights|LED节日灯串/LED holiday lights"),
    S("940539", "lighting", "圣诞树灯串/Christmas tree light set|白炽圣诞彩灯/incandescent Christmas lights"),
    S("940541", "lighting", "太阳能路灯/solar street light|太阳能庭院灯/solar garden light|太阳能壁灯/solar wall light|太阳能草坪灯/solar lawn lamp"),
    S("940542", "lighting", "LED灯带/LED strip light@90|LED投光灯/LED flood light@90|LED面板灯/LED panel light@90|LED筒灯/LED downlight@90|LED小夜灯/LED night light@90", None, "90"),
    S("940549", "lighting", "探照灯/searchlight@10|聚光灯/spotlight@10|霓虹灯管/neon tube light@90|卤素工作灯/halogen work light@90", None, "90"),
    S("940561", "lighting", "LED发光字/LED illuminated sign|LED广告灯箱/LED light box sign|LED门牌/LED name plate"),
    S("940592", "lighting", "塑料灯罩/plastic lampshade|亚克力灯罩/acrylic lamp cover|PC灯罩/PC lamp diffuser", "plastic"),
    S("940599", "lighting", "金属灯罩/metal lampshade|灯具支架/lamp bracket|吊灯配件/chandelier parts", "metal"),
    S("853952", "lighting", "LED灯泡/LED bulb@10|LED球泡灯/LED globe bulb@10|LED灯管/LED tube@20|T8 LED灯管/T8 LED tube@20", None, "10"),
    S("853951", "lighting", "LED模组/LED module|LED光源模组/LED light engine|COB光源模块/COB LED module"),
    S("853931", "lighting", "节能灯/energy saving lamp@91|荧光灯管/fluorescent tube@99|螺旋节能灯/spiral CFL bulb@91", None, "99"),
    S("851310", "lighting", "手电筒/flashlight@10|强光手电/tactical torch@10|头灯/headlamp@90|露营灯/camping lantern@90|充电手电筒/rechargeable torch@10", None, "10"),
    S("851390", "lighting", "手电筒外壳/flashlight housing@10|手电筒灯头/torch head@10|头灯配件/headlamp parts@90", None, "10"),
    # Small appliances --------------------------------------------------------------------------------------------
    S("850940", "appliance", "榨汁机/juicer@10|料理机/food blender@90|破壁机/high speed blender@90|绞肉机/meat grinder@90|原汁机/slow juicer@10", None, "90"),
    S("850980", "appliance", "电动牙刷/electric toothbrush@90|厨余垃圾处理器/food waste disposer@20|电动打蛋器/electric egg beater@90", None, "90"),
    S("850811", "appliance", "手持吸尘器/handheld vacuum cleaner|扫地机器人/robot vacuum cleaner|无线吸尘器/cordless vacuum cleaner|车载吸尘器/car vacuum cleaner"),
    S("851610", "appliance", "电热水器/electric water heater@90|即热式热水器/instant water heater@20|储水式热水器/storage water heater@10|加热棒/immersion heater@90", None, "90"),
    S("851629", "appliance", "取暖器/space heater@90|暖风机/fan heater@31|油汀/oil filled radiator@32|小太阳取暖器/halogen radiant heater@20", None, "90"),
    S("851631", "personal", "电吹风/hair dryer|吹风机/hairdryer|负离子吹风机/ionic hair dryer|高速吹风机/high speed hair dryer"),
    S("851632", "personal", "卷发棒/curling iron|直发器/hair straightener|电热卷发梳/hot air brush|夹板/flat iron"),
    S("851633", "appliance", "干手器/hand dryer|烘手机/hand drying machine|自动干手机/automatic hand dryer"),
    S("851640", "appliance", "电熨斗/electric iron|挂烫机/garment steamer|蒸汽熨斗/steam iron|手持挂烫机/handheld steamer"),
    S("851650", "appliance", "微波炉/microwave oven|变频微波炉/inverter microwave|台式微波炉/countertop microwave"),
    S("851660", "appliance", "电饭煲/rice cooker@30|电磁炉/induction cooker@10|空气炸锅/air fryer@90|电烤箱/electric oven@50|电火锅/electric hot pot@90|电炒锅/electric wok@40", None, "90"),
    S("851671", "appliance", "咖啡机/coffee maker@90|滴漏式咖啡机/drip coffee machine@10|意式咖啡机/espresso machine@30|胶囊咖啡机/capsule coffee machine@30|电茶壶/electric tea maker@90", None, "90"),
    S("851672", "appliance", "多士炉/toaster@20|烤面包机/bread toaster@20|面包机/bread maker@10|三明治机/sandwich toaster@90", None, "20"),
    S("851679", "appliance", "电水壶/electric kettle@90|养生壶/health kettle@90|饮水机/water dispenser@10|电热杯/electric heating cup@90|煮蛋器/egg boiler@90", None, "90"),
    S("851690", "appliance", "电饭煲内胆/rice cooker inner pot@90|发热盘/heating plate@90|电水壶底座/kettle base@90", None, "90"),
    S("841451", "appliance", "台式风扇/table fan@91|落地扇/stand fan@92|壁扇/wall fan@93|USB小风扇/USB mini fan@99|塔扇/tower fan@99", None, "99"),
    S("851010", "personal", "电动剃须刀/electric shaver|剃须刀/electric razor|往复式剃须刀/foil shaver"),
    S("851020", "personal", "理发器/hair clipper|电推剪/electric hair trimmer|儿童理发器/baby hair clipper|鼻毛修剪器/nose hair trimmer"),
    S("851030", "personal", "脱毛器/epilator|冰点脱毛仪/IPL hair removal device|电动脱毛刀/electric hair remover"),
    S("842121", "appliance", "净水器/water purifier@10|滤水壶/water filter pitcher@10|厨下净水机/under-sink water filter@10|龙头净水器/faucet water filter@10", None, "10"),
    # Batteries and battery-powered goods ------------------------------------------------------------------------
    S("850760", "battery", "锂电池/lithium battery|充电宝/power bank|移动电源/portable charger|锂电池组/lithium-ion battery pack|18650电池/18650 cell|储能电池/energy storage battery|磷酸铁锂电池/LiFePO4 battery"),
    S("850650", "battery", "纽扣电池/button cell|CR2032锂电池/CR2032 lithium coin cell|锂锰电池/lithium manganese battery|一次性锂电池/primary lithium battery"),
    S("850610", "battery", "碱性电池/alkaline battery@12|5号碱性电池/AA alkaline battery@12|7号电池/AAA alkaline battery@12|纽扣碱性电池/alkaline button cell@11", None, "12"),
    S("850710", "battery", "铅酸蓄电池/lead-acid battery|汽车启动电池/car starter battery|摩托车电瓶/motorcycle battery"),
    S("850750", "battery", "镍氢电池/NiMH battery|镍氢充电电池/NiMH rechargeable battery|镍氢电池组/NiMH battery pack"),
    S("850790", "battery", "电池隔膜/battery separator@90|电池外壳/battery case@90|电池极板/battery plate@10", None, "90"),
    S("871160", "vehicle", "电动滑板车/electric scooter|电动自行车/electric bicycle|电助力自行车/e-bike|电动平衡车/electric balance scooter|折叠电动车/folding e-bike"),
    S("871190", "vehicle", "汽油助力自行车/gas motorized bicycle|燃油助力车/petrol moped"),
    S("850440", "phone", "充电器/charger@99|手机充电器/phone charger@99|电源适配器/power adapter@14|氮化镓充电器/GaN charger@99|逆变器/power inverter@30|UPS不间断电源/UPS power supply@20", None, "99"),
    S("850300", "appliance", "电机配件/motor parts@90|电机端盖/motor end cover@90|微电机零件/micro motor parts@10", None, "90"),
    # Garments: knitted --------------------------------------------------------------------------------------------
    S("610910", "garment_knit", "纯棉T恤/cotton T-shirt|男式棉T恤/men's cotton tee|女式短袖T恤/women's cotton T-shirt|棉背心/cotton tank top", "cotton"),
    S("610990", "garment_knit", "速干T恤/quick-dry T-shirt@90|涤纶T恤/polyester T-shirt@90|运动背心/sports tank top@90|真丝T恤/silk T-shirt@10", "synthetic", "90"),
    S("611020", "garment_knit", "棉毛衣/cotton sweater|棉卫衣/cotton hoodie|针织开衫/cotton cardigan|套头衫/cotton pullover", "cotton"),
    S("611030", "garment_knit", "腈纶毛衣/acrylic sweater|化纤卫衣/polyester hoodie|抓绒衫/fleece pullover|针织开衫/knit cardigan", "synthetic"),
    S("610462", "garment_knit", "女式针织裤/women's knitted trousers|女式棉打底裤/women's cotton leggings|女式卫裤/women's jogger pants", "cotton"),
    S("610463", "garment_knit", "女式瑜伽裤/women's yoga pants|女式运动裤/women's sports leggings|女式打底裤/women's leggings", "synthetic"),
    S("610343", "garment_knit", "男式运动裤/men's track pants|男式针织长裤/men's knitted trousers|男式速干裤/men's quick-dry pants", "synthetic"),
    S("610442", "garment_knit", "女式棉连衣裙/women's cotton jersey dress|针织连衣裙/knitted dress|T恤裙/T-shirt dress", "cotton"),
    S("610443", "garment_knit", "女式针织连衣裙/women's knit dress|吊带裙/slip dress|女式涤纶连衣裙/women's polyester jersey dress", "synthetic"),
    S("611595", "garment_knit", "棉袜/cotton socks|船袜/cotton ankle socks|中筒袜/cotton crew socks|运动棉袜/cotton sports socks", "cotton"),
    S("611596", "garment_knit", "尼龙袜/nylon socks|丝袜/nylon stockings|运动袜/polyester sports socks|压力袜/compression socks", "synthetic"),
    S("611120", "garment_knit", "婴儿连体衣/baby romper|婴儿爬服/baby bodysuit|新生儿套装/newborn clothing set|婴儿睡袋/baby sleeping bag", "cotton"),
    S("611211", "garment_knit", "棉运动套装/cotton tracksuit|卫衣套装/cotton hoodie set|运动服/cotton sports suit", "cotton"),
    # Garments: woven -----------------------------------------------------------------------------------------------
    S("620342", "garment_woven", "牛仔裤/jeans|男式休闲裤/men's cotton chinos|男式工装裤/men's cargo pants|男式棉短裤/men's cotton shorts", "cotton", "90"),
    S("620462", "garment_woven", "女式牛仔裤/women's jeans|女式阔腿裤/women's wide-leg trousers|女式棉短裤/women's cotton shorts", "cotton"),
    S("620520", "garment_woven", "男式衬衫/men's shirt|男式牛津纺衬衫/men's oxford shirt|男式格子衬衫/men's plaid shirt|男式商务衬衫/men's dress shirt", "cotton"),
    S("620630", "garment_woven", "女式衬衫/women's blouse|女式棉衬衫/women's cotton shirt|女式格子衬衫/women's plaid shirt", "cotton"),
    S("620640", "garment_woven", "女式雪纺衫/women's chiffon blouse|女式涤纶衬衫/women's polyester shirt|雪纺上衣/chiffon top", "synthetic"),
    S("620140", "garment_woven", "男式羽绒服/men's down jacket@10|男式冲锋衣/men's windbreaker jacket@90|男式风衣/men's trench coat@90|男式棉服/men's padded jacket@90", "synthetic", "90"),
    S("620443", "garment_woven", "女式连衣裙/women's dress|雪纺连衣裙/chiffon dress|女式长裙/women's maxi dress|碎花连衣裙/floral dress", "synthetic"),
    S("621430", "garment_woven", "围巾/scarf|丝巾/polyester scarf|披肩/shawl|头巾/head scarf", "synthetic"),
    S("650500", "goods", "针织帽/knitted beanie@99|毛线帽/knit hat@99|渔夫帽/bucket hat@99|鸭舌帽/baseball cap@99", "textile", "99"),
    S("640299", "footwear", "拖鞋/slippers@29|洞洞鞋/clogs@29|凉鞋/sandals@29|雨靴/rain boots@10|沙滩鞋/beach shoes@29", None, "29"),
    S("640411", "footwear", "运动鞋/sneakers|跑步鞋/running shoes|网面运动鞋/mesh sports shoes|篮球鞋/basketball shoes"),
    # Home textiles ------------------------------------------------------------------------------------------------
    S("630231", "hometextile", "纯棉床单/cotton bed sheet@91|四件套/cotton bedding set@99|被套/cotton duvet cover@99|枕套/cotton pillowcase@99", "cotton", "99"),
    S("630260", "hometextile", "毛巾/cotton towel@90|浴巾/cotton bath towel@10|方巾/cotton face towel@90|毛巾套装/towel set@90", "cotton", "90"),
    S("630392", "hometextile", "窗帘/curtain|遮光窗帘/blackout curtain|纱帘/sheer curtain|浴帘/shower curtain", "synthetic"),
    S("630790", "hometextile", "口罩/face mask@10|一次性口罩/disposable face mask@10|布艺收纳袋/fabric storage bag@90|宠物窝垫/pet bed mat@90", "textile", "90"),
    S("630710", "hometextile", "抹布/cleaning cloth|洗碗布/dish cloth|超细纤维毛巾/microfiber cleaning towel|拖把布/mop cloth", "synthetic"),
    S("630140", "hometextile", "毛毯/fleece blanket|珊瑚绒毯/coral fleece blanket|法兰绒毯/flannel blanket|午睡毯/nap blanket", "synthetic"),
    # Toys and games ---------------------------------------------------------------------------------------------
    S("950300", "toy", "积木/building blocks@60|毛绒玩具/plush toy@21|遥控车/RC car@83|拼图/jigsaw puzzle@60|儿童滑板车/kids scooter@10|洋娃娃/doll@29|遥控飞机/RC drone toy@83|仿真模型/model kit@89", None, "89"),
    S("950450", "toy", "游戏机/game console@30|掌上游戏机/handheld game console@20|游戏手柄/game controller@80|游戏机配件/gaming accessories@80", "none", "30"),
    S("950490", "toy", "麻将/mahjong set@40|象棋/chess set@30|桌游/board game@90|飞镖盘/dartboard@90|电子游戏机/arcade game machine@10", "none", "90"),
    S("950510", "toy", "圣诞装饰/Christmas decoration|圣诞树/artificial Christmas tree|圣诞球/Christmas ball ornaments|圣诞花环/Christmas wreath", "none"),
    S("950590", "toy", "万圣节面具/Halloween mask|派对装饰/party decoration|气球拱门套装/balloon arch kit|魔术道具/magic trick props", "none"),
    S("950662", "toy", "篮球/basketball@10|足球/football@10|排球/volleyball@10|瑜伽球/yoga ball@90|充气沙滩球/inflatable beach ball@90", "none", "10"),
    S("950691", "toy", "跑步机/treadmill@11|健身器材/fitness equipment@19|哑铃/dumbbell@90|拉力器/resistance band@90|健腹轮/ab roller@90", "none", "90"),
    S("950699", "toy", "滑板/skateboard@10|飞盘/frisbee@90|跳绳/jump rope@90|羽毛球拍/badminton racket@90", "none", "90"),
    # Kitchenware ----------------------------------------------------------------------------------------------------
    S("732393", "kitchen", "不锈钢锅/stainless steel pot|不锈钢炒锅/stainless steel wok|不锈钢盆/stainless steel basin|不锈钢餐盘/stainless steel plate|不锈钢汤锅/stainless steel stock pot|不锈钢饭盒/stainless steel lunch box", "ss"),
    S("732391", "kitchen", "铸铁锅/cast iron pot|铸铁煎锅/cast iron skillet|铸铁炖锅/cast iron casserole", "castiron"),
    S("732394", "kitchen", "搪瓷锅/enamel pot@20|搪瓷杯/enamel mug@90|搪瓷盆/enamel basin@10", "enamel", "90"),
    S("732399", "kitchen", "铁锅/iron wok|碳钢煎锅/carbon steel frying pan|铁质烤盘/iron baking tray", "iron"),
    S("732310", "kitchen", "钢丝球/steel wool scrubber|不锈钢清洁球/stainless steel scourer|钢丝刷/steel scouring pad", "ss"),
    S("761510", "kitchen", "铝锅/aluminium pot@90|不粘锅/aluminium non-stick pan@90|铝制煎锅/aluminium frying pan@90|铝制烤盘/aluminium baking tray@90|铝饭盒/aluminium lunch box@90", "alu", "90"),
    S("392410", "kitchen", "塑料餐盒/plastic food container|塑料砧板/plastic cutting board|保鲜盒/food storage box|塑料水杯/plastic cup|塑料餐具/plastic tableware|硅胶铲/silicone spatula", "plastic"),
    S("392490", "kitchen", "塑料收纳盒/plastic storage box|塑料衣架/plastic hanger|塑料脸盆/plastic washbasin|浴室置物架/plastic bathroom shelf", "plastic"),
    S("691110", "kitchen", "陶瓷餐具/porcelain tableware@19|骨瓷碗/bone china bowl@11|瓷盘/porcelain plate@19|陶瓷餐具套装/porcelain dinner set@19|陶瓷刀/ceramic knife@21", "porcelain", "19"),
    S("691190", "kitchen", "陶瓷皂盒/porcelain soap dish|陶瓷牙刷杯/porcelain tumbler|瓷质收纳罐/porcelain canister", "porcelain"),
    S("691200", "kitchen", "陶碗/ceramic bowl@10|马克杯/ceramic mug@10|陶瓷盘/stoneware plate@10|砂锅/clay pot@90|陶瓷烤盘/ceramic baking dish@90", "ceramic", "10"),
    S("821591", "kitchen", "镀金餐叉/gold plated fork|镀银勺子/silver plated spoon|镀金餐具/gold plated cutlery", "ss"),
    S("821599", "kitchen", "不锈钢勺子/stainless steel spoon|不锈钢叉子/stainless steel fork|汤勺/soup ladle|漏勺/skimmer", "ss"),
    S("821520", "kitchen", "不锈钢餐具套装/stainless steel cutlery set|刀叉勺套装/flatware set|便携餐具套装/travel cutlery set", "ss"),
    S("821191", "kitchen", "牛排刀/steak knife|餐刀/table knife|黄油刀/butter knife", "ss"),
    S("821192", "kitchen", "菜刀/kitchen knife|厨师刀/chef knife|水果刀/fruit knife|切片刀/slicing knife|刀具套装/knife set", "ss"),
    S("821000", "kitchen", "手摇榨汁器/manual juicer|手动绞肉机/manual meat grinder|手摇磨豆机/manual coffee grinder|压蒜器/garlic press", "ss"),
    S("701337", "kitchen", "玻璃杯/drinking glass|玻璃水杯/glass tumbler|双层玻璃杯/double wall glass cup|啤酒杯/beer glass", "glass"),
    S("701349", "kitchen", "玻璃碗/glass bowl|玻璃保鲜盒/glass food container|玻璃沙拉碗/glass salad bowl|玻璃烤盘/glass baking dish", "glass"),
    S("961700", "kitchen", "保温杯/vacuum flask@19|真空保温杯/vacuum insulated tumbler@19|保温壶/thermos bottle@19|焖烧杯/food jar@90|保温饭盒/vacuum lunch box@90", "ss", "19"),
    S("441911", "kitchen", "竹砧板/bamboo cutting board|竹制面包板/bamboo bread board|竹菜板/bamboo chopping board", "bamboo"),
    S("441912", "kitchen", "竹筷子/bamboo chopsticks@90|一次性竹筷/disposable bamboo chopsticks@10|竹筷套装/bamboo chopstick set@90", "bamboo", "90"),
    S("441990", "kitchen", "木勺/wooden spoon@90|木铲/wooden spatula@90|木质托盘/wooden serving tray@90|木碗/wooden bowl@90", "wood", "90"),
    # Tools --------------------------------------------------------------------------------------------------------
    S("820310", "tool", "锉刀/file|什锦锉/needle file set|木锉/wood rasp"),
    S("820320", "tool", "钳子/pliers|尖嘴钳/needle nose pliers|斜口钳/diagonal cutting pliers|剥线钳/wire stripper|镊子/tweezers"),
    S("820330", "tool", "铁皮剪/tin snips|航空剪/aviation snips|金属剪刀/metal shears"),
    S("820340", "tool", "切管器/pipe cutter|管子割刀/tube cutter|打孔器/hole punch"),
    S("820411", "tool", "开口扳手/open end wrench|梅花扳手/ring spanner|两用扳手/combination wrench|内六角扳手/hex key set"),
    S("820412", "tool", "活动扳手/adjustable wrench|管钳/pipe wrench|活扳手/adjustable spanner"),
    S("820420", "tool", "套筒/socket set|套筒扳手/socket wrench|棘轮套筒组/ratchet socket set"),
    S("820510", "tool", "丝锥/tap|板牙/threading die|丝锥板牙套装/tap and die set|手摇钻/hand drill"),
    S("820520", "tool", "锤子/hammer|羊角锤/claw hammer|橡胶锤/rubber mallet|八角锤/sledge hammer"),
    S("820540", "tool", "螺丝刀/screwdriver|十字螺丝刀/phillips screwdriver|精密螺丝刀套装/precision screwdriver set|一字起子/flat screwdriver"),
    S("820559", "tool", "刮刀/scraper|撬棍/pry bar|抹泥刀/trowel|填缝枪/caulking gun|美工刀/utility knife"),
    S("820570", "tool", "台虎钳/bench vice|F夹/F clamp|木工夹/wood clamp|快速夹/quick grip clamp"),
    S("820600", "tool", "工具套装/tool set|家用工具箱/household tool kit|五金工具组合/hand tool combination set"),
    S("820750", "tool", "麻花钻头/twist drill bit@90|钻头套装/drill bit set@90|金刚石钻头/diamond core bit@10|开孔器/hole saw@90", None, "90"),
    S("846721", "powertool", "电钻/electric drill|冲击钻/impact drill|锂电钻/cordless drill|电锤/rotary hammer"),
    S("846722", "powertool", "电锯/electric saw@90|电链锯/electric chainsaw@10|曲线锯/jigsaw@90|电圆锯/circular saw@90|往复锯/reciprocating saw@90", None, "90"),
    S("846729", "powertool", "角磨机/angle grinder@10|电动砂光机/electric sander@10|电刨/electric planer@20|电动螺丝刀/electric screwdriver@90|热风枪/heat gun@90", None, "90"),
    S("846711", "powertool", "气动扳手/pneumatic impact wrench|气动螺丝刀/air screwdriver|风批/pneumatic screwdriver"),
    S("820160", "tool", "修枝剪/hedge shears|园艺剪/garden pruning shears|高枝剪/lopper"),
    S("901780", "tool", "卷尺/tape measure|钢卷尺/steel measuring tape|皮尺/soft measuring tape|直尺/ruler"),
    # Phone accessories and consumer electronics ------------------------------------------------------------------
    S("851762", "phone", "蓝牙耳机/Bluetooth earbuds@94|无线耳机/wireless earphones@94|TWS耳机/TWS earbuds@94|路由器/WiFi router@36|智能手表/smart watch@99|网络交换机/network switch@32", None, "99"),
    S("851779", "phone", "手机屏幕/phone screen@30|手机主板/phone motherboard@30|手机电池盖/phone back cover@30|手机摄像头模组/phone camera module@30", None, "30"),
    S("851830", "phone", "有线耳机/wired earphones|头戴式耳机/over-ear headphones|入耳式耳机/in-ear earphones|游戏耳机/gaming headset"),
    S("851713", "phone", "智能手机/smartphone|5G手机/5G mobile phone|安卓手机/Android phone|老人手机/senior smartphone"),
    S("851822", "phone", "蓝牙音箱/Bluetooth speaker|便携音箱/portable speaker|户外音响/outdoor speaker|迷你音箱/mini speaker"),
    S("851821", "phone", "单喇叭音箱/single driver speaker|电脑小音箱/computer speaker|车载低音炮/car subwoofer"),
    S("854442", "phone", "数据线/USB cable@19|充电线/charging cable@19|Type-C数据线/USB-C cable@19|HDMI线/HDMI cable@19|网线/ethernet cable@19", None, "19"),
    S("392690", "phone", "手机支架/phone stand@90|手机壳/TPU phone case@90|塑料手机壳/plastic phone case@90|手机指环扣/phone ring holder@90|桌面支架/desktop holder@90", "pu", "90"),
    S("420232", "phone", "手机套/fabric phone pouch|手机袋/phone pouch|耳机收纳包/earphone case|数码收纳包/electronics organizer bag", "pu"),
    S("420231", "phone", "真皮手机壳/leather phone case|皮质钱包/leather wallet|真皮卡包/leather card holder", "leather"),
    S("420239", "phone", "碳纤维手机壳/carbon fibre phone case|木质手机壳/wooden phone case|金属卡包/metal card holder", "carbonfiber"),
    S("420292", "goods", "收纳袋/storage bag|化妆包/cosmetic bag|保温袋/insulated lunch bag|购物袋/shopping tote bag|洗漱包/toiletry bag", "pu"),
    S("420212", "goods", "拉杆箱/trolley suitcase@90|行李箱/luggage@90|登机箱/carry-on suitcase@90|布艺衣箱/fabric trunk@10", "plastic", "90"),
    S("847160", "phone", "键盘/keyboard@71|鼠标/mouse@72|无线鼠标/wireless mouse@72|机械键盘/mechanical keyboard@71|扫描仪/scanner@50", None, "72"),
    S("852589", "phone", "运动相机/action camera@29|行车记录仪/dash cam@39|监控摄像头/security camera@19|网络摄像头/webcam@19", None, "19"),
    # Everyday consumer goods ----------------------------------------------------------------------------------
    S("960321", "goods", "牙刷/toothbrush|竹牙刷/bamboo toothbrush|儿童牙刷/kids toothbrush|软毛牙刷/soft bristle toothbrush", "plastic"),
    S("960329", "goods", "梳子刷/hair brush|化妆刷/makeup brush|睫毛刷/eyelash brush|气垫梳/cushion hair brush", "plastic"),
    S("961511", "goods", "塑料梳子/plastic comb|发夹/hair clip|抓夹/claw clip|发箍/headband", "plastic"),
    S("900410", "goods", "太阳镜/sunglasses|偏光太阳镜/polarized sunglasses|墨镜/shades|儿童太阳镜/kids sunglasses"),
    S("900490", "goods", "防蓝光眼镜/blue light glasses|护目镜/safety goggles|泳镜/swimming goggles|老花镜/reading glasses|变色眼镜/photochromic glasses@10", "none", "90"),
    S("910211", "goods", "石英手表/quartz watch|指针手表/analog wrist watch|男士手表/men's watch|女士手表/women's watch"),
    S("711719", "goods", "仿真项链/fashion necklace|合金耳环/alloy earrings|手链/bracelet|戒指/fashion ring", "base"),
    S("670411", "goods", "假发/synthetic wig|假发套/full wig|长卷发假发/long curly wig|短发假发/short wig"),
    S("392321", "goods", "塑料袋/plastic bag|PE包装袋/PE packaging bag|自封袋/zip lock bag|快递袋/courier bag", "plastic"),
    S("392330", "goods", "塑料瓶/plastic bottle|PET瓶/PET bottle|喷雾瓶/spray bottle|塑料桶/plastic jerry can", "plastic"),
    S("392640", "goods", "树脂摆件/resin figurine|塑料装饰品/plastic ornament|树脂工艺品/resin craft|仿真花/artificial flower", "plastic"),
    S("691310", "goods", "陶瓷摆件/porcelain figurine|瓷花瓶/porcelain vase|陶瓷工艺品/porcelain ornament", "porcelain"),
    S("830110", "goods", "挂锁/padlock|密码锁/combination padlock|行李锁/luggage lock|铜挂锁/brass padlock", "base"),
    S("830140", "goods", "门锁/door lock|指纹锁/fingerprint lock|智能门锁/smart door lock|抽屉锁/drawer lock", "base"),
    S("392620", "goods", "PVC手套/PVC gloves@11|一次性手套/disposable plastic gloves@19|塑料雨衣/plastic raincoat@90|PE围裙/PE apron@90", "plastic", "90"),
    S("401519", "goods", "丁腈手套/nitrile gloves|乳胶手套/latex gloves|家务手套/household rubber gloves|洗碗手套/dishwashing gloves"),
    S("650610", "goods", "安全帽/safety helmet|骑行头盔/cycling helmet|滑板头盔/skate helmet|电动车头盔/e-bike helmet", "plastic"),
    S("842310", "appliance", "体重秤/bathroom scale|电子秤/electronic scale|厨房秤/kitchen scale|体脂秤/body fat scale"),
    S("910521", "goods", "挂钟/wall clock|静音挂钟/silent wall clock|电子挂钟/digital wall clock"),
    S("830250", "goods", "挂钩/wall hook|衣帽钩/coat hook|毛巾架/towel rack|浴室挂件/bathroom hanger", "base"),
    S("732690", "goods", "铁丝收纳篮/wire storage basket|金属挂架/metal hanging rack|铁艺花架/iron plant stand", "iron", "90"),
    S("761699", "goods", "铝制晾衣架/aluminium drying rack|铝合金梯子/aluminium ladder|铝制收纳盒/aluminium storage box", "alu", "90"),
    S("482010", "goods", "笔记本/notebook|记事本/notepad|手账本/planner|日记本/diary"),
    S("392610", "goods", "塑料文件夹/plastic file folder|笔筒/plastic pen holder|塑料文具盒/plastic pencil case|文件袋/document bag", "plastic"),
    S("871200", "vehicle", "自行车/bicycle@89|山地自行车/mountain bike@30|儿童自行车/kids bicycle@81|折叠自行车/folding bike@89|公路赛车/racing bicycle@20", None, "89"),
    S("871410", "vehicle", "摩托车配件/motorcycle parts|摩托车刹车片/motorcycle brake pads|摩托车后视镜/motorcycle mirror"),
    S("853669", "appliance", "插座/power socket|排插/power strip|转换插头/travel adapter plug|USB插座/USB wall socket"),
    S("851890", "phone", "耳机配件/earphone parts|耳机耳套/ear pads|音箱网罩/speaker grille"),
    S("852872", "appliance", "智能电视/smart TV@22|液晶电视/LCD television@22|LED电视/LED TV@22|彩色电视机/colour TV set@99", None, "22"),
    S("950710", "toy", "钓鱼竿/fishing rod|碳素鱼竿/carbon fishing rod|海竿/sea fishing rod|伸缩鱼竿/telescopic fishing rod", "none"),
    S("611693", "garment_knit", "针织手套/knitted gloves|触屏手套/touchscreen gloves|骑行手套/cycling gloves|保暖手套/winter gloves", "synthetic"),
    S("630291", "hometextile", "纯棉茶巾/cotton tea towel|棉质厨房毛巾/cotton kitchen towel|棉桌布/cotton table napkin", "cotton"),
    S("640219", "footwear", "足球鞋/football boots|溯溪鞋/water sports shoes|塑胶运动鞋/rubber sports shoes"),
)

# Declaration-element values per key that do not come from the title.
_ELEMENT_VALUES = {
    "光源类型": [("LED", "LED"), ("卤素", "halogen"), ("节能灯", "CFL")],
    "原理": [("锂离子充电", "lithium-ion rechargeable"), ("化学电池", "chemical cell")],
    "动力类型": [("电动", "electric"), ("锂电驱动", "lithium battery powered")],
    "织造方法": None,  # from the family (knit/woven)
    "种类": [("上衣", "top"), ("裤子", "trousers"), ("连衣裙", "dress"), ("外套", "jacket")],
    "类别": [("男式", "men's"), ("女式", "women's"), ("儿童", "children's")],
    "工作原理": [("电动", "electric motor"), ("锂电驱动", "battery powered")],
    "外底材料": [("橡胶", "rubber"), ("EVA", "EVA"), ("TPR", "TPR")],
    "鞋面材料": [("网布", "mesh"), ("PU", "PU"), ("纺织材料", "textile")],
    "填充物": [("化纤棉", "polyester fiber"), ("羽绒", "down"), ("记忆棉", "memory foam")],
    "适用年龄": [("3岁以上", "3+"), ("6岁以上", "6+"), ("14岁以上", "14+")],
    "适用机型": [("iPhone 15", "iPhone 15"), ("通用", "universal"), ("安卓", "Android")],
}
_FILLERS_ZH = ("2024新款", "新款", "热销", "厂家直销", "跨境专供", "外贸", "爆款", "现货", "批发")
_FILLERS_EN = ("new", "hot sale", "wholesale", "factory direct", "2024 new", "high quality", "OEM")
_SOURCE_WEIGHTS = ((RulingSource.customs_ruling, 0.3), (RulingSource.pre_classification, 0.2),
                   (RulingSource.declaration, 0.5))
_CODE_LENGTHS = {RulingSource.customs_ruling: ((6, 0.6), (8, 0.4)),
                 RulingSource.pre_classification: ((8, 0.5), (10, 0.5)),
                 RulingSource.declaration: ((10, 0.7), (8, 0.3))}
_FIRST_DAY = date(2022, 1, 1)
_DAYS = (date(2025, 12, 31) - _FIRST_DAY).days


@lru_cache(maxsize=1)
def checked_catalog() -> tuple[CodeSpec, ...]:
    """The catalogue, after checking every HS6 against the default nomenclature and every family/material key."""
    from data.nomenclature import Nomenclature

    nom = Nomenclature.default()
    seen = set()
    for spec in CATALOG:
        if spec.hs6 in seen:
            raise ValueError(f"HS6 {spec.hs6} appears twice in the demo catalogue")
        seen.add(spec.hs6)
        if nom.describe(spec.hs6) is None:
            raise ValueError(f"demo catalogue HS6 {spec.hs6} is not in {nom.version}")
        if spec.family not in FAMILIES:
            raise ValueError(f"unknown family {spec.family} for {spec.hs6}")
        if spec.material is not None and spec.material not in MATERIALS:
            raise ValueError(f"unknown material pool {spec.material} for {spec.hs6}")
    return CATALOG


# ---------------------------------------------------------------------------------------------------------------------
# Text assembly


def _size(rng: random.Random, family: Family, lang: str) -> str:
    formats = [f for f in family.sizes if f.isascii()] if lang == "en" else list(family.sizes)
    fmt = rng.choice(formats or family.sizes)
    values = {k: rng.randint(*bounds) for k, bounds in _SIZE_FIELDS.items()}
    values["w"] = rng.choice((5, 9, 12, 18, 20, 24, 36, 45, 60, 100, 300, 800, 1200, 1500, 2000))
    values["mah"] = rng.choice((1200, 2000, 2600, 3000, 5000, 10000, 20000, 30000))
    values["ml"] = rng.choice((300, 350, 400, 500, 600, 750, 1000))
    return fmt.format(**values)


def _model(rng: random.Random, family: Family) -> str:
    prefix = rng.choice(family.model_prefixes)
    number = rng.randint(100, 9999)
    style = rng.random()
    if style < 0.5:
        return f"{prefix}-{number}"
    if style < 0.8:
        return f"{prefix}{number}{rng.choice('ABCDEFGHKLMPRSTX')}"
    return f"{prefix}-{number}-{rng.choice(('PRO', 'MAX', 'S', 'Plus', 'V2'))}"


def _typo(rng: random.Random, text: str) -> str:
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha() and w.isascii()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    w = words[i]
    j = rng.randrange(1, len(w) - 1)
    op = rng.random()
    if op < 0.4:
        w = w[:j] + w[j + 1:]  # dropped letter
    elif op < 0.75:
        w = w[:j - 1] + w[j] + w[j - 1] + w[j + 1:]  # swapped letters
    else:
        w = w[:j] + w[j] + w[j:]  # doubled letter
    words[i] = w
    return " ".join(words)


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in text)


def _noise(rng: random.Random, title: str, lang: str) -> str:
    op = rng.random()
    if op < 0.3 and lang != "zh":
        return _typo(rng, title)
    if op < 0.45:
        parts = title.split(" ")
        k = rng.randrange(len(parts))
        parts[k] = _full_width(parts[k])
        return " ".join(parts)
    if op < 0.6 and lang != "zh":
        return rng.choice((str.upper, str.lower, str.title))(title)
    if op < 0.85:
        filler = rng.choice(_FILLERS_ZH if lang != "en" else _FILLERS_EN)
        return f"{filler} {title}" if rng.random() < 0.6 else f"【{filler}】{title}"
    return title.replace(" ", rng.choice(("  ", " / ", "-", "，" if lang != "en" else ", ")), 2)


@dataclass
class _Slots:
    noun: tuple[str, str, str]
    material: tuple[str, str] | None
    use: tuple[str, str]
    attrs: list[tuple[str, str]]
    brand: str
    model: str
    size: str


def _title(rng: random.Random, s: _Slots, lang: str) -> str:
    zh_noun, en_noun, _ = s.noun
    mat_zh, mat_en = s.material if s.material else ("", "")
    show_mat = s.material is not None and rng.random() < 0.8
    brand = s.brand if rng.random() < 0.55 else ""
    model = s.model if rng.random() < 0.5 else ""
    size = s.size if rng.random() < 0.6 else ""
    if lang == "zh":
        noun = zh_noun if not show_mat or mat_zh in zh_noun else f"{mat_zh}{zh_noun}"
        attrs = "".join(a[0] for a in s.attrs)
        use = s.use[0] if rng.random() < 0.35 else ""
        parts = [brand, use + attrs, noun, model, size]
    elif lang == "en":
        noun = en_noun if not show_mat or mat_en.lower().split()[-1] in en_noun.lower() else f"{mat_en} {en_noun}"
        attrs = " ".join(a[1] for a in s.attrs)
        use = f"for {s.use[1]}" if rng.random() < 0.3 else ""
        brand = brand if brand.isascii() else ""
        parts = [brand, attrs, noun, model, size, use]
    else:  # mixed: Chinese title with the English noun or English modifiers around a Chinese noun
        noun_zh = zh_noun if not show_mat or mat_zh in zh_noun else f"{mat_zh}{zh_noun}"
        if rng.random() < 0.5:
            parts = [brand, noun_zh, en_noun, model, size]
        else:
            parts = [" ".join(a[1] for a in s.attrs) or s.use[1], noun_zh, model, en_noun if rng.random() < 0.5 else size]
    return " ".join(p for p in parts if p)


def _description(rng: random.Random, s: _Slots, lang: str) -> str:
    if rng.random() < 0.35:
        return ""
    zh_noun, en_noun, _ = s.noun
    if lang == "en":
        bits = [f"{en_noun.capitalize()} for {s.use[1]} use"]
        if s.material:
            bits.append(f"made of {s.material[1]}")
        bits += [a[1] for a in s.attrs]
        if rng.random() < 0.5:
            bits.append(f"size {s.size}")
        return ", ".join(bits) + "."
    bits = [f"{s.use[0]}{zh_noun}"]
    if s.material:
        bits.append(f"材质为{s.material[0]}")
    bits += [a[0] for a in s.attrs]
    if rng.random() < 0.5:
        bits.append(f"规格{s.size}")
    text = "，".join(bits) + "。"
    if lang == "mixed":
        text += f" {en_noun}."
    return text


def _elements(rng: random.Random, s: _Slots, family_name: str, family: Family, lang: str) -> dict[str, str]:
    zh = lang != "en"
    out: dict[str, str] = {}
    for key in family.elements:
        if key == "品名":
            value = s.noun[0] if zh else s.noun[1]
        elif key in ("用途",):
            value = s.use[0] if zh else s.use[1]
        elif key in ("材质", "成分含量"):
            if not s.material:
                continue
            value = s.material[0] if zh else s.material[1]
            if key == "成分含量":
                value = f"{value}100%" if zh else f"100% {value}"
        elif key == "品牌":
            value = s.brand if rng.random() < 0.8 else ("无品牌" if zh else "no brand")
        elif key in ("型号", "货号"):
            value = s.model
        elif key == "规格":
            value = s.size
        elif key in ("功率", "电机功率"):
            value = f"{rng.choice((5, 9, 12, 20, 36, 60, 250, 350, 500, 800, 1200, 1500, 2000))}W"
        elif key == "电压":
            value = rng.choice(("220V", "110-240V", "5V", "3.7V", "12V", "36V", "48V"))
        elif key == "容量":
            value = rng.choice(("2000mAh", "5000mAh", "10000mAh", "20000mAh", "10Ah", "100Wh"))
        elif key == "织造方法":
            knit = family_name == "garment_knit"
            value = ("针织" if knit else "梭织") if zh else ("knitted" if knit else "woven")
        else:
            choices = _ELEMENT_VALUES.get(key)
            if not choices:
                continue
            pick = rng.choice(choices)
            value = pick[0] if zh else pick[1]
        if rng.random() < 0.9:  # real declarations skip elements now and then
            out[key] = value
    return out


def _allocate(rng: random.Random, n: int, k: int) -> list[int]:
    """Rulings per code: skewed like real libraries (a few codes carry many rulings), at least 6 each when n allows."""
    weights = [rng.lognormvariate(0.0, 0.6) for _ in range(k)]
    floor = 6 if n >= 6 * k else 0
    rest = n - floor * k
    total = sum(weights)
    counts = [floor + int(rest * w / total) for w in weights]
    short = n - sum(counts)
    order = sorted(range(k), key=lambda i: -weights[i])
    for i in range(short):
        counts[order[i % k]] += 1
    return counts


def _one(rng: random.Random, spec: CodeSpec) -> Ruling:
    family = FAMILIES[spec.family]
    noun = rng.choice(spec.nouns)
    pool = spec.material or family.material
    material = rng.choice(MATERIALS[pool]) if pool and MATERIALS[pool] else None
    lang = rng.choices(("zh", "en", "mixed"), weights=(0.5, 0.35, 0.15))[0]
    slots = _Slots(noun=noun, material=material, use=rng.choice(family.uses),
                   attrs=rng.sample(family.attrs, k=rng.choice((0, 1, 1, 2))), brand=rng.choice(family.brands),
                   model=_model(rng, family), size=_size(rng, family, lang))
    title = _title(rng, slots, lang)
    if rng.random() < 0.25:
        title = _noise(rng, title, lang)
    source = rng.choices([s for s, _ in _SOURCE_WEIGHTS], weights=[w for _, w in _SOURCE_WEIGHTS])[0]
    lengths = _CODE_LENGTHS[source]
    length = rng.choices([n for n, _ in lengths], weights=[w for _, w in lengths])[0]
    code8 = spec.hs6 + noun[2]
    code = {6: spec.hs6, 8: code8, 10: code8 + "00"}[length]
    p_elements = 0.2 if source is RulingSource.customs_ruling else 0.6
    elements = _elements(rng, slots, spec.family, family, lang) if rng.random() < p_elements else {}
    ruling_date = _FIRST_DAY + timedelta(days=rng.randrange(_DAYS + 1))
    created = datetime.combine(ruling_date, time(0), tzinfo=UTC) + timedelta(
        days=rng.randint(0, 20), seconds=rng.randrange(86_400))
    notes = ""
    if source is RulingSource.customs_ruling and rng.random() < 0.3:
        notes = rng.choice(("依据归类总规则一及六归类", "GRI 1 and 6", "按材质归类", "classified by material",
                            "按功能归类", "classified by principal function"))
    return Ruling(product_name=title, description=_description(rng, slots, lang), declared_elements=elements,
                  hs_code=code, source=source, ruling_date=ruling_date, notes=notes, created_at=created)


def generate_demo_rulings(n: int = 3600, seed: int = 7) -> list[Ruling]:
    """``n`` reproducible demo rulings (see the module docstring); unique ids, shuffled order."""
    if n < 0:
        raise ValueError("n must be >= 0")
    catalog = checked_catalog()
    rng = random.Random(seed)
    specs = list(catalog)
    if n >= len(specs):
        plan = [spec for spec, count in zip(specs, _allocate(rng, n, len(specs))) for _ in range(count)]
    else:
        plan = rng.sample(specs, n)
    rulings: list[Ruling] = []
    seen: set[str] = set()
    for spec in plan:
        for _attempt in range(50):
            ruling = _one(rng, spec)
            if ruling.ruling_id not in seen:
                break
        seen.add(ruling.ruling_id)
        rulings.append(ruling)
    rng.shuffle(rulings)
    return rulings


def ruling_to_json(ruling: Ruling) -> dict:
    """The library's export shape (the readers' default column mapping reads it back unchanged)."""
    return ruling.model_dump(mode="json")


def write_demo_rulings(path: str | Path, n: int = 3600, seed: int = 7) -> Path:
    """Write ``generate_demo_rulings(n, seed)`` to ``path``: CSV for a ``.csv`` suffix, JSON Lines otherwise."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rulings = generate_demo_rulings(n, seed)
    if path.suffix.lower() == ".csv":
        import csv

        fields = list(Ruling.model_fields)
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            for r in rulings:
                row = ruling_to_json(r)
                row["declared_elements"] = json.dumps(row["declared_elements"], ensure_ascii=False) \
                    if row["declared_elements"] else ""
                writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    else:
        with path.open("w", encoding="utf-8") as fh:
            for r in rulings:
                fh.write(json.dumps(ruling_to_json(r), ensure_ascii=False) + "\n")
    return path
