"""Batch bodies: validate the envelope as a whole but each item on its own, so one bad item costs only itself.

A routing system that sends 10,000 shipments with one malformed phone number must get 9,999 scores and one error
naming ``body.shipments.1234.order.consignee.phone`` — not a 422 for everything. Parsing runs in the caller's worker
thread (large batches take a noticeable time to validate; that must not happen on the event loop).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import from_json

from data.errors import InvalidInputError, field_error, pydantic_details

T = TypeVar("T", bound=BaseModel)


@dataclass
class ParsedBatch(Generic[T]):
    envelope: dict[str, Any]
    items: list[tuple[int, T]]  # (index in the request, validated item)
    errors: list[dict[str, Any]]  # {"index", "field", "reason", "type"}
    total: int


def parse_envelope(body: bytes, *, items_field: str, max_items: int,
                   envelope_adapter: TypeAdapter | None = None, context: Any = None) -> tuple[Any, list[Any]]:
    """(validated envelope, the raw items): the body parsed once; items are left for the caller to validate one by one
    (the shipment scorer validates its own documents, so parsing them here too would do it twice)."""
    try:
        document = from_json(body)  # pydantic-core's parser: ~1.5x faster than json.loads on large batches
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError("request body is not valid JSON",
                                details=[field_error("body", f"JSON decode error: {exc}")]) from None
    if not isinstance(document, dict):
        raise InvalidInputError("request body must be a JSON object", details=[field_error("body", "not an object")])
    raw_items = document.get(items_field)
    if not isinstance(raw_items, list):
        raise InvalidInputError(f"'{items_field}' must be a list",
                                details=[field_error(f"body.{items_field}", "field required (a list)")])
    _check_count(len(raw_items), f"body.{items_field}", max_items, f"'{items_field}' is empty")
    envelope: Any = {k: v for k, v in document.items() if k != items_field}
    if envelope_adapter is not None:
        try:
            envelope = envelope_adapter.validate_python(envelope, context=context)
        except ValidationError as exc:
            raise InvalidInputError("request is invalid", details=pydantic_details(
                exc.errors(include_url=False, include_input=False), ("body",))) from None
    return envelope, raw_items


def split_lines(body: bytes, *, max_items: int) -> list[bytes]:
    """NDJSON (``application/x-ndjson``): one item per line, blank lines ignored. Lines stay raw bytes: whoever
    validates an item parses it, and a line that is not JSON costs only its own item."""
    if body.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark written by some editors and exporters
        body = body[3:]
    lines = [line for line in body.splitlines() if line and not line.isspace()]
    _check_count(len(lines), "body", max_items, "the body has no lines")
    return lines


def _check_count(n: int, field: str, max_items: int, empty: str) -> None:
    if not n:
        raise InvalidInputError(empty, details=[field_error(field, "give at least one item")])
    if n > max_items:
        raise InvalidInputError(f"too many items: {n} > {max_items}",
                                details=[field_error(field, f"at most {max_items} items per request")])


def parse_batch(body: bytes, *, items_field: str, item_adapter: TypeAdapter, max_items: int,
                envelope_adapter: TypeAdapter | None = None, context: Any = None) -> ParsedBatch:
    """``context``: pydantic validation context for the envelope and every item (e.g. the input limits)."""
    envelope, raw_items = parse_envelope(body, items_field=items_field, max_items=max_items,
                                         envelope_adapter=envelope_adapter, context=context)
    items, errors = [], []
    for index, raw in enumerate(raw_items):
        try:
            items.append((index, item_adapter.validate_python(raw, context=context)))
        except ValidationError as exc:
            for detail in pydantic_details(exc.errors(include_url=False, include_input=False),
                                             ("body", items_field, index)):
                errors.append({"index": index, **detail})
    return ParsedBatch(envelope=envelope, items=items, errors=errors, total=len(raw_items))
