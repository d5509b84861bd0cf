"""Two service replicas (two uvicorn processes) on one PostgreSQL store and one MLflow registry on PostgreSQL.

What a load balancer in front of them must be able to rely on: reviewer decisions sent through both at once are all
stored, once each; a console session made on one replica works on the other (and a sign-out on one ends it on
both); a champion moved once in the registry is picked up by both replicas without a restart.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from data.settings import Settings
from data.store.db import open_store
from data.store.keys import create_key
from data.store.reviews import count_reviews, list_reviews
from serving.console.auth import SESSION_COOKIE
from tests.serving.conftest import register_fake
from tests.serving.fakes import DELAY, HS, RISK

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(base: str, proc: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"replica exited ({proc.returncode}): {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"replica {base} not ready: {log.read_text()[-3000:]}")


@pytest.fixture
def replicas(pg_url, pg_mlflow_settings, tmp_path):
    """Two replicas over one fresh store; the registry (MLflow on PostgreSQL) has v1 of each served model."""
    settings = Settings(data_dir=tmp_path / "var", database_url=pg_url, reload_interval_s=1.0,
                        mlflow_tracking_uri=pg_mlflow_settings.mlflow_tracking_uri,
                        mlflow_artifact_root=pg_mlflow_settings.mlflow_artifact_root)
    open_store(pg_url)
    for name in (HS, DELAY, RISK):
        register_fake(settings, name, f"{name}-v1")
    procs, bases = [], []
    for i in range(2):
        port = _free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "CLEARANCE_DATA_DIR": str(tmp_path / f"replica{i}"),
               "CLEARANCE_DATABASE_URL": pg_url, "CLEARANCE_MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
               "CLEARANCE_MLFLOW_ARTIFACT_ROOT": str(settings.mlflow_artifact_root),
               "CLEARANCE_RELOAD_INTERVAL_S": "1", "CLEARANCE_SCORE_WORKERS": "0", "CLEARANCE_THREADS": "1"}
        log = tmp_path / f"replica{i}.log"
        procs.append((subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tests.serving.replica_app:create", "--factory", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=env, stdout=log.open("w"),
            stderr=subprocess.STDOUT), log))
        bases.append(f"http://127.0.0.1:{port}")
    try:
        for base, (proc, log) in zip(bases, procs):
            _wait_ready(base, proc, log)
        yield settings, bases
    finally:
        for proc, _ in procs:
            proc.terminate()
        for proc, _ in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


def _sign_in(base: str, key: str) -> str:
    """Sign in through the console form of ``base``; returns the session cookie's token."""
    with httpx.Client(base_url=base, timeout=30) as browser:
        form = browser.get("/signin")
        token = re.search(r'name="signin_token" value="([^"]+)"', form.text).group(1)
        response = browser.post("/signin", data={"api_key": key, "signin_token": token, "next": "/models"})
        assert response.status_code == 303, response.text
        return response.cookies[SESSION_COOKIE]


def _signed_in(base: str, session: str) -> bool:
    # A signed-in browser asking for the sign-in form is sent on to where it was going.
    response = httpx.get(f"{base}/signin?next=/models", cookies={SESSION_COOKIE: session}, timeout=30)
    return response.status_code == 303 and response.headers["location"] == "/models"


def _served_hs_version(base: str, key: str) -> int:
    response = httpx.get(f"{base}/v1/models", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    header = response.headers.get("X-Model-Versions", "")
    versions = dict(item.split("=") for item in header.split(",") if item)
    return int(versions[HS])


def test_two_replicas_share_decisions_sessions_and_the_champion(replicas):
    settings, bases = replicas
    engine = open_store(settings.database_url)
    _, key = create_key(engine, "reviewer-bot", ["suggest", "admin"])
    _, staff_key = create_key(engine, "wang.fang", ["suggest", "score", "admin"])

    # Reviewer decisions through both replicas at once: 8 writers, 5 decisions each, every one stored exactly once.
    def decide(writer: int) -> list[int]:
        base = bases[writer % 2]
        codes = []
        with httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {key}"}) as api:
            for i in range(5):
                body = {"text": f"stainless steel vacuum flask writer {writer} item {i}", "action": "override",
                        "suggested_code": "961700", "final_code": "7323930000", "reason": "kitchenware"}
                codes.append(api.post("/v1/hs/feedback", json=body).status_code)
        return codes

    with ThreadPoolExecutor(8) as pool:
        statuses = [s for batch in pool.map(decide, range(8)) for s in batch]
    assert statuses == [201] * 40
    assert count_reviews(engine) == 40
    texts = {r.query_text for r in list_reviews(engine, limit=100)}
    assert len(texts) == 40 and len({r.ruling_id for r in list_reviews(engine, limit=100)}) == 40

    # Sign-ins on both replicas at once; each session works on the other replica.
    with ThreadPoolExecutor(4) as pool:
        sessions = list(pool.map(lambda i: (i % 2, _sign_in(bases[i % 2], staff_key)), range(4)))
    assert len({token for _, token in sessions}) == 4
    for made_on, token in sessions:
        assert _signed_in(bases[1 - made_on], token) and _signed_in(bases[made_on], token)
    assert not _signed_in(bases[0], "forged-token")
    made_on, token = sessions[0]
    with httpx.Client(base_url=bases[made_on], timeout=30, cookies={SESSION_COOKIE: token}) as browser:
        page = browser.get("/models")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        assert browser.post("/signout", data={"csrf_token": csrf}).status_code == 303
    assert not _signed_in(bases[1 - made_on], token)  # signed out on one replica: gone on both

    # The champion is moved once, in the registry; both replicas pick it up on their next poll.
    assert [_served_hs_version(b, key) for b in bases] == [1, 1]
    register_fake(settings, HS, f"{HS}-v2")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and [_served_hs_version(b, key) for b in bases] != [2, 2]:
        time.sleep(0.5)
    assert [_served_hs_version(b, key) for b in bases] == [2, 2]
