"""Open-world HS suggestion: in-domain, cross-domain, leave-codes-out, build times and latency, new vs baseline.

Same run, side by side: this tree's suggester ("new") and the suggester of a baseline checkout ("baseline", e.g.
``git worktree add --detach ../clearance-before-14 <commit before issue 14>``), each measured in its own process with
its own code on the path, by this one script. Writes ``bench/results/hs_open_world.json``.

* in-domain: cbec-zh-titles, the ``bench/hs_quality.py`` protocol (seeded sample, 20 % held out as queries); HS6
  top-1/top-5, confident coverage and accuracy;
* leave-codes-out: the same split with 10 % of the HS6 codes removed from the library; queries of those codes:
  top-1 (the new side can answer them from the tariff) and the share answered confidently, and how often right;
* cross-domain: the 500 CBP CROSS rulings as queries (never in the library) against (a) the tariff alone (HS 2022 +
  the China 8-digit tariff, zh and en) and (b) the demo library plus the tariff; HS2/HS4/HS6 top-1/top-5,
  confident coverage and accuracy;
* build times: full, and incremental after +1 % rulings (new side: the embedding cache re-encodes only the new
  texts); latency of single suggestions (p50/p99) on the in-domain library plus the China tariff.

    python bench/hs_open_world.py --baseline-root ../clearance-before-14              # default sizes
    python bench/hs_open_world.py --baseline-root ../clearance-before-14 --rows 30000 # the full hs_quality split
"""

from __future__ import annotations

import argparse
import csv
import inspect
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
RESULT = ROOT / "bench" / "results" / "hs_open_world.json"


CHINA_TARIFF = DATASETS / "china-tariff-hs8" / "china-hs8-2023.utf8.csv"


def national_lines(path: Path, version: str) -> list[tuple[str, str, str, str]]:
    """(code8, zh, en, version) of a national tariff CSV, as ``Nomenclature.with_national`` takes them (read directly:
    a benchmark needs the code space, not the store that ``clearance nomenclature import`` fills)."""
    with open(path, encoding="utf-8") as fh:
        return [(r["code8"], r["zh"], r["en"], version) for r in csv.DictReader(fh)]


def _china_lines():
    return national_lines(CHINA_TARIFF, "CN2023")


def _cbp_queries():
    rows = json.loads((DATASETS / "cbp-cross-rulings" / "rulings.json").read_text())
    return [(r["description"], "".join(ch for ch in r["hts_code"] if ch.isdigit())[:6]) for r in rows]


def _cbec(rows: int, seed: int):
    import pandas as pd

    frame = pd.read_csv(DATASETS / "cbec-zh-titles" / "train.tsv", sep="\t", dtype=str, keep_default_na=False)
    if rows and rows < len(frame):
        frame = frame.sample(n=rows, random_state=seed)
    test = frame.sample(frac=0.2, random_state=seed)
    train = frame.drop(test.index)
    return train, test


def _rulings(frame, prefix: str = "cbec"):
    from data.rulings.schema import Ruling

    return [Ruling(product_name=t, hs_code=c, source="declaration", ruling_id=f"{prefix}-{i}")
            for i, (t, c) in enumerate(zip(frame["title_tokens"], frame["hs10"]))]


def _score(answers, gold: list[str]) -> dict:
    out = {"n": len(gold)}
    for level in (2, 4, 6):
        ranked = [list(dict.fromkeys(c.code[:level] for c in a.candidates)) for a in answers]
        out[f"hs{level}_top1"] = sum(bool(r) and r[0] == g[:level] for r, g in zip(ranked, gold)) / len(gold)
        out[f"hs{level}_top5"] = sum(g[:level] in r[:5] for r, g in zip(ranked, gold)) / len(gold)
    conf = [(a, g) for a, g in zip(answers, gold) if a.answer is not None]
    out["confident_coverage"] = len(conf) / len(gold)
    # An answer at 4, 6 or 8 digits is right when it agrees with the gold code on the digits both have.
    out["confident_accuracy"] = (sum(a.answer.code[:len(g)] == g[:len(a.answer.code)] for a, g in conf) / len(conf)
                                 if conf else None)
    out["confident_n"] = len(conf)
    return out


def _build(rulings, encoder, nomenclature, **extra):
    from training.hs import build_suggester

    accepted = inspect.signature(build_suggester).parameters
    kwargs = {k: v for k, v in extra.items() if k in accepted}
    return build_suggester(rulings, encoder=encoder, nomenclature=nomenclature, progress=False, seed=0, **kwargs)


def _latency(suggester, texts: list[str], n: int = 300) -> dict:
    import numpy as np

    for t in texts[:20]:
        suggester.suggest(t)
    times = []
    for t in texts[:n]:
        start = time.perf_counter()
        suggester.suggest(t)
        times.append((time.perf_counter() - start) * 1000)
    return {"n": len(times), "p50_ms": float(np.percentile(times, 50)), "p99_ms": float(np.percentile(times, 99))}


def side(args) -> dict:
    """Every measurement for the code on this process's path (the new tree or the baseline checkout)."""
    sys.path.insert(0, str(args.code_root))
    import data  # noqa: F401  (thread caps)
    from data.nomenclature import Nomenclature
    from demo.rulings import generate_demo_rulings
    from models.encoders import load_encoder

    encoder = load_encoder("use", threads=1)
    nomenclature = Nomenclature.with_national(_china_lines())
    cache = Path(args.cache) if args.cache else None
    result: dict = {"code_root": str(args.code_root)}

    # in-domain + build times + latency
    train, test = _cbec(args.rows, args.seed)
    lib = _rulings(train)
    t0 = time.perf_counter()
    s = _build(lib, encoder, nomenclature, embedding_cache=cache / "in-domain" if cache else None)
    full_s = time.perf_counter() - t0
    texts = list(test["title_tokens"])
    gold = list(test["hs10"])
    t0 = time.perf_counter()
    answers = s.suggest_batch(texts, top_k=5)
    result["in_domain"] = {**_score(answers, gold), "library": len(lib), "answer_seconds": time.perf_counter() - t0}
    result["latency"] = {**_latency(s, texts), "library": len(lib), "tariff_lines": len(_china_lines())}
    extra_rows = _rulings(test.iloc[: max(1, len(lib) // 100)], prefix="cbec-new")
    t0 = time.perf_counter()
    s2 = _build(lib + extra_rows, encoder, nomenclature, embedding_cache=cache / "in-domain" if cache else None)
    result["build"] = {"full_seconds": full_s, "incremental_seconds": time.perf_counter() - t0,
                       "library": len(lib), "added": len(extra_rows),
                       "incremental_encoded_texts": s2.built_with.get("encoded_texts"),
                       "full_encoded_texts": s.built_with.get("encoded_texts")}
    del s2

    # leave-codes-out
    import numpy as np

    codes6 = np.array([c[:6] for c in train["hs10"]])
    uniq = np.unique(codes6)
    rng = np.random.default_rng(args.seed)
    removed = set(rng.choice(uniq, size=max(1, len(uniq) // 10), replace=False).tolist())
    lib_lco = [r for r, c in zip(lib, codes6) if c not in removed]
    q_mask = [g[:6] in removed for g in gold]
    q_texts = [t for t, m in zip(texts, q_mask) if m]
    q_gold = [g for g, m in zip(gold, q_mask) if m]
    s_lco = _build(lib_lco, encoder, nomenclature, embedding_cache=cache / "in-domain" if cache else None)
    result["leave_codes_out"] = {**_score(s_lco.suggest_batch(q_texts, top_k=5), q_gold),
                                 "codes_removed": len(removed)}
    del s_lco

    # cross-domain
    cbp = _cbp_queries()
    q, g = [t for t, _ in cbp], [c for _, c in cbp]
    try:
        s_tariff = _build([], encoder, nomenclature, embedding_cache=cache / "tariff" if cache else None)
        result["cbp_tariff_alone"] = _score(s_tariff.suggest_batch(q, top_k=5), g)
    except Exception as exc:  # the baseline refuses an empty library
        result["cbp_tariff_alone"] = {"error": f"{type(exc).__name__}: {exc}"}
    demo = generate_demo_rulings(args.demo_rulings, seed=0)
    s_demo = _build(demo, encoder, nomenclature, embedding_cache=cache / "demo" if cache else None)
    result["cbp_demo_library"] = {**_score(s_demo.suggest_batch(q, top_k=5), g), "library": len(demo)}
    handbag = s_demo.suggest("Women's leather handbag with zipper, PU lining", top_k=5)
    result["handbag"] = {"candidates": [c.code for c in handbag.candidates],
                         "answer": handbag.answer.code if handbag.answer else None,
                         "needs_review": handbag.needs_review}
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline-root", type=Path, default=None, help="checkout of the suggester before issue 14")
    ap.add_argument("--rows", type=int, default=10000, help="cbec rows sampled (30000 = the hs_quality full split)")
    ap.add_argument("--demo-rulings", type=int, default=3600, help="demo library size (make run's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=RESULT)
    ap.add_argument("--side", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--code-root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    ap.add_argument("--cache", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--side-out", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        args.side_out.write_text(json.dumps(side(args), default=str))
        return 0
    sides = {"new": ROOT}
    if args.baseline_root:
        sides["baseline"] = args.baseline_root.resolve()
    report: dict = {"rows": args.rows, "seed": args.seed, "demo_rulings": args.demo_rulings}
    with tempfile.TemporaryDirectory(prefix="hs-open-world-") as tmp:
        for name, root in sides.items():
            out = Path(tmp) / f"{name}.json"
            env = {**os.environ, "PYTHONPATH": str(root)}
            started = time.perf_counter()
            # A fresh embedding cache per side and run: the full build's time includes encoding everything.
            subprocess.run([sys.executable, __file__, "--side", "--code-root", str(root), "--rows", str(args.rows),
                            "--seed", str(args.seed), "--demo-rulings", str(args.demo_rulings),
                            "--cache", str(Path(tmp) / f"cache-{name}"), "--side-out", str(out)],
                           env=env, check=True, cwd=root)
            report[name] = json.loads(out.read_text())
            report[name]["seconds"] = round(time.perf_counter() - started, 1)
            print(f"{name}: {json.dumps(report[name], indent=1, default=str)}", flush=True)
    new = report["new"]
    report["targets"] = {
        "in_domain_hs6_top1_at_least_0_92": new["in_domain"]["hs6_top1"] >= 0.92,
        "cbp_tariff_hs6_top1_at_least_0_25": new["cbp_tariff_alone"].get("hs6_top1", 0) >= 0.25,
        "cbp_tariff_hs4_top1_at_least_0_45": new["cbp_tariff_alone"].get("hs4_top1", 0) >= 0.45,
        "cbp_tariff_hs2_top1_at_least_0_70": new["cbp_tariff_alone"].get("hs2_top1", 0) >= 0.70,
        "confident_accuracy_in_domain_at_least_0_9": (new["in_domain"]["confident_accuracy"] or 0) >= 0.9,
        "confident_accuracy_cbp_demo_at_least_0_9": (new["cbp_demo_library"]["confident_accuracy"] or 1.0) >= 0.9,
        "latency_p50_at_most_15ms": new["latency"]["p50_ms"] <= 15, "latency_p99_at_most_50ms":
            new["latency"]["p99_ms"] <= 50,
        "handbag_4202_21_in_top5": "420221" in new["handbag"]["candidates"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    print(json.dumps(report["targets"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
