"""Input limits as schema constraints: the settings' values through validation context, the defaults without one."""

from __future__ import annotations

import pytest
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from data.errors import pydantic_details
from data.settings import InputLimits, Settings
from serving.hs.schemas import SuggestBatchItem, SuggestRequest
from serving.limits import validate_limited


def _fields(exc: ValidationError) -> list[tuple[str, str]]:
    return [(d["field"], d["type"]) for d in pydantic_details(exc.errors(include_url=False, include_input=False))]


def test_the_settings_are_the_limits():
    settings = Settings(max_text_chars=3000, max_elements=3, max_element_key_chars=8, max_element_value_chars=100)
    assert settings.limits == InputLimits(text_chars=3000, elements=3, element_key_chars=8, element_value_chars=100)
    # A copy with other values (how tests and the CLI override settings) has those limits, not the original's.
    assert settings.model_copy(update={"max_text_chars": 10}).limits.text_chars == 10


@pytest.mark.parametrize("field, value", [("max_elements", 51), ("max_element_key_chars", 65),
                                          ("max_element_value_chars", 1001), ("max_text_chars", 20_001),
                                          ("max_text_chars", 0)])
def test_limits_stay_within_what_a_ruling_can_store(field, value):
    # A reviewed item becomes a ruling: the request limits may not admit what the library would refuse.
    with pytest.raises(ValidationError):
        Settings(**{field: value})


def test_context_limits_apply_and_defaults_without_one():
    text = "保" * 2500
    with pytest.raises(ValidationError) as err:
        SuggestRequest.model_validate({"text": text})  # no context: the default 2,000
    assert _fields(err.value) == [("text", "string_too_long")]
    assert SuggestRequest.model_validate({"text": text}, context=InputLimits(text_chars=3000)).text == text
    with pytest.raises(ValidationError) as err:
        SuggestRequest.model_validate({"text": "cup"}, context=InputLimits(text_chars=2))
    assert "3 characters long; the limit is 2" in err.value.errors()[0]["msg"]


def test_element_limits_name_the_element():
    limits = InputLimits(elements=2, element_key_chars=3, element_value_chars=5)
    with pytest.raises(ValidationError) as err:
        SuggestBatchItem.model_validate({"text": "cup", "declared_elements": {"材质": "不锈钢不锈钢", "容量规格": "1"}},
                                        context=limits)
    assert _fields(err.value) == [("declared_elements.材质", "string_too_long"),
                                  ("declared_elements.容量规格.[key]", "string_too_long")]
    many = {str(i): "x" for i in range(10_000)}
    with pytest.raises(ValidationError) as err:
        SuggestBatchItem.model_validate({"text": "cup", "declared_elements": many}, context=limits)
    assert _fields(err.value) == [("declared_elements", "too_long")]  # one error, not one per element


def test_validate_limited_reports_under_body_like_fastapi():
    with pytest.raises(RequestValidationError) as err:
        validate_limited(SuggestRequest, b'{"text": "   "}', InputLimits())
    assert [e["loc"] for e in err.value.errors()] == [("body", "text")]
    with pytest.raises(RequestValidationError) as err:
        validate_limited(SuggestRequest, b'{"text": "cup"', InputLimits())
    assert err.value.errors()[0]["type"] == "json_invalid" and err.value.errors()[0]["loc"] == ("body", 14)
    assert validate_limited(SuggestRequest, '{"text": "cup", "top_k": 3}', InputLimits()).top_k == 3


@pytest.mark.parametrize("raw", [b"1" * 5000, b'{"a":' * 3000 + b"1" + b"}" * 3000, b'{"text": "\\udfff"}'])
def test_hostile_json_is_a_field_error_not_a_crash(raw):
    with pytest.raises(RequestValidationError) as err:
        validate_limited(SuggestRequest, raw, InputLimits())
    assert err.value.errors()[0]["loc"][0] == "body"
