"""Shipment scoring speed and training time (issue 3, must-have 9).

Measures, on the machine it runs on (targets are for 2 cores):
- single-shipment latency p50/p99 of ``ShipmentScorer.score`` *including* checks, feature row, both models,
  explanations and advisories (target p50 <= 5 ms);
- batch throughput in rows/s without explanations (target >= 20,000), end to end from JSON documents
  (``ShipmentScorer.score_documents``: pydantic validation, checks, feature rows, both models, result objects and
  advisories), in one process and with one worker process beside it (``workers=1``: both cores); each the best of
  three runs with the phone-number cache cleared before each run, so every batch pays for its first-seen numbers.
  ``score_batch`` on already-validated shipments is reported too;
- training time of the delay + risk LightGBM models on the history (target <= 2 min for 200k shipments; history
  generation is reported separately, it is the generator's cost, not training).

Writes ``bench/results/risk_score.json``. Run ``nice python bench/risk_score.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import data  # noqa: E402,F401  (thread caps)

RESULT = ROOT / "bench" / "results" / "risk_score.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200_000, help="shipments in the training history")
    ap.add_argument("--quick", action="store_true", help="smoke run: 20k history, fewer timing rounds")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("CLEARANCE_THREADS", "2")))
    ap.add_argument("--cache", type=Path, default=ROOT / "var" / "cache", help="history frame cache folder")
    ap.add_argument("--out", type=Path, default=RESULT)
    args = ap.parse_args()
    n = 20_000 if args.quick else args.n
    n_single = 300 if args.quick else 2000
    n_batch = 5000 if args.quick else 20_000

    from data.generators.shipments import generate_shipments
    from data.nomenclature import Nomenclature
    from data.shipments.schema import Shipment
    from features.shipment_features import history_frame
    from models.advisories import load_rules
    from models.scoring import ShipmentScorer
    from training.risk import fit_shipment_models

    load_at_start = os.getloadavg()[0]
    t0 = time.perf_counter()
    frame = history_frame(n=n, seed=42, cache_dir=args.cache, progress=True)
    history_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    results = fit_shipment_models(frame, num_threads=args.threads, seed=0, baselines=False)
    train_s = time.perf_counter() - t0
    delay, risk = results["clearance-delay"].native, results["clearance-risk"].native

    nomenclature = Nomenclature.default()
    scorer = ShipmentScorer(delay, risk, load_rules(), nomenclature)
    docs = generate_shipments(n=max(n_batch, 2000), months=24, seed=7).shipments  # JSON documents
    shipments = [Shipment.model_validate(d) for d in docs]

    for s in shipments[:50]:  # warm-up: first LightGBM calls allocate
        scorer.score(s)
    # Wall time is what a caller sees; CPU time of this process is reported too because on a shared machine the
    # wall time mostly measures waiting for a core.
    lat, lat_cpu = [], []
    for i in range(n_single):
        s = shipments[i % len(shipments)]
        t, c = time.perf_counter(), time.thread_time()
        scorer.score(s, explain=True)
        lat.append((time.perf_counter() - t) * 1000)
        lat_cpu.append((time.thread_time() - c) * 1000)
    lat_plain = []
    for i in range(n_single):
        s = shipments[i % len(shipments)]
        t = time.perf_counter()
        scorer.score(s, explain=False)
        lat_plain.append((time.perf_counter() - t) * 1000)

    batch = shipments[:n_batch]
    batch_docs = docs[:n_batch]
    scorer.score_batch(batch[:500])
    from features.checks import phone_status

    def timed(fn):
        """Best of three (wall, cpu of this process) runs; the phone cache starts empty each time."""
        best = None
        for _ in range(3):
            phone_status.cache_clear()
            t, c = time.perf_counter(), time.process_time()
            out = fn()
            run = (time.perf_counter() - t, time.process_time() - c, out)
            best = run if best is None or run[0] < best[0] else best
        return best[2], best[:2]

    out, (batch_s, batch_cpu) = timed(lambda: scorer.score_batch(batch, explain=False))
    assert len(out) == len(batch)
    doc_out, (e2e_s, e2e_cpu) = timed(lambda: scorer.score_documents(batch_docs))
    assert not doc_out.errors and doc_out.workers_used == 0
    pooled = ShipmentScorer(delay, risk, load_rules(), nomenclature, workers=max(1, args.threads - 1))
    t0 = time.perf_counter()
    pooled.start_workers()
    pool_start_s = time.perf_counter() - t0
    pooled.score_documents(batch_docs[:5000])
    pool_out, (pool_s, pool_cpu) = timed(lambda: pooled.score_documents(batch_docs))
    worker_cpu = pool_out.worker_cpu_s
    assert not pool_out.errors and pool_out.workers_used == pooled.workers
    assert [r.risk.probabilities.high for r in pool_out.results] == [r.risk.probabilities.high for r in doc_out.results]
    pooled.close()

    # Where the batch time goes: validation, checks + feature rows, the models alone.
    from features.checks import run_checks
    from features.shipment_features import feature_row

    t = time.perf_counter()
    for d in batch_docs:
        Shipment.model_validate(d)
    validate_s = time.perf_counter() - t
    t = time.perf_counter()
    rows = [feature_row(s, run_checks(s, nomenclature)) for s in batch]
    rows_s = time.perf_counter() - t
    t = time.perf_counter()
    delay.predict_matrix(delay.matrix(rows))
    risk.predict_matrix(risk.matrix(rows))
    models_s = time.perf_counter() - t

    p50, p99 = float(np.percentile(lat, 50)), float(np.percentile(lat, 99))
    result = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "threads": args.threads,
                    "load_avg_1m_at_start": load_at_start,
                    "load_avg_1m": os.getloadavg()[0]},
        "quick": args.quick,
        "history_shipments": n,
        "history_generation_s": round(history_s, 1),
        "training_s": round(train_s, 1),
        "training_s_delay": round(results["clearance-delay"].train_seconds, 1),
        "training_s_risk": round(results["clearance-risk"].train_seconds, 1),
        "best_iterations": {"delay": delay.best_iterations, "risk": risk.best_iterations},
        "single": {"n": n_single, "p50_ms": round(p50, 3), "p99_ms": round(p99, 3),
                   "p50_cpu_ms": round(float(np.percentile(lat_cpu, 50)), 3),
                   "p99_cpu_ms": round(float(np.percentile(lat_cpu, 99)), 3),
                   "p50_ms_no_explain": round(float(np.percentile(lat_plain, 50)), 3),
                   "p99_ms_no_explain": round(float(np.percentile(lat_plain, 99)), 3)},
        "batch": {"n": len(batch),
                  # the target figure: JSON documents in, both cores (this process + 1 worker process)
                  "rows_per_s": round(len(batch) / pool_s),
                  "workers": pooled.workers, "pool_start_s": round(pool_start_s, 2),
                  "parent_cpu_us_per_row": round(pool_cpu / len(batch) * 1e6, 1),
                  "worker_cpu_us_per_row": round(worker_cpu / len(batch) * 1e6, 1),
                  # On a loaded machine the processes wait for cores; with two idle cores the batch takes about as
                  # long as the busier process needs CPU. An estimate, labelled as such, next to the measured figure.
                  "cpu_bound_estimate_rows_per_s": round(len(batch) / max(pool_cpu, worker_cpu)),
                  "one_process_rows_per_s": round(len(batch) / e2e_s),
                  "one_process_rows_per_cpu_s": round(len(batch) / e2e_cpu),
                  "score_batch_prevalidated_rows_per_s": round(len(batch) / batch_s),
                  "score_batch_prevalidated_rows_per_cpu_s": round(len(batch) / batch_cpu),
                  "note": "rows_per_s: JSON documents in (validation included), this process plus one spawned worker "
                          "process sharing chunks; wall time, so on a loaded machine it measures waiting for cores. "
                          "cpu_bound_estimate_rows_per_s = rows / the busier process's CPU time: what two idle cores "
                          "would give, an estimate. one_process_*: the same without the worker.",
                  "validation_rows_per_s": round(len(batch) / validate_s),
                  "checks_and_feature_rows_rows_per_s": round(len(batch) / rows_s),
                  "models_only_rows_per_s": round(len(batch) / models_s)},
        "targets": {"single_p50_ms": 5.0, "batch_rows_per_s": 20_000, "training_s": 120},
        "meets": {"single_p50": p50 <= 5.0, "batch": len(batch) / pool_s >= 20_000, "training": train_s <= 120},
        "test_metrics": {"delay": results["clearance-delay"].metrics["test"],
                         "risk": results["clearance-risk"].metrics["test"]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("training_s", "single", "batch", "meets")}, indent=2))


if __name__ == "__main__":
    main()
