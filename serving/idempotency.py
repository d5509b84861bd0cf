"""``Idempotency-Key`` for the API's writes: the header (or a body field) turned into a store :class:`Once`.

How a write route applies it (reviewer decisions do; shipment outcomes and imports take the same two steps):

1. ``once = request_once(request, payload=body.model_dump(mode="json", exclude={"idempotency_key"}),
   body_key=body.idempotency_key)``: None without a key; 422 naming the field for a malformed key or a header and
   a field that disagree. The owner is the API key's name, so keys of different clients never collide.
2. Do the write through ``data.store.idempotency.run_once(engine, "<scope>", once.owner, once.key,
   once.request_hash, work)`` where ``work(session)`` writes its rows through the session it is given and returns
   the JSON answer; ``replayed`` is True on a resend. Mark the response with :func:`mark_replayed`.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from data.errors import InvalidInputError, field_error
from data.store.idempotency import Once, check_key, fingerprint

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


def request_key(request: Request, body_key: str | None = None) -> str | None:
    header = request.headers.get(HEADER)
    if header is not None and body_key is not None and header != body_key:
        raise InvalidInputError("the Idempotency-Key header and the idempotency_key field differ",
                                details=[field_error("body.idempotency_key", "differs from the Idempotency-Key header")])
    if header is not None:
        return check_key(header, f"header.{HEADER}")
    return check_key(body_key, "body.idempotency_key")


def owner_of(request: Request, fallback: str = "") -> str:
    """Whose keys these are: the API key's (or console session's) name; ``fallback`` with auth disabled."""
    return getattr(request.state, "api_key_name", None) or fallback or "anonymous"


def request_once(request: Request, *, payload: Any, body_key: str | None = None, owner: str | None = None) -> Once | None:
    key = request_key(request, body_key)
    if key is None:
        return None
    return Once(owner=owner or owner_of(request), key=key, request_hash=fingerprint(payload))


def mark_replayed(response: Response, replayed: bool) -> Response:
    if replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return response
