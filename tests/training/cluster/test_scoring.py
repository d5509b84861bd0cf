"""training/cluster/scoring.py: a shipment file scored on a two-worker LocalCluster gives, row for row, the scores of
the one local scoring path; bad rows are reported per partition and kept out of the results."""

from __future__ import annotations

import json
from functools import lru_cache

import pandas as pd
import pytest

from training.cluster.scoring import score_file_dask


@lru_cache(maxsize=1)
def _docs():
    from demo.shipments import generate_shipments

    return generate_shipments(n=240, months=24, seed=5).shipments


@pytest.fixture(scope="module")
def scorer():
    from tests.models.shipment_models import scorer as make

    return make()


def _jsonl(tmp_path):
    lines = [json.dumps(d, ensure_ascii=False) for d in _docs()]
    lines[10] = json.dumps({**_docs()[10], "waybill": {**_docs()[10]["waybill"], "channel": "teleport"}})
    lines[150] = "{not json"
    path = tmp_path / "shipments.jsonl"
    path.write_text("\n".join(lines[:100]) + "\n\n" + "\n".join(lines[100:]) + "\n", encoding="utf-8")
    return path, lines


def _parts(out):
    frame = pd.read_parquet(out)  # the folder is the dataset: _errors.jsonl and _report.json are not part of it
    return frame.sort_values(["partition", "row"]).reset_index(drop=True)


def test_jsonl_on_dask_matches_local_scoring_row_for_row(tmp_path, scorer, client):
    path, lines = _jsonl(tmp_path)
    report = score_file_dask(path, tmp_path / "out", scorer, client, explain=True, blocksize=90_000, progress=False)
    local = scorer.score_documents(lines, explain=True)
    assert report["engine"] == "dask" and report["partitions"] >= 3
    assert report["documents"] == len(lines) and report["scored"] == len(lines) - 2 and report["invalid"] == 2
    assert len({p["worker"] for p in report["per_partition"]}) == 2  # both workers took part
    frame = _parts(tmp_path / "out")
    expected = [r for r in local.results if r is not None]
    assert len(frame) == len(expected)
    # identical scores (same booster, same path): the whole result, reasons and advisories included
    assert list(frame["result"]) == [r.model_dump_json() for r in expected]
    assert list(frame["risk_high"]) == [r.risk.probabilities.high for r in expected]
    assert list(frame["delay_p90_hours"]) == [r.delay.p90_hours for r in expected]

    # bad rows: named by partition and row, which map back to the document (blank lines are not documents)
    offsets, total = {}, 0
    for p in report["per_partition"]:
        offsets[p["partition"]] = total
        total += p["documents"]
    errors = [json.loads(x) for x in (tmp_path / "out" / "_errors.jsonl").read_text().splitlines()]
    assert {offsets[e["partition"]] + e["row"] for e in errors} == {10, 150}
    assert any(e["field"] == "waybill.channel" for e in errors)
    assert "teleport" not in " ".join(frame["result"]) and len(frame["shipment_id"].unique()) == len(frame)
    saved = json.loads((tmp_path / "out" / "_report.json").read_text())
    assert saved["invalid"] == 2 and saved["engine"] == "dask"


def test_parquet_row_groups_are_the_partitions(tmp_path, scorer, client):
    import pyarrow as pa
    import pyarrow.parquet as pq

    docs = _docs()[:120]
    pq.write_table(pa.Table.from_pylist(docs), tmp_path / "shipments.parquet", row_group_size=50)
    report = score_file_dask(tmp_path / "shipments.parquet", tmp_path / "out", scorer, client, explain=False,
                             progress=False)
    assert report["partitions"] == 3 and report["invalid"] == 0
    local = scorer.score_documents(docs, explain=False)
    assert list(_parts(tmp_path / "out")["result"]) == [r.model_dump_json() for r in local.results]


def test_a_second_run_replaces_the_first(tmp_path, scorer, client):
    path, _ = _jsonl(tmp_path)
    score_file_dask(path, tmp_path / "out", scorer, client, blocksize=60_000, progress=False)
    score_file_dask(path, tmp_path / "out", scorer, client, blocksize=200_000, progress=False)
    assert len(_parts(tmp_path / "out")) == len(_docs()) - 2  # no stale parts of the first run
