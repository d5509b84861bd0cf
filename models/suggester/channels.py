"""What each channel answers for a batch of queries, before temperatures and weights turn it into one distribution.

:class:`ChannelHits` is the output of :meth:`HSSuggester.search_channels`: the lexical and dense neighbours (with
their code columns) and the supervised margins. Serving fuses it with the bundle's tuned parameters
(:meth:`HSSuggester.score_texts`); training searches once and tries every temperature and weight on the same hits
(``training/hs/tune.py``), so tuning sees exactly what serving computes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

# Margin of a code the supervised channel has no class for: its softmax share underflows to zero.
NO_MARGIN = -1e3


@dataclass
class ChannelHits:
    """Raw per-channel output for ``m`` queries.

    Neighbour refs are positions in the bundle, or -(overlay position + 2) for overlay rows; -1 is "no neighbour".
    Classes are the neighbours' columns in the code space (the bundle's HS6 codes, then the overlay's new ones), -1
    where there is no neighbour.
    """

    lex_s: np.ndarray  # m × k_lexical similarities, best first
    lex_refs: np.ndarray
    lex_c: np.ndarray
    dense_s: np.ndarray  # m × k_dense
    dense_refs: np.ndarray
    dense_c: np.ndarray
    margins: np.ndarray  # m × code space; NO_MARGIN outside the supervised classes
    lex_all: sp.csr_matrix | None = None  # m × bundle rulings: every lexical similarity (``keep_all`` searches)

    def __len__(self) -> int:
        return self.lex_s.shape[0]

    @classmethod
    def concat(cls, parts: list[ChannelHits]) -> ChannelHits:
        """The hits of consecutive query chunks as one batch."""
        if len(parts) == 1:
            return parts[0]
        stack = {name: np.vstack([getattr(p, name) for p in parts])
                 for name in ("lex_s", "lex_refs", "lex_c", "dense_s", "dense_refs", "dense_c", "margins")}
        lex_all = None if parts[0].lex_all is None else sp.vstack([p.lex_all for p in parts]).tocsr()
        return cls(**stack, lex_all=lex_all)


@dataclass
class RawScores:
    """One query's scores before its answer is composed: the fused distribution and the neighbours behind it."""

    p6: np.ndarray  # fused distribution over the code space
    lex: tuple[np.ndarray, np.ndarray]  # (sims, ruling refs)
    dense: tuple[np.ndarray, np.ndarray]
    extra: dict = field(default_factory=dict)


def class_votes(sims: np.ndarray, classes: np.ndarray, temperature: float, width: int) -> np.ndarray:
    """kNN code votes: neighbour weights exp((s − s_best)/T) summed per code column, normalised per query."""
    m = sims.shape[0]
    out = np.zeros((m, width), dtype=np.float32)
    if sims.shape[1] == 0:
        return out
    valid = classes >= 0
    best = np.where(valid, sims, -np.inf).max(axis=1, keepdims=True)
    best = np.where(np.isinf(best), 0.0, best)
    w = np.exp((sims - best) / max(temperature, 1e-6)) * valid
    rows = np.repeat(np.arange(m), sims.shape[1])
    np.add.at(out, (rows, np.where(valid, classes, 0).ravel()), w.ravel().astype(np.float32))
    total = out.sum(axis=1, keepdims=True)
    return np.divide(out, total, out=np.zeros_like(out), where=total > 0)


def top_columns(x: np.ndarray, k: int) -> np.ndarray:
    """Columns of the ``k`` largest values of each row, best first, ties by column: exactly
    ``np.argsort(-x, axis=-1, kind="stable")[..., :k]`` (1-D or 2-D ``x``), without sorting whole rows.

    Answer rows span every tariff subheading (~6k columns) and a suggestion wants five; a full sort per row was ~1 ms
    of a single suggestion (profiled at 30k rulings plus the China tariff).
    """
    x = np.asarray(x)
    rows = np.atleast_2d(x)
    m, n = rows.shape
    k = min(int(k), n)
    if k <= 0:
        return np.zeros(x.shape[:-1] + (0,), dtype=np.int64)
    if 8 * k >= n:
        top = np.argsort(-rows, axis=1, kind="stable")[:, :k]
    else:
        part = np.argpartition(-rows, k - 1, axis=1)[:, :k]
        kth = np.take_along_axis(rows, part, 1).min(axis=1, keepdims=True)
        # Everything above the k-th value is in; of the values equal to it, the lowest columns (as a stable sort).
        above, tied = rows > kth, rows == kth
        room = k - above.sum(axis=1, keepdims=True)
        keep = above | (tied & (np.cumsum(tied, axis=1) <= room))
        cols = np.nonzero(keep)[1].reshape(m, k)  # row-major: ascending columns within each row
        top = np.take_along_axis(cols, np.argsort(-np.take_along_axis(rows, cols, 1), axis=1, kind="stable"), 1)
    return top.astype(np.int64).reshape(x.shape[:-1] + (k,))


def merge_neighbours(s1, i1, s2, i2, k):
    """Row-wise top-``k`` of two neighbour lists (the bundle's and the overlay's)."""
    s = np.concatenate([s1, s2], axis=1)
    i = np.concatenate([i1, i2], axis=1)
    s = np.where(i == -1, -np.inf, s)
    order = np.argsort(-s, axis=1, kind="stable")[:, :k]
    s = np.take_along_axis(s, order, 1)
    i = np.take_along_axis(i, order, 1)
    i = np.where(np.isinf(s), -1, i)
    return np.where(np.isinf(s), 0.0, s).astype(np.float32), i


def hs4_groups(codes6) -> np.ndarray:
    """Group index of each code's HS4 (for per-heading sums)."""
    _, inverse = np.unique(np.array([c[:4] for c in codes6], dtype=object), return_inverse=True)
    return inverse.astype(np.int64)
