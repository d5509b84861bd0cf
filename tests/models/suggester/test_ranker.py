"""Re-ranker pieces and the grouped validation split (fast, synthetic)."""

from __future__ import annotations

import numpy as np

from models.suggester.ranker import FEATURES, CandidateRanker, candidate_features, rerank
from training.hs import grouped_split


def _inputs(m=50, width=12, seed=0):
    rng = np.random.default_rng(seed)
    fused = rng.dirichlet(np.ones(width), size=m).astype(np.float32)
    sims = np.sort(rng.uniform(0.2, 1.0, size=(m, 5)).astype(np.float32), axis=1)[:, ::-1].copy()
    classes = rng.integers(-1, width, size=(m, 5))
    return dict(fused=fused, v_lex=fused, v_dense=fused, sup=fused, margins=np.log(fused), lex_s=sims, lex_c=classes,
                dense_s=sims, dense_c=classes, log_prior=np.zeros(width, np.float32),
                hs4_of=np.arange(width) // 3)


def test_candidate_features_shape_and_order():
    inp = _inputs()
    feats, cand = candidate_features(**inp, top_m=6)
    assert feats.shape == (50, 6, len(FEATURES)) and cand.shape == (50, 6)
    assert np.all(np.diff(np.take_along_axis(inp["fused"], cand, 1), axis=1) <= 0)  # best fused first
    assert np.all(feats[:, :, FEATURES.index("rank_fused")] == np.arange(6))
    counts = feats[:, :, FEATURES.index("lex_count")]
    for q in range(5):
        for j in range(6):
            assert counts[q, j] == np.sum(inp["lex_c"][q] == cand[q, j])


def test_rerank_is_a_distribution_on_the_candidates():
    inp = _inputs()
    feats, cand = candidate_features(**inp, top_m=4)
    scores = np.random.default_rng(1).normal(size=cand.shape)
    p = rerank(inp["fused"], cand, scores, 0.5)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert np.all(np.take_along_axis(p, cand, 1) > 0)
    assert np.all(np.argmax(p, axis=1) == cand[np.arange(len(cand)), np.argmax(scores, axis=1)])


def test_ranker_learns_a_predictive_feature():
    rng = np.random.default_rng(0)
    q, k = 400, 8
    feats = rng.normal(size=(q, k, len(FEATURES))).astype(np.float32)
    gold = rng.integers(0, k, size=q)
    feats[np.arange(q), gold, 3] += 3.0  # only feature 3 tells the gold candidate
    labels = np.zeros((q, k), bool)
    labels[np.arange(q), gold] = True
    ranker = CandidateRanker(n_estimators=60).fit(feats[:300], labels[:300])
    top = ranker.scores(feats[300:]).argmax(axis=1)
    assert (top == gold[300:]).mean() > 0.8  # chance is 1/8


def test_grouped_split_keeps_identical_texts_together():
    texts = ["a", "a", "b", "c", "c", "c", "d", "e", "f", "f"]
    for seed in range(5):
        val, fit = grouped_split(texts, 4, np.random.default_rng(seed))
        assert len(val) >= 4 and len(val) + len(fit) == len(texts)
        assert not ({texts[i] for i in val} & {texts[i] for i in fit})
