"""Scale-out measures of issue 12: Dask against one process, in the same run (docs/dask.md).

- Training: the delay and risk models (specs shipments-delay / shipments-risk) on a generated history written as a
  partitioned Parquet folder, in one process (pandas in memory, `train_spec`) and on a LocalCluster of ``--workers``
  worker processes (`lightgbm.dask`, `train_spec_dask`): wall time, test metrics of both, their ratios, and peak
  memory (the one process; on Dask the client process and each worker).
- Batch scoring: shipment documents in a Parquet file (row groups = partitions) scored through Dask
  (`score_file_dask`: the one scoring path per partition, results as Parquet parts) against one process reading the
  same row groups and calling `ShipmentScorer.score_documents`: rows/s and peak memory per worker.
- Store writes (SQLite vs PostgreSQL): `bench/store_writes.py`, see the marked place below.

Each engine runs in a fresh subprocess, so peak memory (``VmHWM``, reset by ``exec``) is that engine's own. The history is built
from ``--train-n / 100k`` generator runs of 100k shipments (seeds 1, 2, ...; each split in time on its own: train on
the first 18 months, valid the next 2, test the last 4), because one generator run holds all its documents in memory.

The issue asks 2M training and 1M scoring shipments (the defaults); on a shared 2-core machine use smaller sizes
(``--train-n 200000 --score-n 100000``, or ``--quick``) and say which were run: the sizes are in the result.
Writes ``bench/results/scale.json``. Run ``nice python bench/scale.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULT = ROOT / "bench" / "results" / "scale.json"
CHUNK = 100_000  # shipments per generator run
PART_ROWS = 25_000  # training rows per Parquet file
SPECS = ("shipments-delay", "shipments-risk")
SHOWN = {"shipments-delay": ["pinball_p50", "pinball_p90", "coverage_p90", "mae"],
         "shipments-risk": ["macro_f1", "auc_ovr", "log_loss", "precision_at_5pct"]}


def _peak_mb() -> float:
    from training.cluster.scoring import peak_rss_mb

    return peak_rss_mb()


# ---- data --------------------------------------------------------------------------------------------------------
def build_training_data(n: int, folder: Path, cache: Path) -> dict[str, Any]:
    """Train parts (one Parquet file per generator run) and valid/test files; returns their row counts."""
    import shutil

    import pandas as pd

    from demo.history import history_frame
    from training.shipment_models import time_split

    shutil.rmtree(folder / "train", ignore_errors=True)
    (folder / "train").mkdir(parents=True)
    valid, test, rows = [], [], 0
    runs = max(1, round(n / CHUNK))
    size = n if runs == 1 else CHUNK
    for run in range(runs):
        frame = history_frame(n=size, seed=1 + run, cache_dir=cache, progress=True)
        frame["shipment_id"] = f"r{run}-" + frame["shipment_id"].astype(str)
        tr, va, te = time_split(frame)
        for k, a in enumerate(range(0, len(tr), PART_ROWS)):  # files of PART_ROWS rows: the Dask partitions
            tr.iloc[a:a + PART_ROWS].to_parquet(folder / "train" / f"part-{run:04d}-{k:03d}.parquet", index=False)
        valid.append(va)
        test.append(te)
        rows += len(tr)
    pd.concat(valid).to_parquet(folder / "valid.parquet", index=False)
    pd.concat(test).to_parquet(folder / "test.parquet", index=False)
    return {"train_rows": rows, "valid_rows": sum(map(len, valid)), "test_rows": sum(map(len, test)),
            "train_files": len(list((folder / "train").glob("*.parquet"))), "generator_runs": runs}


def build_scoring_data(n: int, path: Path, row_group: int) -> None:
    """``n`` shipment documents as nested Parquet, in row groups of ``row_group`` (the Dask partitions)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tqdm import tqdm

    from demo.shipments import generate_shipments

    writer = None
    with tqdm(total=n, desc="scoring documents", unit="doc") as bar:
        for k, a in enumerate(range(0, n, 50_000)):
            docs = generate_shipments(n=min(50_000, n - a), months=24, seed=1000 + k).shipments
            table = pa.Table.from_pylist(docs, schema=writer.schema if writer else None)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table, row_group_size=row_group)
            bar.update(len(docs))
    writer.close()


# ---- the engines, each in its own process --------------------------------------------------------------------------
def child_train_local(args: dict) -> dict:
    import pickle

    import pandas as pd

    from data.specs.schema import builtin_spec
    from training.tabular import train_spec

    folder = Path(args["folder"])
    t0 = time.perf_counter()
    train = pd.read_parquet(folder / "train")
    valid, test = pd.read_parquet(folder / "valid.parquet"), pd.read_parquet(folder / "test.parquet")
    read_s = time.perf_counter() - t0
    out: dict[str, Any] = {"read_s": round(read_s, 2), "models": {}}
    models = {}
    for name in SPECS:
        res = train_spec(builtin_spec(name), train, valid, test, num_threads=args["threads"], progress=False)
        models[name] = res.model
        out["models"][name] = {"train_s": round(res.train_seconds, 2), "best_iterations": res.model.best_iterations_,
                               "test": res.metrics["test"]}
    out["seconds"] = round(time.perf_counter() - t0, 2)
    out["peak_rss_mb"] = _peak_mb()
    with open(folder / "models.pkl", "wb") as fh:  # the scoring measure reuses these boosters
        pickle.dump(models, fh)
    return out


def _start_cluster(workers: int, memory: str) -> tuple[Any, Any, float]:
    from dask.distributed import Client, LocalCluster

    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, memory_limit=memory,
                           dashboard_address=":0")
    return cluster, Client(cluster), time.perf_counter() - t0


def _worker_peaks(client: Any) -> dict[str, float]:
    return {addr: round(v, 1) for addr, v in client.run(_peak_mb).items()}


def child_train_dask(args: dict) -> dict:
    import pandas as pd

    from data.specs.schema import builtin_spec
    from training.cluster.tabular import read_partitioned, train_spec_dask

    folder = Path(args["folder"])
    cluster, client, start_s = _start_cluster(args["workers"], args["worker_memory"])
    try:
        t0 = time.perf_counter()
        valid, test = pd.read_parquet(folder / "valid.parquet"), pd.read_parquet(folder / "test.parquet")
        out: dict[str, Any] = {"cluster_start_s": round(start_s, 2), "workers": args["workers"], "models": {}}
        for name in SPECS:
            train = read_partitioned(folder / "train")  # lazily: the partitions are read on the workers
            res = train_spec_dask(builtin_spec(name), train, valid, test, client, progress=False,
                                  sample_rows=args["sample_rows"])
            out["models"][name] = {"train_s": round(res.train_seconds, 2),
                                   "best_iterations": res.model.best_iterations_, "test": res.metrics["test"],
                                   "partitions": res.extra["partitions"],
                                   "preprocessor_rows": res.extra["preprocessor_rows"]}
        out["seconds"] = round(time.perf_counter() - t0, 2)
        out["client_peak_rss_mb"] = _peak_mb()
        out["worker_peak_rss_mb"] = _worker_peaks(client)
    finally:
        client.close()
        cluster.close()
    return out


def _scorer(folder: Path) -> Any:
    import pickle

    from data.nomenclature import Nomenclature
    from models.advisories import load_rules
    from models.delay import DelayModel
    from models.risk import RiskModel
    from models.scoring import ShipmentScorer

    with open(folder / "models.pkl", "rb") as fh:
        models = pickle.load(fh)
    return ShipmentScorer(DelayModel.from_tabular(models["shipments-delay"]),
                          RiskModel.from_tabular(models["shipments-risk"]), load_rules(), Nomenclature.default())


def child_score_local(args: dict) -> dict:
    """The baseline: the same per-partition work as a Dask worker (read a row group, score it through
    ``score_documents``, write its Parquet part), one partition after the other in this one process."""
    import pyarrow.parquet as pq

    from training.cluster.scoring import _read_row_group, _score_partition

    folder, path = Path(args["folder"]), Path(args["scoring_file"])
    scorer = _scorer(folder)
    groups = pq.ParquetFile(path).num_row_groups
    out = folder / "scored-local"
    out.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    n_ok = n = 0
    for g in range(min(groups, args["local_groups"])):
        summary = _score_partition(g, _read_row_group(str(path), g), scorer, str(out), False)
        n += summary["documents"]
        n_ok += summary["scored"]
    seconds = time.perf_counter() - t0
    return {"documents": n, "scored": n_ok, "seconds": round(seconds, 2), "rows_per_s": round(n_ok / seconds, 1),
            "peak_rss_mb": _peak_mb()}


def child_score_dask(args: dict) -> dict:
    from training.cluster.scoring import score_file_dask

    folder = Path(args["folder"])
    scorer = _scorer(folder)
    cluster, client, start_s = _start_cluster(args["workers"], args["worker_memory"])
    try:
        report = score_file_dask(args["scoring_file"], folder / "scored", scorer, client, explain=False)
    finally:
        client.close()
        cluster.close()
    report.pop("per_partition")
    return {**report, "cluster_start_s": round(start_s, 2), "client_peak_rss_mb": _peak_mb()}


CHILDREN = {"train-local": child_train_local, "train-dask": child_train_dask, "score-local": child_score_local,
            "score-dask": child_score_dask}


def run_child(name: str, args: dict) -> dict:
    """Run one engine in a fresh interpreter; its JSON comes back through a file."""
    out = Path(args["folder"]) / f"{name}.json"
    out.unlink(missing_ok=True)
    subprocess.run([sys.executable, __file__, "--child", name, "--child-args", json.dumps(args),
                    "--child-out", str(out)], check=True)
    return json.loads(out.read_text())


# ---- the store-writes measure --------------------------------------------------------------------------------------
def store_writes(args: argparse.Namespace) -> dict:
    """Reviewer-decision writes/s, SQLite vs PostgreSQL, 1 and 8 writers (bench/store_writes.py); under "store"."""
    from bench.store_writes import measure

    return measure(per_writer=10 if args.quick else 50, rounds=1 if args.quick else 3)


# ---- report --------------------------------------------------------------------------------------------------------
def compare(local: dict, dask: dict) -> dict:
    out = {}
    for name in SPECS:
        lm, dm = local["models"][name]["test"], dask["models"][name]["test"]
        out[name] = {k: {"local": round(lm[k], 4), "dask": round(dm[k], 4),
                         "dask_over_local": round(dm[k] / lm[k], 4) if lm[k] else None} for k in SHOWN[name]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-n", type=int, default=2_000_000, help="generated shipments in the training history")
    ap.add_argument("--score-n", type=int, default=1_000_000, help="shipments scored in batch")
    ap.add_argument("--quick", action="store_true", help="smoke run: 20k history, 10k scored")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--worker-memory", default="3GiB", help="memory limit of each Dask worker")
    ap.add_argument("--sample-rows", type=int, default=500_000, help="rows the Dask preprocessor is fitted on")
    ap.add_argument("--row-group", type=int, default=10_000, help="scoring documents per Parquet row group")
    ap.add_argument("--local-score-n", type=int, default=100_000,
                    help="documents of the same file the one-process baseline scores (rows/s is per row)")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("CLEARANCE_THREADS", "2")))
    ap.add_argument("--work", type=Path, default=ROOT / "var" / "bench-scale", help="folder for the data")
    ap.add_argument("--cache", type=Path, default=ROOT / "var" / "cache", help="history frame cache folder")
    ap.add_argument("--out", type=Path, default=RESULT)
    ap.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    ap.add_argument("--child-args", help=argparse.SUPPRESS)
    ap.add_argument("--child-out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        result = CHILDREN[args.child](json.loads(args.child_args))
        Path(args.child_out).write_text(json.dumps(result, default=str))
        return
    train_n, score_n = (20_000, 10_000) if args.quick else (args.train_n, args.score_n)
    folder = args.work
    folder.mkdir(parents=True, exist_ok=True)
    load_at_start = os.getloadavg()[0]

    t0 = time.perf_counter()
    data = build_training_data(train_n, folder, args.cache)
    scoring_file = folder / "shipments.parquet"
    row_group = max(1000, min(args.row_group, score_n // (4 * args.workers)))  # a few partitions per worker
    build_scoring_data(score_n, scoring_file, row_group)
    data_s = time.perf_counter() - t0
    common = {"folder": str(folder), "threads": args.threads, "workers": args.workers,
              "worker_memory": args.worker_memory, "sample_rows": args.sample_rows,
              "scoring_file": str(scoring_file),
              "local_groups": max(1, min(args.local_score_n, score_n) // row_group)}

    local = run_child("train-local", common)
    print(f"local training: {local['seconds']} s, peak {local['peak_rss_mb']} MB", flush=True)
    dask = run_child("train-dask", common)
    print(f"dask training: {dask['seconds']} s, workers {dask['worker_peak_rss_mb']} MB", flush=True)
    score_local = run_child("score-local", common)
    score_dask = run_child("score-dask", common)
    print(f"scoring: local {score_local['rows_per_s']} rows/s, dask {score_dask['rows_per_s']} rows/s", flush=True)

    result = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "threads": args.threads,
                    "load_avg_1m_at_start": load_at_start, "load_avg_1m": os.getloadavg()[0]},
        "sizes": {"asked_by_issue": {"train_shipments": 2_000_000, "score_shipments": 1_000_000},
                  "ran": {"train_shipments": train_n, "score_shipments": score_n, "score_row_group": row_group}, "quick": args.quick, **data},
        "data_build_s": round(data_s, 1),
        "training": {
            "local": local, "dask": dask,
            "dask_over_local_seconds": round(dask["seconds"] / local["seconds"], 2),
            "test_metrics": compare(local, dask),
            "peak_rss_mb": {"local_process": local["peak_rss_mb"], "dask_client": dask["client_peak_rss_mb"],
                            "dask_workers": dask["worker_peak_rss_mb"]},
        },
        "scoring": {
            "local_one_process": score_local, "dask": score_dask,
            "dask_over_local_rows_per_s": round(score_dask["rows_per_s"] / score_local["rows_per_s"], 2),
        },
        "store": store_writes(args),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps({"training": result["training"]["test_metrics"],
                      "seconds": {"local": local["seconds"], "dask": dask["seconds"]},
                      "peak_rss_mb": result["training"]["peak_rss_mb"],
                      "scoring_rows_per_s": {"local": score_local["rows_per_s"], "dask": score_dask["rows_per_s"]},
                      "scoring_worker_peak_rss_mb": score_dask["worker_peak_rss_mb"]}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
