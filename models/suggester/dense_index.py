"""Dense nearest-neighbour search over ruling embeddings (faiss, inner product on L2-normalised vectors = cosine).

Small libraries get an exact ``IndexFlatIP``; above ``threshold`` vectors an approximate ``IndexHNSWFlat``. Why these:
- Flat search scans every vector per query: ~0.14 us per 512-d vector on one core. Measured on this 2-core machine
  (1 OpenMP thread, neighbours busy): single-query p50 0.8 ms at 10k, 5.5-8.5 ms at 50-60k, 70 ms at 300k; HNSW
  answers in 0.15-0.3 ms at any of these sizes but inserts only 1,500-1,800 vectors/s. Below 50k the exact scan stays
  under about half of the 15 ms end-to-end p50 budget, so an approximate index there would only add build time (20-30 s
  per build at 30-50k, and the suggester builds twice) and a recall loss; above it the scan grows past the budget.
  ``bench/hs_suggest.py`` re-measures both kinds on the same vectors (``dense_comparison``).
- HNSW needs no training (IVF would need a k-means pass and re-training as the library grows), keeps the full vectors
  (no quantisation error on scores shown as evidence) and answers in well under a millisecond. Parameters, measured on
  30k USE embeddings of demo rulings with held-out product names as queries (2 busy cores): M=16/efConstruction=40
  built 2,450 vectors/s but reached only recall@10 0.959 at efSearch 32; M=32/efConstruction=40 built 1,475/s with
  0.987; efConstruction=64 built no better graph (0.974) at the same speed. Default: M=32, efConstruction=40.

Every approximate build measures recall@10 against exact search on a sample of queries and raises ``efSearch`` until
it clears ``min_recall`` (the result is kept in ``.recall_check``); when even the largest ``efSearch`` falls short it
warns, or raises with ``strict=True``.

Thread safety: the index is immutable once built (no ``add``: the suggester builds a new one and swaps it), and faiss
search on a built index only reads it, so any number of threads may call :meth:`DenseIndex.search` at once.
``efSearch`` is fixed at build time because changing it during a search would not be safe.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

import data  # noqa: F401  (thread caps before faiss starts its OpenMP pool)
from data.errors import InvalidInputError, NotFoundError, field_error

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 50_000
FORMAT_VERSION = 1
INDEX_FILE = "dense.faiss"
META_FILE = "dense.json"
# efSearch values tried in order on approximate builds until recall@10 clears the floor.
EF_SEARCH_LADDER = (32, 64, 128, 256, 512, 1024)
# Below this many queries per call a single OpenMP thread is faster: the team's fork/join costs more than a one-query
# scan, and with neighbours on the same two cores spinning workers made a 10k flat search 50x slower (44 ms vs 0.8).
_PARALLEL_MIN_QUERIES = 16


class LowRecallWarning(UserWarning):
    """An approximate index could not reach the requested recall@10 even at the largest efSearch."""


def _faiss():
    import faiss

    return faiss


def _as_matrix(x: Any, name: str, dim: int | None = None) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim == 1 and dim is not None:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        raise InvalidInputError(f"{name} must be a 2-D array, got shape {arr.shape}", details=[field_error(name, "ndim")])
    if dim is not None and arr.shape[1] != dim:
        raise InvalidInputError(
            f"{name} has dimension {arr.shape[1]}, the index holds {dim}-d vectors",
            details=[field_error(name, f"dimension {arr.shape[1]} != {dim}")],
        )
    if arr.size and not np.isfinite(arr).all():
        raise InvalidInputError(f"{name} contains NaN or infinite values", details=[field_error(name, "not finite")])
    return np.ascontiguousarray(arr)


def _recall_at_k(truth: np.ndarray, found: np.ndarray) -> float:
    hits = sum(len(set(t[t >= 0]) & set(f[f >= 0])) for t, f in zip(truth, found))
    total = sum(int((t >= 0).sum()) for t in truth)
    return hits / total if total else 1.0


def _recall_queries(embeddings: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Queries near the data but not on it: a stored vector is its own first neighbour and would flatter recall."""
    rows = embeddings[rng.choice(len(embeddings), size=min(n, len(embeddings)), replace=False)]
    noise = rng.standard_normal(rows.shape).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    q = rows + 0.3 * noise
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return np.ascontiguousarray(q, dtype=np.float32)


class DenseIndex:
    """An immutable faiss index over L2-normalised vectors; positions are row numbers of the built matrix."""

    def __init__(self, index: Any, *, kind: str, params: dict[str, Any], recall_check: dict[str, Any] | None,
                 threads: int = 2) -> None:
        self._index = index
        self.kind = kind
        self.params = params
        self.recall_check = recall_check
        self.threads = max(1, int(threads))

    # ----------------------------------------------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        embeddings: np.ndarray,
        *,
        approximate: bool | None = None,
        threshold: int = DEFAULT_THRESHOLD,
        hnsw_m: int = 32,
        ef_construction: int = 40,
        min_recall: float = 0.95,
        recall_queries: np.ndarray | None = None,
        recall_sample: int = 200,
        strict: bool = False,
        threads: int = 2,
        seed: int = 0,
    ) -> DenseIndex:
        """Index ``embeddings`` (n, dim): exact below ``threshold`` rows, HNSW at or above it (``approximate`` forces).

        ``recall_queries`` (optional, e.g. held-out texts' embeddings) replaces the default sample of perturbed
        library vectors for the recall check.
        """
        faiss = _faiss()
        x = _as_matrix(embeddings, "embeddings")
        n, dim = x.shape
        if dim == 0:
            raise InvalidInputError("embeddings have dimension 0", details=[field_error("embeddings", "dim 0")])
        if approximate is None:
            approximate = n >= threshold
        faiss.omp_set_num_threads(max(1, int(threads)))
        params: dict[str, Any] = {"dim": dim, "threshold": int(threshold)}
        started = time.perf_counter()
        if not approximate:
            index = faiss.IndexFlatIP(dim)
            index.add(x)
            params["build_s"] = round(time.perf_counter() - started, 3)
            return cls(index, kind="flat", params=params, recall_check=None, threads=threads)

        index = faiss.IndexHNSWFlat(dim, int(hnsw_m), faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = int(ef_construction)
        index.add(x)
        params.update(hnsw_m=int(hnsw_m), ef_construction=int(ef_construction), build_s=round(time.perf_counter() - started, 3))
        recall_check = cls._tune_ef_search(index, x, min_recall, recall_queries, recall_sample, seed)
        params["ef_search"] = recall_check["ef_search"]
        if not recall_check["ok"]:
            message = (
                f"approximate index reaches recall@10 {recall_check['recall_at_10']:.3f} < {min_recall} even at "
                f"efSearch={recall_check['ef_search']}; rebuild with a larger hnsw_m / ef_construction or exact search"
            )
            if strict:
                raise InvalidInputError(message, details=[field_error("recall_at_10", "below floor")])
            warnings.warn(message, LowRecallWarning, stacklevel=2)
            log.warning(message)
        return cls(index, kind="hnsw", params=params, recall_check=recall_check, threads=threads)

    @staticmethod
    def _tune_ef_search(index, x: np.ndarray, min_recall: float, recall_queries, recall_sample: int, seed: int) -> dict:
        faiss = _faiss()
        k = 10
        rng = np.random.default_rng(seed)
        if recall_queries is None:
            queries = _recall_queries(x, recall_sample, rng)
            query_source = "perturbed library vectors"
        else:
            queries = _as_matrix(recall_queries, "recall_queries", x.shape[1])
            query_source = "given"
        started = time.perf_counter()
        _, truth = faiss.knn(queries, x, k, metric=faiss.METRIC_INNER_PRODUCT)
        tried: dict[str, float] = {}
        ef = EF_SEARCH_LADDER[0]
        recall = 0.0
        for ef in EF_SEARCH_LADDER:
            index.hnsw.efSearch = ef
            _, found = index.search(queries, k)
            recall = _recall_at_k(truth, found)
            tried[str(ef)] = round(recall, 4)
            if recall >= min_recall:
                break
        return {
            "k": k,
            "n_queries": int(len(queries)),
            "queries": query_source,
            "recall_at_10": round(recall, 4),
            "ef_search": int(ef),
            "min_recall": float(min_recall),
            "ok": bool(recall >= min_recall),
            "tried": tried,
            "seconds": round(time.perf_counter() - started, 3),
        }

    # ----------------------------------------------------------------------------------------------------------------
    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    @property
    def dim(self) -> int:
        return int(self._index.d)

    @property
    def approximate(self) -> bool:
        return self.kind != "flat"

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, positions) per query row; positions are -1 (score -inf) where fewer than ``k`` exist."""
        q = _as_matrix(queries, "queries", self.dim)
        if k < 1:
            raise InvalidInputError(f"k must be at least 1, got {k}", details=[field_error("k", "< 1")])
        k = int(k)
        if len(q) == 0:
            return np.zeros((0, k), dtype=np.float32), np.zeros((0, k), dtype=np.int64)
        if self.ntotal == 0:
            return np.full((len(q), k), -np.inf, dtype=np.float32), np.full((len(q), k), -1, dtype=np.int64)
        # omp_set_num_threads sets the calling thread's own OpenMP setting, so concurrent callers do not race on it.
        _faiss().omp_set_num_threads(self.threads if len(q) >= _PARALLEL_MIN_QUERIES else 1)
        scores, positions = self._index.search(q, min(k, self.ntotal))
        if k > self.ntotal:
            pad = k - self.ntotal
            scores = np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf)
            positions = np.pad(positions, ((0, 0), (0, pad)), constant_values=-1)
        scores = np.where(positions < 0, -np.inf, scores).astype(np.float32, copy=False)
        return scores, positions.astype(np.int64, copy=False)

    # ----------------------------------------------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        faiss = _faiss()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self._index, str(directory / INDEX_FILE))
        meta = {
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "ntotal": self.ntotal,
            "dim": self.dim,
            "params": self.params,
            "recall_check": self.recall_check,
            "faiss_version": faiss.__version__,
        }
        (directory / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False))
        return directory

    @classmethod
    def load(cls, directory: str | Path, *, threads: int = 2) -> DenseIndex:
        faiss = _faiss()
        directory = Path(directory)
        index_file, meta_file = directory / INDEX_FILE, directory / META_FILE
        if not index_file.is_file() or not meta_file.is_file():
            raise NotFoundError(f"no dense index in {directory} (expected {INDEX_FILE} and {META_FILE})")
        meta = json.loads(meta_file.read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            raise InvalidInputError(
                f"dense index in {directory} has format {meta.get('format_version')}, this code reads {FORMAT_VERSION}",
                details=[field_error("format_version", "unsupported")],
            )
        index = faiss.read_index(str(index_file))
        if int(index.ntotal) != meta["ntotal"] or int(index.d) != meta["dim"]:
            raise InvalidInputError(
                f"dense index in {directory} holds {index.ntotal}x{index.d} vectors but its metadata says "
                f"{meta['ntotal']}x{meta['dim']}: the files come from different builds",
                details=[field_error("ntotal", "index and metadata disagree")],
            )
        if meta["kind"] == "hnsw":
            index.hnsw.efSearch = int(meta["params"]["ef_search"])
        return cls(index, kind=meta["kind"], params=meta["params"], recall_check=meta["recall_check"], threads=threads)

    def __repr__(self) -> str:
        return f"DenseIndex(kind={self.kind!r}, ntotal={self.ntotal}, dim={self.dim})"
