"""What every console page needs: the served models or a 503 page, the settings, the store, the signed-in
reviewer, and the posted form read within the size limit.

Each page group keeps its routes in a module of its own (``classify``, ``models_page``, ``reviews``, ``shipments_page``) on a router built by :func:`page_router`;
``serving.console.router`` assembles them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request

from data.errors import InvalidInputError, UnavailableError, field_error
from serving.console.auth import ConsoleRoute
from serving.console.render import signed_in

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"

REVIEWER_COOKIE = "clearance_reviewer"
PAGE_SIZE = 100


def page_router() -> APIRouter:
    """A router for console pages: out of the OpenAPI document (the JSON feedback route, mounted by the app, is
    documented), and every route must declare who may use it (``serving.console.auth``: ConsoleRoute refuses a
    route that does not)."""
    return APIRouter(include_in_schema=False, route_class=ConsoleRoute)


def served_or_503(request: Request):
    """The served models for this request, or UnavailableError (rendered as a 503 page)."""
    holder = getattr(request.app.state, "holder", None)
    if holder is None:
        raise UnavailableError("no model holder is configured")
    return holder.current()


def settings_of(request: Request):
    return request.app.state.settings


def engine_of(request: Request):
    return request.app.state.engine


def nomenclature_for(request: Request, served: Any) -> Any | None:
    for owner in (getattr(served, "suggester", None), getattr(served, "scorer", None)):
        nomenclature = getattr(owner, "nomenclature", None)
        if nomenclature is not None:
            return nomenclature
    cached = getattr(request.app.state, "console_nomenclature", None)
    if cached is None:
        from data.nomenclature import Nomenclature

        cached = Nomenclature.load(engine_of(request))
        request.app.state.console_nomenclature = cached
    return cached


def reviewer_name(request: Request) -> str:
    user = signed_in(request)
    return user.name if user is not None else unquote(request.cookies.get(REVIEWER_COOKIE, ""))


async def read_form(request: Request, max_bytes: int | None = None):
    """The posted form; a body over the limit is refused before it is parsed."""
    limit = max_bytes or settings_of(request).max_request_bytes
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise InvalidInputError(f"The upload is too large ({int(length):,} bytes; the limit is {limit:,})",
                                code="too_large", details=[field_error("body", f"larger than {limit} bytes")])
    return await request.form(max_part_size=limit)


def form_texts(form, name: str) -> list[str]:
    return [v for v in form.getlist(name) if isinstance(v, str)]


def form_text(form, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


