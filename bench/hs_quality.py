"""HS suggestion quality on real data: cbec-zh-titles, seeded random 20% held out, suggester vs TF-IDF+LinearSVC.

Runs the same code path as ``clearance hs evaluate --baseline`` (library file → temporary store → suggester, queries
answered, baseline trained on the same stored library) and writes ``bench/results/hs_quality.json``.
The quality bar: HS6 top-1 above the baseline's, HS6 top-5 ≥ 0.98.

    python bench/hs_quality.py            # full 30k rows (24k library / 6k queries), ~10 min on 2 quiet cores
    python bench/hs_quality.py --rows 5000 --quick
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import data  # noqa: E402,F401  (thread caps)

DATASET = ROOT.parent / "shared" / "datasets" / "cbec-zh-titles" / "train.tsv"
RESULT = ROOT / "bench" / "results" / "hs_quality.json"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, default=DATASET)
    ap.add_argument("--rows", type=int, default=None, help="use a seeded sample of this many rows (default: all)")
    ap.add_argument("--test-fraction", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--code-col", default="hs10", help="hs10 (national lines, HS6 derived) or hs6")
    ap.add_argument("--encoder", default="use")
    ap.add_argument("--quick", action="store_true", help="smoke run: 3000 rows unless --rows is given")
    ap.add_argument("--out", type=Path, default=RESULT)
    args = ap.parse_args()

    import pandas as pd

    from data.rulings.readers import ColumnMapping
    from models.encoders import load_encoder
    from training.hs import evaluate_files, public_report

    if not args.dataset.is_file():
        print(f"dataset not found: {args.dataset}", file=sys.stderr)
        return 2
    frame = pd.read_csv(args.dataset, sep="\t", dtype=str, keep_default_na=False)
    rows = args.rows or (3000 if args.quick else None)
    if rows:
        frame = frame.sample(n=min(rows, len(frame)), random_state=args.seed)
    test = frame.sample(frac=args.test_fraction, random_state=args.seed)
    train = frame.drop(test.index)
    mapping = ColumnMapping(text_col="title_tokens", code_col=args.code_col, default_source="declaration")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        lib_path, q_path = Path(tmp) / "library.tsv", Path(tmp) / "queries.tsv"
        train.to_csv(lib_path, sep="\t", index=False)
        test.to_csv(q_path, sep="\t", index=False)
        run = evaluate_files(lib_path, q_path, mapping=mapping, encoder=load_encoder(args.encoder), baseline=True,
                             progress=True, seed=args.seed)
    report = public_report(run.report)
    ours, base = report["hs6"], report["baseline"]["hs6"]
    report["bench"] = {
        "dataset": str(args.dataset.name), "rows": len(frame), "library_rows": len(train), "query_rows": len(test),
        "seed": args.seed, "code_col": args.code_col, "encoder": args.encoder,
        "seconds": round(time.perf_counter() - started, 1),
        "bar": {"hs6_top1_beats_baseline": ours["top1"] > base["top1"], "hs6_top5_at_least_0_98": ours["top5"] >= 0.98},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    print(json.dumps({"hs6": ours, "baseline_hs6": base, "confident": report["confident"], "ece": report["ece"],
                      **report["bench"]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
