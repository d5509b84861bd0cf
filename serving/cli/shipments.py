"""``clearance shipments``: import clearance outcomes, generate a synthetic 9710 history, check shipment documents."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

app = typer.Typer(help="9710 shipments: outcome import, synthetic history and document checks.", no_args_is_help=True)


@app.command()
def generate(
    n: int = typer.Option(200_000, "--n", min=1, help="Number of shipments."),
    seed: int = typer.Option(42, "--seed", help="Random seed (same seed, same data)."),
    months: int = typer.Option(24, "--months", min=1, help="Months of history from 2024-01-01."),
    out: Path = typer.Option(..., "--out", help="Output .parquet (documents + labels) or .jsonl (documents)."),
    features: bool = typer.Option(False, "--features", help="Write model features + labels (parquet) instead of "
                                                            "documents."),
) -> None:
    """Generate a seeded shipment history (causal effects documented in docs/shipment-generator.md)."""
    from data.errors import InvalidInputError, field_error

    suffix = out.suffix.lower()
    if suffix not in (".parquet", ".jsonl") or (features and suffix != ".parquet"):
        raise InvalidInputError(f"--out must end in .parquet{'' if features else ' or .jsonl'}",
                                details=[field_error("out", f"unsupported extension '{out.suffix}'")])
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if features:
        from demo.history import history_frame

        frame = history_frame(n, seed, months=months, progress=True)
        frame.to_parquet(out, index=False)
        typer.echo(f"wrote {len(frame)} feature rows to {out} in {time.perf_counter() - t0:.1f}s")
        return
    from demo.shipments import generate_shipments

    history = generate_shipments(n=n, months=months, seed=seed, progress=True)
    if suffix == ".jsonl":
        with out.open("w", encoding="utf-8") as fh:
            for doc in history.shipments:
                fh.write(json.dumps(doc, ensure_ascii=False) + "\n")
    else:
        frame = history.labels.copy()
        frame["document"] = [json.dumps(d, ensure_ascii=False) for d in history.shipments]
        frame.to_parquet(out, index=False)
    counts = history.labels.outcome.value_counts().to_dict()
    typer.echo(f"wrote {n} shipments to {out} in {time.perf_counter() - t0:.1f}s; outcomes {counts}")


def _read_documents(path: Path) -> list[tuple[int, object]]:
    """(line or item number, parsed JSON or the JSONDecodeError) for each document in a .json or .jsonl file."""
    from data.errors import InvalidInputError, NotFoundError, field_error

    if not path.exists():
        raise NotFoundError(f"file not found: {path}", details=[field_error("file", "does not exist")])
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".jsonl":
        out: list[tuple[int, object]] = []
        for i, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    out.append((i, json.loads(line)))
                except json.JSONDecodeError as exc:
                    out.append((i, exc))
        return out
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                                details=[field_error("file", exc.msg)]) from None
    return list(enumerate(data, start=1)) if isinstance(data, list) else [(1, data)]


@app.command()
def check(
    file: Path = typer.Argument(..., help="A .json file (one shipment or a list) or a .jsonl file (one per line)."),
    as_json: bool = typer.Option(False, "--json", help="Print results as JSON."),
) -> None:
    """Validate shipments and run the data-quality and three-document checks.

    Every document is reported: schema errors (rejected, with each bad field) or findings. Exit code 1 when any
    document was rejected by the schema, 0 otherwise (findings do not change the exit code).
    """
    from pydantic import ValidationError

    from data.nomenclature import Nomenclature
    from data.settings import get_settings
    from data.shipments.schema import Shipment, error_details
    from data.store.db import open_store
    from features.checks import run_checks

    nomenclature = Nomenclature.load(open_store(get_settings().database_url))
    results = []
    for where, doc in _read_documents(file):
        item: dict = {"item": where}
        if isinstance(doc, Exception):
            item.update(valid=False, errors=[{"field": "document", "reason": f"invalid JSON: {doc}"}])
        else:
            if isinstance(doc, dict) and isinstance(doc.get("shipment_id"), str):
                item["shipment_id"] = doc["shipment_id"]
            try:
                shipment = Shipment.model_validate(doc)
            except ValidationError as exc:
                item.update(valid=False, errors=error_details(exc))
            else:
                item.update(valid=True, findings=[f.model_dump() for f in run_checks(shipment, nomenclature)])
        results.append(item)
    rejected = sum(not r["valid"] for r in results)
    if as_json:
        typer.echo(json.dumps({"documents": len(results), "rejected": rejected, "results": results},
                              ensure_ascii=False, indent=2))
    else:
        for r in results:
            head = f"[{r['item']}] {r.get('shipment_id', '?')}"
            if not r["valid"]:
                typer.secho(f"{head}: rejected", fg=typer.colors.RED)
                for e in r["errors"]:
                    typer.echo(f"    {e['field']}: {e['reason']}")
            elif not r["findings"]:
                typer.secho(f"{head}: ok", fg=typer.colors.GREEN)
            else:
                typer.secho(f"{head}: {len(r['findings'])} finding(s)", fg=typer.colors.YELLOW)
                for f in r["findings"]:
                    typer.echo(f"    {f['severity']:7} {f['code']} [{', '.join(f['fields'])}]")
                    typer.echo(f"            {f['message_en']} / {f['message_zh']}")
        typer.echo(f"{len(results)} document(s), {rejected} rejected")
    if rejected:
        raise typer.Exit(1)


@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="Outcomes: CSV, TSV, JSONL/JSON or Parquet, one row per shipment."),
    fmt: str = typer.Option(None, "--format", help="csv, tsv, jsonl, json or parquet (default: from the extension)."),
    shipment_id_col: str = typer.Option(None, "--shipment-id-col", help="[shipment_id]"),
    declared_at_col: str = typer.Option(None, "--declared-at-col", help="[declared_at] (ISO time with an offset)"),
    released_at_col: str = typer.Option(None, "--released-at-col", help="[released_at]"),
    delay_hours_col: str = typer.Option(None, "--delay-hours-col", help="[delay_hours]"),
    inspected_col: str = typer.Option(None, "--inspected-col", help="[inspected] (true/false, 1/0, yes/no)"),
    result_col: str = typer.Option(None, "--result-col", help="[result]: released, held, returned or rejected"),
    first_pass_col: str = typer.Option(None, "--first-pass-col", help="[first_pass] (一次通过)"),
    costs_col: str = typer.Option(None, "--costs-col", help="[costs]: a JSON object of the items below"),
    demurrage_col: str = typer.Option(None, "--demurrage-col", help="[demurrage]"),
    detention_col: str = typer.Option(None, "--detention-col", help="[detention]"),
    inspection_fees_col: str = typer.Option(None, "--inspection-fees-col", help="[inspection_fees]"),
    declaration_cost_col: str = typer.Option(None, "--declaration-cost-col", help="[declaration_cost]"),
    document_col: str = typer.Option(None, "--document-col",
                                     help="[document]: the shipment's documents as JSON (Shipment schema), optional"),
    encoding: str = typer.Option(None, "--encoding", help="File encoding (default: UTF-8, GBK detected)."),
    errors_out: Path = typer.Option(None, "--errors-out", help="Write every row error to this CSV/JSONL file."),
    max_errors: int = typer.Option(20, "--max-errors", help="Row errors to print."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar for large files."),
) -> None:
    """Import clearance outcomes (e.g. history exported from an ERP): good rows are stored, idempotent per shipment
    id (a re-import changes nothing), bad rows are listed by line and column. Exit code 1 when no row was usable."""
    from data.rulings.importer import write_errors
    from data.settings import get_settings
    from data.shipments.outcome_readers import OutcomeColumns
    from data.store.db import open_store
    from features.shipment_records import import_outcomes

    given = {"shipment_id_col": shipment_id_col, "declared_at_col": declared_at_col,
             "released_at_col": released_at_col, "delay_hours_col": delay_hours_col, "inspected_col": inspected_col,
             "result_col": result_col, "first_pass_col": first_pass_col, "costs_col": costs_col,
             "demurrage_col": demurrage_col, "detention_col": detention_col,
             "inspection_fees_col": inspection_fees_col, "declaration_cost_col": declaration_cost_col,
             "document_col": document_col}
    columns = OutcomeColumns(**{k: v for k, v in given.items() if v})
    summary = import_outcomes(open_store(get_settings().database_url), file, columns, fmt=fmt, encoding=encoding,
                              progress=progress)
    if errors_out and summary.errors:
        write_errors(summary.errors, errors_out)
    if as_json:
        typer.echo(json.dumps(summary.to_report(max_errors), ensure_ascii=False, indent=2))
    else:
        for warning in summary.warnings:
            typer.secho(f"note: {warning}", fg=typer.colors.YELLOW, err=True)
        o, s = summary.outcomes, summary.shipments
        typer.echo(f"{file}: {summary.rows_read} rows read, {summary.rejected} rejected; outcomes {o.inserted} new, "
                   f"{o.updated} updated, {o.unchanged} unchanged, {o.duplicates} duplicate rows; shipments "
                   f"{s.inserted} new, {s.updated} updated ({summary.rows_per_second:,.0f} rows/s)")
        shown = summary.errors[:max_errors]
        for e in shown:
            typer.echo(f"  line {e.line}: {e.field}: {e.reason}")
        if len(shown) < len(summary.errors):
            typer.echo(f"  … {len(summary.errors) - len(shown)} more"
                       + (f", all in {errors_out}" if errors_out else " (use --errors-out FILE)"))
    if summary.rows_read and summary.rejected == summary.rows_read:
        raise typer.Exit(code=1)
