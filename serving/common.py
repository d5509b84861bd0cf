"""Shapes shared by every domain router: the version map, batch item errors, text limits."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from data.errors import field_error
from models.names import DELAY, HS_SUGGESTER, RISK

MODEL_VERSIONS_EXAMPLE = {DELAY: 2, HS_SUGGESTER: 3, RISK: 2}


class BatchItemError(BaseModel):
    index: int = Field(description="Position of the item in the request list")
    field: str = Field(description="Path of the bad field, e.g. body.shipments.3.waybill.channel")
    reason: str
    type: str = "invalid"


def text_problems(value: str | None, path: str, max_chars: int) -> list[dict[str, Any]]:
    if value is None:
        return []
    if len(value) > max_chars:
        return [field_error(path, f"text is {len(value)} characters long; the limit is {max_chars}")]
    return []


def elements_problems(elements: dict[str, str] | None, path: str, max_chars: int) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []
    for key, value in (elements or {}).items():
        problems += text_problems(key, f"{path}.{key}", max_chars)
        problems += text_problems(value, f"{path}.{key}", max_chars)
    return problems
