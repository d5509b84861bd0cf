"""Ruling import throughput: read + validate rate and bulk-insert rate into a fresh SQLite store.

Writes ``bench/results/rulings_import.json``. The library is the demo generator's output written as CSV and JSONL;
``--n`` sets its size (``--quick`` = 10k rows for a smoke run). Target: >= 20k rows/s into SQLite for the insert.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data.nomenclature import Nomenclature
from data.rulings.importer import import_rulings
from data.rulings.readers import read_rulings
from data.rulings.repository import RulingRepository
from data.store.db import init_db, make_engine
from demo.rulings import generate_demo_rulings, write_demo_rulings

TARGET_INSERT_ROWS_PER_S = 20_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000, help="rulings in the library (default 100k)")
    parser.add_argument("--quick", action="store_true", help="10k rulings: a smoke run")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "rulings_import.json")
    args = parser.parse_args()
    n = 10_000 if args.quick else args.n
    result: dict = {"n": n, "python": platform.python_version(), "machine": platform.machine()}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        rulings = generate_demo_rulings(n, seed=1)
        result["generate_rows_per_s"] = round(n / (time.perf_counter() - t))

        engine = make_engine(f"sqlite:///{tmp / 'bench.db'}")
        init_db(engine)
        repo = RulingRepository(engine)
        t, c = time.perf_counter(), time.process_time()
        first = repo.upsert_many(rulings)
        insert_s, insert_cpu_s = time.perf_counter() - t, time.process_time() - c
        t = time.perf_counter()
        again = repo.upsert_many(rulings)
        dup_s = time.perf_counter() - t
        assert first.inserted == n and again.duplicates == n
        result["insert_rows_per_s"] = round(n / insert_s)
        # CPU-time rate as well: on a shared machine the wall-clock rate mostly measures the other processes.
        result["insert_rows_per_cpu_s"] = round(n / insert_cpu_s)
        result["load_average_1m"] = round(os.getloadavg()[0], 2)
        result["reinsert_duplicates_rows_per_s"] = round(n / dup_s)
        t = time.perf_counter()
        streamed = sum(1 for _ in repo.iter_all())
        result["iter_all_rows_per_s"] = round(streamed / (time.perf_counter() - t))

        nomenclature = Nomenclature.default()
        for suffix in (".csv", ".jsonl"):
            path = write_demo_rulings(tmp / f"lib{suffix}", n=n, seed=1)
            t = time.perf_counter()
            report = read_rulings(path, nomenclature=nomenclature)
            read_s = time.perf_counter() - t
            assert len(report.rulings) == n and not report.errors
            engine2 = make_engine(f"sqlite:///{tmp / f'import{suffix}.db'}")
            init_db(engine2)
            summary = import_rulings(engine2, path, progress=False, nomenclature=nomenclature)
            key = suffix.lstrip(".")
            result[f"read_validate_{key}_rows_per_s"] = round(n / read_s)
            result[f"import_{key}_end_to_end_rows_per_s"] = round(summary.rows_per_second)
            result[f"import_{key}_write_rows_per_s"] = round(n / summary.write_seconds)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["target_insert_rows_per_s"] = TARGET_INSERT_ROWS_PER_S
    result["meets_insert_target"] = result["insert_rows_per_s"] >= TARGET_INSERT_ROWS_PER_S
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
