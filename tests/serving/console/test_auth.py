"""Console sign-in: sessions backed by API keys, scopes per page, CSRF tokens on every form, sign-out.

``sign_in`` is also used by the other console test modules that run with auth on.
"""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from data.rulings.repository import RulingRepository
from data.store.keys import create_key, revoke_key
from data.store.reviews import list_reviews
from serving.console.auth import SESSION_COOKIE, ConsoleRoute
from serving.console.sessions import SessionStore
from tests.serving.console.fakes import (
    FakeClock,
    FixedScorer,
    OverlaySuggester,
    StaticHolder,
    build_console,
    console_app,
    csrf_token,
    page_context,
    seed_rulings,
    sign_in,
    stored,
)


def _set_cookie(response, name: str) -> str:
    """The raw Set-Cookie header for ``name`` (attributes included)."""
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return header
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers.get_list('set-cookie')}")


@pytest.fixture
def console(settings, nomenclature, clock):
    assert settings.auth_disabled is False
    app, holder = build_console(settings, nomenclature, clock=clock)
    with TestClient(app) as client:
        client.scorer = holder.current().scorer
        yield client


# --------------------------------------------------------------------------------------------------- no session
@pytest.mark.parametrize("path", ["/", "/classify", "/shipments", "/models", "/reviews", "/reviews.csv",
                                  "/shipments/template.csv", "/shipments/example.json",
                                  "/models/plots/abc/plots/p.png", "/classify?saved=1&lang=en"])
def test_every_page_redirects_to_sign_in_without_a_session(console, path):
    response = console.get(path, follow_redirects=False)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/signin?next=")
    # The way back is remembered: after sign-in the user lands where they were going.
    assert parse_qs(urlsplit(location).query)["next"] == [path]


@pytest.mark.parametrize("path", ["/classify", "/classify/feedback", "/shipments"])
def test_posts_without_a_session_are_redirected_and_do_nothing(console, path):
    before = stored(console)
    response = console.post(path, data={"text": "不锈钢真空保温杯", "json": "[]", "override_code": "7323.93.00",
                                        "reason": "r", "reviewer": "x", "context": "{}"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/signin?next=")
    assert stored(console) == before and console.scorer.calls == []


def test_static_files_and_the_sign_in_page_need_no_session(console):
    assert console.get("/console-static/console.css").status_code == 200
    page = console.get("/signin?lang=en")
    assert page.status_code == 200
    # Same layout as the rest of the console, without the page navigation that would only bounce back here.
    assert '<link rel="stylesheet" href="/console-static/console.css">' in page.text
    assert 'data-testid="signin-form"' in page.text and 'type="password"' in page.text
    assert 'data-testid="nav-classify"' not in page.text
    assert "Paste the personal API key" in page.text
    zh = console.get("/signin?lang=zh")
    assert "API 密钥" in zh.text and "登录" in zh.text


def test_a_route_without_an_access_rule_cannot_be_built():
    router = APIRouter(route_class=ConsoleRoute)
    with pytest.raises(TypeError, match="declares no access rule"):
        @router.get("/forgotten")
        async def forgotten() -> dict:
            return {}


# ------------------------------------------------------------------------------------------------------ sign-in
def _signin_token(client) -> str:
    return re.search(r'name="signin_token" value="([^"]+)"', client.get("/signin").text).group(1)


@pytest.mark.parametrize("key, status, needle", [
    ("clr_000000000000_not-a-real-secret", 401, "unknown, malformed or revoked"),
    ("hello", 401, "unknown, malformed or revoked"),
    ("   ", 422, "Paste your API key"),
])
def test_bad_key_is_refused_with_a_message(console, key, status, needle):
    create_key(console.app.state.engine, "someone", ["suggest"])
    response = console.post("/signin?lang=en", data={"api_key": key, "signin_token": _signin_token(console),
                                                     "next": "/classify"}, follow_redirects=False)
    assert response.status_code == status
    assert 'data-testid="error"' in response.text and needle in response.text and "<code>api_key</code>" in response.text
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert len(console.app.state.console_sessions) == 0
    assert console.get("/classify", follow_redirects=False).status_code == 303  # still signed out
    zh = console.post("/signin?lang=zh", data={"api_key": key, "signin_token": _signin_token(console)})
    assert zh.status_code == status and ("无效" in zh.text or "请粘贴" in zh.text)


def test_a_revoked_key_cannot_sign_in(console):
    _, key = create_key(console.app.state.engine, "gone", ["suggest"])
    revoke_key(console.app.state.engine, "gone")
    response = console.post("/signin?lang=en", data={"api_key": key, "signin_token": _signin_token(console)})
    assert response.status_code == 401 and "revoked" in response.text


def test_good_key_signs_in_with_a_safe_cookie(console):
    _, key = create_key(console.app.state.engine, "王芳", ["suggest"])
    response = console.post("/signin", data={"api_key": key, "signin_token": _signin_token(console),
                                             "next": "/classify?lang=en"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/classify?lang=en"
    raw = _set_cookie(response, SESSION_COOKIE)
    cookie = SimpleCookie()
    cookie.load(raw)
    morsel = cookie[SESSION_COOKIE]
    assert morsel["httponly"] and morsel["samesite"].lower() == "strict" and morsel["path"] == "/"
    assert not morsel["secure"]  # plain http here: a Secure cookie would never come back
    assert 0 < int(morsel["max-age"]) <= 8 * 3600
    # The cookie is a random token, not the key and not the key id.
    assert key not in raw and key.split("_")[1] not in raw
    page = console.get("/classify?lang=en")
    assert page.status_code == 200 and 'data-testid="signed-in-as">王芳<' in page.text
    assert 'data-testid="signout"' in page.text
    assert page.headers["x-frame-options"] == "DENY" and "no-store" in page.headers["cache-control"]


def test_the_cookie_is_secure_over_https(settings, nomenclature):
    app = console_app(settings, StaticHolder(OverlaySuggester(seed_rulings(), nomenclature),
                                             FixedScorer(nomenclature)))
    with TestClient(app, base_url="https://testserver") as client:
        _, key = create_key(app.state.engine, "tls", ["suggest"])
        response = client.post("/signin", data={"api_key": key, "signin_token": _signin_token(client)},
                               follow_redirects=False)
        assert response.status_code == 303
        assert "secure" in _set_cookie(response, SESSION_COOKIE).lower()


def test_sign_in_form_must_come_from_this_console(console):
    """Login CSRF: a cross-site form has neither the SameSite=Strict sign-in cookie nor its value."""
    _, key = create_key(console.app.state.engine, "attacker", ["suggest"])
    response = console.post("/signin?lang=en", data={"api_key": key}, follow_redirects=False)
    assert response.status_code == 403 and "<code>signin_token</code>" in response.text
    forged = console.post("/signin", data={"api_key": key, "signin_token": "guessed"}, follow_redirects=False)
    assert forged.status_code == 403
    assert len(console.app.state.console_sessions) == 0


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/signin"])
def test_sign_in_never_redirects_off_site(console, target):
    _, key = create_key(console.app.state.engine, "nav", ["suggest"])
    response = console.post("/signin", data={"api_key": key, "signin_token": _signin_token(console),
                                             "next": target}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_signed_in_user_visiting_sign_in_goes_on(console):
    sign_in(console, "suggest")
    response = console.get("/signin?next=/reviews", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/reviews"


def test_each_sign_in_gets_a_new_session(console):
    sign_in(console, "suggest", name="a")
    first = console.cookies.get(SESSION_COOKIE)
    _, key = create_key(console.app.state.engine, "b", ["suggest"])
    console.cookies.set("clearance_signin", "same-in-cookie-and-form", path="/signin")
    response = console.post("/signin", data={"api_key": key, "signin_token": "same-in-cookie-and-form"},
                            follow_redirects=False)
    assert response.status_code == 303
    second = console.cookies.get(SESSION_COOKIE)
    assert first != second and len(console.app.state.console_sessions) == 1  # the old one was ended
    assert 'data-testid="signed-in-as">b<' in console.get("/classify").text


# ------------------------------------------------------------------------------------------------------- scopes
@pytest.mark.parametrize("scopes, path, needed", [
    (("score",), "/classify", "suggest"),
    (("admin",), "/classify", "suggest"),
    (("suggest",), "/shipments", "score"),
    (("suggest",), "/shipments/template.csv", "score"),
    (("score",), "/reviews", "suggest admin"),
    (("score",), "/reviews.csv", "suggest admin"),
])
def test_wrong_scope_is_a_403_page_naming_the_scope(console, scopes, path, needed):
    sign_in(console, *scopes)
    page = console.get(path + "?lang=en")
    assert page.status_code == 403
    assert f'data-needed="{needed}"' in page.text and "needs an API key with the scope" in page.text
    assert [m for m in re.findall(r'data-testid="needed-scope">(\w+)<', page.text)] == needed.split()
    assert "Not allowed" in page.text


def test_wrong_scope_post_writes_nothing(console):
    sign_in(console, "score")
    before = stored(console)
    response = console.post("/classify/feedback", data={"context": "{}", "override_code": "7323.93.00",
                                                        "reason": "r"})
    assert response.status_code == 403 and stored(console) == before
    sign_in(console, "suggest", name="no-score")
    assert console.post("/shipments", data={"json": "[]"}).status_code == 403
    assert console.scorer.calls == []


@pytest.mark.parametrize("scopes, allowed", [
    (("suggest",), {"/classify", "/reviews", "/models"}),
    (("score",), {"/shipments", "/models"}),
    (("admin",), {"/reviews", "/models", "/reviews.csv"}),
])
def test_each_scope_opens_its_pages(console, scopes, allowed):
    sign_in(console, *scopes)
    for path in allowed:
        assert console.get(path).status_code == 200, path


@pytest.mark.parametrize("scopes, start", [(("score",), "/shipments"), (("admin",), "/models")])
def test_start_page_sends_a_key_without_suggest_where_it_may_go(console, scopes, start):
    sign_in(console, *scopes)
    response = console.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == start


# ------------------------------------------------------------------------------------------------------- sessions
def test_revoked_key_loses_its_session(console, clock):
    sign_in(console, "suggest", name="leaver")
    assert console.get("/classify").status_code == 200
    revoke_key(console.app.state.engine, "leaver")
    clock.now += 2.5  # past the 2 s verification cache, as for the API
    response = console.get("/classify?lang=en", follow_redirects=False)
    assert response.status_code == 303 and "reason=revoked" in response.headers["location"]
    assert SESSION_COOKIE in response.headers.get("set-cookie", "")  # the dead cookie is cleared
    page = console.get(response.headers["location"] + "&lang=en")
    assert "has been revoked" in page.text
    assert len(console.app.state.console_sessions) == 0


def test_sessions_have_an_idle_and_an_absolute_lifetime(console, clock):
    sign_in(console, "suggest")
    clock.now += 3000  # active within the idle limit...
    assert console.get("/classify").status_code == 200
    clock.now += 3601  # ...then idle for over an hour
    response = console.get("/classify", follow_redirects=False)
    assert response.status_code == 303 and "reason=expired" in response.headers["location"]
    sign_in(console, "suggest", name="busy")
    for _ in range(8):  # busy all day...
        clock.now += 3500
        assert console.get("/models").status_code == 200
    clock.now += 1000  # ...the session still ends after one shift (8 h)
    response = console.get("/classify", follow_redirects=False)
    assert response.status_code == 303 and "reason=expired" in response.headers["location"]


def test_forged_session_cookie_is_not_a_session(console):
    console.cookies.set(SESSION_COOKIE, "made-up-token")
    response = console.get("/classify", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/signin")


# ---------------------------------------------------------------------------------------------------------- CSRF
def test_feedback_without_csrf_token_is_refused_and_nothing_written(console):
    sign_in(console, "suggest", name="王芳", use_header=False)
    token = csrf_token(console)
    page = console.post("/classify", data={"text": "不锈钢真空保温杯 600ml 户外", "csrf_token": token})
    assert page.status_code == 200 and f'name="csrf_token" value="{token}"' in page.text
    form = {"context": page_context(page.text), "override_code": "7323.93.00", "reason": "锅具类"}
    before = stored(console)
    for bad in ({}, {"csrf_token": ""}, {"csrf_token": token[:-2] + "xx"}):
        refused = console.post("/classify/feedback?lang=en", data={**form, **bad}, follow_redirects=False)
        assert refused.status_code == 403 and "<code>csrf_token</code>" in refused.text
        assert stored(console) == before
    zh = console.post("/classify/feedback?lang=zh", data=form)
    assert zh.status_code == 403 and "安全令牌" in zh.text
    saved = console.post("/classify/feedback", data={**form, "csrf_token": token}, follow_redirects=False)
    assert saved.status_code == 303 and stored(console) == (before[0] + 1, before[1] + 1)


def test_another_sessions_token_does_not_count(console):
    sign_in(console, "suggest", name="first", use_header=False)
    stale = csrf_token(console)
    sign_in(console, "suggest", name="second", use_header=False)
    assert csrf_token(console) != stale
    assert console.post("/classify", data={"text": "保温杯", "csrf_token": stale}).status_code == 403


@pytest.mark.parametrize("path, data", [("/classify", {"text": "不锈钢真空保温杯"}), ("/shipments", {"json": "[]"})])
def test_every_console_form_needs_the_token(console, path, data):
    sign_in(console, "suggest", "score", use_header=False)
    response = console.post(path + "?lang=en", data=data)
    assert response.status_code == 403 and "<code>csrf_token</code>" in response.text
    assert 'data-testid="result"' not in response.text and console.scorer.calls == []


def test_token_header_works_for_scripted_clients(console):
    sign_in(console, "suggest")  # sends X-CSRF-Token
    assert console.post("/classify", data={"text": "不锈钢真空保温杯"}).status_code == 200


def test_signed_in_decisions_are_recorded_under_the_key_name(console):
    sign_in(console, "suggest", name="Li Lei")
    page = console.post("/classify?lang=en", data={"text": "不锈钢真空保温杯 600ml 户外"})
    # The reviewer is the key's name, shown, not a field anybody can type someone else's name into.
    assert 'data-testid="reviewer-key">Li Lei<' in page.text and 'name="reviewer"' not in page.text
    console.post("/classify/feedback", data={"context": page_context(page.text), "reviewer": "王芳",
                                             "override_code": "7323.93.00", "reason": "锅具类"})
    review = list_reviews(console.app.state.engine, limit=1)[0]
    assert review.reviewer == "Li Lei"
    assert RulingRepository(console.app.state.engine).get(review.ruling_id).reviewer == "Li Lei"
    assert "clearance_reviewer" not in console.cookies


# ------------------------------------------------------------------------------------------------------ sign-out
def test_sign_out_ends_the_session_on_the_server(console):
    sign_in(console, "suggest", use_header=False)
    token = csrf_token(console)
    old_cookie = console.cookies.get(SESSION_COOKIE)
    # Without the token a cross-site form cannot sign anybody out.
    refused = console.post("/signout", follow_redirects=False)
    assert refused.status_code == 403 and console.get("/classify").status_code == 200
    response = console.post("/signout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/signin?reason=signed_out"
    assert SESSION_COOKIE in response.headers.get("set-cookie", "")
    assert len(console.app.state.console_sessions) == 0
    # A copy of the old cookie is worth nothing now.
    console.cookies.set(SESSION_COOKIE, old_cookie)
    assert console.get("/classify", follow_redirects=False).status_code == 303
    assert "signed out" in console.get("/signin?reason=signed_out&lang=en").text


# ------------------------------------------------------------------------------------------------- auth disabled
def test_auth_disabled_console_is_open_as_before(settings, nomenclature):
    settings = settings.model_copy(update={"auth_disabled": True})
    app = console_app(settings, StaticHolder(OverlaySuggester(seed_rulings(), nomenclature),
                                             FixedScorer(nomenclature)))
    with TestClient(app) as client:
        page = client.get("/classify")
        assert page.status_code == 200 and 'name="csrf_token"' not in page.text
        assert 'data-testid="signout"' not in page.text
        result = client.post("/classify", data={"text": "不锈钢真空保温杯"})  # no token needed
        assert result.status_code == 200 and 'name="reviewer"' in result.text  # the typed reviewer name, as before
        response = client.get("/signin?next=/reviews", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/reviews"


def test_session_store_keeps_tokens_hashed_and_bounded(store_url):
    from sqlalchemy import text

    from data.store.db import open_store

    engine = open_store(store_url)
    record, _ = create_key(engine, "bulk", ["suggest"])
    clock = FakeClock()
    store = SessionStore(engine, max_sessions=3, clock=clock)
    tokens = []
    for _ in range(4):
        clock.now += 1
        tokens.append(store.create(record)[0])
    assert len(store) == 3
    with engine.connect() as conn:
        stored = set(conn.execute(text("SELECT token_digest FROM console_sessions")).scalars())
    assert len(stored) == 3 and not stored & set(tokens)  # only digests are kept
    assert store.resolve(tokens[0]).value == "unknown"  # the oldest made room
    assert store.resolve(tokens[-1]).name == "bulk"


def test_a_session_made_by_one_process_works_in_another_and_sign_out_ends_it_everywhere(store_url):
    """Two SessionStores over one store stand for two replicas: they share sessions, expiry and sign-out."""
    from data.store.db import open_store

    engine = open_store(store_url)
    record, _ = create_key(engine, "shared", ["suggest", "admin"])
    clock = FakeClock()
    one, two = (SessionStore(engine, clock=clock) for _ in range(2))
    token, session = one.create(record)
    seen = two.resolve(token)
    assert seen.name == "shared" and seen.csrf_token == session.csrf_token
    clock.now += 3000  # active on replica two within the idle limit...
    assert two.resolve(token).name == "shared"
    clock.now += 3000  # ...so replica one still accepts it: the touch went to the store, not to one process
    assert one.resolve(token).name == "shared"
    one.end(token)
    assert two.resolve(token).value == "unknown"
    token, _ = two.create(record)
    clock.now += 3601
    assert one.resolve(token).value == "expired"
