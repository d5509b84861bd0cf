"""Quality on real data (cbec-zh-titles): a seeded subsample of the bench's split, suggester vs the baseline.

The full-size measurement (30k rows, bar: HS6 top-1 above the baseline, top-5 ≥ 0.98) is ``bench/hs_quality.py``;
this test keeps the same code path at 5k rows so it runs in a couple of minutes, with a bar scaled to the smaller
library: top-1 within a point of the baseline or better, top-5 at least the baseline's and ≥ 0.93.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.datasets, pytest.mark.slow]


def test_cbec_subsample_against_baseline(datasets_dir, tmp_path):
    import pandas as pd

    from data.rulings.readers import ColumnMapping
    from models.encoders import load_encoder
    from training.hs import evaluate_files

    source = datasets_dir / "cbec-zh-titles" / "train.tsv"
    if not source.is_file():
        pytest.skip("cbec-zh-titles not present")
    frame = pd.read_csv(source, sep="\t", dtype=str, keep_default_na=False).sample(n=5000, random_state=0)
    test = frame.sample(frac=0.2, random_state=0)
    train = frame.drop(test.index)
    train.to_csv(tmp_path / "library.tsv", sep="\t", index=False)
    test.to_csv(tmp_path / "queries.tsv", sep="\t", index=False)
    run = evaluate_files(tmp_path / "library.tsv", tmp_path / "queries.tsv",
                         mapping=ColumnMapping(text_col="title_tokens", code_col="hs10", default_source="declaration"),
                         encoder=load_encoder("use"), baseline=True, progress=False)
    ours, base = run.report["hs6"], run.report["baseline"]["hs6"]
    assert ours["top1"] >= base["top1"] - 0.01, (ours, base)
    assert ours["top5"] >= base["top5"] and ours["top5"] >= 0.93, (ours, base)
    assert "hs10" in run.report  # the library has national lines: 10-digit accuracy is reported
    assert run.report["confident"]["accuracy"] >= 0.85
    assert run.report["ece"] <= 0.08
