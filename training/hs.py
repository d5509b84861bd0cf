"""Build, tune, evaluate and log the HS suggester; the TF-IDF + LinearSVC baseline it is compared with.

``build_suggester`` fits the channels on most of the library, scores a held-out validation split, tunes kNN
temperatures, channel weights and the supervised softmax temperature on it (grid search, top-1 accuracy with top-5 as
tie-break), fits isotonic confidence calibrators per level on the same held-out predictions, picks the confidence
threshold and the "no similar ruling" floors, and then refits every channel on the whole library.

Build cost (profiled at 10k demo rulings): the sentence encoder and the linear SVM dominate. So every text is
encoded once (validation queries reuse the library's embeddings), the dense index is built once and validation
queries search it with their own rows masked out, and the final SVM is fitted in a worker process while the
validation model is fitted and tuned here. Above ``supervised_max_samples`` rulings the TF-IDF vocabulary is fitted
once (validation rows are then a small share of its statistics) and the validation SVM, trained on a capped sample of
the same size as the final one would be, is reused as the final one.
"""

from __future__ import annotations

import itertools
import logging
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from data.errors import InvalidInputError, field_error
from features.text import compose_text
from models.suggester.calibration import NATIONAL, LevelCalibrator, choose_threshold, expected_calibration_error
from models.suggester.channels import NO_MARGIN, ChannelHits, class_votes, hs4_groups
from models.suggester.compose import national_votes
from models.suggester.dense_index import DenseIndex
from models.suggester.lexical import LexicalIndex, LexicalVectoriser, make_vectoriser, transform
from models.suggester.ranker import CandidateRanker, candidate_features, rerank
from models.suggester.suggester import HSSuggester, SuggesterParams, dense_text, display_text
from models.suggester.supervised import SupervisedChannel, softmax

log = logging.getLogger(__name__)

MIN_TUNE_RULINGS = 60  # below this a validation split says nothing; defaults and uncalibrated scores are used
T_KNN_GRID = (0.02, 0.05, 0.1)
T_SUP_GRID = (0.05, 0.1, 0.2, 0.4)
WEIGHT_STEP = 0.1
CAL_TOP = 5


@dataclass
class _Library:
    ids: np.ndarray
    codes: np.ndarray
    texts: list[str]  # composed, normalised
    display: list[str]
    sources: np.ndarray
    dates: list
    embeddings: np.ndarray
    features: Any = None  # lexical feature rows (csr), set once the vectoriser is fitted

    def subset(self, rows: np.ndarray) -> _Library:
        return _Library(self.ids[rows], self.codes[rows], [self.texts[i] for i in rows],
                        [self.display[i] for i in rows], self.sources[rows], [self.dates[i] for i in rows],
                        self.embeddings[rows], None if self.features is None else self.features[rows])


def _library(rulings: list, encoder, progress: bool) -> _Library:
    if not rulings:
        raise InvalidInputError("cannot build a suggester from an empty library",
                                details=[field_error("rulings", "empty")])
    texts = [compose_text(r.product_name, r.description, r.declared_elements) for r in rulings]
    emb = np.ascontiguousarray(encoder.encode([dense_text(r) for r in rulings], progress=progress), dtype=np.float32)
    return _Library(
        ids=np.array([r.ruling_id for r in rulings], dtype=object),
        codes=np.array([r.hs_code for r in rulings], dtype=object),
        texts=texts, display=[display_text(r.product_name, r.description) for r in rulings],
        sources=np.array([getattr(r.source, "value", str(r.source)) for r in rulings], dtype=object),
        dates=[r.ruling_date for r in rulings], embeddings=emb)


class _MaskedIndex:
    """The library's dense index seen without some rows (the validation split), positions renumbered to the rest.

    Lets validation queries search the one index the final suggester keeps instead of a second build (at HNSW sizes a
    build costs minutes). Over-fetches and drops masked rows; rows still short of ``k`` are searched again deeper.
    """

    def __init__(self, index, keep: np.ndarray):
        self.index = index
        self.new_pos = np.where(keep, np.cumsum(keep) - 1, -1).astype(np.int64)
        self.n_keep = int(keep.sum())
        self.n_masked = int(len(keep) - self.n_keep)

    @property
    def ntotal(self) -> int:
        return self.n_keep

    def search(self, queries: np.ndarray, k: int):
        k = int(k)
        m = len(queries)
        out_s = np.full((m, k), -np.inf, dtype=np.float32)
        out_i = np.full((m, k), -1, dtype=np.int64)
        todo = np.arange(m)
        fetch = min(self.index.ntotal, k + min(self.n_masked, 2 * k + 16))
        while len(todo):
            s, i = self.index.search(queries[todo], fetch)
            mapped = np.where(i >= 0, self.new_pos[np.maximum(i, 0)], -1)
            short = []
            for row, q in enumerate(todo):
                ok = mapped[row] >= 0
                got = int(ok.sum())
                if got < k and fetch < self.index.ntotal:
                    short.append(q)
                    continue
                take = min(got, k)
                out_s[q, :take] = s[row][ok][:take]
                out_i[q, :take] = mapped[row][ok][:take]
            todo = np.array(short, dtype=np.int64)
            fetch = min(self.index.ntotal, fetch * 4)
        return out_s, out_i


# Below this many rulings the SVM fits in well under a second: not worth a worker process.
PARALLEL_FIT_MIN = 3000


def _fit_supervised(x, labels: np.ndarray, max_samples: int, seed: int) -> SupervisedChannel:
    return SupervisedChannel(max_samples=max_samples, seed=seed).fit(x, labels)


class _Done:
    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


def _start_final_svm(x, labels: np.ndarray, max_samples: int, seed: int, parallel: bool):
    """Fit the final supervised channel in a forked worker while this process fits and tunes the validation model.

    liblinear holds the GIL for its whole fit (measured: two threads fitting halves of the classes took longer than
    one thread fitting all), and the two SVM fits are half of the non-encoding build time, so the second core is
    used through a process. Fork, not spawn: spawn re-imports the caller's ``__main__`` script. The worker runs
    liblinear only (no BLAS/OpenMP pools that an inherited lock could block). Falls back to fitting in process.
    """
    if parallel and x.shape[0] >= PARALLEL_FIT_MIN:
        try:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
            future = pool.submit(_fit_supervised, x, labels, max_samples, seed)
            pool.shutdown(wait=False)
            return future
        except (ValueError, OSError) as exc:  # no fork on this platform, or no processes left
            log.info("fitting the SVM in process (%s)", exc)
    return _Done(_fit_supervised(x, labels, max_samples, seed))


def _assemble(lib: _Library, *, encoder, params: SuggesterParams, calibrators, nomenclature, seed: int, ranker=None,
              supervised_max_samples: int, progress: bool, metrics=None, built_with=None, features=None, dense=None,
              supervised=None) -> HSSuggester:
    """A suggester over ``lib``; the vectoriser, dense index and supervised channel are reused when given."""
    if features is None:
        features = LexicalVectoriser().fit(lib.texts)
    x = lib.features if lib.features is not None else features.transform(lib.texts)
    lexical = LexicalIndex().fit(x)
    if supervised is None:
        supervised = SupervisedChannel(max_samples=supervised_max_samples, seed=seed).fit(
            x, np.array([c[:6] for c in lib.codes], dtype=object))
    if dense is None:
        dense = DenseIndex.build(lib.embeddings)
    return HSSuggester(encoder=encoder, dense_index=dense, features=features, lexical=lexical, supervised=supervised,
                       ruling_ids=lib.ids, ruling_codes=lib.codes, ruling_texts=lib.display,
                       ruling_sources=lib.sources, ruling_dates=lib.dates, params=params, calibrators=calibrators,
                       nomenclature=nomenclature, ranker=ranker, metrics=metrics, built_with=built_with)


def fit_national_calibrator(hits: ChannelHits, fused: np.ndarray, model: HSSuggester,
                            gold_codes: np.ndarray) -> LevelCalibrator | None:
    """Isotonic map for 8/10-digit answers, on validation queries whose gold code is national.

    Score = raw P(top HS6) × the best national line's vote share, the same as the suggester computes.
    """
    x, y = [], []
    for q in range(len(gold_codes)):
        gold = gold_codes[q]
        if len(gold) <= 6:
            continue
        j = int(np.argmax(fused[q]))
        code6 = model.codes6[j]
        best: dict[int, float] = {}
        for sims, refs in ((hits.lex_s[q], hits.lex_refs[q]), (hits.dense_s[q], hits.dense_refs[q])):
            for sim, ref in zip(sims, refs):
                if ref >= 0 and sim > best.get(int(ref), -1.0):
                    best[int(ref)] = float(sim)
        votes = national_votes([(model.ruling_codes[r], s) for r, s in best.items()], code6)
        if not votes:
            continue
        code, share = votes[0]
        x.append(float(fused[q, j]) * share)
        y.append(code == gold[:len(code)] and len(code) == len(gold))
    if not x:
        return None
    return LevelCalibrator(NATIONAL).fit(np.array(x), np.array(y))


def _topk_hits(scores: np.ndarray, gold: np.ndarray, k: int) -> np.ndarray:
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return (top == gold[:, None]).any(axis=1)


def _objective(scores: np.ndarray, gold: np.ndarray) -> tuple[float, float]:
    return float(_topk_hits(scores, gold, 1).mean()), float(_topk_hits(scores, gold, 5).mean())


def tune_params(hits: ChannelHits, gold: np.ndarray, width: int, base: SuggesterParams) -> tuple[SuggesterParams, dict]:
    """Joint grid search on validation over kNN temperatures, the supervised temperature and the channel weights.

    Objective: top-1 accuracy, top-5 as tie-break (top-5 is only computed for settings that tie or beat the best
    top-1 so far, which keeps the full grid to seconds).
    """
    params = SuggesterParams(**base.__dict__)
    lex_votes = {t: class_votes(hits.lex_s, hits.lex_c, t, width) for t in T_KNN_GRID}
    dense_votes = {t: class_votes(hits.dense_s, hits.dense_c, t, width) for t in T_KNN_GRID}
    has_sup = bool((hits.margins > NO_MARGIN).any())
    sups = {t: softmax(hits.margins, t) for t in (T_SUP_GRID if has_sup else (1.0,))}
    steps = [round(x * WEIGHT_STEP, 2) for x in range(int(round(1 / WEIGHT_STEP)) + 1)]
    best, best_key = None, (-1.0, -1.0)
    for t_lex, t_dense, t_sup in itertools.product(T_KNN_GRID, T_KNN_GRID, sups):
        v_lex, v_dense, sup = lex_votes[t_lex], dense_votes[t_dense], sups[t_sup]
        for w_lex, w_dense in itertools.product(steps, steps):
            w_sup = round(1.0 - w_lex - w_dense, 2)
            if w_sup < 0 or (not has_sup and w_sup > 0):
                continue
            fused = w_lex * v_lex + w_dense * v_dense + w_sup * sup
            top1 = float((fused.argmax(axis=1) == gold).mean())
            if top1 < best_key[0]:
                continue
            key = (top1, float(_topk_hits(fused, gold, 5).mean()))
            if key > best_key:
                best_key, best = key, (t_lex, t_dense, t_sup, w_lex, w_dense, w_sup)
    t_lex, t_dense, t_sup, w_lex, w_dense, w_sup = best
    params.t_lexical, params.t_dense, params.t_supervised = t_lex, t_dense, t_sup
    params.w_lexical, params.w_dense, params.w_supervised = w_lex, w_dense, w_sup
    v_lex, v_dense = lex_votes[t_lex], dense_votes[t_dense]
    fused = w_lex * v_lex + w_dense * v_dense + (w_sup * sups[t_sup] if has_sup else 0.0)
    fused = fused / np.maximum(fused.sum(axis=1, keepdims=True), 1e-12)
    sup_best = sups[t_sup] if has_sup else np.zeros_like(v_lex)
    return params, {"val_hs6_top1": best_key[0], "val_hs6_top5": best_key[1], "fused": fused,
                    "v_lex": v_lex, "v_dense": v_dense, "sup": sup_best,
                    "channels": {"lexical": _objective(v_lex, gold), "dense": _objective(v_dense, gold),
                                 "supervised": _objective(softmax(hits.margins, t_sup), gold) if has_sup else None}}


MIN_RANK_QUERIES = 200
T_RANK_GRID = (0.1, 0.2, 0.5, 1.0, 2.0)


def fit_ranker(hits: ChannelHits, info: dict[str, Any], model: HSSuggester, gold: np.ndarray, seed: int):
    """Cross-fitted LightGBM re-ranker on the validation queries; kept only when it beats the fused ranking.

    Two folds: each half is scored by a ranker trained on the other half, so the comparison with the fused ranking
    and the calibrators fitted afterwards see out-of-fold scores only. Returns (ranker or None, t_rank, distribution
    the calibrators should use, metrics).
    """
    feats, cand = candidate_features(
        fused=info["fused"], v_lex=info["v_lex"], v_dense=info["v_dense"], sup=info["sup"], margins=hits.margins,
        lex_s=hits.lex_s, lex_c=hits.lex_c, dense_s=hits.dense_s, dense_c=hits.dense_c,
        log_prior=model.log_prior(),
        hs4_of=hs4_groups(model.codes6))
    labels = cand == gold[:, None]
    has_gold = labels.any(axis=1)
    metrics: dict[str, float] = {}
    if has_gold.sum() < MIN_RANK_QUERIES:
        return None, 1.0, info["fused"], metrics
    fold = np.random.default_rng(seed + 1).integers(0, 2, size=len(gold))
    oof = np.zeros(cand.shape, dtype=np.float64)
    for f in (0, 1):
        train, test = (fold != f) & has_gold, fold == f
        oof[test] = CandidateRanker(seed=seed).fit(feats[train], labels[train]).scores(feats[test])
    rows = np.arange(len(gold))
    order = np.argsort(-oof, axis=1, kind="stable")
    top1_rank = float(labels[rows, order[:, 0]].mean())
    top5_rank = float(np.take_along_axis(labels, order[:, :5], 1).any(axis=1).mean())
    top1_fused = float(labels[:, 0].mean())
    top5_fused = float(labels[:, :5].any(axis=1).mean())
    metrics.update({"val_ranker_top1": top1_rank, "val_ranker_top5": top5_rank})
    if top1_rank <= top1_fused or top5_rank < top5_fused - 0.005:
        return None, 1.0, info["fused"], metrics

    def nll(t: float) -> float:
        p = rerank(info["fused"], cand, oof, t)
        g = p[rows[has_gold], gold[has_gold]]
        return float(-np.log(g + 1e-9).mean())

    t_rank = min(T_RANK_GRID, key=nll)
    ranker = CandidateRanker(seed=seed).fit(feats[has_gold], labels[has_gold])
    return ranker, t_rank, rerank(info["fused"], cand, oof, t_rank), metrics


def _level_scores(fused: np.ndarray, codes6: np.ndarray, level: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores summed to ``level`` digits: (matrix queries × groups, group codes)."""
    if level == 6:
        return fused, codes6
    prefixes = np.array([c[:level] for c in codes6], dtype=object)
    groups, inverse = np.unique(prefixes, return_inverse=True)
    agg = np.zeros((fused.shape[0], len(groups)), dtype=np.float64)
    for j in range(len(groups)):
        agg[:, j] = fused[:, inverse == j].sum(axis=1)
    return agg, groups


def fit_calibrators(fused: np.ndarray, codes6: np.ndarray, gold_codes: np.ndarray) -> dict[int, LevelCalibrator]:
    """Isotonic per level on the top-5 validation candidates (score → was it the gold code at that level)."""
    cals = {}
    for level in (2, 4, 6):
        scores, groups = _level_scores(fused, codes6, level)
        k = min(CAL_TOP, scores.shape[1])
        top = np.argsort(-scores, axis=1)[:, :k]
        x = np.take_along_axis(scores, top, 1).ravel()
        gold = np.array([g[:level] for g in gold_codes], dtype=object)
        y = (groups[top] == gold[:, None]).ravel()
        cals[level] = LevelCalibrator(level).fit(x, y)
    return cals


def grouped_split(texts: list[str], n_val: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Hold out about ``n_val`` rulings, whole groups of identical (normalised) texts at a time.

    A library is deduplicated on (text, code), so a held-out ruling whose exact text stays in the fitting part always
    carries a *different* code there. Split row by row, validation would teach the tuner and the ranker that an exact
    text match means a wrong code, the opposite of what queries see. Whole text groups keep validation honest.
    """
    groups: dict[str, list[int]] = defaultdict(list)
    for i, t in enumerate(texts):
        groups[t].append(i)
    keys = list(groups)
    val: list[int] = []
    for g in rng.permutation(len(keys)):
        if len(val) >= n_val:
            break
        val.extend(groups[keys[g]])
    val_rows = np.array(sorted(val), dtype=np.int64)
    mask = np.ones(len(texts), dtype=bool)
    mask[val_rows] = False
    return val_rows, np.flatnonzero(mask)


def build_suggester(rulings: list, *, encoder, nomenclature=None, progress: bool = True, seed: int = 0,
                    val_fraction: float = 0.2, max_val: int = 4000, supervised_max_samples: int = 60_000,
                    target_accuracy: float = 0.9, max_text_chars: int = 2000,
                    threshold: float | None = None, use_ranker: bool = True,
                    parallel_fit: bool = True) -> HSSuggester:
    """Fit, tune on a held-out split, calibrate, refit on everything. See the module docstring."""
    rulings = list(rulings)
    lib = _library(rulings, encoder, progress)
    features = LexicalVectoriser()
    lib.features = features.fit_transform(lib.texts)
    dense = DenseIndex.build(lib.embeddings)
    labels6 = np.array([c[:6] for c in lib.codes], dtype=object)
    final_svm = None
    base = SuggesterParams(max_text_chars=max_text_chars, target_accuracy=target_accuracy)
    n = len(rulings)
    calibrators: dict[int, LevelCalibrator] = {}
    metrics: dict[str, float] = {}
    params = base
    ranker = None
    n_codes = len({c[:6] for c in lib.codes})
    if n >= MIN_TUNE_RULINGS and n_codes >= 2:
        rng = np.random.default_rng(seed)
        n_val = int(min(max_val, max(20, round(val_fraction * n))))
        val_rows, fit_rows = grouped_split(lib.texts, n_val, rng)
        n_val = len(val_rows)
        if progress:
            log.info("tuning on %d validation rulings (%d fit)", n_val, len(fit_rows))
        keep = np.ones(n, dtype=bool)
        keep[val_rows] = False
        if len(fit_rows) < supervised_max_samples:
            final_svm = _start_final_svm(lib.features, labels6, supervised_max_samples, seed, parallel_fit)
        fit_lib, val = lib.subset(fit_rows), lib.subset(val_rows)
        if final_svm is None:
            # Large library: the held-out rows are a small share of the IDF statistics, so the one vocabulary serves
            # validation too, and both SVM fits would see a capped sample of the same size: the validation model
            # serves as the final one.
            prov_features = features
        else:
            # Smaller library: the held-out rows are up to a fifth of the IDF statistics; validation gets its own
            # vocabulary from the fitting rows so tuning sees queries the way real queries look (measured on cbec:
            # sharing the vocabulary moved the tuned weights and cost 0.0005 HS6 top-1).
            prov_features = LexicalVectoriser()
            fit_lib.features = prov_features.fit_transform(fit_lib.texts)
            val.features = prov_features.transform(val.texts)
        provisional = _assemble(fit_lib, encoder=encoder, params=base, calibrators={},
                                nomenclature=nomenclature, seed=seed, supervised_max_samples=supervised_max_samples,
                                progress=progress, features=prov_features, dense=_MaskedIndex(dense, keep))
        if final_svm is None:
            final_svm = _Done(provisional.supervised)
        hits = provisional.search_channels(features=val.features, embeddings=val.embeddings)
        code_pos = provisional.code_index
        gold = np.array([code_pos.get(c[:6], -1) for c in val.codes], dtype=np.int64)
        params, info = tune_params(hits, gold, len(provisional.codes6), base)
        ranker, params.t_rank, dist, rank_metrics = (fit_ranker(hits, info, provisional, gold, seed) if use_ranker
                                                     else (None, 1.0, info["fused"], {}))
        calibrators = fit_calibrators(dist, provisional.codes6, val.codes)
        national = fit_national_calibrator(hits, dist, provisional, val.codes)
        if national is not None:
            calibrators[NATIONAL] = national
        conf6 = calibrators[6](dist.max(axis=1))
        correct6 = provisional.codes6[dist.argmax(axis=1)] == np.array([c[:6] for c in val.codes])
        params.threshold = threshold if threshold is not None else choose_threshold(conf6, correct6, target_accuracy)
        # "No similar ruling": below the 1st percentile of genuine held-out queries on both channels at once.
        params.floor_lexical = float(np.quantile(hits.lex_s[:, 0], 0.01))
        params.floor_dense = float(np.quantile(hits.dense_s[:, 0], 0.01))
        confident = conf6 >= params.threshold
        metrics = {"val_n": float(n_val), "val_fused_top1": info["val_hs6_top1"], "val_fused_top5": info["val_hs6_top5"],
                   "val_hs6_top1": float(correct6.mean()),
                   "val_hs6_top5": float(_topk_hits(dist, gold, 5).mean()), "val_ranker_used": float(ranker is not None),
                   **rank_metrics,
                   "val_ece": expected_calibration_error(conf6, correct6),
                   "val_confident_coverage": float(confident.mean()),
                   "val_confident_accuracy": float(correct6[confident].mean()) if confident.any() else 0.0}
        for name, res in info["channels"].items():
            if res is not None:
                metrics[f"val_{name}_top1"], metrics[f"val_{name}_top5"] = res
    elif threshold is not None:
        params.threshold = threshold
    final = _assemble(lib, encoder=encoder, params=params, calibrators=calibrators, nomenclature=nomenclature,
                      ranker=ranker, seed=seed, supervised_max_samples=supervised_max_samples, progress=progress, metrics=metrics,
                      features=features, dense=dense, supervised=final_svm.result() if final_svm else None,
                      built_with={"seed": seed, "val_fraction": val_fraction, "max_val": max_val,
                                  "supervised_max_samples": supervised_max_samples, "dense_text": "name+elements",
                                  "encoder_spec": getattr(encoder, "spec", None) or _encoder_spec(encoder)})
    return final


def _encoder_spec(encoder) -> str | None:
    name = getattr(encoder, "name", "")
    if name.startswith("use"):
        return "use"
    if name == "st:all-MiniLM-L6-v2":
        return "minilm"
    return str(getattr(encoder, "model_dir", "")) or None


# ------------------------------------------------------------------------------------------------------ evaluation
LEVELS = (2, 4, 6, 8, 10)
KS = (1, 3, 5)


def _ranked_codes(answer, level: int) -> list[str]:
    """Distinct codes at ``level`` in the order the answer ranks them (HS6 candidates, their national lines)."""
    seen: list[str] = []
    if level <= 6:
        for c in answer.candidates:
            code = c.code[:level]
            if code not in seen:
                seen.append(code)
    else:
        for c in answer.candidates:
            for nat in c.national:
                if len(nat.code) >= level and nat.code[:level] not in seen:
                    seen.append(nat.code[:level])
    return seen


def topk_table(rankings: list[list[str]], gold: list[str]) -> dict[str, float]:
    n = len(gold)
    return {f"top{k}": (sum(g in r[:k] for r, g in zip(rankings, gold)) / n if n else 0.0) for k in KS}


def evaluate_suggester(suggester: HSSuggester, texts: list[str], gold_codes: list[str], *,
                       progress: bool = True, batch_size: int = 256) -> dict[str, Any]:
    """Top-k per level, confident coverage/accuracy, ECE, per-language and per-chapter slices."""
    from tqdm import tqdm

    answers = []
    bar = tqdm(total=len(texts), desc="answering", unit="q", disable=not progress, mininterval=0.5)
    for start in range(0, len(texts), batch_size):
        answers.extend(suggester.suggest_batch(list(texts[start:start + batch_size]), top_k=20))
        bar.update(min(batch_size, len(texts) - start))
    bar.close()
    return score_answers(answers, gold_codes)


def score_answers(answers: list, gold_codes: list[str]) -> dict[str, Any]:
    gold_codes = [str(g) for g in gold_codes]
    n = len(gold_codes)
    report: dict[str, Any] = {"n": n}
    for level in LEVELS:
        idx = [i for i, g in enumerate(gold_codes) if len(g) >= level]
        if not idx:
            continue
        if level > 6 and not any(c.national for i in idx for c in answers[i].candidates):
            continue  # the library has no national lines: 8/10-digit accuracy would be a meaningless zero
        report[f"hs{level}"] = topk_table([_ranked_codes(answers[i], level) for i in idx],
                                          [gold_codes[i][:level] for i in idx])
        if level > 6:
            report[f"hs{level}"]["n"] = len(idx)
    conf, correct, answered, answered_ok = [], [], [], []
    for a, g in zip(answers, gold_codes):
        top = a.candidates[0] if a.candidates else None
        conf.append(top.confidence if top else 0.0)
        correct.append(bool(top and top.code == g[:6]))
        answered.append(a.answer is not None)
        answered_ok.append(bool(a.answer and g.startswith(a.answer.code)))
    conf_a, correct_a = np.array(conf), np.array(correct, dtype=float)
    answered_a = np.array(answered)
    report["confident"] = {"coverage": float(answered_a.mean()) if n else 0.0,
                           "accuracy": float(np.array(answered_ok)[answered_a].mean()) if answered_a.any() else 0.0}
    report["ece"] = expected_calibration_error(conf_a, correct_a)
    by_lang: dict[str, list[int]] = defaultdict(list)
    by_chapter: dict[str, list[int]] = defaultdict(list)
    for i, a in enumerate(answers):
        by_lang[a.query.language].append(i)
        by_chapter[gold_codes[i][:2]].append(i)
    report["by_language"] = {
        lang: {"n": len(ix), **{f"hs6_{k}": v for k, v in topk_table(
            [_ranked_codes(answers[i], 6) for i in ix], [gold_codes[i][:6] for i in ix]).items()}}
        for lang, ix in sorted(by_lang.items())}
    report["by_chapter"] = {ch: {"n": len(ix), "hs6_top1": float(correct_a[ix].mean()),
                                 "hs4_top1": float(np.mean([bool(answers[i].candidates) and
                                                            answers[i].candidates[0].code[:4] == gold_codes[i][:4]
                                                            for i in ix]))}
                            for ch, ix in sorted(by_chapter.items())}
    report["reliability"] = {"confidence": conf, "correct": correct}
    return report


class BaselineClassifier:
    """The reference the suggester must beat: TF-IDF (char 1-3 + word n-grams) + LinearSVC, HS6 classes."""

    def __init__(self, C: float = 1.0):
        self.C = C

    def fit(self, texts: list[str], codes: list[str]) -> BaselineClassifier:
        from sklearn.svm import LinearSVC

        self.vectoriser_ = make_vectoriser((1, 3), analyzer="char")  # char n-grams across word boundaries too
        self.vectoriser_.fit(texts)
        y = np.array([c[:6] for c in codes], dtype=object)
        self.classes_ = np.unique(y)
        self.model_ = LinearSVC(C=self.C).fit(transform(self.vectoriser_, texts), y) if len(self.classes_) > 1 else None
        return self

    def rank(self, texts: list[str], k: int = 20) -> list[list[str]]:
        if self.model_ is None:
            return [[self.classes_[0]] for _ in texts]
        out = []
        for start in range(0, len(texts), 1024):
            d = self.model_.decision_function(transform(self.vectoriser_, texts[start:start + 1024]))
            if d.ndim == 1:
                d = np.stack([-d, d], axis=1)
            top = np.argsort(-d, axis=1)[:, :k]
            out.extend([list(self.model_.classes_[row]) for row in top])
        return out


def evaluate_baseline(library_texts: list[str], library_codes: list[str], texts: list[str],
                      gold_codes: list[str]) -> dict[str, Any]:
    ranked6 = BaselineClassifier().fit(library_texts, library_codes).rank(texts)
    out = {}
    for level in (2, 4, 6):
        rankings = [list(dict.fromkeys(c[:level] for c in r)) for r in ranked6]
        out[f"hs{level}"] = topk_table(rankings, [g[:level] for g in gold_codes])
    return out


@dataclass
class EvaluationRun:
    report: dict[str, Any]
    suggester: HSSuggester
    library_read: dict[str, int] = field(default_factory=dict)


def evaluate_files(library: Path, queries: Path, *, mapping=None, encoder, nomenclature=None, baseline: bool = False,
                   progress: bool = True, seed: int = 0, limit: int | None = None,
                   **build_options) -> EvaluationRun:
    """The ``clearance hs evaluate`` work: library FILE → temporary store → suggester; answer every query.

    The store lives in a temporary directory and is deleted afterwards, so the user's own store is never touched.
    Queries are read with the same reader and mapping (their rows are not stored); rows with errors are counted.
    """
    from data.rulings.readers import read_rulings
    from data.rulings.repository import RulingRepository
    from data.store.db import init_db, make_engine

    lib_report = read_rulings(library, mapping, progress=progress)
    q_report = read_rulings(queries, mapping, progress=progress)
    if not lib_report.rulings:
        raise InvalidInputError(f"no valid rulings in {library}", details=[field_error("library", "no valid rows")])
    if not q_report.rulings:
        raise InvalidInputError(f"no valid queries in {queries}", details=[field_error("queries", "no valid rows")])
    with tempfile.TemporaryDirectory(prefix="clearance-eval-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'library.db'}")
        init_db(engine)
        repo = RulingRepository(engine)
        upsert = repo.upsert_many(lib_report.rulings)
        stored = list(repo.iter_all())
        engine.dispose()
    suggester = build_suggester(stored, encoder=encoder, nomenclature=nomenclature, progress=progress, seed=seed,
                                **build_options)
    qs = q_report.rulings[:limit] if limit else q_report.rulings
    texts = [compose_text(r.product_name, r.description, r.declared_elements) for r in qs]
    gold = [r.hs_code for r in qs]
    report = evaluate_suggester(suggester, texts, gold, progress=progress)
    if baseline:
        report["baseline"] = evaluate_baseline([compose_text(r.product_name, r.description, r.declared_elements)
                                                for r in stored], [r.hs_code for r in stored], texts, gold)
    report["library"] = {"rows": lib_report.total_rows, "rejected_rows": lib_report.rejected_rows,
                         "stored": len(stored), "duplicates": int(getattr(upsert, "duplicates", 0))}
    report["queries"] = {"rows": q_report.total_rows, "rejected_rows": q_report.rejected_rows, "used": len(qs)}
    report["validation"] = {k: v for k, v in suggester.metrics.items()}
    report["params"] = dict(suggester.params.__dict__)
    return EvaluationRun(report=report, suggester=suggester,
                         library_read={"rows": lib_report.total_rows, "errors": len(lib_report.errors)})


def flat_metrics(report: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The scalar metrics of a report as MLflow-friendly ``hs6_top1``-style keys."""
    out: dict[str, float] = {}
    for level in LEVELS:
        for k in KS:
            v = report.get(f"hs{level}", {}).get(f"top{k}")
            if v is not None:
                out[f"{prefix}hs{level}_top{k}"] = float(v)
    for key in ("coverage", "accuracy"):
        if key in report.get("confident", {}):
            out[f"{prefix}confident_{key}"] = float(report["confident"][key])
    if "ece" in report:
        out[f"{prefix}ece"] = float(report["ece"])
    for level in (2, 4, 6):
        for k in KS:
            v = report.get("baseline", {}).get(f"hs{level}", {}).get(f"top{k}")
            if v is not None:
                out[f"{prefix}baseline_hs{level}_top{k}"] = float(v)
    return out


def public_report(report: dict[str, Any]) -> dict[str, Any]:
    """The report without the per-query reliability arrays (those go to plots, not to the JSON summary)."""
    return {k: v for k, v in report.items() if k != "reliability"}


# ------------------------------------------------------------------------------------------------------ MLflow
@dataclass
class TrainResult:
    run_id: str
    model_uri: str
    version: int | None
    metrics: dict[str, float]


def log_evaluation(report: dict[str, Any], params: dict[str, Any], *, tracking_uri: str | None,
                   experiment: str = "clearance-hs", run_name: str = "hs-evaluate") -> str | None:
    """Log params, metrics and plots of an evaluation to MLflow; returns the run id (None without a tracking URI)."""
    if not tracking_uri:
        return None
    import json

    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.log_params({k: (v if isinstance(v, (int, float, str, bool)) else json.dumps(v, default=str))
                           for k, v in params.items()})
        mlflow.log_metrics(flat_metrics(report))
        with tempfile.TemporaryDirectory() as tmp:
            _log_report_files(report, Path(tmp))
        return run.info.run_id


def _log_report_files(report, folder: Path) -> None:
    """The evaluation's plots (under ``plots/``) and its JSON summary, as artifacts of the active MLflow run."""
    import json

    import mlflow

    from training.hs_reports import write_plots

    for path in write_plots(report, folder):
        mlflow.log_artifact(str(path), artifact_path="plots")
    summary = folder / "evaluation.json"
    summary.write_text(json.dumps(public_report(report), ensure_ascii=False, indent=2, default=str))
    mlflow.log_artifact(str(summary))


def _store_nomenclature(settings):
    """The store's nomenclature (HS + imported national lines), for candidate descriptions in zh/en."""
    from data.nomenclature import Nomenclature
    from data.store.db import init_db, make_engine

    try:
        engine = make_engine(settings.database_url)
        init_db(engine)
        return Nomenclature.load(engine)
    except Exception as exc:  # descriptions are optional; the suggester works without them
        log.warning("nomenclature not loaded from the store (%s); using the default HS nomenclature", exc)
        return Nomenclature.default()


def train_and_log(settings, rulings: list, *, encoder_spec: str = "use", register: bool = True,
                  nomenclature=None, progress: bool = True, seed: int = 0, holdout_fraction: float = 0.1,
                  max_holdout: int = 3000) -> TrainResult:
    """Build with an internal held-out evaluation, log everything and the pyfunc model to MLflow, register it.

    The held-out rulings are scored by a suggester built without them (the metrics); the logged model is then built
    on the whole library, so no ruling is wasted in production.
    """

    import mlflow

    from models.encoders import load_encoder
    from models.suggester.pyfunc import log_pyfunc

    rulings = list(rulings)
    if len(rulings) < 2:
        raise InvalidInputError("need at least two rulings to train the suggester",
                                details=[field_error("rulings", f"{len(rulings)} given")])
    encoder = load_encoder(encoder_spec, threads=getattr(settings, "threads", 2))
    if nomenclature is None:
        nomenclature = _store_nomenclature(settings)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(rulings))
    n_hold = int(min(max_holdout, max(1, round(holdout_fraction * len(rulings)))))
    hold = [rulings[i] for i in perm[:n_hold]]
    train = [rulings[i] for i in perm[n_hold:]]
    probe = build_suggester(train, encoder=encoder, nomenclature=nomenclature, progress=progress, seed=seed)
    texts = [compose_text(r.product_name, r.description, r.declared_elements) for r in hold]
    report = evaluate_suggester(probe, texts, [r.hs_code for r in hold], progress=progress)
    metrics = flat_metrics(report)
    final = build_suggester(rulings, encoder=encoder, nomenclature=nomenclature, progress=progress, seed=seed)

    from training.registry import configure_mlflow, experiment_id

    configure_mlflow(settings)
    exp = experiment_id("clearance-hs", settings)
    with mlflow.start_run(experiment_id=exp, run_name="hs-suggester") as run:
        mlflow.log_params({"encoder": encoder.name, "encoder_spec": encoder_spec, "n_rulings": len(rulings),
                           "n_codes": len(final.codes6), "holdout": n_hold, "seed": seed,
                           **{f"param_{k}": v for k, v in final.params.__dict__.items()}})
        mlflow.log_metrics({**metrics, **{k: float(v) for k, v in final.metrics.items()}})
        with tempfile.TemporaryDirectory() as tmp:
            _log_report_files(report, Path(tmp))
            model_uri = log_pyfunc(final, Path(tmp) / "bundle", artifact_path="model")
        run_id = run.info.run_id
    version = None
    if register:
        from training.registry import register_challenger

        version = register_challenger(run_id, model_uri, "clearance-hs-suggester", metrics, primary_metric="hs6_top1",
                                      higher_is_better=True, settings=settings)
    return TrainResult(run_id=run_id, model_uri=model_uri, version=version, metrics=metrics)
