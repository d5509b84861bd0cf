"""Who may use the console: a signed-in session (unless auth is disabled), a scope per page, a CSRF token per form.

Every console route declares its rule with :func:`requires` (``@requires("score")``; ``@requires()``: any valid key)
or :func:`public`; :class:`ConsoleRoute` refuses to build a route that declares neither, so a new page cannot be
exposed by forgetting a line. The check runs before the endpoint, so a refused request never reads the form, runs a
model or writes anything. With ``settings.auth_disabled`` (local development) every rule admits everybody and forms
carry no token, exactly as the console behaved before it had sign-in.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from data.errors import ForbiddenError, field_error
from serving.console.render import page_path, render, signed_in
from serving.console.sessions import Ended, SessionStore, SignedIn

SESSION_COOKIE = "clearance_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"  # for scripted clients; a cross-site page cannot set custom headers without CORS

_RULE = "__console_access__"
_PUBLIC = object()
_store_lock = threading.Lock()


def requires(*scopes: str) -> Callable:
    """Admit keys holding any one of ``scopes``; with none, any valid key."""

    def mark(endpoint: Callable) -> Callable:
        setattr(endpoint, _RULE, tuple(scopes))
        return endpoint

    return mark


def public(endpoint: Callable) -> Callable:
    setattr(endpoint, _RULE, _PUBLIC)
    return endpoint


def auth_disabled(request: Request) -> bool:
    return bool(request.app.state.settings.auth_disabled)


def session_store(app: Any) -> SessionStore:
    """The app's console sessions, created on first use with the API authenticator's cache time."""
    store = getattr(app.state, "console_sessions", None)
    if store is None:
        with _store_lock:
            store = getattr(app.state, "console_sessions", None)
            if store is None:
                ttl = getattr(getattr(app.state, "authenticator", None), "cache_ttl_s", 2.0)
                store = SessionStore(app.state.engine, key_cache_ttl_s=ttl)
                app.state.console_sessions = store
    return store


def safe_next(target: str | None) -> str:
    """Where to go after sign-in: a path on this site only (no ``//host``, no scheme), else the start page."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path.startswith("/signin"):
        return "/"
    return target


def signin_url(next_path: str, reason: Ended | str | None = None) -> str:
    params = {"next": next_path}
    if reason:
        params["reason"] = reason.value if isinstance(reason, Ended) else reason
    return f"/signin?{urlencode(params)}"


def cookie_secure(request: Request) -> bool:
    """Secure over https, or when ``settings.secure_cookies`` says a TLS-terminating proxy sits in front (the service
    then sees plain http); not otherwise: a plain-http loopback or intranet deployment would never get it back."""
    return request.url.scheme == "https" or bool(getattr(request.app.state.settings, "secure_cookies", False))


def set_session_cookie(response: Response, request: Request, token: str, lifetime_s: float) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=int(lifetime_s), path="/", httponly=True, samesite="strict",
                        secure=cookie_secure(request))


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=cookie_secure(request))


async def current_session(request: Request) -> SignedIn | Ended:
    # The store may read the key table (cache miss), so off the event loop, like the API authenticator.
    return await run_in_threadpool(session_store(request.app).resolve, request.cookies.get(SESSION_COOKIE))


def forbidden_page(request: Request, needed: tuple[str, ...]) -> Response:
    user = signed_in(request)
    return render(request, "forbidden.html", status=403, needed=list(needed),
                  granted=list(user.scopes) if user is not None else [])


async def admit(request: Request, scopes: tuple[str, ...]) -> Response | None:
    """None when the request may proceed (the user is then in ``request.state.console_user``), else the answer."""
    request.state.console_user = None
    if auth_disabled(request):
        return None
    state = await current_session(request)
    if isinstance(state, Ended):
        had_cookie = SESSION_COOKIE in request.cookies
        if request.method == "GET":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        else:  # a form post cannot be replayed through a redirect; come back to its page
            target = page_path(request.url.path)
        response = RedirectResponse(signin_url(target, state if had_cookie else None), status_code=303)
        if had_cookie:
            clear_session_cookie(response, request)
        return response
    request.state.console_user = state
    request.state.api_key_name = state.name  # the access log names who did it, as for API calls
    if scopes and not any(scope in state.scopes for scope in scopes):
        return forbidden_page(request, scopes)
    return None


def check_csrf(request: Request, form: Any | None = None) -> None:
    """Refuse a state-changing post whose token (form field or header) is not this session's."""
    if auth_disabled(request):
        return  # no session to bind a token to; local development only
    user = signed_in(request)
    sent = request.headers.get(CSRF_HEADER)
    if not sent and form is not None:
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if user is None or not sent or not hmac.compare_digest(sent.encode("utf-8"), user.csrf_token.encode("utf-8")):
        raise ForbiddenError("The form's security token is missing or does not match your session, so nothing was "
                             "done. Reload the page and submit again.", code="csrf_failed",
                             details=[field_error(CSRF_FIELD, "missing or does not match this session")])


class ConsoleRoute(APIRoute):
    """An APIRoute that applies the endpoint's access rule before the endpoint (and its body parsing) runs."""

    work_kind = "console"  # its model calls wait in the console's lane (serving.admission), not the API's

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()
        rule = getattr(self.endpoint, _RULE, None)
        if rule is None:
            raise TypeError(f"console route {self.path} declares no access rule: add @requires(...) or @public")
        if rule is _PUBLIC:
            return handler

        async def guarded(request: Request) -> Response:
            denied = await admit(request, rule)
            return denied if denied is not None else await handler(request)

        return guarded
