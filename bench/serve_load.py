"""Load benchmark of the service on loopback, side by side with ``mlflow models serve`` on the same risk model.

Measures latency p50/p99 and throughput of ``/v1/hs/suggest`` and ``/v1/risk/score`` at 1, 8 and 32 concurrent
clients, and of ``mlflow models serve --env-manager local`` serving the same registered risk version
(``models:/clearance-risk/<v>``) with the same shipments as feature rows (``/invocations``, ``dataframe_split``).
Target: the service's risk route at ≥ 3× mlflow's throughput with an equal or lower p99.

Fairness: both servers are uvicorn with ONE worker on 127.0.0.1, the same thread caps (CLEARANCE_THREADS /
OMP_NUM_THREADS), the same load generator (a separate process: a minimal asyncio HTTP/1.1 client, keep-alive, one
connection per client), the same number of requests and the same rows. The service does more per request than mlflow (schema
validation, data-quality and three-document checks, the delay model, and — by default — explanations), so it is
measured both with and without explanations. The service runs with auth on (a real API key), as in production.

    python bench/serve_load.py [--quick] [--data-dir DIR] [--requests N] [--out bench/results/serve_load.json]

Uses the champions in ``--data-dir`` (default: the settings' data dir, filled by ``make demo``). With ``--quick`` and
no champions there, it trains tiny ones into a temporary folder first. The run stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONCURRENCY = (1, 8, 32)


# ---------------------------------------------------------------------------------------------- load generator
class _Connection:
    """A minimal HTTP/1.1 keep-alive client connection.

    The load generator must cost far less CPU per request than the servers it measures: on a 2-core machine httpx's
    ~0.5 ms of Python per request would cap the measured throughput of the faster server (and so flatter the slower
    one). Requests are pre-encoded bytes; responses are read by Content-Length (or chunked encoding).
    """

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(chunk[:-2])
            body = b"".join(parts)
        else:
            body = await self.reader.read()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _encode(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
            f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


async def _drive(url: str, path: str, bodies: list[bytes], headers: dict[str, str], concurrency: int, n: int,
                 warmup: int) -> dict:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname, parts.port
    raws = [_encode(host, port, path, b, headers) for b in bodies]
    connections = [_Connection(host, port) for _ in range(concurrency)]
    for i in range(warmup):
        await connections[i % concurrency].request(raws[i % len(raws)])
    latencies: list[float] = []
    errors: list[str] = []
    next_index = iter(range(n))

    async def worker(connection: _Connection) -> None:
        for i in next_index:
            started = time.perf_counter()
            try:
                status, body = await connection.request(raws[i % len(raws)])
            except (OSError, asyncio.IncompleteReadError) as exc:
                connection.close()
                status, body = 0, repr(exc).encode()
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors.append(f"{status}: {body[:200].decode('utf-8', 'replace')}")

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    wall = time.perf_counter() - started
    for c in connections:
        c.close()
    latencies.sort()

    def pct(q: float) -> float:
        return round(1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))], 3)

    return {"requests": n, "concurrency": concurrency, "errors": len(errors),
            "first_error": errors[0] if errors else None,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "mean_ms": round(1000 * sum(latencies) / len(latencies), 3),
            "throughput_rps": round(n / wall, 1), "wall_s": round(wall, 3)}


def client_main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    bodies = [b.encode() for b in spec["bodies"]]
    result = asyncio.run(_drive(spec["url"], spec["path"], bodies, spec["headers"], spec["concurrency"], spec["n"],
                                spec["warmup"]))
    print(json.dumps(result))


def run_load(url: str, path: str, bodies: list[str], headers: dict[str, str], concurrency: int, n: int,
             workdir: Path) -> dict:
    """One measurement, generated from a separate process so the client does not share the server's interpreter."""
    spec = workdir / "load-spec.json"
    spec.write_text(json.dumps({"url": url, "path": path, "bodies": bodies, "headers": headers,
                                "concurrency": concurrency, "n": n, "warmup": min(20, n)}))
    out = subprocess.run([sys.executable, __file__, "--client", str(spec)], capture_output=True, text=True,
                         check=True, env=_env())
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------- servers
def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    threads = env.get("CLEARANCE_THREADS", "2")
    env.update({"OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
                "CLEARANCE_THREADS": threads, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
                "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
                # mlflow serve execs `uvicorn` by name: the venv's bin must be on PATH even when it is not activated.
                "PATH": str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")})
    env.update(extra)
    return env


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU so far of a process and all its live descendants (Linux /proc); None elsewhere.

    ``mlflow models serve`` execs uvicorn in a child process, so the tree is what counts. CPU per request is the number
    to compare on a shared machine: wall-clock throughput moves with whatever else runs, the CPU a server spends per
    answered request much less.
    """
    stats: dict[int, tuple[int, float]] = {}
    ticks = os.sysconf("SC_CLK_TCK")
    try:
        entries = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return None
    for entry in entries:
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    if pid not in stats:
        return None
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, (ppid, _) in stats.items() if ppid == parent and p not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(stats[p][1] for p in tree)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, proc: subprocess.Popen, timeout: float, log: Path) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early (rc={proc.returncode}); log: {log}\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"server at {url} not ready after {timeout}s; log: {log}")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


# ---------------------------------------------------------------------------------------------- setup
def _settings(data_dir: Path | None):
    from data.settings import Settings, get_settings

    return Settings(data_dir=data_dir) if data_dir else get_settings()


def _champions(settings) -> dict[str, int] | None:
    """The versions the service will serve (resolved as its loader resolves them), or None when there are none."""
    from data.errors import ClearanceError
    from models.names import SERVED_MODELS
    from serving.served import ServedLoader

    try:
        return {n: ref.version for n, ref in ServedLoader(settings).resolve(SERVED_MODELS).items()}
    except ClearanceError:
        return None


def champion_settings(data_dir: Path | None, quick: bool, workdir: Path) -> tuple[Any, dict[str, int], bool]:
    """(settings, champion versions, trained here?): the champions in ``data_dir`` (default: the settings' data
    dir); with ``quick`` and none there, small ones trained into ``workdir/var`` first."""
    settings = _settings(data_dir)
    champions = _champions(settings)
    if champions is not None:
        return settings, champions, False
    if not quick:
        raise SystemExit(f"no champions in {settings.data_dir}: run `make demo` first (or use --quick)")
    settings = _settings(data_dir or workdir / "var")
    print(f"training small champions in {settings.data_dir} …", file=sys.stderr)
    _train_small(settings)
    return settings, _champions(settings), True


def _train_small(settings) -> None:
    """The same training and registration code as ``clearance train all``, small enough for a smoke run."""
    from demo.history import history_frame
    from demo.rulings import generate_demo_rulings
    from models.names import SERVED_MODELS
    from training import registry
    from training.hs import train_and_log
    from training.shipment_models import train_shipment_models

    train_and_log(settings, generate_demo_rulings(n=600, seed=7), encoder_spec=settings.encoder, register=True,
                  progress=False)
    train_shipment_models(settings, history_frame(n=20_000, seed=42), seed=42, register=True, progress=False,
                          baselines=False)
    for name in SERVED_MODELS:
        registry.promote(name, settings, actor="bench/serve_load.py")


def _rows(settings, n: int, seed: int = 2024):
    """The same shipments as service requests and as mlflow feature rows."""
    from data.nomenclature import Nomenclature
    from data.shipments.schema import Shipment
    from demo.shipments import generate_shipments
    from features.checks import run_checks
    from features.shipment_features import CATEGORICAL, NUMERIC, feature_frame

    docs = generate_shipments(n=n, months=24, seed=seed).shipments[:n]
    nomenclature = Nomenclature.default()
    shipments = [Shipment.model_validate(d) for d in docs]
    # Exactly the columns of the logged model's signature (its input example is frame[CATEGORICAL + NUMERIC]).
    frame = feature_frame(shipments, [run_checks(s, nomenclature) for s in shipments])[CATEGORICAL + NUMERIC]
    rows = []
    for i in range(len(frame)):
        split = json.loads(frame.iloc[[i]].to_json(orient="split", date_format="iso", index=False))
        rows.append(json.dumps({"dataframe_split": split}))
    return docs, rows


def _texts(n: int) -> list[str]:
    from demo.rulings import generate_demo_rulings

    return [r.product_name + (" " + r.description if r.description else "") for r in
            generate_demo_rulings(n=max(n, 200), seed=99)[:n]]


def _table(results: dict) -> str:
    """The side-by-side table for a closing note (Markdown)."""
    rows = [("clearance", "risk_score", "POST /v1/risk/score (explanations on, default)"),
            ("clearance", "risk_score_no_explain", "POST /v1/risk/score (explain=false)"),
            ("mlflow_serve", "invocations", "mlflow models serve /invocations (same risk version, same rows)"),
            ("clearance", "hs_suggest", "POST /v1/hs/suggest")]
    head = "| endpoint | " + " | ".join(f"c={c} p50 / p99 ms, req/s, CPU ms/req" for c in CONCURRENCY) + " |"
    lines = [head, "|" + " --- |" * (len(CONCURRENCY) + 1)]
    for server, label, title in rows:
        cells = []
        for c in map(str, CONCURRENCY):
            m = results[server][label][c]
            cells.append(f"{m['p50_ms']:.1f} / {m['p99_ms']:.1f}, {m['throughput_rps']:.0f}, "
                         f"{m.get('server_cpu_ms_per_request', float('nan')):.2f}")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true",
                        help="Few requests; train small champions (into --data-dir or a temp dir) if none exist.")
    parser.add_argument("--data-dir", type=Path, help="Data dir with champions (default: settings.data_dir).")
    parser.add_argument("--requests", type=int, help="Requests per measurement (default 2000, --quick 150).")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "serve_load.json")
    args = parser.parse_args()
    if args.client:
        client_main(args.client)
        return

    import data  # noqa: F401
    from data.store.db import init_db, make_engine
    from data.store.keys import create_key
    from models.names import RISK

    n = args.requests or (150 if args.quick else 2000)
    workdir = Path(tempfile.mkdtemp(prefix="serve-load-"))
    settings, champions, trained_here = champion_settings(args.data_dir, args.quick, workdir)
    risk_version = champions[RISK]
    engine = make_engine(settings.database_url)
    init_db(engine)
    _, key = create_key(engine, f"bench-serve-load-{int(time.time())}", ["suggest", "score"])
    headers = {"Authorization": f"Bearer {key}"}

    docs, mlflow_rows = _rows(settings, 200 if not args.quick else 60)
    score_bodies = [json.dumps({"shipment": d}) for d in docs]
    score_bodies_plain = [json.dumps({"shipment": d, "explain": False}) for d in docs]
    suggest_bodies = [json.dumps({"text": t}) for t in _texts(200 if not args.quick else 60)]

    env = _env(CLEARANCE_DATA_DIR=str(settings.data_dir), CLEARANCE_DATABASE_URL=settings.database_url,
               CLEARANCE_MLFLOW_TRACKING_URI=settings.mlflow_tracking_uri,
               CLEARANCE_MODEL_CACHE_DIR=str(settings.model_cache_dir), CLEARANCE_AUTH_DISABLED="false",
               MLFLOW_TRACKING_URI=settings.mlflow_tracking_uri,
               # All clients share one API key: the per-key in-flight limit (a fairness guard between callers, 16 by
               # default) would answer most requests at c=32 with 429 and time those instead of the scoring.
               CLEARANCE_PER_KEY_CONCURRENCY=str(max(CONCURRENCY)))
    ours_port, mlflow_port = _free_port(), _free_port()
    ours_log, mlflow_log = workdir / "clearance.log", workdir / "mlflow.log"
    results: dict = {"clearance": {}, "mlflow_serve": {}}
    procs = []
    try:
        with open(ours_log, "w") as log:
            ours = subprocess.Popen([sys.executable, "-m", "serving.cli.main", "serve", "--host", "127.0.0.1",
                                     "--port", str(ours_port), "--reload-interval", "3600", "--log-level", "warning"],
                                    cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        procs.append(ours)
        with open(mlflow_log, "w") as log:
            mlflow_proc = subprocess.Popen([sys.executable, "-m", "mlflow", "models", "serve", "-m",
                                            f"models:/{RISK}/{risk_version}", "--env-manager", "local",
                                            "-h", "127.0.0.1", "-p", str(mlflow_port), "-w", "1"],
                                           cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
        procs.append(mlflow_proc)
        ours_url, mlflow_url = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{mlflow_port}"
        _wait(f"{ours_url}/readyz", ours, 600, ours_log)
        _wait(f"{mlflow_url}/ping", mlflow_proc, 600, mlflow_log)
        print("both servers ready", file=sys.stderr)

        plan = [("clearance", "/v1/risk/score", ours_url, score_bodies, headers, "risk_score"),
                ("clearance", "/v1/risk/score", ours_url, score_bodies_plain, headers, "risk_score_no_explain"),
                ("mlflow_serve", "/invocations", mlflow_url, mlflow_rows, {}, "invocations"),
                ("clearance", "/v1/hs/suggest", ours_url, suggest_bodies, headers, "hs_suggest")]
        # Interleaved (each concurrency level runs every server back to back), so that background load on a shared
        # machine hits both sides alike rather than whichever happened to run during a busy minute.
        for c in CONCURRENCY:
            for server, path, url, bodies, hdrs, label in plan:
                pid = (ours if server == "clearance" else mlflow_proc).pid
                cpu_before = _cpu_seconds(pid)
                m = run_load(url, path, bodies, hdrs, c, n, workdir)
                cpu_after = _cpu_seconds(pid)
                if cpu_before is not None and cpu_after is not None:
                    # includes the warm-up requests, like the server itself does
                    m["server_cpu_ms_per_request"] = round(1000 * (cpu_after - cpu_before) / (n + min(20, n)), 3)
                results[server].setdefault(label, {})[str(c)] = m
                print(f"{server:13s} {label:22s} c={c:<3d} p50={m['p50_ms']:8.2f}ms p99={m['p99_ms']:8.2f}ms "
                      f"{m['throughput_rps']:8.1f} req/s cpu={m.get('server_cpu_ms_per_request')}ms/req "
                      f"errors={m['errors']}", file=sys.stderr)
    finally:
        for proc in procs:
            _stop(proc)

    comparison = {}
    for label in ("risk_score", "risk_score_no_explain"):
        comparison[label] = {}
        for c in map(str, CONCURRENCY):
            ours_m, theirs = results["clearance"][label][c], results["mlflow_serve"]["invocations"][c]
            comparison[label][c] = {
                "throughput_ratio": round(ours_m["throughput_rps"] / theirs["throughput_rps"], 2),
                "server_cpu_per_request_ratio": (
                    round(theirs["server_cpu_ms_per_request"] / ours_m["server_cpu_ms_per_request"], 2)
                    if ours_m.get("server_cpu_ms_per_request") and theirs.get("server_cpu_ms_per_request") else None),
                "p99_ms": {"clearance": ours_m["p99_ms"], "mlflow_serve": theirs["p99_ms"]},
                "target_met": ours_m["throughput_rps"] >= 3 * theirs["throughput_rps"]
                and ours_m["p99_ms"] <= theirs["p99_ms"] and ours_m["errors"] == 0 and theirs["errors"] == 0}
    report = {
        "config": {"requests_per_measurement": n, "concurrency": list(CONCURRENCY), "quick": args.quick,
                   "clearance": "clearance serve: uvicorn, 1 worker, auth on, model thread limiter = CLEARANCE_THREADS, "
                                f"per-key in-flight limit {max(CONCURRENCY)} (one key for every client)",
                   "mlflow_serve": f"mlflow models serve -m models:/{RISK}/{risk_version} --env-manager local "
                                   "-w 1 (uvicorn)",
                   "threads": os.environ.get("CLEARANCE_THREADS", "2"),
                   "client": "raw asyncio HTTP/1.1 keep-alive client (one connection per concurrent client) in a separate "
                             "process; measurements interleaved per concurrency level",
                   "load_average_at_end": os.getloadavg()[0],
                   "champions": champions, "trained_tiny_champions": trained_here, "cpu_count": os.cpu_count(),
                   "python": platform.python_version()},
        "results": results, "comparison_with_mlflow_serve": comparison,
        "target": "clearance /v1/risk/score ≥ 3× mlflow serve throughput at equal or lower p99",
    }
    report["table_md"] = _table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(report["table_md"], file=sys.stderr)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
