"""Shipments and outcomes into the store: the stored shipment row, and the outcome import.

:func:`shipment_record` is what the store keeps of a shipment (the service's scoring, ``clearance risk score`` and an
import with documents all build it here): the validated document, the feature row it was (or would be) scored with,
its findings and the columns the dashboard and the retraining frame filter on. :func:`ingest_outcomes` stores
outcomes and, where a row carries one, its shipment document; :func:`import_outcomes` does it for a file
(``clearance shipments import``, and the demo, which fills the store through this same path).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from data.rulings.readers import RowError
from data.shipments.outcome_readers import OutcomeColumns, OutcomeRecord, iter_outcomes
from data.store.outcomes import ShipmentStore, WriteCounts
from features.checks import Finding, run_checks
from features.shipment_features import FEATURES_VERSION, feature_row

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from data.shipments.schema import Shipment

#: Key under which a stored feature row records the feature version it was computed with (a training frame
#: recomputes rows of another version from the document).
VERSION_KEY = "_features_version"


def shipment_record(shipment: Shipment, findings: Sequence[Finding], row: dict[str, Any], source: str
                    ) -> dict[str, Any]:
    """The ``shipments`` row of a validated shipment (see ``data.store.shipments.ShipmentRow``)."""
    d, w, ts = shipment.declaration, shipment.waybill, shipment.timestamps
    return {
        "shipment_id": shipment.shipment_id, "declared_at": d.declared_at,
        "order_created_at": ts.order_created, "data_ready_at": ts.data_ready,
        "export_port": w.export_port, "destination_port": w.destination_port,
        "destination_country": d.destination_country, "carrier": w.carrier, "channel": w.channel,
        "hs_chapter": row.get("hs_chapter"), "declared_value_usd": row.get("declared_value_usd"),
        "n_error_findings": sum(f.severity == "error" for f in findings),
        "n_three_document_findings": sum(f.category == "three_document" for f in findings),
        "document": shipment.model_dump(mode="json"),
        "features": {**row, VERSION_KEY: FEATURES_VERSION},
        "findings": [{"code": f.code, "severity": f.severity, "category": f.category} for f in findings],
        "source": source,
    }


@dataclass
class IngestSummary:
    """What one post or import did. ``outcomes`` and ``shipments`` count per shipment id (WriteCounts)."""

    rows_read: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    outcomes: WriteCounts = field(default_factory=WriteCounts)
    shipments: WriteCounts = field(default_factory=WriteCounts)
    format: str | None = None
    warnings: list[str] = field(default_factory=list)
    read_seconds: float = 0.0
    write_seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        total = self.read_seconds + self.write_seconds
        return self.rows_read / total if total > 0 else 0.0

    def to_report(self, max_errors: int | None = None) -> dict[str, Any]:
        errors = self.errors if max_errors is None else self.errors[:max_errors]
        return {"rows_read": self.rows_read, "rejected": self.rejected, "outcomes": self.outcomes.as_dict(),
                "shipments": self.shipments.as_dict(), "errors": [e.model_dump() for e in errors],
                "errors_total": len(self.errors), "format": self.format, "warnings": self.warnings,
                "rows_per_second": round(self.rows_per_second, 1)}


def _with_documents(records: Sequence[OutcomeRecord], nomenclature: Any, document_field: str, source: str
                    ) -> tuple[list[OutcomeRecord], list[dict[str, Any]], list[RowError]]:
    """(records kept, shipment rows, errors): a row whose document is not a valid shipment, or names another
    shipment or declaration time than its outcome, is rejected whole."""
    from pydantic import ValidationError

    from data.shipments.schema import Shipment, error_details

    kept, shipments, errors = [], [], []
    for rec in records:
        if rec.document is None:
            kept.append(rec)
            continue
        try:
            shipment = Shipment.model_validate(rec.document)
        except ValidationError as exc:
            errors.extend(RowError(line=rec.line, field=f"{document_field}.{e['field']}", reason=e["reason"])
                          for e in error_details(exc))
            continue
        if shipment.shipment_id != rec.outcome.shipment_id:
            errors.append(RowError(line=rec.line, field=f"{document_field}.shipment_id",
                                   reason=f"'{shipment.shipment_id}' is not the row's shipment_id "
                                          f"'{rec.outcome.shipment_id}'"))
            continue
        if shipment.declaration.declared_at != rec.outcome.declared_at:
            errors.append(RowError(line=rec.line, field=f"{document_field}.declaration.declared_at",
                                   reason="differs from the row's declared_at"))
            continue
        findings = run_checks(shipment, nomenclature)
        shipments.append(shipment_record(shipment, findings, feature_row(shipment, findings), source))
        kept.append(rec)
    return kept, shipments, errors


def ingest_outcomes(engine: Engine, records: Sequence[OutcomeRecord], *, source: str, nomenclature: Any = None,
                    document_field: str = "document") -> IngestSummary:
    """Store outcome records (and their documents' shipments, written first); idempotent per shipment id."""
    if nomenclature is None and any(r.document is not None for r in records):
        from data.nomenclature import Nomenclature

        nomenclature = Nomenclature.load(engine)
    kept, shipments, errors = _with_documents(records, nomenclature, document_field, source)
    store = ShipmentStore(engine)
    summary = IngestSummary(errors=errors)
    if shipments:
        summary.shipments = store.upsert_shipments(shipments)
    summary.outcomes = store.upsert_outcomes([r.outcome for r in kept], source)
    return summary


def import_outcomes(engine: Engine, path: str | Path, columns: OutcomeColumns | None = None, *,
                    fmt: str | None = None, encoding: str | None = None, nomenclature: Any = None,
                    progress: bool = False, source: str = "import", chunk: int = 5_000) -> IngestSummary:
    """Read an outcomes file (CSV/TSV/JSONL/JSON/Parquet), keep its good rows, report the bad ones by line and field.

    Rows are validated and stored ``chunk`` at a time (documents make a row heavy). A shipment id repeated in two
    chunks is applied twice, the later row last: the stored result is the same as for one batch."""
    t0 = time.perf_counter()
    report, rows = iter_outcomes(path, columns, fmt, encoding=encoding, progress=progress)
    document_field = (columns or OutcomeColumns()).document_col
    summary = IngestSummary(format=report.format)
    pending: list[OutcomeRecord] = []
    write_s = 0.0

    def flush() -> None:
        nonlocal nomenclature, write_s
        if nomenclature is None and any(r.document is not None for r in pending):
            from data.nomenclature import Nomenclature

            nomenclature = Nomenclature.load(engine)
        t = time.perf_counter()
        part = ingest_outcomes(engine, pending, source=source, nomenclature=nomenclature,
                               document_field=document_field)
        write_s += time.perf_counter() - t
        summary.errors.extend(part.errors)
        summary.outcomes.add(part.outcomes)
        summary.shipments.add(part.shipments)
        pending.clear()

    for _, out in rows:
        summary.rows_read += 1
        if isinstance(out, OutcomeRecord):
            pending.append(out)
            if len(pending) >= chunk:
                flush()
        else:
            summary.errors.extend(out)
    if pending:
        flush()
    summary.warnings = report.warnings
    summary.errors.sort(key=lambda e: e.line)
    summary.rejected = len({e.line for e in summary.errors})
    # "write" includes each chunk's document checks and feature rows; "read" the parsing and validation
    summary.write_seconds = write_s
    summary.read_seconds = time.perf_counter() - t0 - write_s
    return summary
