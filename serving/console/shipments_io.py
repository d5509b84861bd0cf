"""Shipments in and results out for the console: pasted JSON, an uploaded flat CSV, and a results CSV.

The CSV layout is derived from the pydantic ``Shipment`` schema rather than written out by hand, so a field added to
the schema appears in the template and the reader at once:

* one row per line; the rows of one shipment share its ``shipment_id`` and are consecutive or not (grouped by id);
* column names are JSON field paths joined with ``.`` (``waybill.channel``, ``order.consignee.country``);
* ``order.lines.<field>`` and ``declaration.lines.<field>`` columns: row *k* of a shipment holds its *k*-th order line
  and its *k*-th declaration line; a side is left blank when that document has fewer lines;
* shipment-level columns are read from the first row that fills them; a later row that disagrees is an error;
* booleans are ``true``/``false`` (also 1/0, yes/no); datetimes are ISO 8601 with a zone
  (``2025-03-01T10:00:00+08:00``);
  numbers use ``.`` as the decimal point and no thousands separators;
* the file must be UTF-8 (a BOM is fine). Excel users save as "CSV UTF-8"; a GBK file is refused with that advice.

Each shipment is validated on its own: bad ones are reported with their CSV line and field; good ones are scored.
"""

from __future__ import annotations

import csv
import io
import json
import types
import typing
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from data.errors import InvalidInputError, error_path, field_error
from data.shipments.schema import Shipment

LINE_LISTS = ("order.lines", "declaration.lines")
MAX_CSV_FIELD_CHARS = 10_000
_TRUE = {"true", "1", "yes", "y", "是"}
_FALSE = {"false", "0", "no", "n", "否"}


# ----------------------------------------------------------------------------------------------- schema layout
@dataclass(frozen=True)
class Column:
    path: str          # full dotted path, e.g. "order.lines.quantity"
    kind: str          # str | float | int | bool | datetime
    required: bool
    line_list: str | None  # "order.lines" / "declaration.lines" for per-line columns
    choices: tuple[str, ...] = ()  # allowed values of an enumerated field (channel, mode, credit grade)


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(inner type, optional) with Annotated/Optional peeled off."""
    optional = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            optional = optional or len(args) < len(typing.get_args(annotation))
            annotation = args[0]
        else:
            return annotation, optional


def _kind(tp: Any) -> str:
    if typing.get_origin(tp) is Literal:
        return "str"
    if isinstance(tp, type):
        if issubclass(tp, bool):
            return "bool"
        if issubclass(tp, int):
            return "int"
        if issubclass(tp, float):
            return "float"
        if issubclass(tp, datetime) or tp.__name__ in ("AwareDatetime", "NaiveDatetime"):
            return "datetime"
    return "str"


def _columns(model: type[BaseModel], prefix: str, line_list: str | None) -> list[Column]:
    out: list[Column] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        tp, optional = _unwrap(info.annotation)
        if typing.get_origin(tp) is list:
            item, _ = _unwrap(typing.get_args(tp)[0])
            if isinstance(item, type) and issubclass(item, BaseModel):
                out.extend(_columns(item, f"{path}.", path))
                continue
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            out.extend(_columns(tp, f"{path}.", line_list))
            continue
        choices = tuple(str(a) for a in typing.get_args(tp)) if typing.get_origin(tp) is Literal else ()
        out.append(Column(path=path, kind=_kind(tp), required=info.is_required() and not optional,
                          line_list=line_list, choices=choices))
    return out


COLUMNS: list[Column] = _columns(Shipment, "", None)
COLUMN_BY_PATH: dict[str, Column] = {c.path: c for c in COLUMNS}


# --------------------------------------------------------------------------------------------------- flatten out
def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):  # supervision documents: one cell, ``B;4:0123`` (the schema splits it again)
        return ";".join(str(v) for v in value)
    return str(value)


def _get(doc: Any, path: list[str]) -> Any:
    for part in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    return doc


def flatten(shipment: dict[str, Any]) -> list[dict[str, str]]:
    """The CSV rows of one shipment document (the inverse of :func:`parse_csv` for one id)."""
    n_rows = max([len(_get(shipment, lst.split(".")) or []) for lst in LINE_LISTS] + [1])
    rows: list[dict[str, str]] = []
    for k in range(n_rows):
        row: dict[str, str] = {}
        for col in COLUMNS:
            if col.line_list:
                items = _get(shipment, col.line_list.split(".")) or []
                rel = col.path[len(col.line_list) + 1:].split(".")
                value = _get(items[k], rel) if k < len(items) else None
            elif k == 0 or col.path == "shipment_id":
                value = _get(shipment, col.path.split("."))
            else:
                value = None
            row[col.path] = _cell_text(value)
        rows.append(row)
    return rows


def template_csv(example: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[c.path for c in COLUMNS], lineterminator="\r\n")
    writer.writeheader()
    for doc in example:
        writer.writerows(flatten(doc))
    return "\ufeff" + buf.getvalue()


# ---------------------------------------------------------------------------------------------------- parse in
@dataclass
class Rejected:
    shipment_id: str
    where: str  # "line 3" for CSV, "item 2" for JSON
    errors: list[dict[str, str]]


@dataclass
class ParsedShipments:
    shipments: list[Shipment] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def decode_upload(raw: bytes, field_name: str = "file") -> str:
    """UTF-8 text (BOM stripped), or a clear error that says which encoding it looks like and what to do."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        hint = ""
        try:
            raw.decode("gb18030")
            hint = " It looks like GBK/GB18030 (Chinese Windows default)."
        except UnicodeDecodeError:
            pass
        reason = (f"not UTF-8 text (invalid byte 0x{raw[exc.start]:02x} at byte {exc.start}).{hint} "
                  "Save the file as 'CSV UTF-8' and upload it again.")
        raise InvalidInputError(f"The uploaded file is not UTF-8 text.{hint}",
                                code="not_utf8", details=[field_error(field_name, reason)]) from None


def _convert(col: Column, text: str) -> Any:
    """The typed value of a cell; an unparseable cell is passed on as text so the schema names the field."""
    if col.kind == "float":
        # No thousands separators: "1,5" may be a European decimal, and guessing would change the value silently.
        try:
            return float(text)
        except ValueError:
            return text
    if col.kind == "int":
        try:
            return int(text)
        except ValueError:
            return text
    if col.kind == "bool":
        low = text.lower()
        return True if low in _TRUE else False if low in _FALSE else text
    return text


def _set(doc: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        doc = doc.setdefault(part, {})
    doc[path[-1]] = value


def _validate(doc: Any, shipment_id: str, where: str, out: ParsedShipments,
              line_of: typing.Callable[[str], str] | None = None) -> None:
    try:
        out.shipments.append(Shipment.model_validate(doc))
    except ValidationError as exc:
        errors = []
        for err in exc.errors(include_url=False):
            loc = error_path(err["loc"], "shipment")
            errors.append({"field": loc, "reason": err["msg"],
                           **({"line": line_of(loc)} if line_of else {})})
        out.rejected.append(Rejected(shipment_id=shipment_id, where=where, errors=errors))


def parse_json(text: str, max_items: int) -> ParsedShipments:
    """One shipment, a list, or ``{"shipments": [...]}``; malformed JSON is refused as a whole with its position."""
    if not text.strip():
        raise InvalidInputError("The JSON box is empty",
                                code="no_shipments_input", details=[field_error("json", "empty")])
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        reason = f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        raise InvalidInputError(f"The pasted text is {reason}",
                                code="bad_json", details=[field_error("json", reason)]) from None
    if isinstance(data, dict) and "shipments" in data and "shipment_id" not in data:
        data = data["shipments"]
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        reason = "expected a shipment object, a list of shipments, or {\"shipments\": [...]}"
        raise InvalidInputError(f"The pasted JSON is {reason}", code="bad_json", details=[field_error("json", reason)])
    if not data:
        raise InvalidInputError("The pasted JSON holds no shipments",
                                code="bad_json", details=[field_error("json", "empty list")])
    _check_count(len(data), max_items, "json")
    out = ParsedShipments()
    for i, item in enumerate(data, start=1):
        sid = str(item.get("shipment_id", "")) if isinstance(item, dict) else ""
        if not isinstance(item, dict):
            out.rejected.append(Rejected(sid, f"item {i}", [field_error("shipment", "not a JSON object")]))
            continue
        _validate(item, sid, f"item {i}", out)
    return out


def parse_csv(text: str, max_items: int) -> ParsedShipments:
    """Shipments from the flat CSV layout (see the module docstring); file-level problems refuse the whole file."""
    if not text.strip():
        raise InvalidInputError("The CSV file is empty", code="empty_file", details=[field_error("file", "empty")])
    csv.field_size_limit(MAX_CSV_FIELD_CHARS)
    # strict: an unbalanced quote is an error, not a cell that silently swallows the rest of the file.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip() for h in next(reader)]
        records = [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        reason = f"malformed CSV at line {reader.line_num}: {exc}"
        raise InvalidInputError(f"The file is {reason}",
                                code="bad_csv", details=[field_error("file", reason)]) from None
    problems: list[dict[str, str]] = []
    unknown = [h for h in header if h not in COLUMN_BY_PATH]
    if unknown:
        problems.append(field_error("header", "unknown columns: " + ", ".join(unknown[:10])
                                    + (" …" if len(unknown) > 10 else "")
                                    + " (download the template for the column names)"))
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        problems.append(field_error("header", "repeated columns: " + ", ".join(dupes)))
    if "shipment_id" not in header:
        problems.append(field_error("header", "no shipment_id column"))
    if problems:
        raise InvalidInputError("The CSV header does not match the shipment layout", code="bad_csv", details=problems)

    groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for line, cells in records:
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            problems.append({"field": "row", "reason": f"{len(cells)} cells, the header has {len(header)}",
                             "line": f"line {line}"})
            continue
        row = {h: c.strip() for h, c in zip(header, cells)}
        sid = row["shipment_id"]
        if not sid:
            problems.append({"field": "shipment_id", "reason": "empty", "line": f"line {line}"})
            continue
        groups.setdefault(sid, []).append((line, row))
    if problems:
        raise InvalidInputError("Some CSV rows cannot be read", code="bad_csv", details=problems[:50])
    if not groups:
        raise InvalidInputError("The CSV file has a header but no shipments",
                                code="bad_csv", details=[field_error("file", "no rows")])
    _check_count(len(groups), max_items, "file")

    out = ParsedShipments()
    for sid, rows in groups.items():
        doc, conflicts = _assemble(rows, header)
        lines = [line for line, _ in rows]

        def line_of(loc: str, _lines: list[int] = lines) -> str:
            for lst in LINE_LISTS:
                if loc.startswith(lst + "."):
                    idx = loc[len(lst) + 1:].split(".", 1)[0]
                    if idx.isdigit() and int(idx) < len(_lines):
                        return f"line {_lines[int(idx)]}"
            return f"line {_lines[0]}"

        if conflicts:
            out.rejected.append(Rejected(sid, f"line {lines[0]}", conflicts))
            continue
        _validate(doc, sid, f"line {lines[0]}", out, line_of)
    return out


def _assemble(rows: list[tuple[int, dict[str, str]]], header: list[str]) -> tuple[dict[str, Any], list[dict]]:
    doc: dict[str, Any] = {}
    seen: dict[str, tuple[int, str]] = {}
    conflicts: list[dict[str, str]] = []
    line_items: dict[str, list[dict[str, Any]]] = {lst: [] for lst in LINE_LISTS}
    for line, row in rows:
        items: dict[str, dict[str, Any]] = {}
        for path in header:
            text = row[path]
            if not text:
                continue
            col = COLUMN_BY_PATH[path]
            if col.line_list:
                rel = path[len(col.line_list) + 1:].split(".")
                _set(items.setdefault(col.line_list, {}), rel, _convert(col, text))
            elif path in seen:
                if seen[path][1] != text:
                    conflicts.append({"field": path, "line": f"line {line}",
                                      "reason": f"'{text}' differs from '{seen[path][1]}' on line {seen[path][0]}"})
            else:
                seen[path] = (line, text)
                _set(doc, path.split("."), _convert(col, text))
        for lst, item in items.items():
            line_items[lst].append(item)
    for lst, items in line_items.items():
        if items:
            _set(doc, lst.split("."), items)
    return doc, conflicts


# ----------------------------------------------------------------------------------------------------- results
RESULT_COLUMNS: tuple[str, ...] = (
    "shipment_id", "status", "risk_level", "p_low", "p_medium", "p_high", "delay_p50_hours", "delay_p90_hours",
    "findings", "risk_reasons", "delay_reasons", "advisories", "errors",
)


def text_of(item: Any, lang: str) -> str:
    """The human text of a finding, reason or advisory in ``lang`` (shapes differ slightly between producers)."""
    if isinstance(item, str):
        return item
    if not isinstance(item, dict):
        return str(item)
    zh = item.get("zh") or item.get("message_zh") or item.get("text_zh") or item.get("title_zh")
    en = item.get("en") or item.get("message_en") or item.get("text_en") or item.get("title_en") \
        or item.get("message") or item.get("text")
    first, second = (zh, en) if lang == "zh" else (en, zh)
    return first or second or item.get("code") or item.get("id") or json.dumps(item, ensure_ascii=False)


def _reason_text(reason: dict[str, Any], lang: str) -> str:
    # The scorer phrases the signed impact into the text ("raises the P90 delay by 8.1 h"); adding it again would
    # only repeat it.
    return text_of(reason, lang)


def result_row(result: dict[str, Any], lang: str) -> dict[str, Any]:
    risk = result.get("risk") or {}
    probs = risk.get("probabilities") or {}
    delay = result.get("delay") or {}
    return {
        "shipment_id": result.get("shipment_id"),
        "status": "scored",
        "risk_level": risk.get("level"),
        "p_low": probs.get("low"), "p_medium": probs.get("medium"), "p_high": probs.get("high"),
        "delay_p50_hours": delay.get("p50_hours"), "delay_p90_hours": delay.get("p90_hours"),
        "findings": [f"{f.get('severity')}:{f.get('code')}:{text_of(f, lang)}" for f in result.get("findings") or []],
        "risk_reasons": [_reason_text(r, lang) for r in risk.get("reasons") or []],
        "delay_reasons": [_reason_text(r, lang) for r in delay.get("reasons") or []],
        "advisories": [text_of(a, lang) for a in result.get("advisories") or []],
        "errors": "",
    }


def rejected_row(rej: Rejected) -> dict[str, Any]:
    return {"shipment_id": rej.shipment_id, "status": "rejected",
            "errors": [f"{e.get('line', rej.where)}: {e['field']}: {e['reason']}" for e in rej.errors]}


def _check_count(n: int, max_items: int, field: str) -> None:
    """Refuse more shipments than the console checks at once, naming the input field."""
    if n > max_items:
        reason = f"{n} shipments; the console checks at most {max_items} at a time (use the API for more)"
        raise InvalidInputError(f"Too many shipments: {reason}",
                                code="too_many_shipments", details=[field_error(field, reason)])
