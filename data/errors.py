"""One base error for the whole product.

Every domain error subclasses :class:`ClearanceError`; the API maps them all to one JSON body
``{"error": {"code", "message", "details"}}`` and the CLI prints them without a traceback.
"""

from __future__ import annotations

from typing import Any


class ClearanceError(Exception):
    """A failure a caller can act on: a stable machine code, an HTTP status and a human message."""

    code: str = "error"
    status: int = 400

    #: Seconds after which a retry may succeed (sent as ``Retry-After``); None: no such hint.
    retry_after: float | None = None

    def __init__(self, message: str, *, details: Any = None, code: str | None = None, status: int | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.details = details
        if retry_after is not None:
            self.retry_after = retry_after
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidInputError(ClearanceError):
    """Input that parsed but is not acceptable; ``details`` lists ``{"field", "reason"}`` items."""

    code = "invalid_input"
    status = 422


class NotFoundError(ClearanceError):
    code = "not_found"
    status = 404


class ConflictError(ClearanceError):
    code = "conflict"
    status = 409


class PayloadTooLargeError(ClearanceError):
    code = "payload_too_large"
    status = 413


class UnauthorizedError(ClearanceError):
    code = "unauthorized"
    status = 401


class ForbiddenError(ClearanceError):
    code = "forbidden"
    status = 403


class UnavailableError(ClearanceError):
    """A dependency (registry, model, store) is not ready; health checks answer 503 with it."""

    code = "unavailable"
    status = 503


class TooManyRequestsError(ClearanceError):
    """This caller sent too much: too many requests at once for its key, or too many failed sign-ins."""

    code = "too_many_requests"
    status = 429
    retry_after = 1.0


class OverloadedError(UnavailableError):
    """The service is full (its queue for this kind of work is) or shutting down: retry after ``retry_after``."""

    code = "overloaded"
    retry_after = 1.0


class EncoderMismatchError(ConflictError):
    """An index was built with another encoder than the one offered to load it."""

    code = "encoder_mismatch"


def field_error(field: str, reason: str) -> dict[str, str]:
    """The one shape of a per-field problem inside ``details``."""
    return {"field": field, "reason": reason}


def error_path(loc: tuple | list, default: str = "") -> str:
    """``("body", "items", 3, "text")`` → ``"body.items.3.text"``: the one path syntax of every error, the path a
    caller can find in its own JSON (list positions are plain numbers, never ``[3]``)."""
    return ".".join(str(part) for part in loc) or default


def pydantic_details(errors: list[dict[str, Any]], prefix: tuple = (), default: str = "body") -> list[dict[str, Any]]:
    """pydantic errors → ``[{"field", "reason", "type"}]`` under ``prefix``; the offending input is not echoed (it
    can be huge)."""
    out = []
    for err in errors:
        loc = tuple(prefix) + tuple(err.get("loc", ()))
        reason = err.get("msg", "invalid")
        if err.get("type") == "json_invalid":  # the location is a character offset, not a field
            reason = f"{reason} (at character {loc[-1]})" if len(loc) > 1 else reason
            loc = loc[:1]
        out.append({"field": error_path(loc, default), "reason": reason, "type": err.get("type", "invalid")})
    return out
