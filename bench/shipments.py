"""Shipment pipeline speed: generator, history_frame, and per-row validate + checks + feature_row.

Writes ``bench/results/shipments.json``. ``--n`` sets the history size (default 200k, the training size);
``--quick`` = 5k for a smoke run. The per-row numbers are what batch scoring pays before the model itself (target for
the whole of batch scoring: >= 20,000 rows/s); ``history_frame`` is the feature part of H4's <= 2 min training budget.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data.generators.shipments import generate_shipments  # noqa: E402
from data.nomenclature import Nomenclature  # noqa: E402
from data.shipments.schema import Shipment  # noqa: E402
from features.checks import run_checks  # noqa: E402
from features.shipment_features import history_frame  # noqa: E402
from features.shipment_features import feature_row  # noqa: E402

TARGET_BATCH_ROWS_PER_S = 20_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200_000, help="shipments in the history (default 200k)")
    parser.add_argument("--quick", action="store_true", help="5k shipments: a smoke run")
    parser.add_argument("--rows", type=int, default=20_000, help="rows for the per-row timings")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "shipments.json")
    args = parser.parse_args()
    n = 5_000 if args.quick else args.n
    rows = min(args.rows, n)
    nom = Nomenclature.default()
    result: dict = {"n": n, "python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_avg_at_start": os.getloadavg()[0]}

    t = time.perf_counter()
    history = generate_shipments(n=n, seed=42)
    result["generate_s"] = round(time.perf_counter() - t, 2)
    print(f"generate_shipments({n}): {result['generate_s']} s", flush=True)

    docs = history.shipments[:rows]
    for d in docs[:2000]:  # warm the per-consignee phone cache and the HS memo, as a long-running service would be
        run_checks(Shipment.model_validate(d), nom)
    gc_was = gc.isenabled()
    gc.disable()
    try:
        t = time.perf_counter()
        shipments = [Shipment.model_validate(d) for d in docs]
        t_val = time.perf_counter() - t
        t = time.perf_counter()
        findings = [run_checks(s, nom) for s in shipments]
        t_chk = time.perf_counter() - t
        t = time.perf_counter()
        for s, f in zip(shipments, findings):
            feature_row(s, f)
        t_feat = time.perf_counter() - t
    finally:
        if gc_was:
            gc.enable()
    total = t_val + t_chk + t_feat
    result["per_row_us"] = {"validate": round(t_val / rows * 1e6, 2), "run_checks": round(t_chk / rows * 1e6, 2),
                            "feature_row": round(t_feat / rows * 1e6, 2), "total": round(total / rows * 1e6, 2)}
    result["batch_rows_per_s_before_model"] = round(rows / total)
    print(f"per row (us): {result['per_row_us']}; {result['batch_rows_per_s_before_model']} rows/s", flush=True)

    single = []
    for d in docs[:2000]:
        t = time.perf_counter()
        s = Shipment.model_validate(d)
        feature_row(s, run_checks(s, nom))
        single.append(time.perf_counter() - t)
    q = statistics.quantiles(single, n=100)
    result["single_ms"] = {"p50": round(q[49] * 1e3, 4), "p99": round(q[98] * 1e3, 4)}
    print(f"single shipment (ms): {result['single_ms']}", flush=True)

    t = time.perf_counter()
    frame = history_frame(n, 42, nomenclature=nom)
    result["history_frame_s"] = round(time.perf_counter() - t, 2)
    result["history_frame_shape"] = list(frame.shape)
    print(f"history_frame({n}): {result['history_frame_s']} s, shape {frame.shape}", flush=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
