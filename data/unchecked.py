"""Pydantic instances from values the code itself produced, without re-validating them.

Batch scoring builds ~5 result objects per shipment (findings, delay, risk, probabilities, the result), tens of
thousands per batch. ``model_construct`` resolves defaults and aliases per field and costs more than the rest of a
row's result assembly; these values come from our own checks and models (fixed labels, floats), so validation would
only re-check our own output. Every field must be given.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_new = object.__new__
_set_dict = object.__setattr__
# BaseModel's own slots, set through their descriptors: half the cost of object.__setattr__ by name (measured).
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def build_unchecked(cls: type[M], values: dict[str, Any]) -> M:
    """``cls`` with exactly ``values`` as its fields (the dict becomes the instance's ``__dict__``)."""
    obj = _new(cls)
    _set_dict(obj, "__dict__", values)
    _set_fields_set(obj, set(values))
    _set_extra(obj, None)
    _set_private(obj, None)
    return obj
