"""Reliability and security suite (issue 13): the hostile test run as a repeatable benchmark with counts.

Runs the real service (``serving.app.create_app`` under uvicorn, as ``clearance serve`` does, auth on) in a child
process on 127.0.0.1, over a private data dir whose registry holds small fake champions (an HS suggester that really
searches and grows with reviewer rulings, fixed delay/risk scorers): what is measured is the service around the
models (validation, auth, store, replay, swaps, shedding, shutdown), not the models. Phases, each bounded in count
and time:

- ``fuzz``: schemathesis over the OpenAPI document, every operation, ``--fuzz-examples`` cases each (5xx counted);
- ``bad_inputs``: hand-made hostile inputs (lone surrogates, huge numbers, broken JSON and UTF-8, wrong types);
- ``kill9``: ``--rounds`` rounds of reviewer decisions with idempotency keys from 4 clients, the service killed with
  SIGKILL mid-way, restarted, every decision resent: acknowledged ones lost or written twice are counted, and after
  each restart every acknowledged decision must be searchable once ``/readyz`` says ready (``replay_missing``);
- ``swap``: 32 clients on the suggest and score routes while new champions are registered and swapped in;
  requests that fail are counted, and after each swap the acknowledged decisions must still be found;
- ``shutdown``: slow batches and single calls in flight, then SIGTERM: any 5xx other than 503 is counted;
- ``auth``: wrong keys from one address until the first 429.

    python bench/reliability.py [--quick] [--out bench/results/reliability.json]

Targets: every ``*_5xx``, ``*_lost``, ``*_duplicated``, ``*_failed`` and ``replay_missing`` is 0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGETS = ("fuzz_5xx", "bad_inputs_5xx", "kill9_lost", "kill9_duplicated", "swap_failed", "shutdown_5xx",
           "shutdown_dropped", "replay_missing")


# --------------------------------------------------------------------------------------------------- the server
def _bench_compose(natives):
    """The fake champions, with a scorer whose batch calls take time (so that shutdown finds work in flight)."""
    from tests.serving.fakes import DELAY, HS, RISK, FakeScorer

    delay = float(os.environ.get("BENCH_SCORE_DELAY_S", "0"))
    return natives[HS], FakeScorer(natives[DELAY], {**natives[RISK], "delay_s": delay})


def serve_main(data_dir: str, port: int) -> None:
    """The child process: the real app over the fake champions, served as ``clearance serve`` serves."""
    from data.settings import Settings
    from serving.app import create_app
    from serving.cli.serve import run_app
    from serving.holder import ModelHolder
    from serving.served import ServedLoader

    settings = Settings(data_dir=Path(data_dir), port=port, reload_interval_s=1.0, shutdown_grace_s=2.0,
                        threads=2, score_workers=0)
    holder = ModelHolder(settings, loader=ServedLoader(settings, compose=_bench_compose))
    run_app(create_app(settings, holder=holder), settings, "warning")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data_dir: Path, *, score_delay_s: float = 0.0):
        self.data_dir, self.port, self.proc = data_dir, _free_port(), None
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "CLEARANCE_THREADS": "1", "OMP_NUM_THREADS": "1",
                    "BENCH_SCORE_DELAY_S": str(score_delay_s), "HF_HUB_OFFLINE": "1"}
        self.log = data_dir / f"server-{self.port}.log"

    def start(self, timeout: float = 300.0) -> float:
        """Start and wait for ``/readyz`` 200; returns seconds to ready."""
        import httpx

        t0 = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, __file__, "serve", str(self.data_dir), str(self.port)],
                                     env=self.env, cwd=ROOT, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited (rc={self.proc.returncode}):\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return time.monotonic() - t0
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.proc.kill()  # never leave a server behind
        raise SystemExit(f"server not ready after {timeout}s:\n{self.log.read_text()[-3000:]}")

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def prepare(data_dir: Path) -> dict[str, str]:
    """Register the fake champions in a private registry; returns API keys (admin+all, and suggest-only)."""
    from data.settings import Settings
    from data.store.db import open_store
    from data.store.keys import create_key
    from tests.serving.conftest import register_model
    from tests.serving.fakes import DELAY, HS, RISK, FakeNative, OverlayNative

    settings = Settings(data_dir=data_dir)
    register_model(settings, HS, OverlayNative())
    for name in (DELAY, RISK):
        register_model(settings, name, FakeNative(name, f"{name}-v1"))
    engine = open_store(settings.database_url)
    return {"all": create_key(engine, "bench-all", ["suggest", "score", "admin"])[1],
            "suggest": create_key(engine, "bench-suggest", ["suggest"])[1]}


def _client(**kw):
    import httpx

    return httpx.Client(timeout=kw.pop("timeout", 30.0), **kw)


# ------------------------------------------------------------------------------------------------------ phases
def fuzz(server: Server, key: str, examples: int, budget_s: float) -> dict[str, int]:
    """schemathesis cases for every operation of the OpenAPI document (bounded examples, a time budget)."""
    import hypothesis
    import schemathesis
    from hypothesis import HealthCheck, Phase, given

    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    counts = {"requests": 0, "5xx": 0}
    failures: list[str] = []
    deadline = time.monotonic() + budget_s
    for result in schema.get_all_operations():
        operation = result.ok()
        if time.monotonic() > deadline:
            break

        @given(case=operation.as_strategy())
        @hypothesis.settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
                             suppress_health_check=list(HealthCheck), derandomize=True)
        def run(case):
            if time.monotonic() > deadline:
                return
            response = case.call(base_url=server.url, headers={"X-API-Key": key}, timeout=30)
            counts["requests"] += 1
            if response.status_code >= 500 and response.status_code != 503:
                counts["5xx"] += 1
                failures.append(f"{case.operation.method.upper()} {case.operation.path} -> {response.status_code}")

        run()
    if failures:
        print("fuzz 5xx:", *failures[:10], sep="\n  ", file=sys.stderr)
    return counts


def _bad_inputs() -> list[tuple[str, str, Any, dict[str, str]]]:
    """(method, path, raw body or params, extra headers) of hand-made hostile requests."""
    json_ct = {"content-type": "application/json"}
    feedback = {"text": "保温杯", "action": "override", "final_code": "7323930000", "reason": "r"}
    cases: list[tuple[str, str, Any, dict[str, str]]] = []
    for field in ("reason", "model_version", "index_fingerprint", "suggested_code", "final_code", "text"):
        cases.append(("POST", "/v1/hs/feedback", json.dumps({**feedback, field: "\udfff"}), json_ct))
    cases.append(("POST", "/v1/hs/feedback", json.dumps({**feedback, "evidence_ids": ["\ud800"]}), json_ct))
    cases.append(("POST", "/v1/hs/feedback", json.dumps({**feedback, "declared_elements": {"\udfff": "x"}}), json_ct))
    for code in ("999999", "9999999999", "98", "0", "-1", "1e309", "७३२३९३००००"):
        cases.append(("POST", "/v1/hs/feedback", json.dumps({**feedback, "final_code": code}), json_ct))
    cases.append(("POST", "/v1/hs/feedback", json.dumps({**feedback, "text": "长" * 1996}), json_ct))
    cases.append(("POST", "/v1/hs/feedback", json.dumps({**feedback, "suggested_confidence": 1e309}), json_ct))
    for path in ("/v1/hs/suggest", "/v1/hs/validate", "/v1/hs/feedback", "/v1/risk/score", "/v1/shipments/check",
                 "/v1/hs/suggest/batch", "/v1/risk/score/batch"):
        for raw in ('{"text": "x",', "\xff\xfe{", "", "null", "[]", "1" * 5000, '{"text": "\udfff"}',
                    '{"a":' * 2000 + "1" + "}" * 2000, '{"text": "x\u0000y"}', '{"items": [' + "{}," * 3000 + "{}]}"):
            cases.append(("POST", path, raw, json_ct))
        cases.append(("POST", path, '{"text": "x"}', {"content-type": "text/plain"}))
    cases.append(("POST", "/v1/hs/suggest", json.dumps({"text": "x", "top_k": 10**30}), json_ct))
    cases.append(("POST", "/v1/hs/suggest", json.dumps({"text": "x", "top_k": -1}), json_ct))
    for offset in ("99999999999999999999999", "-1", "²", "1e9", "9223372036854775808"):
        cases.append(("GET", "/v1/admin/audit", {"offset": offset}, {}))
        cases.append(("GET", "/reviews", {"offset": offset}, {}))
    cases.append(("GET", "/classify", {"saved": "9" * 40}, {}))
    cases.append(("HEAD", "/healthz", None, {}))
    cases.append(("POST", "/v1/hs/feedback", json.dumps(feedback), {**json_ct, "Idempotency-Key": "x" * 300}))
    cases.append(("POST", "/v1/hs/feedback", json.dumps(feedback), {**json_ct, "Idempotency-Key": "a\tb"}))
    return cases


def bad_inputs(server: Server, key: str) -> dict[str, int]:
    counts = {"tried": 0, "5xx": 0}
    with _client(headers={"X-API-Key": key}) as client:
        for method, path, payload, headers in _bad_inputs():
            if method == "GET":
                r = client.get(server.url + path, params=payload, headers=headers)
            elif method == "HEAD":
                r = client.head(server.url + path, headers=headers)
            else:
                body = payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else payload
                r = client.request(method, server.url + path, content=body, headers=headers)
            counts["tried"] += 1
            if r.status_code >= 500:
                counts["5xx"] += 1
                print(f"bad input 5xx: {method} {path} {str(payload)[:60]!r} -> {r.status_code}", file=sys.stderr)
    return counts


def _decision(i: int, tag: str) -> dict[str, Any]:
    # A text of its own per decision, so that a search for it finds exactly its ruling.
    return {"text": f"bench {tag} 产品 {i} {uuid.uuid4().hex[:8]}", "action": "override",
            "final_code": "7323930000", "reason": "bench decision"}


def _post_answered(client, url: str, body: dict, tries: int = 20):
    """POST until answered: a request shed with 503/429 is retried after its Retry-After (capped), as a client does."""
    for _ in range(tries):
        r = client.post(url, json=body)
        if r.status_code not in (429, 503):
            return r
        time.sleep(min(2.0, float(r.headers.get("Retry-After", "1"))))
    return r


def _found(client, url: str, text: str, ruling_id: str) -> bool:
    r = _post_answered(client, f"{url}/v1/hs/suggest", {"text": text, "top_k": 5})
    if r.status_code != 200:
        print(f"replay check: {r.status_code} {r.text[:200]}", file=sys.stderr)
        return False
    return any(ev.get("ruling_id") == ruling_id for c in r.json().get("candidates", []) for ev in c["evidence"])


def kill9(server: Server, keys: dict[str, str], rounds: int, per_round: int, acked: dict[str, dict]) -> dict[str, int]:
    """Decisions from 4 clients; SIGKILL mid-way; restart; resend all; count lost, duplicated, unsearchable."""
    out = {"acknowledged": 0, "lost": 0, "duplicated": 0, "replay_missing": 0, "sent": 0}
    headers = {"X-API-Key": keys["suggest"]}
    for rnd in range(rounds):
        decisions = {f"r{rnd}-{i}-{uuid.uuid4().hex[:6]}": _decision(i, f"k{rnd}") for i in range(per_round)}
        round_acked: dict[str, dict] = {}
        stop = threading.Event()

        def send(items: list[tuple[str, dict]], stop: threading.Event = stop, round_acked: dict = round_acked) -> None:
            with _client(headers=headers, timeout=10) as client:
                for key, body in items:
                    if stop.is_set():
                        return
                    try:
                        r = client.post(f"{server.url}/v1/hs/feedback", json=body, headers={"Idempotency-Key": key})
                    except Exception:  # the server died under us: not acknowledged
                        return
                    if r.status_code == 201:
                        round_acked[key] = r.json()

        items = list(decisions.items())
        threads = [threading.Thread(target=send, args=(items[i::4],)) for i in range(4)]
        for t in threads:
            t.start()
        while len(round_acked) < per_round // 2 and any(t.is_alive() for t in threads):
            time.sleep(0.01)
        server.kill9()
        stop.set()
        for t in threads:
            t.join(30)
        server.start()
        out["acknowledged"] += len(round_acked)
        out["sent"] += len(decisions)
        with _client(headers=headers) as client:
            # After ready: every acknowledged decision of every round so far is searchable.
            acked.update({k: {**v, "text": decisions[k]["text"]} for k, v in round_acked.items()})
            out["replay_missing"] += sum(not _found(client, server.url, v["text"], v["ruling_id"])
                                         for v in acked.values())
            for key, body in items:  # the client resends everything it sent, answered or not
                r = client.post(f"{server.url}/v1/hs/feedback", json=body, headers={"Idempotency-Key": key})
                if r.status_code != 201:
                    print(f"resend {key}: {r.status_code} {r.text[:200]}", file=sys.stderr)
                elif key in round_acked and r.json()["review_id"] != round_acked[key]["review_id"]:
                    out["duplicated"] += 1
    from sqlalchemy import text as sql

    from data.settings import Settings
    from data.store.db import open_store

    engine = open_store(Settings(data_dir=server.data_dir).database_url)
    with engine.connect() as conn:
        counts = dict(conn.execute(sql("SELECT query_text, COUNT(*) FROM reviews GROUP BY query_text")).all())
    texts = {v["text"] for v in acked.values()}
    out["lost"] = sum(1 for t in texts if counts.get(t, 0) == 0)
    out["duplicated"] += sum(1 for t, n in counts.items() if t.startswith("bench k") and n > 1)
    return out


def swap(server: Server, keys: dict[str, str], clients: int, swaps: int, acked: dict[str, dict]) -> dict[str, int]:
    """``clients`` threads on suggest and score while new HS champions are registered and swapped in."""
    from data.settings import Settings
    from tests.serving.conftest import register_model
    from tests.serving.fakes import HS, OverlayNative

    shipment = json.loads((ROOT / "serving" / "console" / "static" / "shipment-example.json").read_text())
    shipment = shipment[0] if isinstance(shipment, list) else shipment
    out = {"requests": 0, "failed": 0, "replay_missing": 0, "swaps": 0}
    stop = threading.Event()
    lock = threading.Lock()
    headers = {"X-API-Key": keys["all"]}

    from data.store.db import open_store
    from data.store.keys import create_key

    # Each client with its own key, as real callers are: one shared key would meet the per-key concurrency limit.
    engine = open_store(Settings(data_dir=server.data_dir).database_url)
    client_keys = [create_key(engine, f"bench-client-{uuid.uuid4().hex[:8]}", ["suggest", "score"])[1]
                   for _ in range(clients)]

    def hammer(i: int, stop: threading.Event = stop) -> None:
        with _client(headers={"X-API-Key": client_keys[i]}) as client:
            n = failed = 0
            while not stop.is_set():
                if i % 2:
                    r = client.post(f"{server.url}/v1/hs/suggest", json={"text": f"不锈钢保温杯 {n}"})
                else:
                    r = client.post(f"{server.url}/v1/risk/score", json={"shipment": shipment, "explain": False})
                n += 1
                failed += r.status_code not in (200, 503, 429)  # shed with Retry-After is an answer, not a failure
            with lock:
                out["requests"] += n
                out["failed"] += failed

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    settings = Settings(data_dir=server.data_dir)
    try:
        with _client(headers=headers) as admin:
            for _ in range(swaps):
                version = register_model(settings, HS, OverlayNative())  # fresh: only the replay brings decisions
                served: dict = {}
                for _ in range(30):  # the reload (or the 1 s poll, whichever is first) swaps the new version in
                    r = admin.post(f"{server.url}/v1/admin/reload", timeout=120)
                    served = admin.get(f"{server.url}/readyz").json().get("model_versions", {})
                    if served.get(HS) == version:
                        break
                    print(f"swap to v{version}: reload {r.status_code} {r.text[:160]}; serving {served}",
                          file=sys.stderr)
                    time.sleep(1)
                out["swaps"] += served.get(HS) == version
                # The new set answers only complete: every acknowledged decision is found at once.
                out["replay_missing"] += sum(not _found(admin, server.url, v["text"], v["ruling_id"])
                                             for v in list(acked.values())[:50])
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    return out


def shutdown(server: Server, keys: dict[str, str], in_flight: int) -> dict[str, int]:
    """Batches and single calls in flight, then SIGTERM: nothing may be answered 5xx other than 503."""
    shipment = json.loads((ROOT / "serving" / "console" / "static" / "shipment-example.json").read_text())
    shipment = shipment[0] if isinstance(shipment, list) else shipment
    results: list[int] = []
    lock = threading.Lock()

    import httpx

    def call(i: int) -> None:
        with _client(headers={"X-API-Key": keys["all"]}, timeout=60) as client:
            try:
                if i % 2:
                    body = {"shipments": [{**shipment, "shipment_id": f"S{i}-{j}"} for j in range(150)]}
                    r = client.post(f"{server.url}/v1/risk/score/batch", json=body)
                else:
                    r = client.post(f"{server.url}/v1/risk/score", json={"shipment": shipment})
                status = r.status_code
            except httpx.ConnectError:
                status = 0  # never reached the server (it had stopped listening): not in flight
            except Exception:
                status = -1  # in flight, and the connection closed without an answer
        with lock:
            results.append(status)

    with ThreadPoolExecutor(in_flight) as pool:
        futures = [pool.submit(call, i) for i in range(in_flight)]
        time.sleep(2.0)  # every request sent; the batches (150 x 20 ms) still running, the singles done
        server.proc.send_signal(signal.SIGTERM)
        for f in futures:
            f.result()
    server.proc.wait(60)
    sent = [s for s in results if s != 0]
    return {"in_flight": len(sent), "5xx": sum(1 for s in sent if s >= 500 and s != 503),
            "503": sent.count(503), "ok": sent.count(200), "dropped": sent.count(-1)}


def auth(server: Server) -> dict[str, int]:
    """Wrong keys until the first 429, from a loopback address of their own (127.0.0.2): the lockout of that
    address must not touch the other phases' client."""
    import httpx

    with _client(transport=httpx.HTTPTransport(local_address="127.0.0.2")) as client:
        for n in range(1000):
            r = client.post(f"{server.url}/v1/hs/suggest", json={"text": "x"},
                            headers={"X-API-Key": f"clr_guess{n}_{uuid.uuid4().hex}"})
            if r.status_code == 429:
                return {"failures_before_429": n, "retry_after": int(r.headers.get("Retry-After", 0))}
    return {"failures_before_429": 1000, "retry_after": 0}


# -------------------------------------------------------------------------------------------------------- main
SIZES = {
    "tiny": dict(fuzz_examples=1, fuzz_budget=8, rounds=1, per_round=8, clients=4, swaps=1, in_flight=4),
    "quick": dict(fuzz_examples=3, fuzz_budget=20, rounds=1, per_round=12, clients=8, swaps=1, in_flight=8),
    "full": dict(fuzz_examples=40, fuzz_budget=240, rounds=3, per_round=200, clients=32, swaps=3, in_flight=16),
}


def run(*, quick: bool = False, out: Path | None, workdir: Path | None = None, size: str | None = None
        ) -> dict[str, Any]:
    size = size or ("quick" if quick else "full")
    sizes = SIZES[size]
    workdir = workdir or Path(tempfile.mkdtemp(prefix="reliability-"))
    data_dir = workdir / "var"
    t0 = time.monotonic()
    keys = prepare(data_dir)
    server = Server(data_dir, score_delay_s=0.02)  # 20 ms a shipment: batches in flight at shutdown take seconds
    server.start()
    acked: dict[str, dict] = {}
    try:
        f = fuzz(server, keys["all"], sizes["fuzz_examples"], sizes["fuzz_budget"])
        print(f"fuzz: {f}", file=sys.stderr)
        b = bad_inputs(server, keys["all"])
        print(f"bad inputs: {b}", file=sys.stderr)
        k = kill9(server, keys, sizes["rounds"], sizes["per_round"], acked)
        print(f"kill9: {k}", file=sys.stderr)
        s = swap(server, keys, sizes["clients"], sizes["swaps"], acked)
        print(f"swap: {s}", file=sys.stderr)
        a = auth(server)
        print(f"auth: {a}", file=sys.stderr)
        d = shutdown(server, keys, sizes["in_flight"])
        print(f"shutdown: {d}", file=sys.stderr)
    finally:
        server.stop()
    result = {
        "fuzz_requests": f["requests"], "fuzz_5xx": f["5xx"],
        "bad_inputs_tried": b["tried"], "bad_inputs_5xx": b["5xx"],
        "kill9_rounds": sizes["rounds"], "kill9_sent": k["sent"], "kill9_acknowledged": k["acknowledged"],
        "kill9_lost": k["lost"], "kill9_duplicated": k["duplicated"],
        "swap_clients": sizes["clients"], "swap_swaps": s["swaps"], "swap_requests": s["requests"],
        "swap_failed": s["failed"],
        "shutdown_in_flight": d["in_flight"], "shutdown_5xx": d["5xx"], "shutdown_503": d["503"],
        "shutdown_ok": d["ok"], "shutdown_dropped": d["dropped"],
        "replay_missing": k["replay_missing"] + s["replay_missing"],
        "auth_failures_before_429": a["failures_before_429"], "auth_retry_after_s": a["retry_after"],
        "size": size, "seconds": round(time.monotonic() - t0, 1),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "loadavg": os.getloadavg()},
    }
    result["targets_met"] = all(result[k] == 0 for k in TARGETS)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve_main(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Small counts (what `make test` runs).")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "reliability.json")
    args = parser.parse_args()
    result = run(quick=args.quick, out=args.out)
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=2))
    if not result["targets_met"]:
        raise SystemExit("reliability targets not met: " + ", ".join(k for k in TARGETS if result[k]))


if __name__ == "__main__":
    main()
