"""Store write throughput: reviewer decisions per second on SQLite and on PostgreSQL, with 1 and 8 writers.

Writes ``bench/results/store_writes.json``. A write is one whole reviewer decision as the feedback route stores it
(``serving.feedback.service.record_decision``: validate, ruling insert-if-new, review-log row, each committed), every
decision distinct. Writers are threads of one process, each on its own pooled connection: what two or more replicas
sending decisions at once look like to the database.

The baseline is today's embedded default (SQLite, WAL, ``synchronous=NORMAL``: a commit does not wait for the disk).
PostgreSQL runs a throwaway server with its production defaults (``fsync=on``, ``synchronous_commit=on``: every
commit waits for its WAL flush), so it pays for durability SQLite's default does not give; ``tests/postgres_server.py``
starts it (``CLEARANCE_TEST_POSTGRES_URL`` points at an existing server instead).

``measure()`` is the function ``bench/scale.py`` calls; ``python bench/store_writes.py [--quick]`` runs it alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

OUT = Path(__file__).resolve().parent / "results" / "store_writes.json"


def _decision(writer: int, i: int, run: str):
    from serving.feedback.service import Decision

    return Decision(text=f"stainless steel vacuum flask {run} writer {writer} item {i}", action="override",
                    suggested_code="961700", final_code="7323930000", reason="kitchenware", reviewer=f"bench-{writer}",
                    model_name="clearance-hs-suggester", model_version="1", evidence_ids=["r1", "r2"])


def _rate(url: str, writers: int, per_writer: int, nomenclature, rounds: int) -> dict:
    """Median writes/s over ``rounds`` rounds of ``writers`` x ``per_writer`` decisions on the store at ``url``."""
    from data.store.db import make_engine, upgrade_store
    from data.store.reviews import count_reviews
    from serving.feedback.service import record_decision

    engine = make_engine(url)
    upgrade_store(engine)
    engine.pool.dispose()
    rates = []
    for r in range(rounds):
        before = count_reviews(engine)
        run = f"w{writers}-r{r}-{time.time_ns()}"

        def write(w: int, run: str = run) -> None:
            for i in range(per_writer):
                record_decision(engine, None, _decision(w, i, run), nomenclature=nomenclature, channel="api")

        start = time.perf_counter()
        with ThreadPoolExecutor(writers) as pool:
            list(pool.map(write, range(writers)))
        elapsed = time.perf_counter() - start
        written = count_reviews(engine) - before
        assert written == writers * per_writer, f"{written} of {writers * per_writer} decisions stored"
        rates.append(written / elapsed)
    engine.dispose()
    rates.sort()
    return {"writers": writers, "decisions": writers * per_writer, "rounds": rounds,
            "writes_per_s": round(rates[len(rates) // 2], 1), "all_rounds_writes_per_s": [round(x, 1) for x in rates]}


def measure(*, per_writer: int = 50, writer_counts: tuple[int, ...] = (1, 8), rounds: int = 3,
            postgres_url: str | None = None) -> dict:
    """Writes/s of reviewer decisions on SQLite and PostgreSQL for each writer count, with ratios to SQLite.

    ``postgres_url``: an empty database to use; default: a throwaway durable server started here (and stopped).
    Backends alternate within each writer count, so load changes on a shared machine hit both alike.
    """
    from data.nomenclature import Nomenclature
    from tests import postgres_server

    nomenclature = Nomenclature.default()
    server = None
    skipped = None
    if postgres_url is None:
        try:
            server = postgres_server.start(durable=True)
            postgres_url = server.create_database("bench")
        except RuntimeError as exc:  # no PostgreSQL here: the SQLite numbers still come, and the payload says why
            skipped = str(exc)
    result: dict = {"per_writer": per_writer, "python": platform.python_version(), "cpus": os.cpu_count(),
                    "sqlite": {}, "postgresql": {}, "pg_over_sqlite": {},
                    "sqlite_settings": "WAL, synchronous=NORMAL (the embedded default)",
                    "postgresql_settings": "fsync=on, synchronous_commit=on (production defaults)"}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            sqlite_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            for writers in writer_counts:
                lite = _rate(sqlite_url, writers, per_writer, nomenclature, rounds)
                result["sqlite"][str(writers)] = lite
                if skipped is not None:
                    print(f"{writers} writer(s): SQLite {lite['writes_per_s']:.0f}/s, PostgreSQL skipped", flush=True)
                    continue
                pg = _rate(postgres_url, writers, per_writer, nomenclature, rounds)
                result["postgresql"][str(writers)] = pg
                result["pg_over_sqlite"][str(writers)] = round(pg["writes_per_s"] / lite["writes_per_s"], 2)
                print(f"{writers} writer(s): SQLite {lite['writes_per_s']:.0f}/s, PostgreSQL {pg['writes_per_s']:.0f}/s",
                      flush=True)
    finally:
        if server is not None:
            server.stop()
    for name in ("sqlite", "postgresql"):
        counts = sorted((k for k in result[name] if k.isdigit()), key=int)
        if len(counts) > 1:  # how each engine scales from one writer to many
            result[name]["scaling"] = round(result[name][counts[-1]]["writes_per_s"]
                                            / result[name][counts[0]]["writes_per_s"], 2)
    if skipped is not None:
        result["postgresql"] = {"status": f"skipped: {skipped}"}
    result["load_average_1m"] = round(os.getloadavg()[0], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-writer", type=int, default=50, help="decisions per writer per round (default 50)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10 decisions per writer, one round: a smoke run")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    per_writer, rounds = (10, 1) if args.quick else (args.per_writer, args.rounds)
    result = measure(per_writer=per_writer, rounds=rounds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
