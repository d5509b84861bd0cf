"""What the tariff/transition composition step costs per answer (serving/editions.py::annotate_suggestion).

A suggestion answer (5 candidates × 3 evidence rulings, real HS6 codes) is annotated with a TariffBook holding the
China 8-digit tariff (../shared/datasets/china-tariff-hs8, ~9k lines, facts = units) and the published HS 2028
correlation (../shared/datasets/hs2028-correlations), before and after the effective date. The reference in the same
run is what every API answer already pays after the suggester: serialising the answer (``model_dump_json``); the
suggester itself takes ~8.5 ms p50 (bench/results/hs_suggest.json, quiet machine). Alternating rounds, medians;
prints and writes bench/results/tariff_annotate.json.

    PYTHONPATH=. python bench/tariff_annotate.py [--rounds 7] [--n 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"


def _answer(codes: list[str]):
    from models.suggester.answer import SuggestionAnswer

    return SuggestionAnswer.model_validate({
        "query": {"text": "t", "normalised": "t", "language": "zh"},
        "candidates": [{"code": c, "level": 6, "confidence": round(0.8 / (i + 1), 4),
                        "national": [{"code": c + "00", "level": 8, "confidence": 0.3}],
                        "evidence": [{"ruling_id": f"r{i}{j}", "text": "x", "hs_code": c + "0000",
                                      "similarity": 0.9 - j / 10, "source": "customs_ruling"} for j in range(3)]}
                       for i, c in enumerate(codes)],
        "answer": {"code": codes[0], "level": 6, "confidence": 0.8}, "needs_review": False,
        "model": {"name": "m", "index_fingerprint": "f", "encoder": "e"}})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--n", type=int, default=2000, help="answers per round and variant")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "tariff_annotate.json")
    args = parser.parse_args()

    from data.nomenclature import import_national_tariff
    from data.store.db import init_db, make_engine
    from data.transition import TariffBook, import_correlation
    from serving.editions import annotate_suggestion

    tariff = DATASETS / "china-tariff-hs8" / "china-hs8-2023.utf8.csv"
    correlation = DATASETS / "hs2028-correlations" / "hs2022_to_hs2028.json"
    if not tariff.exists() or not correlation.exists():
        raise SystemExit("needs ../shared/datasets/china-tariff-hs8 and hs2028-correlations")
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/store.db")
        init_db(engine)
        import_national_tariff(engine, tariff)
        import_correlation(engine, correlation)
        t0 = time.perf_counter()
        book = TariffBook.load(engine, effective_date=date(2028, 1, 1))
        load_s = time.perf_counter() - t0
    codes = ["850760", "950300", "940531", "420221", "961700"]  # split, split, renumbered, unchanged, unchanged
    template = _answer(codes)
    variants = {
        "serialise": lambda a: a.model_dump_json(),
        "annotate_before": lambda a: annotate_suggestion(a, book, date(2027, 6, 1)),
        "annotate_after": lambda a: annotate_suggestion(a, book, date(2028, 6, 1)),
    }
    load_at_start = os.getloadavg()[0]
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.rounds):
        for name, fn in variants.items():  # alternating: every round runs every variant once
            answers = [template.model_copy(deep=True) for _ in range(args.n)]
            t = time.perf_counter()
            for a in answers:
                fn(a)
            times[name].append((time.perf_counter() - t) / args.n * 1e6)
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "what": "µs per answer of serving.editions.annotate_suggestion (5 candidates × 3 evidence)",
        "book_load_s": round(load_s, 3), "national_lines": len(book.facts), "moved_subheadings": len(book.correlation),
        "median_us": {k: round(v, 1) for k, v in med.items()},
        "annotate_vs_serialise_before": round(med["annotate_before"] / med["serialise"], 2),
        "annotate_vs_serialise_after": round(med["annotate_after"] / med["serialise"], 2),
        "rounds": args.rounds, "n": args.n,
        "load_avg_1m": {"start": load_at_start, "end": os.getloadavg()[0]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
