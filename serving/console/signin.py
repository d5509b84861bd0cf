"""Sign-in and sign-out pages: staff paste an API key; the console keeps a session that stands for it.

The key is verified against the key store (``verify_key``: hashed, constant-time) and forgotten; the browser only
gets a random session token (see ``serving.console.sessions``). The sign-in form carries its own double-submit token
(a SameSite=Strict cookie equal to a hidden field) so that another site cannot sign a browser in under the attacker's
key ("login CSRF") and have the victim's decisions recorded under that name.
"""

from __future__ import annotations

import hmac
import logging
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from data.errors import ClearanceError, ForbiddenError, InvalidInputError, UnauthorizedError, field_error
from data.store.audit import record_event
from data.store.keys import verify_key
from serving.console.auth import (
    SESSION_COOKIE,
    ConsoleRoute,
    auth_disabled,
    check_csrf,
    clear_session_cookie,
    cookie_secure,
    current_session,
    public,
    requires,
    safe_next,
    session_store,
    set_session_cookie,
)
from serving.console.render import error_box, render
from serving.console.sessions import SignedIn
from serving.errors import retry_after_header
from serving.ratelimit import key_prefix

log = logging.getLogger(__name__)

SIGNIN_COOKIE = "clearance_signin"
SIGNIN_FIELD = "signin_token"
MAX_SIGNIN_BYTES = 16 * 1024  # a key is ~60 characters; nothing legitimate comes near this
SIGNIN_COOKIE_AGE = 3600
REASONS = {"expired", "revoked", "unknown", "signed_out"}

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)


def _signin_page(request: Request, *, next_path: str, status: int = 200, error: dict | None = None,
                 reason: str | None = None) -> HTMLResponse:
    token = request.cookies.get(SIGNIN_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "signin.html", status=status, page="signin", next_path=next_path,
                      signin_token=token, reason=reason if reason in REASONS else None, error=error)
    response.set_cookie(SIGNIN_COOKIE, token, max_age=SIGNIN_COOKIE_AGE, path="/signin", httponly=True,
                        samesite="strict", secure=cookie_secure(request))
    return response


@router.get("/signin", response_class=HTMLResponse)
@public
async def signin_form(request: Request) -> Response:
    next_path = safe_next(request.query_params.get("next"))
    if auth_disabled(request):
        return RedirectResponse(next_path, status_code=303)
    if isinstance(await current_session(request), SignedIn):
        return RedirectResponse(next_path, status_code=303)
    return _signin_page(request, next_path=next_path, reason=request.query_params.get("reason"))


@router.post("/signin", response_class=HTMLResponse)
@public
async def signin_submit(request: Request) -> Response:
    next_path = safe_next(request.query_params.get("next"))
    if auth_disabled(request):
        return RedirectResponse(next_path, status_code=303)
    try:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_SIGNIN_BYTES:
            raise InvalidInputError("The sign-in form is too large", code="too_large",
                                    details=[field_error("api_key", f"larger than {MAX_SIGNIN_BYTES} bytes")])
        form = await request.form(max_part_size=MAX_SIGNIN_BYTES)
        next_path = safe_next(form.get("next") if isinstance(form.get("next"), str) else next_path)
        cookie = request.cookies.get(SIGNIN_COOKIE, "")
        sent = form.get(SIGNIN_FIELD)
        if not cookie or not isinstance(sent, str) or not hmac.compare_digest(cookie.encode(), sent.encode()):
            raise ForbiddenError("The sign-in form expired or was not sent from this console; try again",
                                 code="signin_form_expired",
                                 details=[field_error(SIGNIN_FIELD, "missing or does not match this browser")])
        key = form.get("api_key")
        key = key.strip() if isinstance(key, str) else ""
        if not key:
            raise InvalidInputError("Paste your API key to sign in", code="empty_key",
                                    details=[field_error("api_key", "empty")])
        client = request.client.host if request.client else None
        limiter = getattr(request.app.state, "auth_limiter", None)
        if limiter is not None:
            limiter.check(client, key_prefix(key))
        record = await run_in_threadpool(verify_key, request.app.state.engine, key)
        if record is None:
            log.warning("console sign-in refused: unknown, malformed or revoked key", extra={"client": client})
            if limiter is not None:
                await run_in_threadpool(limiter.failed, client, key_prefix(key), door="console", reason="unknown")
            raise UnauthorizedError("This API key is unknown, malformed or revoked", code="bad_key",
                                    details=[field_error("api_key", "not an active key")])
    except ClearanceError as exc:
        page = _signin_page(request, next_path=next_path, status=exc.status, error=error_box(exc))
        page.headers.update(retry_after_header(exc.retry_after))
        return page
    store = session_store(request.app)
    store.end(request.cookies.get(SESSION_COOKIE))  # a fresh token on every sign-in: no session fixation
    token, _ = store.create(record)
    log.info("console sign-in", extra={"key_id": record.key_id, "key_name": record.name})
    await run_in_threadpool(record_event, request.app.state.engine, "signin", actor=record.name, client=client,
                            key_prefix=record.key_id, details={"door": "console"})
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(response, request, token, store.lifetime_s)
    response.delete_cookie(SIGNIN_COOKIE, path="/signin")
    return response


@router.post("/signout")
@requires()
async def signout(request: Request) -> Response:
    if auth_disabled(request):
        return RedirectResponse("/", status_code=303)
    try:
        check_csrf(request, await request.form(max_part_size=MAX_SIGNIN_BYTES))
    except ClearanceError as exc:
        return render(request, "forbidden.html", status=exc.status, needed=[], granted=[], error=error_box(exc))
    session_store(request.app).end(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/signin?reason=signed_out", status_code=303)
    clear_session_cookie(response, request)
    return response
