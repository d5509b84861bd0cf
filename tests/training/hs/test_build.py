"""Build-speed mechanics of ``build_suggester``: they must not change what the suggester computes."""

from __future__ import annotations

import numpy as np
import pytest

from models.suggester.dense_index import DenseIndex
from models.suggester.lexical import LexicalVectoriser
from training.hs.build import _MaskedIndex, _start_final_svm


def _unit(rng, n, d=16):
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("n_masked", [0, 3, 40, 190])
def test_masked_index_equals_an_index_over_the_kept_rows(n_masked):
    rng = np.random.default_rng(n_masked)
    lib, queries = _unit(rng, 200), _unit(rng, 25)
    # Some queries sit exactly on masked rows: the masked row must not come back, its neighbours must.
    masked = rng.choice(200, size=n_masked, replace=False)
    if n_masked:
        queries[:5] = lib[masked[:5] if n_masked >= 5 else np.resize(masked, 5)]
    keep = np.ones(200, dtype=bool)
    keep[masked] = False
    s, i = _MaskedIndex(DenseIndex.build(lib, approximate=False), keep).search(queries, 12)
    s_ref, i_ref = DenseIndex.build(lib[keep], approximate=False).search(queries, 12)
    np.testing.assert_array_equal(i, i_ref)
    np.testing.assert_allclose(s, s_ref, rtol=1e-5, atol=1e-6)


def test_masked_index_pads_when_fewer_rows_than_k_are_kept():
    rng = np.random.default_rng(1)
    lib = _unit(rng, 10)
    keep = np.zeros(10, dtype=bool)
    keep[[2, 7]] = True
    s, i = _MaskedIndex(DenseIndex.build(lib, approximate=False), keep).search(lib[:3], 5)
    assert (np.sort(i[:, :2], axis=1) == [0, 1]).all()
    assert (i[:, 2:] == -1).all() and np.isneginf(s[:, 2:]).all()


def test_fit_transform_is_fit_then_transform():
    texts = ["不锈钢 保温杯 500ml", "stainless steel vacuum flask", "儿童 塑料 积木 玩具", "LED 台灯 usb", "保温杯 盖"]
    a = LexicalVectoriser().fit(texts).transform(texts)
    v = LexicalVectoriser()
    b = v.fit_transform(texts)
    assert abs(a - b).max() < 1e-6  # float32 rounding only
    assert abs(v.transform(texts[:2]) - b[:2]).max() < 1e-6  # and the fitted vectoriser serves queries the same


def test_final_svm_in_a_worker_process_equals_the_in_process_fit():
    rng = np.random.default_rng(0)
    words = ["杯", "灯", "锂电池", "玩具", "衬衫", "锅", "扳手", "手机壳"]
    labels = rng.integers(0, len(words), size=3200)
    texts = [f"{words[c]} {rng.integers(0, 50)} {words[(c + 1) % len(words)] if rng.random() < 0.2 else ''}"
             for c in labels]
    x = LexicalVectoriser().fit_transform(texts)
    y = np.array([f"{c:06d}" for c in labels], dtype=object)
    forked = _start_final_svm(x, y, 60_000, 0, parallel=True).result()
    local = _start_final_svm(x, y, 60_000, 0, parallel=False).result()
    assert list(forked.classes_) == list(local.classes_)
    np.testing.assert_allclose(forked.scores(x[:50]), local.scores(x[:50]), atol=1e-5)
