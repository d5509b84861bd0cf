"""HS suggestion performance: library build rate, single-query latency at 30k and 300k rulings, peak RSS.

Targets (2 cores): p50 <= 15 ms and p99 <= 50 ms at 300k rulings; build >= 1,000 rulings/s with the default encoder.

- Rulings come from the demo generator (``demo.rulings.generate_demo_rulings``); queries are product names
  of rulings generated with another seed (not in the library).
- The build is the real one (``training.hs.build_suggester``: encode, lexical + supervised channels, dense index,
  tuning and calibration on a validation split). Where that module is missing the bench falls back to encoder + dense
  index and says so under ``"pipeline"``.
- Build rate is measured with every text really encoded. For libraries above ``--real-up-to`` rulings (default 30k)
  the bench may encode only the first ``--real-up-to`` texts and fill the other rows with perturbed copies of those
  embeddings (``"embeddings": "tiled"`` in the JSON): the lexical channel and the index still hold every ruling, so
  query latency is representative, but no build-rate figure is taken from such a build. ``--real-embeddings`` encodes
  everything (about 5-10 minutes per 300k on 2 quiet cores).
- ``dense_index`` compares exact and HNSW single-query search on the same vectors, the measurement behind
  ``DenseIndex``'s default threshold.
- ``encode_scaling`` times the encoder alone on the library's own dense texts with 1 and with ``--threads`` worker
  threads: the ceiling any build rate has with this encoder on this machine.
- The machine's load average is recorded at start, per size and at the end: on a shared machine the numbers are only
  comparable at similar load.
- Code space: the HS 2022 subheadings plus, by default, the China 8-digit tariff (zh and en) from
  ``../shared/datasets/china-tariff-hs8/`` when it is there (issue 14's latency target is for a library plus that
  tariff); ``--national none`` measures the HS 2022 subheadings alone. ``"nomenclature"`` in the JSON says which.

Run: ``nice python bench/hs_suggest.py`` (minutes; run on a quiet machine) or ``--quick`` for a smoke run.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import data  # noqa: E402,F401  (thread caps)
from bench.hs_open_world import CHINA_TARIFF, national_lines  # noqa: E402
from models.encoders import load_encoder  # noqa: E402
from models.suggester.dense_index import DenseIndex  # noqa: E402

RESULT = ROOT / "bench" / "results" / "hs_suggest.json"
TARGETS = {"p50_ms_at_300k": 15.0, "p99_ms_at_300k": 50.0, "build_rulings_per_s": 1000.0}


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # ru_maxrss is KiB on Linux


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2), "mean_ms": round(float(ms.mean()), 2), "n": len(ms)}


class MeasuredEncoder:
    """The real encoder, plus time accounting and (optionally) tiled embeddings for very large library encodes."""

    def __init__(self, encoder, real_up_to: int | None = None, seed: int = 0) -> None:
        self.inner = encoder
        self.name, self.dim, self.spec = encoder.name, encoder.dim, getattr(encoder, "spec", None)
        self.real_up_to = real_up_to
        self.seed = seed
        self.seconds = 0.0
        self.texts = 0
        self.tiled_rows = 0
        self.library_embeddings: np.ndarray | None = None

    @property
    def fingerprint(self) -> str:
        return self.inner.fingerprint

    def encode(self, texts, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        texts = list(texts)
        started = time.perf_counter()
        if self.real_up_to is not None and len(texts) > self.real_up_to:
            real = self.inner.encode(texts[: self.real_up_to], batch_size=batch_size, progress=progress)
            rng = np.random.default_rng(self.seed)
            rest = len(texts) - self.real_up_to
            out = np.concatenate([real, real[np.arange(rest) % len(real)]])
            noise = rng.standard_normal((rest, self.dim)).astype(np.float32)
            noise *= 0.15 / np.sqrt(self.dim)  # ~0.15 of a unit vector: copies stay near, not on, their source
            out[self.real_up_to:] += noise
            out /= np.linalg.norm(out, axis=1, keepdims=True)
            self.tiled_rows += rest
            self.texts += self.real_up_to
        else:
            out = self.inner.encode(texts, batch_size=batch_size, progress=progress)
            self.texts += len(texts)
        self.seconds += time.perf_counter() - started
        # The largest encode is the library's (validation and query encodes come in small chunks); kept for the
        # dense-index comparison.
        if self.library_embeddings is None or len(out) > len(self.library_embeddings):
            self.library_embeddings = out
        return out


def encode_scaling(spec: str, rulings, threads: int, n: int = 3000) -> dict:
    """Encoder throughput alone (texts/s) on ``n`` distinct library dense texts, 1 thread vs ``threads`` threads."""
    from models.suggester.suggester import dense_text

    texts = list(dict.fromkeys(dense_text(r) for r in rulings))[:n]
    out: dict = {"texts": len(texts), "text": "dense text (name + element values)",
                 "load_avg": [round(x, 2) for x in os.getloadavg()]}
    for t in sorted({1, threads}):
        enc = load_encoder(spec, threads=t)
        enc.encode(texts[:64])  # warm-up (tokenizer caches, lazy weights)
        started = time.perf_counter()
        enc.encode(texts)
        out[f"threads_{t}_texts_per_s"] = round(len(texts) / (time.perf_counter() - started), 1)
    if threads > 1:
        out["speedup"] = round(out[f"threads_{threads}_texts_per_s"] / out["threads_1_texts_per_s"], 2)
    return out


def ruling_texts(rulings) -> list[str]:
    try:
        from features.text import compose_text
    except ImportError:  # pragma: no cover - fallback pipeline only
        return [f"{r.product_name} {r.description}".strip() for r in rulings]
    return [compose_text(r.product_name, r.description, r.declared_elements) for r in rulings]


def make_rulings(n: int, seed: int):
    try:
        from demo.rulings import generate_demo_rulings
    except ImportError:  # pragma: no cover - until H2's generator lands
        raise SystemExit("demo.rulings.generate_demo_rulings is required for this benchmark") from None
    return generate_demo_rulings(n, seed)


def load_nomenclature(national: str):
    """The code space of the build: HS 2022, plus the national lines of ``national`` (a code8,zh,en CSV) unless it is
    ``none`` or missing."""
    from data.nomenclature import Nomenclature

    path = Path(national) if national != "none" else None
    if path is None or not path.exists():
        return Nomenclature.default(), {"national": None}
    lines = national_lines(path, path.stem)
    return Nomenclature.with_national(lines), {"national": str(path.name), "national_lines": len(lines)}


def build(rulings, encoder: MeasuredEncoder, pipeline: str, nomenclature=None, cache_dir: Path | None = None):
    if pipeline == "build_suggester":
        from training.hs import build_suggester

        # A fresh embedding cache per build (``cache_dir``): the build rate counts every text really encoded.
        return build_suggester(rulings, encoder=encoder, progress=False, nomenclature=nomenclature,
                               embedding_cache=cache_dir)
    embeddings = encoder.encode(ruling_texts(rulings), progress=True)
    return DenseIndex.build(embeddings)


def query_once(model, text: str, encoder, pipeline: str) -> None:
    if pipeline == "build_suggester":
        model.suggest(text, top_k=5)
    else:
        model.search(encoder.encode([text]), 10)


def _time_search(index, queries: np.ndarray) -> dict:
    lat = []
    for q in queries:
        t = time.perf_counter()
        index.search(q, 50)
        lat.append(time.perf_counter() - t)
    return percentiles(lat)


def dense_comparison(embeddings: np.ndarray, queries: np.ndarray, built=None) -> dict:
    """Exact vs HNSW single-query latency on the same vectors (and HNSW's build cost and tuned recall).

    ``built`` is the index the suggester already has (when it is a DenseIndex): it is timed as is and only the other
    kind is built, since an HNSW build at 300k costs minutes.
    """
    out: dict = {"n": int(len(embeddings)), "dim": int(embeddings.shape[1])}
    for kind, approximate in (("flat", False), ("hnsw", True)):
        if isinstance(built, DenseIndex) and built.kind == kind:
            out[kind] = {"build": "the suggester's own index", "recall_check": built.recall_check,
                         **_time_search(built, queries)}
            continue
        started = time.perf_counter()
        index = DenseIndex.build(embeddings, approximate=approximate)
        build_s = time.perf_counter() - started
        out[kind] = {"build_s": round(build_s, 2), "vectors_per_s": round(len(embeddings) / build_s),
                     **_time_search(index, queries)}
        if approximate:
            out[kind]["recall_check"] = index.recall_check
        del index
        gc.collect()
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="HS suggestion build rate, latency and memory")
    parser.add_argument("--sizes", default="30000,300000", help="library sizes for the latency measurement")
    parser.add_argument("--queries", type=int, default=300, help="single queries timed per size (after 20 warm-up)")
    parser.add_argument("--real-up-to", type=int, default=30000,
                        help="encode at most this many library texts for real; above it embeddings are tiled")
    parser.add_argument("--real-embeddings", action="store_true", help="encode every library text (slow at 300k)")
    parser.add_argument("--encoder", default="use")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-dense-comparison", action="store_true")
    parser.add_argument("--no-encode-scaling", action="store_true")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--out", type=Path, default=RESULT)
    parser.add_argument("--note", default="", help="free text stored in the JSON (e.g. what else ran on the machine)")
    parser.add_argument("--national", default=str(CHINA_TARIFF),
                        help="national tariff CSV (code8,zh,en) added to the code space, or 'none'")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.quick:
        sizes, args.queries, args.real_up_to = [2000, 6000], 60, 3000

    try:
        import training.hs  # noqa: F401

        pipeline = "build_suggester"
    except ImportError as exc:
        pipeline = "encoder+dense_index"
        print(f"training.hs unavailable ({exc}); measuring encoder + dense index only", file=sys.stderr)

    encoder = load_encoder(args.encoder, threads=args.threads)
    nomenclature, nomenclature_info = load_nomenclature(args.national) if pipeline == "build_suggester" else (None, {})
    if nomenclature is not None:
        # The tariff's texts are encoded once per nomenclature version, not per build: encoded here, before any
        # timing, the channel is then reused by every build of this process.
        from training.hs.open_world import tariff_channel

        started = time.perf_counter()
        nomenclature_info["tariff_texts"] = tariff_channel(nomenclature, encoder).n_texts
        nomenclature_info["tariff_encode_s"] = round(time.perf_counter() - started, 1)
    query_texts = [r.product_name for r in make_rulings(args.queries + 20, seed=1001)]
    result: dict = {
        "pipeline": pipeline,
        "encoder": {"spec": args.encoder, "name": encoder.name, "fingerprint": encoder.fingerprint},
        "threads": args.threads,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_avg_at_start": [round(x, 2) for x in os.getloadavg()]},
        "quick": args.quick,
        "note": args.note,
        "nomenclature": nomenclature_info,
        "targets": TARGETS,
        "sizes": {},
    }

    if not args.no_encode_scaling:
        print("encoder alone: 1 thread vs", args.threads, flush=True)
        result["encode_scaling"] = encode_scaling(args.encoder, make_rulings(3000 if not args.quick else 600, seed=7),
                                                  args.threads, n=3000 if not args.quick else 600)
        print(result["encode_scaling"], flush=True)

    for size in sizes:
        real = args.real_embeddings or size <= args.real_up_to
        print(f"[{size}] generating rulings", flush=True)
        rulings = make_rulings(size, seed=7)
        measured = MeasuredEncoder(encoder, real_up_to=None if real else args.real_up_to)
        print(f"[{size}] building ({'real' if real else 'tiled'} embeddings)", flush=True)
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="hs-suggest-cache-") as cache_dir:
            model = build(rulings, measured, pipeline, nomenclature, Path(cache_dir))
        build_s = time.perf_counter() - started
        entry: dict = {
            "n_rulings": size,
            "embeddings": "real" if real else f"tiled: {args.real_up_to} encoded, {measured.tiled_rows} perturbed copies",
            "build_s": round(build_s, 2),
            "encode_s": round(measured.seconds, 2),
            "non_encode_s": round(build_s - measured.seconds, 2),
            "load_avg_after_build": [round(x, 2) for x in os.getloadavg()],
        }
        if real:
            entry["build_rulings_per_s"] = round(size / build_s, 1)
            entry["encode_texts_per_s"] = round(measured.texts / measured.seconds, 1) if measured.seconds else None
        index = getattr(model, "dense_index", model)
        entry["dense_index"] = {"kind": getattr(index, "kind", type(index).__name__),
                                "recall_check": getattr(index, "recall_check", None)}
        print(f"[{size}] built in {build_s:.1f}s; timing {args.queries} single queries", flush=True)
        for text in query_texts[:20]:
            query_once(model, text, encoder, pipeline)
        lat = []
        for text in query_texts[20:]:
            t = time.perf_counter()
            query_once(model, text, encoder, pipeline)
            lat.append(time.perf_counter() - t)
        entry["latency"] = percentiles(lat)
        entry["load_avg_after_queries"] = [round(x, 2) for x in os.getloadavg()]
        entry["peak_rss_mb_so_far"] = peak_rss_mb()
        print(f"[{size}] {entry['latency']}", flush=True)
        if not args.no_dense_comparison and measured.library_embeddings is not None:
            print(f"[{size}] dense index: flat vs hnsw", flush=True)
            entry["dense_comparison"] = dense_comparison(measured.library_embeddings,
                                                         encoder.encode(query_texts[20:120]), built=index)
        del model, measured, rulings, index
        gc.collect()
        result["sizes"][str(size)] = entry

    real_builds = [e for e in result["sizes"].values() if "build_rulings_per_s" in e]
    largest = result["sizes"][str(max(sizes))]
    result["summary"] = {
        "build_rulings_per_s": real_builds[-1]["build_rulings_per_s"] if real_builds else None,
        "build_measured_at": real_builds[-1]["n_rulings"] if real_builds else None,
        "encode_texts_per_s_in_build": real_builds[-1]["encode_texts_per_s"] if real_builds else None,
        "non_encode_rulings_per_s": (round(real_builds[-1]["n_rulings"] / real_builds[-1]["non_encode_s"], 1)
                                     if real_builds and real_builds[-1]["non_encode_s"] > 0 else None),
        **{f"p50_ms_at_{n}": e["latency"]["p50_ms"] for n, e in result["sizes"].items()},
        **{f"p99_ms_at_{n}": e["latency"]["p99_ms"] for n, e in result["sizes"].items()},
        f"p50_ms_at_{max(sizes)}": largest["latency"]["p50_ms"],
        f"p99_ms_at_{max(sizes)}": largest["latency"]["p99_ms"],
        "peak_rss_mb": peak_rss_mb(),
        "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    if not args.quick:
        result["summary"]["meets_targets"] = {
            "p50": largest["latency"]["p50_ms"] <= TARGETS["p50_ms_at_300k"],
            "p99": largest["latency"]["p99_ms"] <= TARGETS["p99_ms_at_300k"],
            "build": bool(real_builds) and real_builds[-1]["build_rulings_per_s"] >= TARGETS["build_rulings_per_s"],
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    print(json.dumps(result["summary"], indent=2))
    return result


if __name__ == "__main__":
    main()
