"""The shipped KCS spec (``data/specs/kcs-declarations.yaml``) on the Korea Customs declarations.

Two protocols, both tuning only on data that is not reported as untouched:
- ``standard`` (what ``clearance risk train`` does): fit on train (2020), tune the grid / early stopping / isotonic
  calibration on valid (2021-01..03), report train and valid. Valid is the tuning split, so its numbers are slightly
  optimistic by construction.
- ``holdout``: the same pipeline with valid split in time: tune on 2021-01..02, report 2021-03 as an untouched test.

The published LightGBM result on this data (its own test months) is 0.762 precision@5% and 0.641 @10%.
Writes ``bench/results/kcs.json``. Run ``nice python bench/kcs.py`` (``--quick``: 12k training rows, one grid point).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

import data  # noqa: E402,F401  (thread caps)
from data.specs.schema import builtin_spec  # noqa: E402
from training.tabular import train_spec  # noqa: E402

DATASET = ROOT.parent / "shared" / "datasets" / "kcs-declarations"
RESULT = ROOT / "bench" / "results" / "kcs.json"
KEYS = ("precision_at_5pct", "precision_at_10pct", "roc_auc", "pr_auc", "log_loss", "ece", "n", "positive_rate")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("CLEARANCE_THREADS", "2")))
    ap.add_argument("--out", type=Path, default=RESULT)
    args = ap.parse_args()
    if not DATASET.is_dir():
        sys.exit(f"dataset not found: {DATASET}")
    train = pd.read_csv(DATASET / "train.csv")
    valid = pd.read_csv(DATASET / "valid.csv")
    spec = builtin_spec("kcs-declarations")
    if args.quick:
        train = train.sample(12_000, random_state=0)
        spec = spec.model_copy(update={"model": spec.model.model_copy(update={
            "grid": {"num_leaves": [31]}, "num_boost_round": 400,
            "params": {**spec.model.params, "learning_rate": 0.1}})})

    out: dict = {"spec": "data/specs/kcs-declarations.yaml", "quick": args.quick,
                 "published_lightgbm": {"precision_at_5pct": 0.762, "precision_at_10pct": 0.641},
                 "train_rows": len(train), "valid_rows": len(valid)}
    t0 = time.perf_counter()
    std = train_spec(spec, train, valid, num_threads=args.threads, progress=True)
    out["standard"] = {"seconds": round(time.perf_counter() - t0, 1), "best_params": std.best_params,
                       "best_iterations": std.model.best_iterations_, "grid": std.grid,
                       **{s: {k: round(v, 4) for k, v in m.items() if k in KEYS} for s, m in std.metrics.items()}}
    dates = pd.to_datetime(valid["Date"])
    tune, hold = valid[dates < "2021-03-01"], valid[dates >= "2021-03-01"]
    t0 = time.perf_counter()
    ho = train_spec(spec, train, tune, hold, num_threads=args.threads, progress=True)
    out["holdout"] = {"tune": "2021-01..02", "test": "2021-03", "seconds": round(time.perf_counter() - t0, 1),
                      "best_params": ho.best_params, "best_iterations": ho.model.best_iterations_,
                      **{s: {k: round(v, 4) for k, v in m.items() if k in KEYS} for s, m in ho.metrics.items()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print(json.dumps({"valid (tuned on)": out["standard"]["valid"], "2021-03 untouched": out["holdout"]["test"]},
                     indent=2))


if __name__ == "__main__":
    main()
