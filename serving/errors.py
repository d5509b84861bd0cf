"""One error body for every failure: ``{"error": {"code", "message", "details"}}``.

Handlers for domain errors, request validation (422 with field paths), HTTP errors (404/405/413/…) and anything
unexpected (500). The body of an unexpected error names only the request id: the traceback goes to the log, never to
the caller, because it leaks internal paths and code.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from data.errors import ClearanceError, pydantic_details
from serving.logging import request_id_var

log = logging.getLogger("clearance.errors")

_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    406: "not_acceptable", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type",
    422: "invalid_input", 429: "too_many_requests", 503: "unavailable",
}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def validation_error_response(errors: list[dict[str, Any]], prefix: tuple = ()) -> JSONResponse:
    details = pydantic_details(errors, prefix)
    noun = "problem" if len(details) == 1 else "problems"
    fields = ", ".join(d["field"] for d in details[:5])
    return JSONResponse(error_body("invalid_input", f"request is invalid ({len(details)} {noun}: {fields})", details),
                        status_code=422)


def internal_error_response() -> JSONResponse:
    rid = request_id_var.get()
    return JSONResponse(
        error_body("internal_error", "internal error; the server log has the details under this request id",
                   {"request_id": rid}),
        status_code=500,
    )


def retry_after_header(seconds: float | None) -> dict[str, str]:
    return {} if seconds is None else {"Retry-After": str(max(1, math.ceil(seconds)))}


async def _clearance_error(request: Request, exc: ClearanceError) -> JSONResponse:
    if exc.status >= 500:
        log.warning("request failed: %s", exc.message, extra={"code": exc.code})
    return JSONResponse(exc.to_body(), status_code=exc.status, headers=retry_after_header(exc.retry_after))


async def _request_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    return validation_error_response(list(exc.errors()))


async def _pydantic_validation(request: Request, exc: ValidationError) -> JSONResponse:
    # A model built inside a service from caller data (e.g. a batch item) failed: still the caller's input.
    return validation_error_response(exc.errors(include_url=False, include_input=False))


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if exc.status_code == 404 and message == "Not Found":
        message = f"no route for {request.method} {request.url.path}"
    if exc.status_code == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    details = None
    if exc.status_code == 400 and message == "There was an error parsing the body":
        # FastAPI's own body parsing (bytes that are not UTF-8, a broken form): say where, as a 422 would.
        message = "the request body cannot be read: it is not UTF-8 JSON (or not a valid form)"
        details = [{"field": "body", "reason": "not UTF-8 JSON text"}]
    return JSONResponse(error_body(code, message, details), status_code=exc.status_code, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc)
    return internal_error_response()


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ClearanceError, _clearance_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(ValidationError, _pydantic_validation)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
