"""Read rulings from CSV, TSV, JSON Lines (or a JSON array) and Parquet, with a validation report.

Good rows become :class:`Ruling` objects; every bad row becomes one :class:`RowError` per problem, with the line of
the file it came from (CSV/TSV: the header is line 1 and a quoted multi-line record reports its first line; JSONL:
1-based lines; Parquet and JSON arrays: record index + 1). A bad row never stops the read. Problems with the file
itself (unknown format, unreadable bytes, a mapped column that is not there) raise :class:`InvalidInputError`, since
no row could be read correctly.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from data.errors import InvalidInputError, field_error
from data.rulings.schema import Ruling, RulingSource

if TYPE_CHECKING:  # pragma: no cover
    from data.nomenclature import Nomenclature

FORMATS = ("csv", "tsv", "jsonl", "json", "parquet")
_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
               ".json": "json", ".parquet": "parquet", ".pq": "parquet"}
# csv's default 128 KiB field cap would turn an over-long cell into a parse failure; let the schema's length limits
# report it as "text too long" instead.
csv.field_size_limit(64 * 1024 * 1024)


class RowError(BaseModel):
    """One problem in one row: the file line, the column (as named in the file) and why."""

    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.reason}"


class ColumnMapping(BaseModel):
    """Which file column feeds which ruling field. Defaults match the library's own export format.

    ``text_col`` and ``code_col`` must exist in the file. Any other column that is set explicitly must exist too; left
    at its default, a column that is absent just leaves the field at its default.
    """

    model_config = ConfigDict(extra="forbid")

    text_col: str = "product_name"
    code_col: str = "hs_code"
    description_col: str = "description"
    elements_col: str = "declared_elements"
    id_col: str = "ruling_id"
    date_col: str = "ruling_date"
    source_col: str = "source"
    language_col: str = "language"
    notes_col: str = "notes"
    version_col: str = "nomenclature_version"
    reviewer_col: str = "reviewer"
    model_version_col: str = "model_version"
    # Off by default: ``created_at`` is when a ruling entered *this* library (what ``created_since`` and the
    # service's live overlay rely on), so an imported file's own timestamps are kept only when asked for.
    created_at_col: str | None = None
    default_source: RulingSource = Field(RulingSource.customs_ruling,
                                         description="Source of rows whose source column is absent or empty.")

    _FIELDS = {
        "text_col": "product_name", "code_col": "hs_code", "description_col": "description",
        "elements_col": "declared_elements", "id_col": "ruling_id", "date_col": "ruling_date",
        "source_col": "source", "language_col": "language", "notes_col": "notes",
        "version_col": "nomenclature_version", "reviewer_col": "reviewer", "model_version_col": "model_version",
        "created_at_col": "created_at",
    }
    _REQUIRED = ("text_col", "code_col")

    def resolve(self, columns: Iterable[str]) -> dict[str, str]:
        """``{ruling field: file column}`` for the columns present; InvalidInputError for a missing mapped column."""
        columns = list(columns)
        present = set(columns)
        out: dict[str, str] = {}
        missing = []
        explicit = {getattr(self, o) for o in self._FIELDS if o in self.model_fields_set or o in self._REQUIRED}
        for option, field in self._FIELDS.items():
            column = getattr(self, option)
            if column is None:
                continue
            if option not in self.model_fields_set and option not in self._REQUIRED and column in explicit:
                continue  # "--text-col description": the default description column must not repeat the name
            if column in present:
                out[field] = column
            elif option in self._REQUIRED or option in self.model_fields_set:
                missing.append((option, column))
        if missing:
            listed = ", ".join(columns) or "(none)"
            names = "; ".join(f"column '{col}' ({opt.replace('_', '-')})" for opt, col in missing)
            raise InvalidInputError(
                f"{names} not in the file; the file has: {listed}",
                details=[field_error(opt, f"column '{col}' not found; columns: {listed}") for opt, col in missing])
        return out


class ReadReport(BaseModel):
    rulings: list[Ruling]
    errors: list[RowError]
    total_rows: int
    format: str = ""
    encoding: str | None = None
    columns: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    @property
    def rejected_rows(self) -> int:
        return len({e.line for e in self.errors})


def detect_format(path: Path, fmt: str | None) -> str:
    if fmt:
        key = fmt.strip().lower().lstrip(".")
        key = {"ndjson": "jsonl", "pq": "parquet", "tab": "tsv"}.get(key, key)
        if key not in FORMATS:
            raise InvalidInputError(f"unknown format '{fmt}'; use one of {', '.join(FORMATS)}",
                                    details=[field_error("format", f"unknown format '{fmt}'")])
        return key
    try:
        return _EXTENSIONS[path.suffix.lower()]
    except KeyError:
        raise InvalidInputError(
            f"cannot tell the format of '{path.name}' from its extension; pass --format "
            f"({', '.join(FORMATS)})", details=[field_error("format", f"unknown extension '{path.suffix}'")]) from None


def _mostly_cjk(text: str) -> bool:
    non_ascii = [ch for ch in text if ord(ch) > 127]
    if not non_ascii:
        return False
    cjk = sum(1 for ch in non_ascii if "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef"
              or "\u3400" <= ch <= "\u4dbf")
    return cjk / len(non_ascii) >= 0.9


def read_text(path: Path, encoding: str | None = None) -> tuple[str, str, list[str]]:
    """The file's text, the encoding used and warnings.

    UTF-8 (with or without BOM) and UTF-16 with a BOM are read as such. A file that is not UTF-8 is tried as GB18030
    (the superset of GBK that Chinese Excel writes) and accepted only when what comes out is mostly CJK text, since
    GB18030 decodes many Latin-1 byte sequences into nonsense; otherwise the error names the first bad byte.
    """
    data = Path(path).read_bytes()
    warnings: list[str] = []
    if encoding:
        try:
            return data.decode(encoding), encoding, warnings
        except LookupError:
            raise InvalidInputError(f"unknown encoding '{encoding}'",
                                    details=[field_error("encoding", "unknown")]) from None
        except UnicodeDecodeError as exc:
            raise _decode_error(path, data, exc, f"not valid {encoding}") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16", warnings
    try:
        return data.decode("utf-8-sig"), "utf-8", warnings
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None and _mostly_cjk(text):
        warnings.append(f"{Path(path).name} is not UTF-8; decoded as GB18030/GBK (the Chinese Windows encoding)")
        return text, "gb18030", warnings
    raise _decode_error(path, data, utf8_error, "not UTF-8 and not GBK/GB18030 text") from None


def _decode_error(path: Path, data: bytes, exc: UnicodeDecodeError, what: str) -> InvalidInputError:
    line = data.count(b"\n", 0, exc.start) + 1
    byte = data[exc.start]
    return InvalidInputError(
        f"cannot read '{Path(path).name}': {what} (byte 0x{byte:02x} at line {line}, offset {exc.start}); "
        "save it as UTF-8 or pass --encoding",
        details=[field_error("encoding", f"undecodable byte 0x{byte:02x} at line {line}")])


def iter_delimited(text: str, delimiter: str, quoting: int = csv.QUOTE_MINIMAL
                   ) -> tuple[list[str], Iterator[tuple[int, list[str] | None, str | None]]]:
    """Header and ``(line, cells, parse_error)`` records of a delimited text; the header is line 1.

    The line is where the record starts, so a quoted cell spanning lines reports the line a user sees first.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting, strict=False)
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInputError("the file is empty: no header line",
                                details=[field_error("file", "no header line")]) from None
    except csv.Error as exc:
        raise InvalidInputError(f"line 1: the header cannot be parsed: {exc}") from None
    header = [h.strip().lstrip("\ufeff") for h in header]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise InvalidInputError(f"duplicate column(s) in the header: {', '.join(dupes)}",
                                details=[field_error(d, "duplicate column") for d in dupes])

    def records() -> Iterator[tuple[int, list[str] | None, str | None]]:
        end = reader.line_num
        while True:
            start = end + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                end = reader.line_num
                yield start, None, f"malformed row: {exc}"
                continue
            end = reader.line_num
            if not row:
                continue  # blank line
            yield start, row, None

    return header, records()


_PYDANTIC_PREFIX = re.compile(r"^(Value error|Assertion failed), ")


def _reasons(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors(include_url=False):
        field = str(err["loc"][0]) if err["loc"] else "row"
        msg = _PYDANTIC_PREFIX.sub("", err["msg"])
        if err["type"] == "missing":
            msg = "missing value"
        out.append((field, msg))
    return out


class _RowConverter:
    """Turns one raw record into a Ruling or RowErrors; caches the nomenclature verdict per HS6."""

    def __init__(self, fields: dict[str, str], default_source: RulingSource, nomenclature: Nomenclature | None):
        self.fields = fields
        self.field_to_column = fields
        self.default_source = default_source
        self.nomenclature = nomenclature
        self._verdicts: dict[str, str | None] = {}

    def convert(self, line: int, get) -> Ruling | list[RowError]:
        kwargs: dict[str, Any] = {}
        for field, column in self.fields.items():
            value = get(column)
            if value is None or (isinstance(value, str) and not value.strip()):
                if field in ("product_name", "hs_code"):
                    kwargs[field] = value
                continue
            kwargs[field] = value
        kwargs.setdefault("source", self.default_source)
        kwargs.setdefault("product_name", None)
        kwargs.setdefault("hs_code", None)
        if kwargs["product_name"] is None or (isinstance(kwargs["product_name"], str)
                                              and not kwargs["product_name"].strip()):
            kwargs["product_name"] = ""
        if kwargs["hs_code"] is None:
            kwargs["hs_code"] = ""
        try:
            ruling = Ruling.model_validate(kwargs)
        except ValidationError as exc:
            return [RowError(line=line, field=self.field_to_column.get(f, f), reason=r) for f, r in _reasons(exc)]
        if self.nomenclature is not None:
            hs6 = ruling.hs_code[:6]
            if hs6 not in self._verdicts:
                self._verdicts[hs6] = self.nomenclature.explain_invalid(hs6)
            reason = self._verdicts[hs6]
            if reason:
                return [RowError(line=line, field=self.field_to_column.get("hs_code", "hs_code"),
                                 reason=f"invalid HS code '{ruling.hs_code}': {reason}")]
        return ruling


def _progress(iterable, total: int | None, enabled: bool, desc: str):
    if not enabled or (total is not None and total < 20_000):  # small files finish before a bar says anything
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="rows", mininterval=0.5, leave=False)


def read_rulings(path: str | Path, mapping: ColumnMapping | None = None, fmt: str | None = None, *,
                 nomenclature: Nomenclature | None = None, encoding: str | None = None,
                 progress: bool = False) -> ReadReport:
    """Read and validate every row of ``path``; see the module docstring for line numbers and error handling.

    With a ``nomenclature`` the HS6 prefix of each code must exist in it (structure alone is checked otherwise).
    """
    path = Path(path)
    mapping = mapping or ColumnMapping()
    if not path.is_file():
        raise InvalidInputError(f"file not found: {path}", details=[field_error("path", "not found")])
    kind = detect_format(path, fmt)
    rulings: list[Ruling] = []
    errors: list[RowError] = []
    total = 0

    def take(line: int, get, converter: _RowConverter) -> None:
        nonlocal total
        total += 1
        out = converter.convert(line, get)
        if isinstance(out, Ruling):
            rulings.append(out)
        else:
            errors.extend(out)

    if kind in ("csv", "tsv"):
        text, used, warnings = read_text(path, encoding)
        if "\x00" in text:
            text = text.replace("\x00", "")
            warnings.append("NUL bytes removed from the file")
        delimiter = "," if kind == "csv" else "\t"
        # TSV is unquoted by convention (IANA text/tab-separated-values): a stray quote in a title is just a character.
        quoting = csv.QUOTE_MINIMAL if kind == "csv" else csv.QUOTE_NONE
        header, records = iter_delimited(text, delimiter, quoting)
        fields = mapping.resolve(header)
        index = {name: i for i, name in enumerate(header)}
        converter = _RowConverter(fields, mapping.default_source, nomenclature)
        for line, cells, problem in _progress(records, text.count("\n"), progress, f"reading {path.name}"):
            if problem is not None:
                total += 1
                errors.append(RowError(line=line, field="row", reason=problem))
                continue
            if len(cells) > len(header):
                total += 1
                errors.append(RowError(line=line, field="row",
                                       reason=f"{len(cells)} cells but the header has {len(header)} columns"))
                continue
            take(line, lambda c, cells=cells: cells[index[c]] if index[c] < len(cells) else None, converter)
        return ReadReport(rulings=rulings, errors=errors, total_rows=total, format=kind, encoding=used,
                          columns=header, warnings=warnings)

    if kind in ("jsonl", "json"):
        text, used, warnings = read_text(path, encoding)
        objects: list[tuple[int, dict]] = []
        keys: dict[str, None] = {}
        stripped = text.lstrip()
        if kind == "json" and stripped.startswith("["):
            try:
                items = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"'{path.name}' is not valid JSON: {exc.msg} at line {exc.lineno}",
                                        details=[field_error("file", f"malformed JSON at line {exc.lineno}")]) from None
            except (ValueError, RecursionError) as exc:  # over-long integers, absurd nesting
                raise InvalidInputError(f"'{path.name}' cannot be read as JSON: {exc}",
                                        details=[field_error("file", "unreadable JSON")]) from None
            for i, item in enumerate(items, 1):
                if isinstance(item, dict):
                    objects.append((i, item))
                    keys.update(dict.fromkeys(item))
                else:
                    total += 1
                    errors.append(RowError(line=i, field="record", reason="not a JSON object"))
            kind = "json"
        else:
            kind = "jsonl"
            # split on \n only: str.splitlines would also break on U+2028 and friends, which JSON strings may hold.
            for i, raw in enumerate(text.split("\n"), 1):
                raw = raw.strip().strip("\x00")
                if not raw:
                    continue
                try:
                    obj = json.loads(raw)
                except json.JSONDecodeError as exc:
                    total += 1
                    errors.append(RowError(line=i, field="json", reason=f"malformed JSON: {exc.msg} (column {exc.colno})"))
                    continue
                except (ValueError, RecursionError) as exc:  # over-long integers, absurd nesting
                    total += 1
                    errors.append(RowError(line=i, field="json", reason=f"unreadable JSON: {str(exc)[:120]}"))
                    continue
                if not isinstance(obj, dict):
                    total += 1
                    errors.append(RowError(line=i, field="json", reason=f"not a JSON object but {type(obj).__name__}"))
                    continue
                objects.append((i, obj))
                keys.update(dict.fromkeys(obj))
        if not objects and not errors:
            raise InvalidInputError(f"'{path.name}' has no records", details=[field_error("file", "no records")])
        fields = mapping.resolve(keys) if objects else mapping.resolve([])
        converter = _RowConverter(fields, mapping.default_source, nomenclature)
        for line, obj in _progress(objects, len(objects), progress, f"reading {path.name}"):
            take(line, obj.get, converter)
        errors.sort(key=lambda e: e.line)
        return ReadReport(rulings=rulings, errors=errors, total_rows=total, format=kind, encoding=used,
                          columns=list(keys), warnings=warnings)

    # parquet
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pfile = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInputError(f"'{path.name}' is not a readable Parquet file: {exc}",
                                details=[field_error("file", "not Parquet")]) from None
    columns = list(pfile.schema_arrow.names)
    fields = mapping.resolve(columns)
    converter = _RowConverter(fields, mapping.default_source, nomenclature)
    wanted = sorted(set(fields.values()))
    line = 0
    bar = _progress(None, pfile.metadata.num_rows, progress, f"reading {path.name}") if progress else None
    bar = bar if bar is not None and hasattr(bar, "update") else None
    for batch in pfile.iter_batches(batch_size=20_000, columns=wanted):
        for row in batch.to_pylist():
            line += 1
            take(line, row.get, converter)
        if bar is not None:
            bar.update(batch.num_rows)
    if bar is not None:
        bar.close()
    return ReadReport(rulings=rulings, errors=errors, total_rows=total, format="parquet", encoding=None,
                      columns=columns, warnings=[])
