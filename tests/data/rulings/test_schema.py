"""Ruling schema: code normalisation, declared elements, language detection, content ids."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pydantic import ValidationError

from data.rulings.language import detect_language, normalise_language
from data.rulings.schema import MAX_NAME_CHARS, Ruling, RulingSource, normalise_hs_code, parse_declared_elements


@pytest.mark.parametrize("raw, expected", [
    ("8516.71.00", "85167100"), ("8516 71", "851671"), ("851671", "851671"), ("8516-71-0000", "8516710000"),
    ("８５１６．７１", "851671"), (" 9617.00.1900 ", "9617001900"), (851671, "851671"), ("010121", "010121"),
])
def test_normalise_accepts_common_spellings(raw, expected):
    assert normalise_hs_code(raw) == expected


@pytest.mark.parametrize("raw, reason", [
    ("8516.7", "5 digits"), ("8516710", "7 digits"), ("851671000", "9 digits"), ("85AB71", "non-digit"),
    ("", "empty HS code"), ("7712345", "7 digits"), ("771234", "unknown chapter '77'"), ("001234", "unknown chapter"),
])
def test_normalise_rejects_with_reason(raw, reason):
    with pytest.raises(ValueError, match=reason):
        normalise_hs_code(raw)


@given(st.text(alphabet="0123456789", min_size=6, max_size=10), st.sampled_from([".", " ", "-", ""]))
def test_normalise_property_separators_do_not_matter(digits, sep):
    spaced = sep.join(digits[i:i + 2] for i in range(0, len(digits), 2))
    try:
        plain = normalise_hs_code(digits)
    except ValueError as exc:
        with pytest.raises(ValueError):
            normalise_hs_code(spaced)
        assert "digits" in str(exc) or "chapter" in str(exc)
        return
    assert normalise_hs_code(spaced) == plain == digits
    assert len(plain) in (6, 8, 10)


@given(st.one_of(st.text(max_size=20), st.integers(), st.floats(allow_nan=True), st.none(), st.booleans()))
@hsettings(max_examples=300)
def test_normalise_property_never_crashes_otherwise(raw):
    try:
        out = normalise_hs_code(raw)
    except ValueError:
        return
    assert out.isdigit() and out.isascii() and len(out) in (6, 8, 10)


def test_declared_elements_formats():
    assert parse_declared_elements("品名:保温杯|材质：不锈钢｜用途: 家用 ") == {"品名": "保温杯", "材质": "不锈钢", "用途": "家用"}
    assert parse_declared_elements('{"品名": "书架", "层数": 5}') == {"品名": "书架", "层数": "5"}
    assert parse_declared_elements({"品牌": "", "型号": "XR-1"}) == {"型号": "XR-1"}  # empty values dropped
    assert parse_declared_elements(None) == {} == parse_declared_elements("  ")
    with pytest.raises(ValueError, match="no ':'"):
        parse_declared_elements("品名 保温杯")
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_declared_elements("{broken")


def test_ruling_defaults_and_validation():
    r = Ruling(product_name="  不锈钢真空保温杯 500ml ", hs_code="9617.00.19", source="declaration")
    assert r.product_name == "不锈钢真空保温杯 500ml"
    assert r.hs_code == "96170019" and r.hs6 == "961700"
    assert r.language == "zh" and r.source is RulingSource.declaration
    assert r.ruling_id.startswith("r") and len(r.ruling_id) == 24
    assert r.created_at.tzinfo is not None
    # same content, same id; the source is part of the identity
    assert Ruling(product_name="不锈钢真空保温杯  500ml", hs_code="96170019", source="declaration").ruling_id == r.ruling_id
    assert Ruling(product_name="不锈钢真空保温杯 500ml", hs_code="96170019", source="reviewer").ruling_id != r.ruling_id
    assert Ruling(product_name="x", hs_code="851671", source="declaration", ruling_id="R-1").ruling_id == "R-1"


@pytest.mark.parametrize("kwargs, field, reason", [
    ({"product_name": "   "}, "product_name", "empty text"),
    ({"product_name": "x" * (MAX_NAME_CHARS + 1)}, "product_name", "too long"),
    ({"hs_code": "8516.7"}, "hs_code", "5 digits"),
    ({"source": "rumour"}, "source", "unknown source"),
    ({"language": "fr"}, "language", "unknown language"),
    ({"ruling_date": "31.12.2024"}, "ruling_date", "invalid date"),
    ({"product_name": {"zh": "杯"}}, "product_name", "must be a string"),
])
def test_ruling_errors_name_field_and_reason(kwargs, field, reason):
    base = {"product_name": "LED bulb", "hs_code": "853952", "source": "customs_ruling"}
    with pytest.raises(ValidationError) as info:
        Ruling(**{**base, **kwargs})
    err = info.value.errors()[0]
    assert err["loc"][0] == field and reason in err["msg"]


@pytest.mark.parametrize("text, lang", [
    ("不锈钢真空保温杯 500ml", "zh"), ("LED灯泡 E27 9W", "zh"), ("USB-C 数据线 1m 快充", "zh"),
    ("Stainless steel vacuum flask 500ml", "en"), ("XR-2031 LED bulb", "en"),
    ("Bluetooth耳机 wireless earbuds", "mixed"), ("Nordic 实木书架 solid wood bookshelf", "mixed"),
    ("", "en"), ("12345", "en"), ("保温杯", "zh"), ("ｓｔａｉｎｌｅｓｓ ｓｔｅｅｌ ｐｏｔ", "en"),
])
def test_detect_language(text, lang):
    assert detect_language(text) == lang


@given(st.text(max_size=200))
def test_detect_language_total(text):
    assert detect_language(text) in ("zh", "en", "mixed")


def test_normalise_language_aliases():
    assert normalise_language("zh-CN") == "zh" and normalise_language("English") == "en"
    with pytest.raises(ValueError):
        normalise_language("klingon")
