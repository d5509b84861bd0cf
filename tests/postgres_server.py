"""A real, throwaway PostgreSQL server for tests and benchmarks: ``initdb`` + ``pg_ctl`` in a temporary folder.

Why a private server and not a shared one: every run starts from nothing (no leftovers between runs, no password to
configure), on a free port, so parallel runs on one machine never meet. Each test gets a fresh database on it
(``CREATE DATABASE`` is a file copy of ``template0``: ~0.1 s).

The server runs as an unprivileged user when we are root (PostgreSQL refuses to run as root): ``postgres`` (the user
Debian's package creates) through ``runuser``. ``CLEARANCE_TEST_POSTGRES_URL`` points the tests at an existing server
instead (an admin URL whose user may create databases), e.g. a compose service.

Where the binaries are missing, PostgreSQL tests skip, except when ``CI=1`` or ``CLEARANCE_REQUIRE_POSTGRES=1``:
then a missing server fails them, so CI cannot pass without having run them.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

_USER = "clearance"  # the superuser initdb creates; trust auth on loopback only


def required() -> bool:
    """Whether a missing PostgreSQL must fail the tests instead of skipping them."""
    return any(os.environ.get(name, "").strip() not in ("", "0", "false") for name in
               ("CI", "CLEARANCE_REQUIRE_POSTGRES"))


def find_bindir() -> Path | None:
    """The folder with ``initdb`` and ``pg_ctl``: on PATH, or Debian's ``/usr/lib/postgresql/<major>/bin``."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name),
                            reverse=True):
        if (Path(candidate) / "initdb").is_file() and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PostgresServer:
    """A running server; ``admin_url`` connects as its superuser to the ``postgres`` database."""

    admin_url: str
    datadir: Path | None = None
    bindir: Path | None = None
    run_as: str | None = None

    def url(self, database: str) -> str:
        base = self.admin_url.rsplit("/", 1)[0]
        return f"{base}/{database}"

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its SQLAlchemy URL (psycopg 3 driver)."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(_libpq(self.admin_url), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\'')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(_libpq(self.admin_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self.datadir is None or self.bindir is None:
            return  # an external server is not ours to stop
        _run(self.run_as, [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "-w", "stop"],
             check=False)
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _run(user: str | None, argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
    if user is not None:
        argv = ["runuser", "-u", user, "--", *argv]
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=120)


def start(*, durable: bool = False) -> PostgresServer:
    """Start a throwaway server (or use ``CLEARANCE_TEST_POSTGRES_URL``); raises RuntimeError when none can run.

    ``durable`` keeps PostgreSQL's production defaults (fsync, synchronous commit): benchmarks want them, tests do not.
    """
    external = os.environ.get("CLEARANCE_TEST_POSTGRES_URL")
    if external:
        return PostgresServer(admin_url=external)
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL binaries (initdb, pg_ctl) not found: install Debian's `postgresql` package")
    run_as = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError as exc:
            raise RuntimeError("running as root and there is no `postgres` user to run the server as") from exc
        run_as = "postgres"
    root = Path(tempfile.mkdtemp(prefix="clearance-pg-"))
    datadir = root / "data"
    if run_as is not None:
        shutil.chown(root, user=run_as)
    _run(run_as, [str(bindir / "initdb"), "-D", str(datadir), "-U", _USER, "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--locale=C"])
    port = _free_port()
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} -c max_connections=200"
    if not durable:  # a test server loses nothing worth keeping in a crash, and durability costs seconds per run
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    proc = _run(run_as, [str(bindir / "pg_ctl"), "-D", str(datadir), "-o", options, "-l", str(root / "log"),
                         "-w", "-t", "60", "start"], check=False)
    if proc.returncode != 0:
        log = (root / "log").read_text(errors="replace") if (root / "log").exists() else ""
        raise RuntimeError(f"pg_ctl start failed: {proc.stderr.strip()} {log[-2000:]}")
    server = PostgresServer(admin_url=f"postgresql+psycopg://{_USER}@127.0.0.1:{port}/postgres", datadir=datadir,
                            bindir=bindir, run_as=run_as)
    _wait(server)
    return server


def _wait(server: PostgresServer, timeout: float = 30.0) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(_libpq(server.admin_url), connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
