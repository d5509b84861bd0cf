"""Array helpers of models/suggester/channels.py."""

from __future__ import annotations

import numpy as np
import pytest

from models.suggester.channels import top_columns


@pytest.mark.parametrize("ties", [False, True])
def test_top_columns_is_a_stable_descending_sort_cut_at_k(ties):
    rng = np.random.default_rng(0)
    for _ in range(500):
        m, n = int(rng.integers(1, 5)), int(rng.integers(1, 400))
        # With ties (a few distinct values, zeros among them) the columns kept at the k-th value must be the lowest.
        x = (rng.integers(0, 4, size=(m, n)) if ties else rng.random((m, n))).astype(np.float32)
        k = int(rng.integers(0, n + 3))
        expected = np.argsort(-x, axis=1, kind="stable")[:, :k]
        assert np.array_equal(top_columns(x, k), expected)
        assert np.array_equal(top_columns(x[0], k), expected[0])


def test_top_columns_of_a_wide_row_of_zeros_takes_the_first_columns():
    assert top_columns(np.zeros(6000, dtype=np.float32), 5).tolist() == [0, 1, 2, 3, 4]
