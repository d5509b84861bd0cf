"""Lexical channel: character and word n-gram TF-IDF, as features (supervised channel) and as a kNN index.

Chinese product titles match on characters and short words (保温杯, 不锈钢), and the cbec titles arrive as jieba tokens
in scrambled order, so order-free n-grams inside words (``char_wb``) plus whole tokens fit both.

One vectoriser serves both uses, so a query is vectorised once. The kNN index drops very common terms (``max_df``):
their IDF weight is near zero, yet their posting lists are the longest, so at 300k rulings they would dominate query
time (a char unigram like 装 is in a third of all titles) while barely moving the ranking. The supervised features keep
them.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

# Whitespace tokens, not sklearn's default \w\w+: one-character Chinese words (杯, 灯) and "500ml" must survive.
TOKEN_PATTERN = r"(?u)[^\s]+"
FAST_PATH_MAX = 8


class LexicalVectoriser:
    """char_wb n-grams + whole tokens, TF-IDF (sublinear), rows L2-normalised after stacking.

    Hand-rolled instead of sklearn's FeatureUnion: the union dispatches through joblib on every call, which costs
    milliseconds per single-query transform, a large share of the latency budget.
    """

    def __init__(self, char_range: tuple[int, int] = (1, 3), analyzer: str = "char_wb"):
        self.char_range = char_range
        self.analyzer = analyzer

    def fit(self, texts: list[str]) -> LexicalVectoriser:
        self.char_ = TfidfVectorizer(analyzer=self.analyzer, ngram_range=self.char_range, sublinear_tf=True,
                                     lowercase=False, dtype=np.float32).fit(texts)
        self.word_ = TfidfVectorizer(analyzer="word", token_pattern=TOKEN_PATTERN, sublinear_tf=True,
                                     lowercase=False, dtype=np.float32).fit(texts)
        return self

    def fit_transform(self, texts: list[str]) -> sp.csr_matrix:
        """``fit(texts).transform(texts)`` in one pass over the texts (analysing n-grams is most of the cost)."""
        self.char_ = TfidfVectorizer(analyzer=self.analyzer, ngram_range=self.char_range, sublinear_tf=True,
                                     lowercase=False, dtype=np.float32)
        self.word_ = TfidfVectorizer(analyzer="word", token_pattern=TOKEN_PATTERN, sublinear_tf=True,
                                     lowercase=False, dtype=np.float32)
        x = sp.hstack([self.char_.fit_transform(texts), self.word_.fit_transform(texts)], format="csr")
        return normalize(x).astype(np.float32)

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        if len(texts) <= FAST_PATH_MAX:
            return self._transform_few(texts)
        x = sp.hstack([self.char_.transform(texts), self.word_.transform(texts)], format="csr")
        return normalize(x).astype(np.float32)

    def _transform_few(self, texts: list[str]) -> sp.csr_matrix:
        """Same numbers as the sklearn path for a handful of texts, without its per-call validation overhead
        (several milliseconds per query, most of the single-query latency budget)."""
        if not hasattr(self, "_fast"):
            self._fast = [(v.build_analyzer(), v.vocabulary_, v.idf_.astype(np.float64), offset)
                          for v, offset in ((self.char_, 0), (self.word_, len(self.char_.vocabulary_)))]
        indptr, indices, data = [0], [], []
        for text in texts:
            row: dict[int, float] = {}
            for analyzer, vocab, idf, offset in self._fast:
                counts: dict[int, int] = {}
                for term in analyzer(text):
                    j = vocab.get(term)
                    if j is not None:
                        counts[j] = counts.get(j, 0) + 1
                if not counts:
                    continue
                cols = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
                tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
                vals = (1.0 + np.log(tf)) * idf[cols]
                vals /= np.linalg.norm(vals)  # each TfidfVectorizer L2-normalises its own block
                row.update(zip((cols + offset).tolist(), vals.tolist()))
            if row:
                cols = np.fromiter(row.keys(), dtype=np.int64, count=len(row))
                vals = np.fromiter(row.values(), dtype=np.float64, count=len(row))
                order = np.argsort(cols)
                indices.extend(cols[order].tolist())
                data.extend((vals[order] / np.linalg.norm(vals)).tolist())
            indptr.append(len(indices))
        return sp.csr_matrix((np.array(data, dtype=np.float32), np.array(indices, dtype=np.int32),
                              np.array(indptr, dtype=np.int32)), shape=(len(texts), self.n_features))

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_fast", None)  # analyzers are closures; rebuilt on first use
        return state

    @property
    def n_features(self) -> int:
        return len(self.char_.vocabulary_) + len(self.word_.vocabulary_)


def make_vectoriser(char_range: tuple[int, int] = (1, 3), analyzer: str = "char_wb") -> LexicalVectoriser:
    return LexicalVectoriser(char_range, analyzer)


def transform(vectoriser: LexicalVectoriser, texts: list[str]) -> sp.csr_matrix:
    return vectoriser.transform(texts)


class LexicalIndex:
    """Cosine kNN over (pruned) TF-IDF rows through an inverted (term → rulings) matrix.

    ``search`` costs the summed posting-list lengths of the query's terms, never library size × vocabulary.
    """

    def __init__(self, max_df: float = 0.05, min_rulings_for_pruning: int = 1000):
        self.max_df = max_df
        self.min_rulings_for_pruning = min_rulings_for_pruning

    def fit(self, matrix: sp.csr_matrix) -> LexicalIndex:
        """``matrix``: the library's L2-normalised feature rows (from :class:`LexicalVectoriser`)."""
        n = matrix.shape[0]
        df = np.bincount(matrix.indices, minlength=matrix.shape[1])
        # A fraction of a tiny library is a handful of rulings: there every term stays.
        limit = self.max_df * n if n >= self.min_rulings_for_pruning else n + 1
        self.keep_ = (df <= limit).astype(np.float32)
        self.postings_ = self.prune(matrix).T.tocsr()  # terms × rulings
        self.n_ = n
        return self

    def prune(self, x: sp.csr_matrix) -> sp.csr_matrix:
        """Feature rows restricted to the index's terms, re-normalised (cosine in the index's space)."""
        x = sp.csr_matrix(x, dtype=np.float32, copy=True)
        x.data *= self.keep_[x.indices]
        # Row norms by hand: sklearn's normalize validates its input on every call (a millisecond per query).
        rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
        norms = np.sqrt(np.bincount(rows, weights=x.data.astype(np.float64) ** 2, minlength=x.shape[0]))
        x.data /= np.maximum(norms, 1e-12)[rows].astype(np.float32)
        x.eliminate_zeros()
        return x

    def search(self, queries: sp.csr_matrix, k: int, *, keep_all: bool = False):
        """Top-``k`` (similarities, positions) per query feature row; positions are -1 where fewer than k rulings match.

        With ``keep_all`` also returns the sparse queries × rulings similarities (every ruling sharing a term), from
        which evidence for any code is read without another search.
        """
        sims = (self.prune(queries) @ self.postings_).tocsr()  # queries × rulings, sparse
        top = top_k_sparse(sims, k)
        return (*top, sims) if keep_all else top


def top_k_sparse(sims: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    m = sims.shape[0]
    out_s = np.zeros((m, k), dtype=np.float32)
    out_i = np.full((m, k), -1, dtype=np.int64)
    indptr, indices, data = sims.indptr, sims.indices, sims.data
    for r in range(m):
        lo, hi = indptr[r], indptr[r + 1]
        if hi == lo:
            continue
        d = data[lo:hi]
        if hi - lo > k:
            part = np.argpartition(-d, k - 1)[:k]
        else:
            part = np.arange(hi - lo)
        order = part[np.argsort(-d[part], kind="stable")]
        out_s[r, : len(order)] = d[order]
        out_i[r, : len(order)] = indices[lo:hi][order]
    return out_s, out_i
