"""Batch scoring of a large shipment file on a Dask cluster, through the one scoring path.

A JSONL file is cut into byte blocks (``dask.bag.read_text``: each block ends on a line end), a Parquet file or folder
into its row groups. Every partition is scored on a worker by the same :class:`~models.scoring.ShipmentScorer`
(``score_documents``: validation, checks, features, models, advisories; sent to each worker once), and written there
as one Parquet file, ``part-<partition>.parquet``, of the valid shipments only. Invalid documents come back to this
process as ``{"partition", "row", "field", "reason"}`` and are written to ``_errors.jsonl`` beside the parts (files
starting with ``_`` are not part of the dataset for pyarrow, pandas or Dask), never to the results. ``_report.json``
sums it up per partition, with ``"engine": "dask"``.

Rows are numbered inside their partition: a JSONL block's global line number is not known before every earlier block
is read, and the pair (partition, row) names a document as well.
"""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path
from typing import Any

import pandas as pd

from data.errors import InvalidInputError, field_error

__all__ = ["score_file_dask", "RESULT_COLUMNS", "peak_rss_mb"]

#: Flat columns of the result parts (``result`` holds the whole ScoreResult as JSON, as `clearance risk score` prints).
RESULT_COLUMNS = ["partition", "row", "shipment_id", "delay_p50_hours", "delay_p90_hours", "risk_level", "risk_low",
                  "risk_medium", "risk_high", "findings", "advisories", "result"]
#: Bytes of JSONL per partition: a few thousand shipments (~1.7 KB each), like the local chunks of 5,000.
DEFAULT_BLOCKSIZE = 8 * 2**20


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB: ``VmHWM``, which starts afresh with each program (``ru_maxrss``
    survives ``exec`` on Linux, so a process started from a large parent would report the parent's peak)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def _strip_nulls(value: Any) -> Any:
    """Parquet has one schema for all rows, so a field one document leaves out is null in the others' columns; a
    null there means "absent", which is what the shipment schema's defaults expect."""
    if isinstance(value, dict):
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_nulls(v) for v in value]
    return value


def _read_row_group(path: str, group: int) -> list[dict]:
    import pyarrow.parquet as pq

    return [_strip_nulls(r) for r in pq.ParquetFile(path).read_row_group(group).to_pylist()]


def _score_partition(partition: int, documents: list, scorer: Any, out_dir: str, explain: bool) -> dict[str, Any]:
    """Runs on a worker: score one partition, write its valid results as Parquet, return its counts and errors."""
    from distributed import get_worker

    t0 = time.perf_counter()
    documents = [d for d in documents if not (isinstance(d, str) and d.isspace())]
    scored = scorer.score_documents(documents, explain=explain)
    rows = []
    for i, result in enumerate(scored.results):
        if result is None:
            continue
        p = result.risk.probabilities
        rows.append((partition, i, result.shipment_id, result.delay.p50_hours, result.delay.p90_hours,
                     result.risk.level, p.low, p.medium, p.high, len(result.findings),
                     [a.id for a in result.advisories], result.model_dump_json()))
    if rows:
        frame = pd.DataFrame.from_records(rows, columns=RESULT_COLUMNS)
        frame.to_parquet(Path(out_dir) / f"part-{partition:05d}.parquet", index=False)
    errors = [{"partition": partition, "row": e["index"], "field": e["field"], "reason": e["reason"]}
              for e in scored.errors]
    try:
        worker = get_worker().address
    except ValueError:  # run outside a worker (tests call it directly)
        worker = "local"
    return {"partition": partition, "documents": len(documents), "scored": len(rows), "invalid": len(documents) - len(rows),
            "errors": errors, "seconds": round(time.perf_counter() - t0, 3), "worker": worker,
            "worker_peak_rss_mb": peak_rss_mb()}  # the whole worker process's peak so far


def _partitions(path: Path, blocksize: int) -> list[Any]:
    """Delayed lists of documents, one per partition."""
    import dask
    import dask.bag as db

    if path.is_dir() or path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        files = sorted(p for p in ([path] if path.is_file() else path.rglob("*.parquet"))
                       if not p.name.startswith(("_", ".")))
        if not files:
            raise InvalidInputError(f"no Parquet files in {path}", details=[field_error("file", "no Parquet files")])
        read = dask.delayed(_read_row_group, pure=True)
        return [read(str(f), g) for f in files for g in range(pq.ParquetFile(f).num_row_groups)]
    # JSON lines stay text: the scorer parses and validates each line in one pass, and a line that is not JSON is
    # that line's error only.
    return db.read_text(str(path), blocksize=blocksize, encoding="utf-8-sig").to_delayed()


def score_file_dask(path: str | Path, out_dir: str | Path, scorer: Any, client: Any, *, explain: bool = True,
                    blocksize: int = DEFAULT_BLOCKSIZE, progress: bool = True) -> dict[str, Any]:
    """Score every shipment of ``path`` (JSONL, or Parquet file/folder) on the cluster; results as partitioned
    Parquet in ``out_dir``; returns the report (also written to ``out_dir/_report.json``)."""
    import sys

    import dask
    from distributed import as_completed
    from tqdm import tqdm

    path, out = Path(path), Path(out_dir)
    if not path.exists():
        raise InvalidInputError(f"file not found: {path}", details=[field_error("file", "not found")])
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"--out must be a folder for Dask scoring (partitioned Parquet): {out}",
                                details=[field_error("out", "not a folder")])
    out.mkdir(parents=True, exist_ok=True)
    for stale in [*out.glob("part-*.parquet"), out / "_errors.jsonl", out / "_report.json"]:
        stale.unlink(missing_ok=True)  # only what an earlier run of this command wrote

    t0 = time.perf_counter()
    parts = _partitions(path, blocksize)
    # The scorer (models, rules, nomenclature) travels to each worker once, not with every partition.
    # hash=False: a fresh key per run (a same-content key being released by the previous run would be lost)
    [scorer_future] = client.scatter([scorer], broadcast=True, hash=False)
    score = dask.delayed(_score_partition, pure=False)
    futures = client.compute([score(i, part, scorer_future, str(out), explain) for i, part in enumerate(parts)])
    summaries = []
    n_ok = n_bad = 0
    with tqdm(total=len(futures), unit="part", desc="scoring on dask", file=sys.stderr, disable=not progress) as bar:
        for future in as_completed(futures):
            s = future.result()
            summaries.append(s)
            n_ok, n_bad = n_ok + s["scored"], n_bad + s["invalid"]
            bar.update(1)
            bar.set_postfix(scored=n_ok, invalid=n_bad, refresh=False)
    summaries.sort(key=lambda s: s["partition"])
    with (out / "_errors.jsonl").open("w", encoding="utf-8") as fh:
        for s in summaries:
            for e in s.pop("errors"):
                fh.write(json.dumps(e, ensure_ascii=False) + "\n")
    seconds = time.perf_counter() - t0
    peaks: dict[str, float] = {}
    for s in summaries:
        peaks[s["worker"]] = max(peaks.get(s["worker"], 0.0), s["worker_peak_rss_mb"])
    report = {"engine": "dask", "input": str(path), "out": str(out), "partitions": len(summaries),
              "documents": sum(s["documents"] for s in summaries), "scored": n_ok, "invalid": n_bad,
              "seconds": round(seconds, 2), "rows_per_s": round(n_ok / seconds, 1) if seconds else None,
              "worker_peak_rss_mb": peaks, "per_partition": summaries}
    (out / "_report.json").write_text(json.dumps(report, indent=2))
    return report
