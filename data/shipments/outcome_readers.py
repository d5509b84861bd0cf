"""Read clearance outcomes from CSV, TSV, JSON Lines (or a JSON array) and Parquet, with a validation report.

The file mechanics are the ruling importer's (``data.rulings.readers``: format from the extension or ``--format``,
UTF-8 or GBK text, line numbers: CSV/TSV header = line 1, JSONL 1-based lines, Parquet and JSON arrays record
index + 1); only the fields differ. Columns are mapped like ``clearance rulings import`` maps them
(:class:`OutcomeColumns`, defaults = the API's field names). Costs come from a ``costs`` column holding a JSON object
and/or from one column per item (``demurrage``, ``detention``, ``inspection_fees``, ``declaration_cost``). An
optional ``document`` column holds the shipment's documents as JSON (the Shipment schema): with it, an ERP export (or
the demo) brings the shipments the models learn from. A bad row becomes one :class:`RowError` per bad field and never
stops the read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from data.errors import InvalidInputError, field_error
from data.rulings.readers import RowError, detect_format, iter_delimited, read_text
from data.shipments.outcomes import Outcome

_COST_ITEMS = ("demurrage", "detention", "inspection_fees", "declaration_cost")


class OutcomeColumns(BaseModel):
    """Which file column feeds which outcome field. A column set explicitly must exist in the file; the required
    fields' columns must exist; other default columns are optional."""

    model_config = ConfigDict(extra="forbid")

    shipment_id_col: str = "shipment_id"
    declared_at_col: str = "declared_at"
    released_at_col: str = "released_at"
    delay_hours_col: str = "delay_hours"
    inspected_col: str = "inspected"
    result_col: str = "result"
    first_pass_col: str = "first_pass"
    costs_col: str = "costs"
    demurrage_col: str = "demurrage"
    detention_col: str = "detention"
    inspection_fees_col: str = "inspection_fees"
    declaration_cost_col: str = "declaration_cost"
    document_col: str = "document"

    _REQUIRED = ("shipment_id", "declared_at", "inspected", "result", "first_pass")

    def resolve(self, columns: list[str]) -> dict[str, str]:
        """``{field: file column}`` for the columns present; InvalidInputError naming every missing one."""
        present = set(columns)
        out, missing = {}, []
        for option in type(self).model_fields:
            name, column = option.removesuffix("_col"), getattr(self, option)
            if column in present:
                out[name] = column
            elif name in self._REQUIRED or option in self.model_fields_set:
                missing.append((option, column))
        if missing:
            listed = ", ".join(columns) or "(none)"
            raise InvalidInputError(
                "; ".join(f"column '{c}' ({o.replace('_', '-')}) not in the file" for o, c in missing)
                + f"; the file has: {listed}",
                details=[field_error(o, f"column '{c}' not found; columns: {listed}") for o, c in missing])
        return out


@dataclass
class OutcomeRecord:
    line: int
    outcome: Outcome
    document: Any = None  # the shipment document (parsed JSON), when the file has one


@dataclass
class OutcomeReport:
    records: list[OutcomeRecord] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    total_rows: int = 0
    format: str = ""
    encoding: str | None = None
    columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def rejected_rows(self) -> int:
        return len({e.line for e in self.errors})


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, float) and math.isnan(value))


def _json_value(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


class _Converter:
    def __init__(self, fields: dict[str, str]):
        self.fields = fields

    def convert(self, line: int, get) -> OutcomeRecord | list[RowError]:
        col = self.fields
        data: dict[str, Any] = {}
        errors: list[RowError] = []
        for name in ("shipment_id", "declared_at", "released_at", "delay_hours", "inspected", "result",
                     "first_pass"):
            if name in col and not _blank(value := get(col[name])):
                data[name] = value.strip() if isinstance(value, str) else value
        costs: dict[str, Any] = {}
        if "costs" in col and not _blank(raw := get(col["costs"])):
            try:
                parsed = _json_value(raw)
            except ValueError as exc:
                errors.append(RowError(line=line, field=col["costs"], reason=f"not a JSON object: {exc}"))
            else:
                if isinstance(parsed, dict):
                    costs.update({k: v for k, v in parsed.items() if not _blank(v)})
                else:
                    errors.append(RowError(line=line, field=col["costs"], reason="not a JSON object"))
        for item in _COST_ITEMS:
            if item in col and not _blank(value := get(col[item])):
                costs[item] = value
        if costs:
            data["costs"] = costs
        document = None
        if "document" in col and not _blank(raw := get(col["document"])):
            try:
                document = _json_value(raw)
            except ValueError as exc:
                errors.append(RowError(line=line, field=col["document"], reason=f"not JSON: {exc}"))
        try:
            outcome = Outcome.model_validate(data)
        except ValidationError as exc:
            errors.extend(self._errors(line, exc))
        if errors:
            return errors
        return OutcomeRecord(line=line, outcome=outcome, document=document)

    def _errors(self, line: int, exc: ValidationError) -> list[RowError]:
        out = []
        for err in exc.errors(include_url=False, include_input=False):
            loc = [str(p) for p in err.get("loc", ())]
            if not loc:
                where = "row"
            elif loc[0] == "costs" and len(loc) > 1 and loc[1] in self.fields and "costs" not in self.fields:
                where = self.fields[loc[1]]
            elif loc[0] == "costs":
                where = ".".join([self.fields.get("costs", "costs"), *loc[1:]])
            else:
                where = self.fields.get(loc[0], loc[0])
            reason = "missing value" if err["type"] == "missing" else err["msg"].removeprefix("Value error, ")
            out.append(RowError(line=line, field=where, reason=reason))
        return out


def _records(path: Path, kind: str, encoding: str | None, report: OutcomeReport
             ) -> tuple[list[str], Iterator[tuple[int, Any]]]:
    """The file's columns and (line, getter or RowError) per record."""
    if kind in ("csv", "tsv"):
        import csv

        text, report.encoding, warnings = read_text(path, encoding)
        report.warnings.extend(warnings)
        header, rows = iter_delimited(text, "," if kind == "csv" else "\t",
                                      csv.QUOTE_MINIMAL if kind == "csv" else csv.QUOTE_NONE)
        index = {name: i for i, name in enumerate(header)}

        def delimited() -> Iterator[tuple[int, Any]]:
            for line, cells, problem in rows:
                if problem is not None:
                    yield line, RowError(line=line, field="row", reason=problem)
                elif len(cells) > len(header):
                    yield line, RowError(line=line, field="row",
                                         reason=f"{len(cells)} cells but the header has {len(header)} columns")
                else:
                    yield line, (lambda c, cells=cells: cells[index[c]] if index[c] < len(cells) else None)

        return header, delimited()
    if kind in ("jsonl", "json"):
        text, report.encoding, warnings = read_text(path, encoding)
        report.warnings.extend(warnings)
        items: list[tuple[int, Any]] = []
        keys: dict[str, None] = {}
        if kind == "json" and text.lstrip().startswith("["):
            try:
                values = json.loads(text)
            except (ValueError, RecursionError) as exc:
                raise InvalidInputError(f"'{path.name}' is not valid JSON: {exc}",
                                        details=[field_error("file", "malformed JSON")]) from None
            numbered = list(enumerate(values, 1))
        else:
            numbered = []
            for i, raw in enumerate(text.split("\n"), 1):
                if raw.strip():
                    try:
                        numbered.append((i, json.loads(raw)))
                    except (ValueError, RecursionError) as exc:
                        numbered.append((i, RowError(line=i, field="json", reason=f"malformed JSON: {exc}")))
        for i, obj in numbered:
            if isinstance(obj, RowError):
                items.append((i, obj))
            elif not isinstance(obj, dict):
                items.append((i, RowError(line=i, field="json", reason="not a JSON object")))
            else:
                keys.update(dict.fromkeys(obj))
                items.append((i, obj.get))
        return list(keys), iter(items)
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pfile = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInputError(f"'{path.name}' is not a readable Parquet file: {exc}",
                                details=[field_error("file", "not Parquet")]) from None

    def parquet() -> Iterator[tuple[int, Any]]:
        line = 0
        for batch in pfile.iter_batches(batch_size=20_000):
            for row in batch.to_pylist():
                line += 1
                yield line, row.get

    return list(pfile.schema_arrow.names), parquet()


def iter_outcomes(path: str | Path, columns: OutcomeColumns | None = None, fmt: str | None = None, *,
                  encoding: str | None = None, progress: bool = False
                  ) -> tuple[OutcomeReport, Iterator[tuple[int, OutcomeRecord | list[RowError]]]]:
    """(the report's file facts, (line, record or its errors) per row, read lazily): what an import streams, so a
    file of 200k shipments with documents is never held in memory at once. The mapping is checked before the first
    row is read: a missing column raises at once."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"file not found: {path}", details=[field_error("file", "not found")])
    report = OutcomeReport(format=detect_format(path, fmt))
    names, records = _records(path, report.format, encoding, report)
    report.columns = names
    converter = _Converter((columns or OutcomeColumns()).resolve(names))
    if progress:
        from tqdm import tqdm

        records = tqdm(records, desc=f"reading {path.name}", unit="rows", mininterval=0.5, leave=False)

    def rows() -> Iterator[tuple[int, OutcomeRecord | list[RowError]]]:
        for line, item in records:
            yield line, ([item] if isinstance(item, RowError) else converter.convert(line, item))

    return report, rows()


def read_outcomes(path: str | Path, columns: OutcomeColumns | None = None, fmt: str | None = None, *,
                  encoding: str | None = None, progress: bool = False) -> OutcomeReport:
    """Read and validate every row of an outcomes file into one report; see the module docstring."""
    report, rows = iter_outcomes(path, columns, fmt, encoding=encoding, progress=progress)
    for _, out in rows:
        report.total_rows += 1
        if isinstance(out, OutcomeRecord):
            report.records.append(out)
        else:
            report.errors.extend(out)
    return report
