"""Outcomes back into the product (issue 10): ingest rate, and a closed-loop regime change.

1. Ingest rate, rows/s, into a fresh SQLite store:
   - ``clearance shipments import`` (``features.shipment_records.import_outcomes``) of an outcomes-only CSV (what an
     ERP exports), the same file again (every row unchanged: the idempotent re-send), and a Parquet file with the
     shipment documents (the demo's path: schema validation, checks and feature rows per row);
   - ``POST /v1/shipments/outcomes`` in batches of ``--api-batch`` through the ASGI app in process (JSON parsing,
     per-item validation, store writes), beside the same outcomes posted one per request (the baseline: a
     routing system that reports each shipment as it clears).
2. Closed loop on generated data with a regime change (``demo.shipments.RegimeChange``: export port ``--port``
   becomes congested in the last ``--regime-months`` months). The history goes into the store through the import;
   the "old champion" is trained from the store as it stood when the regime began, the challenger from the store
   as it stands at the end (last month held out); both registered, and the promotion gate
   (``training.recent_gate``) compares them on the newest outcomes neither was trained on. Reported: the congested
   port's congestion figure before and during the regime, both models' figures on the recent month (all shipments
   and the congested port's), the gate's decision, and the same retrain with the congestion columns blanked (what
   the congestion features add beyond fresh data).

Writes ``bench/results/outcomes.json``. Sizes are parameters; the defaults keep it to a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import data  # noqa: E402,F401  (thread caps)

RESULT = ROOT / "bench" / "results" / "outcomes.json"
OUTCOME_COLUMNS = ["shipment_id", "declared_at", "released_at", "delay_hours", "inspected", "result", "first_pass",
                   "declaration_cost", "inspection_fees", "demurrage", "detention"]


def _fresh_store(root: Path, name: str):
    from data.store.db import init_db, make_engine

    engine = make_engine(f"sqlite:///{root / name}.db")
    init_db(engine)
    return engine


def ingest(history, root: Path, api_batch: int, api_single: int) -> dict:
    from demo.outcomes import outcome_frame
    from features.shipment_records import import_outcomes

    frame = outcome_frame(history)
    n = len(frame)
    csv_path, pq_path = root / "outcomes.csv", root / "outcomes-with-documents.parquet"
    frame[OUTCOME_COLUMNS].to_csv(csv_path, index=False)
    frame.to_parquet(pq_path, index=False)
    out: dict = {"rows": n}

    engine = _fresh_store(root, "import-csv")
    t = time.perf_counter()
    first = import_outcomes(engine, csv_path)
    out["import_csv"] = {"rows_per_s": round(n / (time.perf_counter() - t)), **first.outcomes.as_dict()}
    t = time.perf_counter()
    again = import_outcomes(engine, csv_path)
    out["import_csv_again"] = {"rows_per_s": round(n / (time.perf_counter() - t)), **again.outcomes.as_dict()}
    engine = _fresh_store(root, "import-documents")
    t = time.perf_counter()
    docs = import_outcomes(engine, pq_path)
    out["import_parquet_with_documents"] = {"rows_per_s": round(n / (time.perf_counter() - t)),
                                            "shipments": docs.shipments.inserted, **docs.outcomes.as_dict()}

    from fastapi.testclient import TestClient

    from data.settings import Settings
    from serving.app import create_app

    settings = Settings(data_dir=root / "api", auth_disabled=True, record_shipments=False,
                        max_outcome_batch=max(api_batch, 1))
    records = [{k: v for k, v in r.items() if v is not None and not (isinstance(v, float) and np.isnan(v))}
               for r in frame[OUTCOME_COLUMNS].to_dict("records")]
    items = [{"shipment_id": r["shipment_id"], "declared_at": r["declared_at"], "delay_hours": r["delay_hours"],
              **({"released_at": r["released_at"]} if "released_at" in r else {}),
              "inspected": bool(r["inspected"]), "result": r["result"], "first_pass": bool(r["first_pass"]),
              "costs": {k: r[k] for k in ("declaration_cost", "inspection_fees", "demurrage", "detention") if k in r}}
             for r in records]
    app = create_app(settings, start_models=False, poll=False)
    with TestClient(app) as client:
        t = time.perf_counter()
        stored = 0
        for a in range(0, len(items), api_batch):
            body = client.post("/v1/shipments/outcomes", json={"outcomes": items[a:a + api_batch]}).json()
            stored += body["stored"]["inserted"]
        batch_s = time.perf_counter() - t
        single = items[:api_single]
        t = time.perf_counter()
        for item in single:  # already stored: the same work per request, minus the insert
            client.post("/v1/shipments/outcomes", json={"outcomes": [item]})
        single_s = time.perf_counter() - t
    out["api_batch"] = {"batch_size": api_batch, "rows_per_s": round(len(items) / batch_s), "inserted": stored}
    out["api_one_per_request"] = {"requests": len(single), "rows_per_s": round(len(single) / single_s)}
    out["api_batch_vs_one_per_request"] = round((len(items) / batch_s) / (len(single) / single_s), 1)
    return out


def closed_loop(args, history, root: Path) -> dict:
    from data.settings import Settings
    from data.store.db import open_store
    from data.store.outcomes import ShipmentStore
    from demo.outcomes import write_outcomes
    from features.congestion import CongestionHistory
    from features.shipment_records import import_outcomes
    from models.names import DELAY, RISK
    from training import registry
    from training.recent_gate import compare_on_recent, model_metrics, promote_on_recent
    from training.shipment_models import train_shipment_models
    from training.store_history import store_history_frame

    settings = Settings(data_dir=root / "loop", threads=args.threads)
    engine = open_store(settings.database_url)
    path = write_outcomes(history, root / "loop-history.parquet")
    t = time.perf_counter()
    import_outcomes(engine, path)
    import_s = time.perf_counter() - t
    t = time.perf_counter()
    frame = store_history_frame(engine)
    frame_s = time.perf_counter() - t

    from demo.shipments import _month_starts

    starts = _month_starts(args.months)
    regime_from = pd.Timestamp(starts[args.months - args.regime_months]).tz_convert("UTC")
    last_month = pd.Timestamp(starts[args.months - 1]).tz_convert("UTC")
    # the old champion: trained from the store as it stood when the port started to clog
    old_frame = frame[frame.declared_at < regime_from]
    t = time.perf_counter()
    train_shipment_models(settings, old_frame, seed=0, baselines=False, progress=False, test_months=1, valid_months=1)
    for name in (DELAY, RISK):
        registry.promote(name, settings, actor="bench")
    # the challenger: retrained from the store at the end, the last month held out
    new = train_shipment_models(settings, frame, seed=0, baselines=False, progress=False, test_months=1,
                                valid_months=1)
    train_s = time.perf_counter() - t

    verdicts = {name: compare_on_recent(settings, name, frame) for name in (DELAY, RISK)}
    recent = frame[frame.declared_at >= pd.Timestamp(verdicts[DELAY].since)]
    port_recent = recent[recent.export_port == args.port]
    by_port = {}
    with tempfile.TemporaryDirectory() as tmp:
        from training.recent_gate import _load

        for role, alias in (("champion", registry.CHAMPION), ("challenger", registry.CHALLENGER)):
            v = registry.get_version(DELAY, settings, alias=alias).version
            native = _load(settings, DELAY, v, Path(tmp))
            by_port[role] = model_metrics(DELAY, native, port_recent)
            if role == "champion":
                champion_profile = native.model_.profile
    # the regime in drift: the recent month's rows against the old champion's training profile (what the
    # monitoring panel shows), and the same for a month before the regime as the no-drift reference
    from data.settings import Settings as _Settings
    from serving.models_api.monitoring import CALENDAR_FEATURES

    threshold = _Settings().drift_psi_threshold

    def drift_of(rows: pd.DataFrame) -> dict:
        found = champion_profile.drift(rows.drop(columns=[c for c in CALENDAR_FEATURES if c in rows]), threshold)
        return {"rows": len(rows), "drifted": [d["feature"] for d in found if d["drifted"]],
                "top": [{"feature": d["feature"], "psi": _r(d["psi"])} for d in found[:5]]}

    before = old_frame[old_frame.declared_at >= old_frame.declared_at.max() - pd.Timedelta(days=30)]
    drift = {"threshold": threshold, "month_before_regime": drift_of(before), "recent_month": drift_of(recent)}
    # what the congestion features add: the same retrain with those columns blanked (not registered)
    from features.congestion import CONGESTION_FEATURES
    from training.shipment_models import fit_shipment_models

    blind = frame.copy()
    blind[CONGESTION_FEATURES] = np.nan
    blind_delay = fit_shipment_models(blind, num_threads=args.threads, seed=0, baselines=False, test_months=1,
                                      valid_months=1)[DELAY].native
    blind_recent = blind[blind.declared_at >= pd.Timestamp(verdicts[DELAY].since)]
    by_port["challenger_without_congestion"] = model_metrics(DELAY, blind_delay,
                                                             blind_recent[blind_recent.export_port == args.port])
    without = model_metrics(DELAY, blind_delay, blind_recent)
    promotions = {name: promote_on_recent(settings, name, frame) for name in (DELAY, RISK)}

    rows = ShipmentStore(engine).congestion_rows()
    hist = CongestionHistory.from_rows(rows)
    end = frame.declared_at.max().to_pydatetime()

    def figure(at: datetime) -> dict:
        values = hist.snapshot(at).values(args.port, "")
        return {"as_of": at.isoformat(), "release_hours_p50": _r(values["export_port_release_p50_7d"]),
                "release_hours_p90": _r(values["export_port_release_p90_7d"]),
                "outcomes": values["export_port_outcomes_7d"]}

    others = old_frame[old_frame.export_port != args.port]
    keep = ("pinball_p50", "pinball_p90", "mae", "coverage_p90", "macro_f1", "auc_ovr", "precision_at_10pct", "ece")
    return {
        "regime": {"export_port": args.port, "months": args.regime_months, "from": regime_from.isoformat(),
                   "extra_hours_mean": args.shape * args.scale},
        "store": {"rows": len(frame), "import_s": round(import_s, 1), "training_frame_s": round(frame_s, 1),
                  "train_two_versions_s": round(train_s, 1)},
        "congestion_figure": {"before_regime": figure(regime_from.to_pydatetime()),
                              "during_regime": figure(last_month.to_pydatetime()), "at_end": figure(end),
                              "other_ports_delay_p50_before": _r(float(others.delay_hours.median()))},
        "recent": {"since": verdicts[DELAY].since, "rows": verdicts[DELAY].rows,
                   "congested_port_rows": len(port_recent)},
        "delay": {**{role: {k: _r(v) for k, v in verdicts[DELAY].metrics[role].items() if k in keep}
                     for role in ("champion", "challenger")},
                  "challenger_without_congestion": {k: _r(v) for k, v in without.items() if k in keep}},
        "delay_congested_port": {role: {k: _r(v) for k, v in m.items() if k in keep} for role, m in by_port.items()},
        "risk": {role: {k: _r(v) for k, v in verdicts[RISK].metrics[role].items() if k in keep}
                 for role in ("champion", "challenger")},
        "drift": drift,
        "gate": {name: {"promoted": p.promoted, "reason": p.reason} for name, p in promotions.items()},
        "challenger_test_split": new[DELAY].metrics["split"],
    }


def _r(v, nd: int = 4):
    return None if v is None or (isinstance(v, float) and not np.isfinite(v)) else round(float(v), nd)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=30_000, help="generated shipments (ingest and closed loop)")
    ap.add_argument("--months", type=int, default=18)
    ap.add_argument("--port", default="CNNGB", help="export port that becomes congested")
    ap.add_argument("--regime-months", type=int, default=3)
    ap.add_argument("--shape", type=float, default=3.0)
    ap.add_argument("--scale", type=float, default=20.0)
    ap.add_argument("--api-batch", type=int, default=2000)
    ap.add_argument("--api-single", type=int, default=300, help="outcomes posted one per request (baseline)")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("CLEARANCE_THREADS", "2")))
    ap.add_argument("--out", type=Path, default=RESULT)
    args = ap.parse_args()

    from demo.shipments import RegimeChange, generate_shipments

    t = time.perf_counter()
    history = generate_shipments(n=args.n, months=args.months, seed=11, regime=RegimeChange(
        args.port, args.regime_months, args.shape, args.scale))
    gen_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        result = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                              "loadavg_start": [round(x, 2) for x in os.getloadavg()]},
                  "params": vars(args) | {"out": str(args.out)}, "generate_s": round(gen_s, 1),
                  "ingest": ingest(history, root, args.api_batch, args.api_single)}
        print(json.dumps(result["ingest"], indent=2))
        result["closed_loop"] = closed_loop(args, history, root)
    result["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    result["at"] = datetime.now(UTC).isoformat()
    print(json.dumps(result["closed_loop"], indent=2, default=str))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
