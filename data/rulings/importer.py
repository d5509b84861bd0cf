"""Import service: read a rulings file, store the good rows, record the batch and return a summary.

The whole file is validated before anything is written, so a file that cannot be read at all (unknown column,
undecodable bytes) leaves the store untouched, while bad rows in a readable file are reported and the good ones kept.
"""

from __future__ import annotations

import csv
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field
from sqlalchemy import Engine, update

from data.rulings.readers import ColumnMapping, RowError, read_rulings
from data.rulings.repository import RulingRepository
from data.store.idempotency import Once, lookup, run_once
from data.store.rulings import ImportBatchRow

#: The idempotency scope of ruling imports.
IMPORT_SCOPE = "rulings_import"
_ERRORS_KEPT_IN_STORE = 100


class ImportSummary(BaseModel):
    path: str
    format: str
    encoding: str | None = None
    rows_read: int
    inserted: int
    duplicates: int
    rejected: int
    errors: list[RowError] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    batch_id: int | None = None
    replayed: bool = False  # the summary of an earlier import under the same idempotency key
    read_seconds: float = 0.0
    write_seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        total = self.read_seconds + self.write_seconds
        return self.rows_read / total if total > 0 else 0.0

    def to_report(self, max_errors: int | None = None) -> dict:
        body = self.model_dump(exclude={"errors"})
        errors = self.errors if max_errors is None else self.errors[:max_errors]
        body["errors"] = [e.model_dump() for e in errors]
        body["errors_total"] = len(self.errors)
        body["rows_per_second"] = round(self.rows_per_second, 1)
        return body


def write_errors(errors: list[RowError], path: str | Path) -> Path:
    """All row errors to ``path``: JSON Lines for ``.jsonl``/``.json``, CSV (line, field, reason) otherwise."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        with path.open("w", encoding="utf-8") as fh:
            for e in errors:
                fh.write(json.dumps(e.model_dump(), ensure_ascii=False) + "\n")
    else:
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["line", "field", "reason"])
            for e in errors:
                w.writerow([e.line, e.field, e.reason])
    return path


def import_rulings(engine: Engine, path: str | Path, mapping: ColumnMapping | None = None, progress: bool = True, *,
                   fmt: str | None = None, nomenclature=None, encoding: str | None = None,
                   once: Once | None = None) -> ImportSummary:
    """Read ``path`` (CSV/TSV/JSONL/JSON/Parquet), store its valid rulings idempotently and record the batch.

    Rulings are deduplicated by id anyway; ``once`` (an idempotency key) also makes the *import* apply once: a rerun
    under the same key answers the first import's summary (``replayed``) without reading the file or adding a batch.
    The key commits with the batch's final counts, so an import cut off before them runs again in full (its rulings
    then count as duplicates)."""
    if once is not None:
        earlier = lookup(engine, IMPORT_SCOPE, once.owner, once.key, once.request_hash)
        if earlier is not None:
            return ImportSummary.model_validate({**earlier[0], "replayed": True})
    t0 = time.perf_counter()
    report = read_rulings(path, mapping, fmt, nomenclature=nomenclature, encoding=encoding, progress=progress)
    # Edition stamps: a national line is expressed in the national tariff loaded when it was imported.
    tariff = getattr(nomenclature, "tariff_version", None)
    if tariff:
        for ruling in report.rulings:
            if len(ruling.hs_code) > 6 and ruling.tariff_version is None:
                ruling.tariff_version = tariff
    t1 = time.perf_counter()
    repo = RulingRepository(engine)
    table = ImportBatchRow.__table__
    with engine.begin() as conn:
        batch_id = conn.execute(table.insert().values(
            path=str(path), format=report.format, encoding=report.encoding, started_at=datetime.now(UTC),
            rows_read=report.total_rows, errors_sample=[])).inserted_primary_key[0]
    result = repo.upsert_many(_with_progress(report.rulings, progress), import_batch_id=batch_id)
    t2 = time.perf_counter()
    summary = ImportSummary(
        path=str(path), format=report.format, encoding=report.encoding, rows_read=report.total_rows,
        inserted=result.inserted, duplicates=result.duplicates, rejected=report.rejected_rows, errors=report.errors,
        warnings=report.warnings, batch_id=batch_id, read_seconds=t1 - t0, write_seconds=t2 - t1)

    def finish(session) -> dict:
        session.execute(update(table).where(table.c.id == batch_id).values(
            finished_at=datetime.now(UTC), inserted=summary.inserted, duplicates=summary.duplicates,
            rejected=summary.rejected,
            errors_sample=[e.model_dump() for e in report.errors[:_ERRORS_KEPT_IN_STORE]]))
        return summary.model_dump(mode="json", exclude={"errors"})

    response, replayed = run_once(engine, IMPORT_SCOPE, once.owner if once else "", once.key if once else None,
                                  once.request_hash if once else "", finish)
    if replayed:  # a concurrent import under the same key finished first
        return ImportSummary.model_validate({**response, "replayed": True})
    return summary


def _with_progress(rulings, enabled: bool):
    if not enabled or len(rulings) < 10_000:
        return rulings
    from tqdm import tqdm

    return tqdm(rulings, desc="storing", unit="rulings", mininterval=0.5, leave=False)
