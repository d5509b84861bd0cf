"""Embedding cache keyed by (encoder fingerprint, normalised-text hash), so rebuilds re-encode only new texts.

The sentence encoder is most of a build's cost (a USE call per short text is milliseconds on a busy core). Texts are
normalised (``features.text.normalise_text``) before hashing, so "Cotton T-Shirt" and "cotton  t-shirt" share a
row. One folder per encoder fingerprint (the fingerprint covers the weights and a probe embedding, so a changed
encoder never reads another's vectors); within it, append-only ``.npz`` shards of (keys, vectors). A rebuild after
adding 1 % rulings loads the shards, encodes the 1 % it has not seen and writes one new shard with those only.

Hand-rolled rather than a key-value store because the access pattern is "load everything once, append a batch", which
numpy files do with no dependency and no per-row overhead.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import uuid
from pathlib import Path

import numpy as np

from features.text import normalise_text

log = logging.getLogger(__name__)


def text_key(text: str) -> bytes:
    """16-byte hash of the normalised text."""
    return hashlib.blake2b(normalise_text(text).encode("utf-8"), digest_size=16).digest()


def _fingerprint_dir(fingerprint: str) -> str:
    return hashlib.sha256(fingerprint.encode()).hexdigest()[:20]


class EmbeddingCache:
    """Vectors of texts already encoded by one encoder, in memory and (when ``directory`` is given) on disk."""

    def __init__(self, directory: str | Path | None, fingerprint: str):
        self.fingerprint = fingerprint
        self.directory = None if directory is None else Path(directory) / _fingerprint_dir(fingerprint)
        self._rows: dict[bytes, np.ndarray] = {}
        self._lock = threading.Lock()
        self.encoded = 0  # texts this cache had to send to the encoder (what an incremental build reports)
        self.hits = 0
        if self.directory is not None and self.directory.is_dir():
            for shard in sorted(self.directory.glob("*.npz")):
                try:
                    with np.load(shard) as data:
                        keys, vecs = data["keys"], data["vectors"]
                except (OSError, ValueError, KeyError) as exc:  # a shard cut short by a crash: skip, re-encode later
                    log.warning("skipping unreadable embedding shard %s (%s)", shard, exc)
                    continue
                for k, v in zip(keys, vecs):
                    self._rows[bytes(k)] = v

    def __len__(self) -> int:
        return len(self._rows)

    def encode(self, encoder, texts: list[str], progress: bool = False) -> np.ndarray:
        """Embeddings of ``texts`` (float32, rows in order): cached rows reused, the others encoded and stored."""
        keys = [text_key(t) for t in texts]
        missing: dict[bytes, str] = {}
        for k, t in zip(keys, texts):
            if k not in self._rows and k not in missing:
                missing[k] = t
        self.hits += len(texts) - len(missing)
        if missing:
            new = np.ascontiguousarray(encoder.encode(list(missing.values()), progress=progress), dtype=np.float32)
            self.encoded += len(missing)
            with self._lock:
                for k, v in zip(missing, new):
                    self._rows[k] = v
            self._write_shard(list(missing), new)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.ascontiguousarray(np.stack([self._rows[k] for k in keys]), dtype=np.float32)

    def _write_shard(self, keys: list[bytes], vectors: np.ndarray) -> None:
        if self.directory is None or not keys:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "fingerprint.txt").write_text(self.fingerprint)
        tmp = self.directory / f".{uuid.uuid4().hex}.tmp.npz"
        key_arr = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 16)
        np.savez(tmp, keys=key_arr, vectors=vectors.astype(np.float32))
        # Atomic rename: a reader never sees half a shard.
        os.replace(tmp, self.directory / f"{len(list(self.directory.glob('*.npz'))):06d}-{uuid.uuid4().hex[:8]}.npz")


class CachedEncoder:
    """An encoder seen through an :class:`EmbeddingCache`: same ``name``/``fingerprint``, ``encode`` cached."""

    def __init__(self, encoder, cache: EmbeddingCache):
        self.inner = encoder
        self.cache = cache

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def encode(self, texts, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        return self.cache.encode(self.inner, list(texts), progress=progress)


def cached_encoder(encoder, directory: str | Path | None) -> CachedEncoder:
    """Wrap ``encoder`` with the on-disk cache in ``directory`` (in memory only when None); idempotent."""
    if isinstance(encoder, CachedEncoder):
        return encoder
    return CachedEncoder(encoder, EmbeddingCache(directory, encoder.fingerprint))
