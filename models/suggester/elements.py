"""Usual declaration elements (申报要素) per HS chapter, to tell a user what to add when the answer is uncertain.

Source: common China Customs 申报要素 practice (the 《中华人民共和国海关进出口商品规范申报目录》 lists elements per tariff
line; this table keeps the ones that recur across each chapter for the goods 9710 exporters ship). It is guidance for
"what would make the classification decidable", not a legal checklist.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# Every declaration asks for these.
COMMON: tuple[str, ...] = ("品名", "用途", "材质", "品牌", "型号")

# Extra elements per chapter (2-digit), in the order the declaration form lists them.
BY_CHAPTER: dict[str, tuple[str, ...]] = {
    "19": ("成分", "包装规格", "加工方法"),
    "21": ("成分", "包装规格"),
    "33": ("成分", "包装规格", "用途"),
    "34": ("成分", "包装规格"),
    "39": ("成分含量", "形状", "规格"),
    "40": ("成分", "规格"),
    "42": ("面料材质", "外表面材质", "种类"),
    "44": ("树种", "加工方法"),
    "46": ("编结材料",),
    "48": ("规格", "克重"),
    "49": ("印刷方式",),
    "61": ("织造方法", "种类", "面料成分含量", "款式", "性别"),
    "62": ("织造方法", "种类", "面料成分含量", "款式", "性别"),
    "63": ("织造方法", "成分含量", "种类"),
    "64": ("鞋面材料", "鞋底材料", "款式"),
    "65": ("成分含量", "种类"),
    "67": ("材质",),
    "69": ("成分", "种类", "是否上釉"),
    "70": ("种类", "加工方法"),
    "71": ("成分含量", "加工方法"),
    "73": ("材质", "种类", "是否电热"),
    "74": ("材质", "种类"),
    "76": ("材质", "种类"),
    "82": ("材质", "种类"),
    "83": ("材质", "种类"),
    "84": ("功能", "原理", "功率", "电压", "结构"),
    "85": ("功能", "原理", "功率", "电压", "容量", "是否带电池"),
    "87": ("动力类型", "驱动方式"),
    "90": ("原理", "功能", "用途"),
    "91": ("机芯类型", "表壳材质"),
    "94": ("材质", "种类", "功率", "是否带电"),
    "95": ("种类", "是否带动力", "适用年龄"),
    "96": ("材质", "种类"),
}

# Chinese keys users write in English (marketplace attribute names included: "Item Type", "Metals Type"); matched
# case-insensitively with spaces, hyphens and underscores folded, so "Item Type", "item_type" and "item-type" are one.
ALIASES: dict[str, str] = {
    "name": "品名", "product_name": "品名", "product": "品名", "usage": "用途", "use": "用途", "purpose": "用途",
    "application": "用途", "occasion": "用途", "material": "材质", "materials": "材质", "metals_type": "材质",
    "metal_type": "材质", "main_material": "材质", "brand": "品牌", "brand_name": "品牌", "model": "型号",
    "model_number": "型号", "function": "功能", "principle": "原理", "power": "功率", "voltage": "电压",
    "capacity": "容量", "composition": "成分", "ingredients": "成分", "specification": "规格", "spec": "规格",
    "size": "规格", "type": "种类", "kind": "种类", "item_type": "种类", "product_type": "种类", "category": "种类",
    "fabric": "面料成分含量", "fabric_type": "面料成分含量", "knit": "织造方法", "gender": "性别", "style": "款式",
    "package": "包装规格", "packaging": "包装规格", "battery": "是否带电池", "outer_material": "外表面材质",
    "lining_material": "面料材质", "lining": "面料材质", "upper_material": "鞋面材料", "outsole_material": "鞋底材料",
    "sole_material": "鞋底材料", "processing": "加工方法", "craft": "加工方法", "age": "适用年龄",
    "age_range": "适用年龄", "weight": "克重",
}
# Chinese variants that mean the same element as a listed key.
ZH_ALIASES: dict[str, str] = {"材料": "材质", "类型": "种类", "类别": "种类", "品牌名": "品牌", "名称": "品名",
                              "商品名称": "品名", "规格型号": "型号", "功用": "用途"}


def required_elements(chapter: str | None) -> list[str]:
    """The usual element keys for goods of ``chapter`` (2 digits), common ones first, without repeats."""
    keys = list(COMMON) + list(BY_CHAPTER.get((chapter or "")[:2], ()))
    return list(dict.fromkeys(keys))


def canonical_key(key: str) -> str:
    """The 申报要素 name for an element key in English or Chinese ("Material" → 材质, "Item Type" → 种类);
    an unknown key is kept as written."""
    key = str(key).strip().strip(":：").strip()
    folded = re.sub(r"[\s\-_]+", "_", key.lower())
    return ALIASES.get(folded, ZH_ALIASES.get(key, key))


def canonical_elements(elements: Mapping[str, str] | None) -> dict[str, str]:
    """Elements with their keys mapped to 申报要素 names; values of keys that map to the same name are joined."""
    out: dict[str, str] = {}
    for key, value in (elements or {}).items():
        name = canonical_key(key)
        value = str(value).strip()
        if not value:
            continue
        out[name] = value if name not in out or value in out[name] else f"{out[name]} {value}"
    return out


_ATTRIBUTE_LINE = re.compile(r"^\s*([^:：=]{1,64}?)\s*[:：=]\s*(.+?)\s*$")


def parse_attributes(text: str) -> dict[str, str]:
    """Product attributes written one per line or separated by ``|``/``;`` ("Material: Metal", "材质: 铜")
    → canonical 申报要素 (``ValueError`` naming the line without a key)."""
    out: dict[str, str] = {}
    for part in re.split(r"[\n|｜;；]", text or ""):
        if not part.strip():
            continue
        match = _ATTRIBUTE_LINE.match(part)
        if match is None:
            raise ValueError(f"attribute '{part.strip()[:40]}' has no ':' between name and value")
        out[match.group(1)] = match.group(2)
    return canonical_elements(out)


def missing_elements(chapter: str | None, declared: Mapping[str, str] | None, *, has_name: bool = True) -> list[str]:
    """Required keys for ``chapter`` that ``declared`` does not give (the product text itself counts as 品名)."""
    given = {canonical_key(k) for k, v in (declared or {}).items() if str(v).strip()}
    if has_name:
        given.add("品名")
    return [k for k in required_elements(chapter) if k not in given]
