"""Batch risk scoring over HTTP, end to end: rows/s of ``POST /v1/risk/score/batch`` on the live service.

Issue 3 asks for ≥ 20,000 rows/s of batch scoring without explanations on 2 cores; ``bench/risk_score.py`` measures
the scorer in-process. This script measures what a routing system sees: a live ``clearance`` service (uvicorn, the
real delay/risk champions from the registry, auth on with a real API key) receives a batch of generated shipments
and the client times from the first request byte sent to the full JSON response received *and parsed*
(``json.loads``). Building the request body is the client's business and is not timed.

Configurations (two servers, started side by side, measured interleaved so background load hits all alike):

* ``CLEARANCE_SCORE_WORKERS=1`` (the default: service process + one scoring process) and ``=0`` (one process);
* NDJSON body (``application/x-ndjson``, one shipment per line, ``?explain=false``) and JSON body
  (``{"shipments": [...], "explain": false}``).

Cache states: phone numbers are parsed once per consignee and cached per process, so *first sight* runs send a batch
from a generator seed used nowhere else (no process has seen its consignees); *steady* runs send the same batch
again. Each first-sight figure is the best and median of ``--runs`` runs.

Server-side split (unless ``--no-split``): the servers run as ``create_app(get_settings())`` under uvicorn exactly as
``clearance serve`` does, with timers around the batch route's stages (a few ``perf_counter`` calls per request):
request start → service call (body buffering, auth, reading), ``service.score_batch`` (splitting/parsing the body,
``score_documents``, the response object), ``score_documents`` alone, serialisation (``model_dump_json``) and the
rest up to the last response byte handed to the server. ``--no-split`` runs the unmodified ``clearance serve``.

    nice python bench/score_batch_api.py [--quick] [--data-dir DIR] [--rows N] [--runs R]
                                         [--out bench/results/score_batch_api.json]

Uses the champions in ``--data-dir`` (default: the settings' data dir, filled by ``make demo``); with ``--quick`` and
none there it trains small ones first (as ``bench/serve_load.py`` does).
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serve_load import _cpu_seconds, _env, _free_port, _stop, _wait, champion_settings  # noqa: E402

RESULT = ROOT / "bench" / "results" / "score_batch_api.json"
BATCH_PATH = "/v1/risk/score/batch"
TARGET_ROWS_PER_S = 20_000


# ---------------------------------------------------------------------------------------------- instrumented server
def serve_instrumented(port: int, timings: Path) -> None:
    """``clearance serve`` (same settings, app factory and uvicorn options) with timers on the batch route.

    The bench sends one request at a time, so one "current request" record is enough to join the stages that run on
    the event loop (reading, serialising, sending) with those on the model thread (service, score_documents).
    """
    import uvicorn

    from data.settings import get_settings
    from models.scoring import ShipmentScorer
    from serving.app import create_app
    from serving.logging import configure_logging
    from serving.shipments import router as shipments_router
    from serving.shipments import service
    from serving.shipments.schemas import ScoreBatchResponse

    current: dict[str, Any] = {}
    out = open(timings, "a", buffering=1)
    gc_started: list[float] = []

    def on_gc(phase: str, info: dict) -> None:
        # Cyclic GC pauses during the request, on any thread: a full collection walks the whole heap (models included)
        if phase == "start":
            gc_started.append(time.perf_counter())
        elif gc_started and "request_start" in current:
            current["gc_s"] = current.get("gc_s", 0.0) + time.perf_counter() - gc_started.pop()
            key = f"gc_gen{info.get('generation')}_collections"
            current[key] = current.get(key, 0) + 1
        else:
            gc_started.clear()

    gc.callbacks.append(on_gc)

    original_score_documents = ShipmentScorer.score_documents

    def score_documents(self, documents, *, explain=False):
        current["score_documents_start"] = time.perf_counter()
        result = original_score_documents(self, documents, explain=explain)
        current["score_documents_end"] = time.perf_counter()
        current["workers_used"], current["worker_cpu_s"] = result.workers_used, round(result.worker_cpu_s, 4)
        return result

    original_service = service.score_batch

    def score_batch(served, body, **kwargs):
        current["service_start"] = time.perf_counter()
        current["body_bytes"] = len(body)
        result = original_service(served, body, **kwargs)
        current["service_end"] = time.perf_counter()
        return result

    original_json = shipments_router._json

    def to_json(model):
        started = time.perf_counter()
        response = original_json(model)
        if isinstance(model, ScoreBatchResponse):
            current["serialize_start"], current["serialize_end"] = started, time.perf_counter()
            current["response_bytes"] = len(response.body)
        return response

    ShipmentScorer.score_documents = score_documents
    service.score_batch = score_batch
    shipments_router._json = to_json

    settings = get_settings().model_copy(update={"host": "127.0.0.1", "port": port, "reload_interval_s": 3600.0})
    configure_logging("WARNING")
    app = create_app(settings)

    async def timed(scope, receive, send):
        if scope["type"] != "http" or scope["path"] != BATCH_PATH:
            return await app(scope, receive, send)
        current.clear()
        current["request_start"] = time.perf_counter()
        status = {}

        async def send_timed(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        await app(scope, receive, send_timed)
        end = time.perf_counter()
        t = dict(current)

        def span(a: str, b: str) -> float | None:
            return round(t[b] - t[a], 4) if a in t and b in t else None

        record = {"status": status.get("code"), "body_bytes": t.get("body_bytes"),
                  "response_bytes": t.get("response_bytes"), "workers_used": t.get("workers_used"),
                  "worker_cpu_s": t.get("worker_cpu_s"),
                  "total_s": round(end - t["request_start"], 4),
                  "before_service_s": span("request_start", "service_start"),
                  "service_s": span("service_start", "service_end"),
                  "score_documents_s": span("score_documents_start", "score_documents_end"),
                  "parse_before_scoring_s": span("service_start", "score_documents_start"),
                  "build_response_s": span("score_documents_end", "service_end"),
                  "service_to_serialize_s": span("service_end", "serialize_start"),
                  "serialize_s": span("serialize_start", "serialize_end"),
                  "send_s": round(end - t["serialize_end"], 4) if "serialize_end" in t else None,
                  "gc_s": round(t.get("gc_s", 0.0), 4),
                  **{k: v for k, v in t.items() if k.startswith("gc_gen")}}
        out.write(json.dumps(record) + "\n")

    uvicorn.run(timed, host=settings.host, port=settings.port, log_config=None, log_level="warning",
                access_log=False, timeout_graceful_shutdown=10)


# ---------------------------------------------------------------------------------------------- client
class Server:
    def __init__(self, name: str, workers: int, proc: subprocess.Popen, port: int, timings: Path | None):
        self.name, self.workers, self.proc, self.port, self.timings = name, workers, proc, port, timings
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self._seen = 0

    def last_timing(self) -> dict | None:
        """The server's record of the request just answered (written once the app returns, which may be a moment
        after the client has the response)."""
        if self.timings is None:
            return None
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            lines = self.timings.read_text().splitlines() if self.timings.exists() else []
            if len(lines) > self._seen and lines[-1].endswith("}"):
                new, self._seen = lines[self._seen:], len(lines)
                return json.loads(new[-1])
            time.sleep(0.01)
        return None


def post(server: Server, body: bytes, fmt: str, headers: dict[str, str], n: int) -> dict:
    """One request, timed from the first byte sent to the parsed response; checks that every row was scored."""
    if fmt == "ndjson":
        path, content_type = BATCH_PATH + "?explain=false", "application/x-ndjson"
    else:
        path, content_type = BATCH_PATH, "application/json"
    cpu_before = _cpu_seconds(server.proc.pid)
    # This process holds every generated batch: a cyclic GC pass triggered by json.loads of the response would walk
    # all of it (0.2 s seen) and be charged to the service. Collect before, not during, the timed request.
    gc.collect()
    # a fresh connection per request: the server closes a keep-alive connection left idle for 5 s (while the other
    # server is measured), and http.client does not retry a request body sent into a closed socket
    server.conn.close()
    server.conn.connect()
    gc.disable()
    started = time.perf_counter()
    server.conn.request("POST", path, body=body, headers={**headers, "Content-Type": content_type,
                                                          "Content-Length": str(len(body))})
    response = server.conn.getresponse()
    raw = response.read()
    received = time.perf_counter()
    document = json.loads(raw)
    parsed = time.perf_counter()
    gc.enable()
    cpu_after = _cpu_seconds(server.proc.pid)
    if response.status != 200:
        raise SystemExit(f"{server.name} {fmt}: HTTP {response.status}: {raw[:500]!r}")
    scored = sum(r is not None for r in document["results"])
    total = parsed - started
    m = {"rows": n, "scored": scored, "item_errors": len(document["errors"]),
         "request_bytes": len(body), "response_bytes": len(raw),
         "end_to_end_s": round(total, 4), "rows_per_s": round(n / total, 1),
         "client_parse_s": round(parsed - received, 4),
         "rows_per_s_to_response_received": round(n / (received - started), 1),
         "server_cpu_s": round(cpu_after - cpu_before, 3) if None not in (cpu_before, cpu_after) else None}
    if scored != n:
        raise SystemExit(f"{server.name} {fmt}: only {scored}/{n} scored; first errors: {document['errors'][:3]}")
    timing = server.last_timing()
    if timing is not None:
        m["server"] = timing
    return m


def _bodies(seed: int, n: int) -> dict[str, bytes]:
    """The same batch as NDJSON (one document per line) and as a JSON envelope, as a client would send them."""
    from demo.shipments import generate_shipments

    docs = generate_shipments(n=n, months=24, seed=seed).shipments[:n]
    lines = [json.dumps(d, ensure_ascii=False).encode() for d in docs]
    return {"ndjson": b"\n".join(lines) + b"\n",
            "json": b'{"shipments": [' + b", ".join(lines) + b'], "explain": false}'}


def _summary(runs: list[dict]) -> dict:
    rates = [r["rows_per_s"] for r in runs]
    out = {"runs": len(runs), "best_rows_per_s": max(rates), "median_rows_per_s": round(statistics.median(rates), 1),
           "median_end_to_end_s": round(statistics.median(r["end_to_end_s"] for r in runs), 4),
           "median_client_parse_s": round(statistics.median(r["client_parse_s"] for r in runs), 4)}
    cpus = [r["server_cpu_s"] for r in runs if r.get("server_cpu_s") is not None]
    if cpus:
        out["median_server_cpu_ms_per_row"] = round(1000 * statistics.median(cpus) / runs[0]["rows"], 4)
    servers = [r["server"] for r in runs if "server" in r]
    if servers:
        out["server_median_s"] = {k: round(statistics.median(s[k] for s in servers), 4)
                                  for k in servers[0] if k.endswith("_s") and all(s.get(k) is not None
                                                                                 for s in servers)}
        out["server_max_gc_s"] = max(s.get("gc_s", 0.0) for s in servers)
        total = out["server_median_s"].get("total_s")
        if total:
            out["server_share_of_total"] = {k: round(v / total, 3) for k, v in out["server_median_s"].items()
                                            if k != "total_s" and k != "worker_cpu_s"}
    return out


# ---------------------------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # internal: run an instrumented server
    parser.add_argument("--timings", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="Smoke run: 4,000-row batches, 2 runs, 1 steady run.")
    parser.add_argument("--data-dir", type=Path, help="Data dir with champions (default: settings.data_dir).")
    parser.add_argument("--rows", type=int, help="Shipments per batch (default 10,000; --quick 4,000, the smallest "
                                                 "batch the scorer spreads over its workers).")
    parser.add_argument("--runs", type=int, help="First-sight runs per configuration (default 5, --quick 2).")
    parser.add_argument("--steady", type=int, help="Steady runs per configuration (default 3, --quick 1).")
    parser.add_argument("--no-split", action="store_true", help="Run the unmodified `clearance serve` (no timers).")
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    if args.serve:
        serve_instrumented(args.serve, args.timings)
        return

    import data  # noqa: F401  (thread caps)
    from data.store.db import init_db, make_engine
    from data.store.keys import create_key

    rows = args.rows or (4000 if args.quick else 10_000)
    runs = args.runs or (2 if args.quick else 5)
    steady = args.steady if args.steady is not None else (1 if args.quick else 3)
    load_at_start = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="score-batch-api-"))
    settings, champions, trained_here = champion_settings(args.data_dir, args.quick, workdir)
    engine = make_engine(settings.database_url)
    init_db(engine)
    _, key = create_key(engine, f"bench-score-batch-api-{int(time.time())}", ["score"])
    headers = {"Authorization": f"Bearer {key}"}

    servers: list[Server] = []
    try:
        for workers in (1, 0):
            name = f"workers={workers}"
            port = _free_port()
            env = _env(CLEARANCE_DATA_DIR=str(settings.data_dir), CLEARANCE_DATABASE_URL=settings.database_url,
                       CLEARANCE_MLFLOW_TRACKING_URI=settings.mlflow_tracking_uri,
                       CLEARANCE_MODEL_CACHE_DIR=str(settings.model_cache_dir), CLEARANCE_AUTH_DISABLED="false",
                       MLFLOW_TRACKING_URI=settings.mlflow_tracking_uri, CLEARANCE_SCORE_WORKERS=str(workers))
            log_path = workdir / f"server-w{workers}.log"
            if args.no_split:
                command, timings = [sys.executable, "-m", "serving.cli.main", "serve", "--host", "127.0.0.1",
                                    "--port", str(port), "--reload-interval", "3600", "--log-level", "warning"], None
            else:
                timings = workdir / f"timings-w{workers}.jsonl"
                command = [sys.executable, __file__, "--serve", str(port), "--timings", str(timings)]
            with open(log_path, "w") as log:
                proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            servers.append(Server(name, workers, proc, port, timings))
            _wait(f"http://127.0.0.1:{port}/readyz", proc, 600, log_path)
        print("servers ready", file=sys.stderr)

        # Warm-up: code paths, the worker pool (its processes are started after load, on a thread of their own).
        warm = _bodies(1, rows)
        for server in servers:
            for fmt in ("ndjson", "json"):
                post(server, warm[fmt], fmt, headers, rows)

        configs = [(s, fmt) for s in servers for fmt in ("ndjson", "json")]
        first: dict[tuple[str, str], list[dict]] = {(s.name, f): [] for s, f in configs}
        last_body: dict[tuple[str, str], bytes] = {}
        seed = 1000
        for r in range(runs):
            for server, fmt in configs:
                seed += 1  # a seed no process has seen: every consignee is new
                body = _bodies(seed, rows)[fmt]
                m = post(server, body, fmt, headers, rows)
                m["seed"] = seed
                first[(server.name, fmt)].append(m)
                last_body[(server.name, fmt)] = body
                split = (f"; server {m['server']['total_s']}s, score_documents {m['server']['score_documents_s']}s"
                         if "server" in m else "")
                print(f"first-sight {server.name} {fmt:6s} run {r + 1}: {m['rows_per_s']:9.0f} rows/s "
                      f"({m['end_to_end_s']:.3f}s{split})", file=sys.stderr)
        steady_runs: dict[tuple[str, str], list[dict]] = {k: [] for k in first}
        for r in range(steady):
            for server, fmt in configs:
                m = post(server, last_body[(server.name, fmt)], fmt, headers, rows)
                steady_runs[(server.name, fmt)].append(m)
                print(f"steady      {server.name} {fmt:6s} run {r + 1}: {m['rows_per_s']:9.0f} rows/s "
                      f"({m['end_to_end_s']:.3f}s)", file=sys.stderr)
    finally:
        for server in servers:
            server.conn.close()
            _stop(server.proc)

    results: dict[str, Any] = {}
    for server, fmt in configs:
        key_ = (server.name, fmt)
        results.setdefault(server.name, {})[fmt] = {
            "first_sight": _summary(first[key_]),
            "steady": _summary(steady_runs[key_]) if steady_runs[key_] else None,
            "runs": {"first_sight": first[key_], "steady": steady_runs[key_]}}
    headline = results["workers=1"]["ndjson"]["first_sight"]["median_rows_per_s"]
    report = {
        "note": ("End-to-end rows/s of POST /v1/risk/score/batch without explanations on a live service on loopback: "
                 "from the first request byte sent to the full JSON response received and parsed by the client "
                 "(json.loads), over rows shipments per request. The client is this process (http.client, one "
                 "keep-alive connection, one request at a time) and shares the CPUs with the server. Request bodies "
                 "are built before timing. 'first_sight': each run sends a batch from a generator seed no process "
                 "has seen (new consignees, phone-parsing cache cold); 'steady': the last batch sent again. "
                 "'server' figures are the service's own stage timers (see the script's docstring): total_s is "
                 "request start to last response byte handed to uvicorn; before_service_s covers buffering the body, "
                 "auth and handing it to the model thread; service_s is serving.shipments.service.score_batch "
                 "(splitting/parsing the body, score_documents, the response object); serialize_s is "
                 "model_dump_json of the response (in the model thread, off the event loop); gc_s is time in cyclic garbage collection during the "
                 "request (any thread). server_cpu_s counts the server process and its scoring workers. The client "
                 "collects garbage before each request and pauses its GC while timing (its heap holds every "
                 "generated batch; a collection there would be charged to the service)."),
        "target": f"≥ {TARGET_ROWS_PER_S:,} rows/s batch scoring without explanations on 2 cores (issue 3)",
        "headline": {"config": "workers=1, NDJSON, first sight, median", "rows_per_s": headline,
                     "target_met": headline >= TARGET_ROWS_PER_S},
        "config": {"rows_per_batch": rows, "first_sight_runs": runs, "steady_runs": steady, "quick": args.quick,
                   "explain": False, "instrumented_server": not args.no_split,
                   "server": "create_app(get_settings()) under uvicorn, 1 uvicorn worker, auth on (API key), "
                             "CLEARANCE_SCORE_WORKERS as named" + ("" if args.no_split else ", stage timers"),
                   "threads": os.environ.get("CLEARANCE_THREADS", "2"), "champions": champions,
                   "trained_tiny_champions": trained_here, "data_dir": str(settings.data_dir)},
        "machine": {"cpu_count": os.cpu_count(), "load_average_at_start": [round(x, 2) for x in load_at_start],
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
                    "python": platform.python_version(), "platform": platform.platform()},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    for name, by_fmt in results.items():
        for fmt, r in by_fmt.items():
            fs, st = r["first_sight"], r["steady"] or {}
            print(f"{name} {fmt:6s} first sight best {fs['best_rows_per_s']:9.0f} median {fs['median_rows_per_s']:9.0f}"
                  f" rows/s | steady median {st.get('median_rows_per_s', float('nan')):9.0f} rows/s", file=sys.stderr)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
