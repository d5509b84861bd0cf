"""Structured JSON logs: one object per line, every line carrying the request id of the request that caused it.

The request id lives in a context variable, so log lines written from worker threads (model calls run in a thread
pool, and anyio copies the context into it) carry the same id as the access line.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

request_id_var: ContextVar[str | None] = ContextVar("clearance_request_id", default=None)

# An incoming id is echoed only when it is short and plain: a header must not inject text into logs or responses.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

# uvicorn adds an ANSI-coloured copy of each message; a JSON log has no use for it.
_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "color_message"}


def new_request_id(incoming: str | None = None) -> str:
    if incoming and _SAFE_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request id and any ``extra=`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id_var.get()
        if rid:
            out["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and key != "request_id" and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            # Tracebacks go to the server log only; responses never carry them.
            out["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO", stream=None) -> None:
    """Route clearance's and uvicorn's loggers through one JSON handler on stderr (idempotent)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.set_name("clearance-json")
    for name in ("clearance", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [h for h in logger.handlers if h.get_name() != "clearance-json"] + [handler]
        logger.setLevel(level)
        logger.propagate = False
    # Our middleware writes the access line (with request id, route and model versions); uvicorn's would duplicate it.
    logging.getLogger("uvicorn.access").disabled = True
