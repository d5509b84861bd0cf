"""``clearance rulings``: import a rulings file, write the demo library, show library statistics."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="The ruling library (system of record): import, demo data, statistics.", no_args_is_help=True)


def _engine():
    from data.settings import get_settings
    from data.store.db import open_store

    return open_store(get_settings().database_url)


@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="CSV, TSV, JSONL/JSON or Parquet file of rulings."),
    fmt: str = typer.Option(None, "--format", help="csv, tsv, jsonl, json or parquet (default: from the extension)."),
    text_col: str = typer.Option(None, "--text-col", help="Column with the product name/title [product_name]."),
    name_col: str = typer.Option(None, "--name-col", help="Same as --text-col."),
    code_col: str = typer.Option(None, "--code-col", help="Column with the HS code [hs_code]."),
    description_col: str = typer.Option(None, "--description-col", help="[description]"),
    elements_col: str = typer.Option(None, "--elements-col",
                                     help="Declaration elements: JSON object or 'key:value|key:value' [declared_elements]."),
    id_col: str = typer.Option(None, "--id-col", help="[ruling_id]; a content hash when absent."),
    date_col: str = typer.Option(None, "--date-col", help="[ruling_date]"),
    source_col: str = typer.Option(None, "--source-col", help="[source]"),
    language_col: str = typer.Option(None, "--language-col", help="[language]; detected when absent."),
    source: str = typer.Option("customs_ruling", "--source",
                               help="Source for rows without one: customs_ruling, pre_classification, declaration, reviewer."),
    encoding: str = typer.Option(None, "--encoding", help="File encoding (default: UTF-8, GBK detected)."),
    check_codes: bool = typer.Option(True, "--check-codes/--no-check-codes",
                                     help="Reject codes whose HS6 is not in the nomenclature."),
    errors_out: Path = typer.Option(None, "--errors-out", help="Write every row error to this CSV/JSONL file."),
    max_errors: int = typer.Option(20, "--max-errors", help="Row errors to print."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bars for large files."),
    idempotency_key: str = typer.Option(None, "--idempotency-key", help=(
        "Apply this import once: a rerun with the same key and the same file and options prints the first run's "
        "summary and adds no import batch.")),
) -> None:
    """Import rulings: good rows are stored (re-imports add no duplicates), bad rows are listed with their line."""
    from data.errors import InvalidInputError, field_error
    from data.nomenclature import Nomenclature
    from data.rulings.importer import import_rulings, write_errors
    from data.rulings.readers import ColumnMapping

    if text_col and name_col and text_col != name_col:
        raise InvalidInputError("--text-col and --name-col name the same field; give one of them",
                                details=[field_error("text_col", "conflicts with --name-col")])
    options = {"text_col": text_col or name_col, "code_col": code_col, "description_col": description_col,
               "elements_col": elements_col, "id_col": id_col, "date_col": date_col, "source_col": source_col,
               "language_col": language_col}
    try:
        mapping = ColumnMapping(default_source=source, **{k: v for k, v in options.items() if v})
    except Exception as exc:  # pydantic ValidationError: an unknown --source
        raise InvalidInputError(f"invalid --source '{source}'",
                                details=[field_error("source", "use customs_ruling, pre_classification, "
                                                               "declaration or reviewer")]) from exc
    engine = _engine()
    nomenclature = Nomenclature.load(engine) if check_codes else None
    once = None
    if idempotency_key is not None:
        import hashlib

        from data.store.idempotency import Once, check_key, fingerprint

        digest = hashlib.sha256(file.read_bytes()).hexdigest() if file.is_file() else str(file)
        once = Once(owner="cli", key=check_key(idempotency_key, "idempotency_key"),
                    request_hash=fingerprint({"file": digest, "format": fmt, "encoding": encoding,
                                              "check_codes": check_codes, **options, "source": source}))
    summary = import_rulings(engine, file, mapping, progress=progress, fmt=fmt, nomenclature=nomenclature,
                             encoding=encoding, once=once)
    if errors_out and summary.errors:
        write_errors(summary.errors, errors_out)
    if as_json:
        typer.echo(json.dumps(summary.to_report(max_errors), ensure_ascii=False, indent=2))
    else:
        for warning in summary.warnings:
            typer.secho(f"note: {warning}", fg=typer.colors.YELLOW, err=True)
        if summary.replayed:
            typer.echo(f"already imported under this idempotency key (batch {summary.batch_id}); nothing done")
        typer.echo(f"{file}: {summary.rows_read} rows read, {summary.inserted} inserted, "
                   f"{summary.duplicates} duplicates, {summary.rejected} rejected "
                   f"({summary.rows_per_second:,.0f} rows/s)")
        if summary.errors:
            shown = summary.errors[:max_errors]
            typer.echo(f"{len(summary.errors)} row error(s){'' if len(shown) == len(summary.errors) else f', first {len(shown)}'}:")
            for e in shown:
                typer.echo(f"  line {e.line}: {e.field}: {e.reason}")
            if errors_out:
                typer.echo(f"all errors written to {errors_out}")
            elif len(shown) < len(summary.errors):
                typer.echo("  (use --errors-out FILE for the full list)")
    if summary.rows_read and summary.rejected == summary.rows_read:
        raise typer.Exit(code=1)  # nothing usable: let scripts notice


@app.command()
def demo(
    n: int = typer.Option(3600, "--n", min=1, max=1_000_000, help="Number of rulings."),
    seed: int = typer.Option(7, "--seed", help="Random seed (same seed, same library)."),
    out: Path = typer.Option(None, "--out", help="Write to this file (.jsonl or .csv) instead of the store."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Generate the demo ruling library: into the store, or into a file with --out."""
    from demo.rulings import generate_demo_rulings, write_demo_rulings

    if out is not None:
        write_demo_rulings(out, n, seed)
        body = {"written": str(out), "rulings": n, "seed": seed}
    else:
        from data.rulings.repository import RulingRepository

        result = RulingRepository(_engine()).upsert_many(generate_demo_rulings(n, seed))
        body = {"rulings": n, "seed": seed, "inserted": result.inserted, "duplicates": result.duplicates}
    if as_json:
        typer.echo(json.dumps(body))
    elif out is not None:
        typer.echo(f"wrote {n} demo rulings (seed {seed}) to {out}")
    else:
        typer.echo(f"demo library: {body['inserted']} rulings inserted, {body['duplicates']} already present "
                   f"(n={n}, seed={seed})")


@app.command()
def stats(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """How many rulings the library holds, by source, language, code length and chapter."""
    from data.rulings.repository import RulingRepository

    body = RulingRepository(_engine()).stats()
    if as_json:
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    typer.echo(f"rulings: {body['rulings']} over {body['distinct_hs6']} HS6 codes")
    for key in ("by_source", "by_language", "by_code_length", "top_chapters"):
        items = ", ".join(f"{k}: {v}" for k, v in body[key].items()) or "-"
        typer.echo(f"{key.replace('_', ' ')}: {items}")
    first, last = body["ruling_dates"]
    typer.echo(f"ruling dates: {first or '-'} … {last or '-'}")


@app.command("transition-report")
def transition_report_(
    json_out: Path = typer.Option(None, "--json", help="Also write the whole report (every affected ruling) as JSON."),
    csv_out: Path = typer.Option(None, "--csv", help="Also write one CSV row per affected ruling."),
    top: int = typer.Option(30, "--top", help="Code groups to print."),
) -> None:
    """Stored rulings and reviewer decisions whose codes HS 2028 renumbers or splits, grouped by code, with counts."""
    from data.settings import get_settings
    from data.transition_report import CSV_COLUMNS, transition_report
    from serving.editions import tariff_book

    settings = get_settings()
    engine = _engine()
    report = transition_report(engine, tariff_book(engine, settings.hs2028_effective_date))
    if not report.correlation_loaded:
        typer.secho("no HS 2028 correlation imported: run `clearance nomenclature import-correlation FILE` first",
                    fg=typer.colors.YELLOW)
    typer.echo(f"HS 2028 from {report.effective_date}: {report.rulings_scanned} rulings scanned")
    for status, t in report.totals.items():
        typer.echo(f"  {status}: {t['codes']} codes, {t['rulings']} rulings, {t['decisions']} reviewer decisions"
                   + (f", {t['resolved']} resolved by review" if status == "split" else ""))
    for g in report.groups[:top]:
        typer.echo(f"  {g.hs6} {g.status:<10} → {', '.join(g.new_codes):<30} {g.rulings} rulings, "
                   f"{g.decisions} decisions" + (f", {g.resolved} resolved" if g.status == "split" else ""))
    if len(report.groups) > top:
        typer.echo(f"  … {len(report.groups) - top} more codes (raise --top, or --json/--csv)")
    if json_out:
        json_out.write_text(report.model_dump_json(indent=2), encoding="utf-8")
        typer.echo(f"wrote {json_out}")
    if csv_out:
        import csv

        with open(csv_out, "w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(CSV_COLUMNS))
            writer.writeheader()
            writer.writerows(report.rows())
        typer.echo(f"wrote {csv_out}")
