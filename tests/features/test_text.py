"""Text normalisation shared by the ruling library and the queries."""

from __future__ import annotations

from features.text import compose_text, normalise_text, text_language


def test_full_width_folds_to_half_width_and_lowercase():
    assert normalise_text("ＬＥＤ灯泡　Ｅ２７ ９Ｗ") == "led灯泡 e27 9w"


def test_whitespace_runs_and_control_characters_collapse():
    assert normalise_text("  不锈钢\t\n保温杯\u200b  500ML \x07") == "不锈钢 保温杯 500ml"


def test_empty_and_none_give_empty_string():
    assert normalise_text("") == ""
    assert normalise_text(None) == ""  # type: ignore[arg-type]


def test_han_characters_pass_through_unchanged():
    assert normalise_text("真空保温杯") == "真空保温杯"


def test_compose_takes_element_values_not_keys():
    text = compose_text("保温杯", "双层真空", {"材质": "不锈钢", "用途": "保温", "品牌": "Thermos"})
    assert text == "保温杯 双层真空 不锈钢 保温 thermos"
    assert "材质" not in text and "用途" not in text


def test_compose_skips_non_descriptive_elements_and_blank_parts():
    assert compose_text("Lamp", "", {"GTIN": "0123456789012", "material": "Glass"}) == "lamp glass"


def test_language_of_composed_text():
    assert text_language(compose_text("不锈钢真空保温杯 500ml")) == "zh"
    assert text_language(compose_text("stainless steel vacuum flask")) == "en"
