"""The deployment files (deploy/compose.yaml, nginx.conf, postgres/init.sql) are valid and agree with the code.

``docker compose config`` validates the file where docker is installed; everywhere else (CI has no docker) the
file is parsed here and the things a deployment breaks on are checked: the services the doc promises, settings
that the code really reads, one database per Alembic user, the shared artifact folder, the proxy's upstreams.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from data.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
API_REPLICAS = ("api-1", "api-2")
CLEARANCE_PROCESSES = ("migrate", "mlflow", "dask-scheduler", "dask-worker", "trainer", *API_REPLICAS)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))  # anchors and << merges resolved


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    return dict(item.split("=", 1) for item in env) if isinstance(env, list) else {k: str(v) for k, v in env.items()}


def test_the_compose_file_has_the_services_of_the_deployment(compose):
    services = compose["services"]
    assert {"postgres", "mlflow", "dask-scheduler", "dask-worker", "migrate", "proxy", *API_REPLICAS} <= set(services)
    assert services["dask-worker"]["deploy"]["replicas"] >= 2
    assert services["postgres"]["image"].startswith("postgres:")
    for name in API_REPLICAS:
        api = services[name]
        assert api["command"] == ["clearance", "serve"]
        # replicas start only on a migrated store and a running registry
        assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert api["depends_on"]["mlflow"]["condition"] == "service_healthy"
        assert "healthcheck" in api
    assert services["migrate"]["command"] == ["clearance", "db", "upgrade"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert {d for d in services["proxy"]["depends_on"]} == set(API_REPLICAS)


def test_every_clearance_setting_in_the_file_is_one_the_code_reads(compose):
    # dask_scheduler comes with the Dask engine (issue 12, must-have 3), merged from its own branch.
    known = set(Settings.model_fields) | {"dask_scheduler"}
    for name in CLEARANCE_PROCESSES:
        env = _env(compose["services"][name])
        unknown = [k for k in env if k.startswith("CLEARANCE_") and k.removeprefix("CLEARANCE_").lower() not in known]
        assert unknown == [], f"{name}: {unknown} are not settings (data/settings.py)"
        assert env["CLEARANCE_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert env["CLEARANCE_MLFLOW_TRACKING_URI"].startswith("postgresql+psycopg://")
        assert env["CLEARANCE_DASK_SCHEDULER"] == "tcp://dask-scheduler:8786"


def _database(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_store_and_mlflow_use_their_own_databases_on_the_one_server(compose):
    services = compose["services"]
    env = _env(services["api-1"])
    store, tracking = env["CLEARANCE_DATABASE_URL"], env["CLEARANCE_MLFLOW_TRACKING_URI"]
    # both keep their schema version in a table called alembic_version: one database each
    assert _database(store) != _database(tracking)
    assert "@postgres:5432/" in store and "@postgres:5432/" in tracking
    assert _env(services["postgres"])["POSTGRES_DB"] == _database(store)
    init = (DEPLOY / "postgres" / "init.sql").read_text(encoding="utf-8")
    assert re.search(rf"CREATE DATABASE {_database(tracking)}\b", init)
    assert any(v.endswith(":/docker-entrypoint-initdb.d/10-mlflow.sql:ro") for v in services["postgres"]["volumes"])
    command = services["mlflow"]["command"]
    assert command[command.index("--backend-store-uri") + 1] == tracking  # the server and the clients: one registry
    assert "${POSTGRES_PASSWORD" in store  # never a password in the file


def test_artifacts_are_one_shared_folder_at_the_same_path_everywhere(compose):
    services = compose["services"]
    root = _env(services["api-1"])["CLEARANCE_MLFLOW_ARTIFACT_ROOT"]
    for name in CLEARANCE_PROCESSES:
        mounts = dict(v.split(":", 1) for v in services[name]["volumes"])
        assert mounts.get("mlartifacts") == root, f"{name} does not mount the artifact volume at {root}"
    caches = {dict(v.split(":", 1) for v in services[n]["volumes"]).get(f"model-cache-{n[-1]}") for n in API_REPLICAS}
    assert len(caches) == 1 and None not in caches  # each replica its own local model cache, at the derived path
    assert set(compose["volumes"]) >= {"pgdata", "mlartifacts", "model-cache-1", "model-cache-2"}


def test_the_proxy_balances_over_both_replicas_and_passes_the_scheme(compose):
    services = compose["services"]
    conf = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    assert any(v.startswith("./nginx.conf:/etc/nginx/conf.d/") for v in services["proxy"]["volumes"])
    upstream = re.search(r"upstream clearance_api \{(.*?)\}", conf, re.S).group(1)
    servers = re.findall(r"server ([\w-]+):(\d+)", upstream)
    port = _env(services["api-1"])["CLEARANCE_PORT"]
    assert sorted(servers) == sorted((name, port) for name in API_REPLICAS)
    assert "proxy_set_header X-Forwarded-Proto" in conf and _env(services["api-1"])["FORWARDED_ALLOW_IPS"]
    body = int(re.search(r"client_max_body_size (\d+)m;", conf).group(1))
    assert body * 1024 * 1024 >= Settings.model_fields["max_request_bytes"].default


def _has_compose() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(not _has_compose(), reason="docker compose is not installed (the parse tests above still run)")
def test_docker_compose_accepts_the_file():
    result = subprocess.run(["docker", "compose", "-f", str(DEPLOY / "compose.yaml"), "config", "--quiet"],
                            env={"POSTGRES_PASSWORD": "check", "PATH": "/usr/bin:/bin:/usr/local/bin"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
