"""Input limits as schema constraints: the field types of every request that carries product texts.

The numbers are the settings' (:class:`data.settings.InputLimits`, ``settings.limits``). A request schema declares
its text and declaration elements with :data:`ProductText` and :data:`DeclaredElements`, and is validated with the
app's limits as pydantic validation context: routes take their body through :func:`limited_body`, batch items are
validated one by one with the same context, the console validates its form through the same schema. So a text over
the limit is a field error of that item (``body.items.1.text``), never a failed batch, and the API, the console and
the feedback path apply the same limits. Validated without a context (a model built in code, a test), the default
limits apply.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, ValidationError, ValidationInfo
from pydantic_core import PydanticCustomError

from data.settings import InputLimits

M = TypeVar("M", bound=BaseModel)
DEFAULT_LIMITS = InputLimits()


def limits_of(info: ValidationInfo) -> InputLimits:
    """The limits a validation runs under: its context, else the defaults."""
    return info.context if isinstance(info.context, InputLimits) else DEFAULT_LIMITS


def _max_chars(limit: str, what: str) -> Callable[[str, ValidationInfo], str]:
    """An after-validator: the string has at most ``InputLimits.<limit>`` characters."""

    def check(value: str, info: ValidationInfo) -> str:
        max_length = getattr(limits_of(info), limit)
        if len(value) > max_length:
            raise PydanticCustomError("string_too_long", "{what} is {length} characters long; the limit is {max_length}",
                                      {"what": what, "length": len(value), "max_length": max_length})
        return value

    return check


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must contain non-whitespace text")
    return value


def _element_count(value: Any, info: ValidationInfo) -> Any:
    # Before the items are validated: a body with a million elements is refused without looking at each.
    limit = limits_of(info).elements
    if isinstance(value, dict) and len(value) > limit:
        raise PydanticCustomError("too_long", "{length} declaration elements; the limit is {max_length}",
                                  {"length": len(value), "max_length": limit})
    return value


ProductText = Annotated[str, Field(min_length=1), AfterValidator(_not_blank),
                        AfterValidator(_max_chars("text_chars", "text"))]
"""A product description: not blank, at most ``max_text_chars`` characters."""

DeclaredElements = Annotated[dict[Annotated[str, AfterValidator(_max_chars("element_key_chars", "element name"))],
                                  Annotated[str, AfterValidator(_max_chars("element_value_chars", "value"))]],
                             BeforeValidator(_element_count)]
"""Declaration elements (申报要素), name → value: at most ``max_elements``, names and values within their limits."""


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def surrogate_paths(value: Any, loc: tuple = ()) -> list[tuple]:
    """Locations of strings (keys included) holding a lone surrogate (JSON ``"\\udfff"``): valid JSON, but no text
    that UTF-8, and therefore the store, can hold."""
    if isinstance(value, str):
        return [loc] if _has_surrogate(value) else []
    found: list[tuple] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and _has_surrogate(key):
                found.append((*loc, key.encode("utf-8", "backslashreplace").decode("ascii")))
            found.extend(surrogate_paths(item, (*loc, key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found.extend(surrogate_paths(item, (*loc, i)))
    return found


def _refuse_surrogates(data: Any, prefix: tuple) -> None:
    bad = surrogate_paths(data, prefix)
    if bad:
        raise RequestValidationError([{"type": "string_unicode", "loc": loc,
                                       "msg": "not valid Unicode text (a lone surrogate escape)", "input": None}
                                      for loc in bad[:50]])


def validate_limited(model: type[M], data: Any, limits: InputLimits, prefix: tuple = ("body",)) -> M:
    """``data`` (JSON bytes/text or Python objects) as ``model`` under ``limits``; a RequestValidationError whose
    locations start with ``prefix`` otherwise (the API's one 422 body). Strings with lone surrogates are refused
    wherever they are (the store would fail on them)."""
    if isinstance(data, (bytes, bytearray, str)):
        data = _json_document(data, prefix)
    _refuse_surrogates(data, prefix)
    try:
        return model.model_validate(data, context=limits)
    except ValidationError as exc:
        raise RequestValidationError([{**err, "loc": (*prefix, *err["loc"])}
                                      for err in exc.errors(include_url=False, include_input=False)]) from None


def _json_document(raw: bytes | bytearray | str, prefix: tuple) -> Any:
    # Parsed as FastAPI parses the bodies it validates itself, so a malformed body reads the same on every route.
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RequestValidationError([{"type": "json_invalid", "loc": (*prefix, exc.pos), "msg": "JSON decode error",
                                       "input": {}, "ctx": {"error": exc.msg}}]) from None
    except UnicodeDecodeError as exc:
        raise RequestValidationError([{"type": "json_invalid", "loc": prefix, "msg": f"not UTF-8 text: {exc.reason}",
                                       "input": {}}]) from None
    except RecursionError:
        raise RequestValidationError([{"type": "json_invalid", "loc": prefix, "msg": "JSON nested too deeply",
                                       "input": {}}]) from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits (Python's conversion limit)
        raise RequestValidationError([{"type": "json_invalid", "loc": prefix, "msg": f"JSON not accepted: {exc}"[:200],
                                       "input": {}}]) from None


def limited_body(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    """A dependency: the request body as ``model``, validated with the app's input limits.

    FastAPI validates bodies without a pydantic context, so routes whose schemas use these types read the body
    through this instead; ``documented_body`` puts the schema back in the OpenAPI document.
    """

    async def body(request: Request) -> M:
        return validate_limited(model, await request.body(), request.app.state.settings.limits)

    body.__name__ = f"{model.__name__}_body"
    return body
