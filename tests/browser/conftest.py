"""Browser-test fixtures: Debian's chromium through Playwright, and the service on a free loopback port.

Nothing downloads a browser: ``/usr/bin/chromium`` comes from the distribution (``.ci/run`` installs it). The service
runs in-process under uvicorn (a thread), with auth disabled and a temporary data directory holding a tiny real
HS suggester built from the demo ruling generator with the real encoder.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    reason = None
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is not installed (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "playwright is not installed"
    if reason:
        for item in items:
            if here in Path(str(item.fspath)).parents:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


# Module scope, not session: Playwright's sync API keeps an asyncio loop running in the main thread while it is open,
# and every later test that calls asyncio.run() would fail with "cannot be called from a running event loop".
@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory) -> Path:
    """A real HSSuggester (real encoder, demo rulings), saved the way a served bundle is."""
    from data.nomenclature import Nomenclature
    from demo.rulings import generate_demo_rulings
    from models.encoders import load_encoder
    from training.hs import build_suggester

    encoder = load_encoder("use", threads=int(os.environ.get("CLEARANCE_THREADS", "2")))
    rulings = generate_demo_rulings(n=400, seed=7)
    suggester = build_suggester(rulings, encoder=encoder, nomenclature=Nomenclature.default(), progress=False)
    return suggester.save(tmp_path_factory.mktemp("bundle") / "hs-suggester")


class LiveServer:
    """uvicorn serving one app in a daemon thread; ``stop()`` shuts it down like a process restart would."""

    def __init__(self, app):
        import uvicorn

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, name="console-live-server", daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the console server did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def serve() -> Iterator:
    """``serve(app)`` starts a live server; every server started is stopped at the end of the test."""
    started: list[LiveServer] = []

    def start(app) -> LiveServer:
        server = LiveServer(app).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def tiny_scorer():
    """A real ShipmentScorer: delay and risk LightGBM models trained on a small generated history."""
    from data.nomenclature import Nomenclature
    from demo.history import history_frame
    from models.advisories import load_rules
    from models.names import DELAY, RISK
    from models.scoring import ShipmentScorer
    from training.shipment_models import fit_shipment_models

    frame = history_frame(n=3000, seed=42)
    models = fit_shipment_models(frame, num_threads=int(os.environ.get("CLEARANCE_THREADS", "2")), seed=0,
                                 baselines=False)
    return ShipmentScorer(models[DELAY].native, models[RISK].native, load_rules(), Nomenclature.default())
