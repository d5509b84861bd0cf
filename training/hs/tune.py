"""Tuning and calibration on the validation split's channel hits: temperatures, weights, ranker, calibrators.

The inputs are the :class:`ChannelHits` that :meth:`HSSuggester.search_channels` returned for the held-out rulings
(and the fused distributions made from them), so what is tuned is what serving computes; only the temperatures and
weights vary across the grid.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from models.suggester.calibration import NATIONAL, LevelCalibrator
from models.suggester.channels import NO_MARGIN, ChannelHits, class_votes, hs4_groups
from models.suggester.compose import national_votes
from models.suggester.ranker import CandidateRanker, candidate_features, rerank
from models.suggester.suggester import HSSuggester, SuggesterParams
from models.suggester.supervised import softmax

T_KNN_GRID = (0.02, 0.05, 0.1)
T_SUP_GRID = (0.05, 0.1, 0.2, 0.4)
WEIGHT_STEP = 0.1
CAL_TOP = 5


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


def topk_hits(scores: np.ndarray, gold: np.ndarray, k: int) -> np.ndarray:
    """Per query: is the gold column among the ``k`` best scores?"""
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return (top == gold[:, None]).any(axis=1)


def _objective(scores: np.ndarray, gold: np.ndarray) -> tuple[float, float]:
    return float(topk_hits(scores, gold, 1).mean()), float(topk_hits(scores, gold, 5).mean())


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
            key = (top1, float(topk_hits(fused, gold, 5).mean()))
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
