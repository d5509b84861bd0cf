"""Request and response bodies of the HS routes. Answers are the suggester's own shapes plus ``model_versions``.

Texts and declaration elements are limited by the settings (``serving.limits``): validate requests with the app's
``settings.limits`` as context.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from models.suggester.answer import SuggestionAnswer, ValidationAnswer
from serving.common import MODEL_VERSIONS_EXAMPLE, BatchItemError
from serving.limits import DeclaredElements, ProductText

_ELEMENTS_EXAMPLE = {"品名": "保温杯", "材质": "不锈钢", "容量": "500ml", "品牌": "无品牌"}
_TEXT = "Product description, Chinese and/or English; at most `max_text_chars` characters (setting, default 2000)"
_ELEMENTS = ("Declaration elements (申报要素), name → value; at most `max_elements` (50) of them, names up to "
             "`max_element_key_chars` (64), values up to `max_element_value_chars` (1000) characters")


class SuggestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"text": "不锈钢真空保温杯 500ml", "declared_elements": _ELEMENTS_EXAMPLE, "top_k": 5},
        {"text": "LED desk lamp with USB charging port, 5W", "top_k": 3},
    ]})

    text: ProductText = Field(description=_TEXT)
    declared_elements: DeclaredElements | None = Field(None, description=_ELEMENTS)
    top_k: int = Field(5, ge=1, le=20, description="How many candidate codes to return")


class SuggestBatchItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: ProductText = Field(description=_TEXT)
    declared_elements: DeclaredElements | None = Field(None, description=_ELEMENTS)


class SuggestBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[SuggestBatchItem] = Field(min_length=1, description="At most `max_suggest_batch` (1000) items")
    top_k: int = Field(5, ge=1, le=20)


class SuggestBatchOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    top_k: int = Field(5, ge=1, le=20)


class ValidateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"text": "不锈钢真空保温杯 500ml", "declared_code": "9617.00", "declared_elements": _ELEMENTS_EXAMPLE},
    ]})

    text: ProductText = Field(description=_TEXT)
    declared_code: str = Field(min_length=2, max_length=20, description="The HS code the declarant intends to use")
    declared_elements: DeclaredElements | None = Field(None, description=_ELEMENTS)
    declaration_date: date | None = Field(None, description="Date of the declaration (default: today): the code is "
                                                            "checked against the HS edition in force on that day")


class SuggestResponse(SuggestionAnswer):
    model_versions: dict[str, int] = Field(description="Registry versions of the models that answered")

    model_config = ConfigDict(json_schema_extra={"examples": [{"model_versions": MODEL_VERSIONS_EXAMPLE}]})


class SuggestBatchResponse(BaseModel):
    results: list[SuggestionAnswer | None] = Field(description="One answer per item, null where the item was invalid")
    errors: list[BatchItemError]
    model_versions: dict[str, int]

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "results": [None], "errors": [{"index": 0, "field": "body.items.0.text", "reason": "String should have at "
                                       "least 1 character", "type": "string_too_short"}],
        "model_versions": MODEL_VERSIONS_EXAMPLE}]})


class ValidateResponse(ValidationAnswer):
    model_versions: dict[str, int]

    model_config = ConfigDict(json_schema_extra={"examples": [{"model_versions": MODEL_VERSIONS_EXAMPLE}]})
