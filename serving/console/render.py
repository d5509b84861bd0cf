"""Rendering a console page: the shared layout context (language, signed-in user, CSRF token) and error boxes."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.requests import Request

from data.errors import ClearanceError
from serving.console import service
from serving.console.i18n import LANG_COOKIE, LANGS, error_headline, pick, resolve_lang, translator

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals["fmt"] = service.format_code

COOKIE_MAX_AGE = 365 * 24 * 3600
PAGES = ("/classify", "/shipments", "/models", "/reviews", "/kpi")


def page_path(path: str) -> str:
    """The GET address of the page a path belongs to (a POST result page must not be re-posted)."""
    for page in PAGES:
        if path.startswith(page):
            return page
    return "/"


def lang_switch_url(request: Request, lang: str) -> str:
    other = "en" if lang == "zh" else "zh"
    params = {k: v for k, v in request.query_params.items() if k != "lang"}
    params["lang"] = other
    path = request.url.path if request.method == "GET" else page_path(request.url.path)
    return f"{path}?{urlencode(params)}"


def signed_in(request: Request):
    """The ``SignedIn`` user of this request, or None (auth disabled, or a public page)."""
    return getattr(request.state, "console_user", None)


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    lang = resolve_lang(request)
    t = translator(lang)
    context.setdefault("error", None)
    context.setdefault("page", "")
    if context["error"]:
        err = context["error"]
        context["error"] = {**err, "message": error_headline(lang, err.get("code") or "", err["message"])}
    user = signed_in(request)
    context.update(lang=lang, t=t, pick=lambda en, zh: pick(lang, en, zh),
                   lang_switch_url=lang_switch_url(request, lang), user=user,
                   csrf_token=user.csrf_token if user is not None else "")
    response = templates.TemplateResponse(request, template, context, status_code=status)
    # One-click accept buttons must not be framed by another site (clickjacking), whatever the cookies do.
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    if user is not None:  # a signed-in page (review log, results) stays out of shared caches and the back button
        response.headers["Cache-Control"] = "private, no-store"
    if request.query_params.get("lang") in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=COOKIE_MAX_AGE, samesite="lax")
    return response


def error_box(exc: ClearanceError, code: str | None = None) -> dict[str, Any]:
    """What the error box shows; ``code`` overrides the key of the Chinese headline (see ``i18n.ERRORS_ZH``)."""
    details = exc.details if isinstance(exc.details, list) else []
    return {"message": exc.message, "code": code or exc.code, "details": details}
