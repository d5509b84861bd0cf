"""Which encoder is the default: measured, not assumed.

For each backend ("use", "minilm"):
- HS6 accuracy of the dense channel alone on a held-out split of ``cbec-zh-titles/train.tsv`` (random 20% of rows are
  queries, the other 80% the library; subsampled to keep it cheap): top-1 is the nearest ruling's code, top-5 the first
  five distinct codes among the nearest 50 rulings;
- a cross-lingual probe: hand-written zh/en pairs of products typical of 9710 exporters; how often a zh text's nearest
  neighbour among all en texts is its own pair, and vice versa;
- encode throughput (sentences/s) with 2 threads at batch sizes 32/64/128 on real titles, and with 1 thread.

Writes ``bench/results/encoder_choice.json``. Run ``nice python bench/encoder_choice.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import data  # noqa: E402,F401  (thread caps)
from models.encoders import load_encoder  # noqa: E402
from models.suggester.dense_index import DenseIndex  # noqa: E402

DATASET = ROOT.parent / "shared" / "datasets" / "cbec-zh-titles" / "train.tsv"
RESULT = ROOT / "bench" / "results" / "encoder_choice.json"

# Product pairs typical of 9710 exporters (furniture, lighting, small appliances, batteries, garments, toys,
# kitchenware, tools, phone accessories), written for this probe; not translations of any dataset rows.
CROSS_LINGUAL_PAIRS = [
    ("不锈钢保温杯", "stainless steel vacuum flask"),
    ("实木餐桌", "solid wood dining table"),
    ("布艺沙发", "fabric sofa"),
    ("办公椅 可升降 带滚轮", "height adjustable office chair with wheels"),
    ("LED吸顶灯", "LED ceiling light"),
    ("太阳能庭院灯", "solar garden light"),
    ("台灯 护眼 USB充电", "rechargeable eye-care desk lamp"),
    ("电热水壶", "electric kettle"),
    ("空气炸锅", "air fryer"),
    ("电吹风", "hair dryer"),
    ("手持挂烫机", "handheld garment steamer"),
    ("锂离子电池组", "lithium-ion battery pack"),
    ("移动电源 充电宝 10000毫安", "10000mAh power bank"),
    ("电动滑板车", "electric scooter"),
    ("女士棉质T恤", "women's cotton t-shirt"),
    ("男士羽绒服", "men's down jacket"),
    ("针织毛衣", "knitted sweater"),
    ("涤纶窗帘", "polyester curtain"),
    ("儿童毛绒玩具", "plush toy for children"),
    ("塑料积木玩具", "plastic building blocks toy"),
    ("遥控汽车玩具", "remote control toy car"),
    ("不粘锅炒锅", "non-stick frying pan"),
    ("陶瓷餐具套装", "ceramic dinnerware set"),
    ("硅胶厨房铲", "silicone kitchen spatula"),
    ("玻璃储物罐", "glass storage jar"),
    ("电钻", "cordless electric drill"),
    ("螺丝刀套装", "screwdriver set"),
    ("手机壳", "mobile phone case"),
    ("数据线 Type-C 快充", "USB Type-C fast charging cable"),
    ("蓝牙耳机", "bluetooth earphones"),
    ("钢化玻璃手机膜", "tempered glass screen protector"),
    ("瑜伽垫", "yoga mat"),
]


def load_split(n_library: int, n_queries: int, seed: int) -> tuple[list[str], list[str], list[str], list[str]]:
    rows = []
    with open(DATASET, encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 3 and parts[2].strip():
                rows.append((parts[1], parts[2]))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(rows))
    cut = int(len(rows) * 0.8)
    lib_idx, query_idx = order[:cut][:n_library], order[cut:][:n_queries]
    return ([rows[i][1] for i in lib_idx], [rows[i][0] for i in lib_idx],
            [rows[i][1] for i in query_idx], [rows[i][0] for i in query_idx])


def hs6_accuracy(encoder, lib_texts, lib_codes, q_texts, q_codes, batch_size: int) -> dict:
    started = time.perf_counter()
    lib = encoder.encode(lib_texts, batch_size=batch_size, progress=True)
    queries = encoder.encode(q_texts, batch_size=batch_size, progress=True)
    encode_s = time.perf_counter() - started
    index = DenseIndex.build(lib, approximate=False)
    _, positions = index.search(queries, 50)
    codes = np.asarray(lib_codes)
    top1 = top5 = 0
    for gold, row in zip(q_codes, positions):
        ranked = list(dict.fromkeys(codes[row[row >= 0]]))
        top1 += ranked[:1] == [gold]
        top5 += gold in ranked[:5]
    n = len(q_codes)
    return {"top1": round(top1 / n, 4), "top5": round(top5 / n, 4), "n_queries": n, "n_library": len(lib_texts),
            "encode_s": round(encode_s, 1)}


def cross_lingual(encoder) -> dict:
    zh = encoder.encode([p[0] for p in CROSS_LINGUAL_PAIRS])
    en = encoder.encode([p[1] for p in CROSS_LINGUAL_PAIRS])
    sims = zh @ en.T
    target = np.arange(len(CROSS_LINGUAL_PAIRS))
    zh_to_en = float((sims.argmax(axis=1) == target).mean())
    en_to_zh = float((sims.argmax(axis=0) == target).mean())
    return {"n_pairs": len(CROSS_LINGUAL_PAIRS), "zh_to_en_top1": round(zh_to_en, 4), "en_to_zh_top1": round(en_to_zh, 4),
            "mean": round((zh_to_en + en_to_zh) / 2, 4),
            "mean_pair_cosine": round(float(np.diag(sims).mean()), 4)}


def throughput(encoder, texts: list[str], batch_sizes=(32, 64, 128)) -> dict:
    encoder.encode(texts[:16])  # warm-up
    out = {}
    for bs in batch_sizes:
        started = time.perf_counter()
        encoder.encode(texts, batch_size=bs)
        out[str(bs)] = round(len(texts) / (time.perf_counter() - started), 1)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", type=int, default=6000)
    parser.add_argument("--queries", type=int, default=1500)
    parser.add_argument("--throughput-texts", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--encoders", default="use,minilm")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args(argv)
    if args.quick:
        args.library, args.queries, args.throughput_texts = 600, 150, 128
    if not DATASET.is_file():
        print(f"dataset not found: {DATASET}", file=sys.stderr)
        raise SystemExit(2)

    lib_texts, lib_codes, q_texts, q_codes = load_split(args.library, args.queries, args.seed)
    results: dict = {
        "dataset": str(DATASET.relative_to(ROOT.parent)),
        "split": {"seed": args.seed, "holdout": 0.2, "n_library": len(lib_texts), "n_queries": len(q_texts)},
        "threads": args.threads,
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version(),
                    "load_avg_at_start": list(__import__("os").getloadavg())},
        "quick": args.quick,
        "encoders": {},
    }
    for spec in args.encoders.split(","):
        started = time.perf_counter()
        encoder = load_encoder(spec, threads=args.threads)
        load_s = time.perf_counter() - started
        print(f"[{spec}] {encoder.name} loaded in {load_s:.1f}s", flush=True)
        entry = {"name": encoder.name, "dim": encoder.dim, "fingerprint": encoder.fingerprint,
                 "load_s": round(load_s, 2)}
        entry["throughput_sentences_per_s"] = throughput(encoder, lib_texts[: args.throughput_texts])
        # Scaling from 1 to `threads` threads: on a shared or busy machine it shows how much of the rate is contention.
        single = load_encoder(spec, threads=1)
        entry["throughput_1_thread_batch_64"] = throughput(single, lib_texts[: args.throughput_texts], (64,))["64"]
        print(f"[{spec}] throughput {entry['throughput_sentences_per_s']} (1 thread: "
              f"{entry['throughput_1_thread_batch_64']})", flush=True)
        entry["cross_lingual"] = cross_lingual(encoder)
        print(f"[{spec}] cross-lingual {entry['cross_lingual']}", flush=True)
        entry["hs6_dense_only"] = hs6_accuracy(encoder, lib_texts, lib_codes, q_texts, q_codes, batch_size=64)
        print(f"[{spec}] hs6 {entry['hs6_dense_only']}", flush=True)
        results["encoders"][spec] = entry

    # The default must serve Chinese and English queries against a mixed library: rank by HS6 top-1 on the Chinese
    # split and cross-lingual retrieval together, so an English-only model cannot win on one axis alone.
    def score(e: dict) -> float:
        return e["hs6_dense_only"]["top1"] + e["cross_lingual"]["mean"]

    best = max(results["encoders"], key=lambda s: score(results["encoders"][s]))
    results["choice"] = {
        "default": best,
        "rule": "max(hs6 top1 + cross-lingual mean top1)",
        "scores": {s: round(score(e), 4) for s, e in results["encoders"].items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(json.dumps(results["choice"], indent=2))
    return results


if __name__ == "__main__":
    main()
