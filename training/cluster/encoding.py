"""The suggester's encoding spread over Dask workers; the index is then built once, here, as in a local build.

:class:`DaskEncoder` wraps the build's encoder: same name, fingerprint and ``spec`` (so the bundle records, and the
service later loads, the plain encoder), but ``encode`` sends the distinct texts to the workers in parts, where each
worker loads the encoder by its spec once (``models.encoders.load_encoder`` caches it per process). The parts are cut
at multiples of the batch size, so every batch the encoder sees holds the same texts as in a local ``encode``: the
embeddings, hence the index and the answers, are those of a local build.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["DaskEncoder"]

#: Batches per task: enough work per round trip, small enough that both workers get parts on a small library.
BATCHES_PER_PART = 16


def _encode_part(spec: str, texts: list[str], batch_size: int) -> np.ndarray:
    from models.encoders import load_encoder

    # One thread per worker: the workers are the parallelism.
    return load_encoder(spec, threads=1).encode(texts, batch_size=batch_size)


class DaskEncoder:
    """An :class:`~models.encoders.Encoder` whose ``encode`` runs on the cluster of ``client``."""

    def __init__(self, base: Any, client: Any, *, batches_per_part: int = BATCHES_PER_PART):
        spec = getattr(base, "spec", None) or str(getattr(base, "model_dir", "") or "")
        if not spec:
            raise ValueError(f"{base!r} has no spec the workers could load it by")
        self.base = base
        self.client = client
        self.spec = spec
        self.batches_per_part = batches_per_part

    # identity: the bundle and its checks see the encoder the service will load
    @property
    def name(self) -> str:
        return self.base.name

    @property
    def dim(self) -> int:
        return self.base.dim

    @property
    def fingerprint(self) -> str:
        return self.base.fingerprint

    def __getattr__(self, item: str) -> Any:  # anything else the build reads (model_dir, version, ...)
        if item == "base":
            raise AttributeError(item)
        return getattr(self.base, item)

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        from models.encoders import _check_texts, _unique

        texts = _check_texts(texts)
        if not texts:
            return self.base.encode([], batch_size=batch_size)
        distinct, inverse = _unique(texts)  # as the local encoder dedups, so batches match batch for batch
        step = max(1, int(batch_size)) * self.batches_per_part
        parts = [distinct[a:a + step] for a in range(0, len(distinct), step)]
        futures = self.client.map(_encode_part, [self.spec] * len(parts), parts, [batch_size] * len(parts),
                                  pure=False)
        if progress:
            from distributed import progress as dask_progress

            dask_progress(futures)
        vectors = np.concatenate(self.client.gather(futures), axis=0)
        return vectors[inverse]

    def __repr__(self) -> str:
        return f"DaskEncoder({self.base!r}, workers={len(self.client.scheduler_info(n_workers=-1)['workers'])})"
