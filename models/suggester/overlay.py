"""Rulings added after the bundle was built (reviewer decisions), searchable at once.

An :class:`Overlay` is immutable: adding rulings builds a new one from the old rows plus the new, and the suggester
swaps one reference. A reader holds whichever overlay it picked up at the start of its query, so it never sees a
half-built one. Overlays stay small (they are folded into the bundle at the next rebuild), so exact brute-force search
over them costs microseconds and needs no index structure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Overlay:
    ids: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    dates: tuple[object, ...] = ()
    lexical: sp.csr_matrix | None = None  # rows × terms, L2-normalised, the bundle's kNN vocabulary
    embeddings: np.ndarray | None = None  # rows × dim, L2-normalised
    rulings: tuple = field(default=(), repr=False)  # the Ruling objects, so a saved suggester keeps them

    def __len__(self) -> int:
        return len(self.ids)

    def extended(self, *, ids, codes, texts, sources, dates, lexical: sp.csr_matrix, embeddings: np.ndarray,
                 rulings) -> Overlay:
        """A new overlay with these rows added; a ruling id already present is replaced by its new version."""
        keep = [i for i, rid in enumerate(self.ids) if rid not in set(ids)]
        def cat(old, new):
            return tuple(old[i] for i in keep) + tuple(new)
        old_lex = self.lexical[keep] if self.lexical is not None else None
        old_emb = self.embeddings[keep] if self.embeddings is not None else None
        lex = sp.vstack([old_lex, lexical]).tocsr() if old_lex is not None else lexical.tocsr()
        emb = np.vstack([old_emb, embeddings]) if old_emb is not None else embeddings
        return Overlay(ids=cat(self.ids, ids), codes=cat(self.codes, codes), texts=cat(self.texts, texts),
                       sources=cat(self.sources, sources), dates=cat(self.dates, dates), lexical=lex,
                       embeddings=np.ascontiguousarray(emb, dtype=np.float32), rulings=cat(self.rulings, rulings))

    def search(self, q_lex: sp.csr_matrix, q_emb: np.ndarray, k: int):
        """Exact top-``k`` per query for both channels: ((lex_sims, lex_pos), (dense_sims, dense_pos))."""
        n = len(self)
        k = min(k, n)
        lex = np.asarray((q_lex @ self.lexical.T).todense(), dtype=np.float32)
        dense = (q_emb @ self.embeddings.T).astype(np.float32)
        return _top(lex, k), _top(dense, k)


def _top(sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    if k <= 0:
        m = sims.shape[0]
        return np.zeros((m, 0), np.float32), np.zeros((m, 0), np.int64)
    part = np.argpartition(-sims, k - 1, axis=1)[:, :k] if sims.shape[1] > k else np.tile(np.arange(sims.shape[1]),
                                                                                          (sims.shape[0], 1))
    s = np.take_along_axis(sims, part, 1)
    order = np.argsort(-s, axis=1, kind="stable")
    return np.take_along_axis(s, order, 1), np.take_along_axis(part, order, 1).astype(np.int64)
