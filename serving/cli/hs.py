"""``clearance hs``: suggest HS codes, validate a declared code, build the suggester, evaluate it on files."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="HS code suggestion: suggest, validate, build, evaluate.", no_args_is_help=True)

DEFAULT_BUNDLE = "hs-suggester"


def _settings():
    from data.settings import get_settings

    return get_settings()


def _engine(settings):
    from data.store.db import open_store

    return open_store(settings.database_url)


def _load_suggester(model_dir: Path | None):
    """The suggester as the service serves it (reviewer rulings replayed), from a bundle directory given or built by
    ``clearance hs build``, else the registry champion."""
    from data.errors import ClearanceError, NotFoundError, field_error
    from models.names import HS_SUGGESTER
    from models.suggester.suggester import META_FILE
    from serving.served import load_served

    settings = _settings()
    bundle = model_dir or Path(settings.data_dir) / DEFAULT_BUNDLE
    if (bundle / META_FILE).is_file():
        return load_served(settings, names=(HS_SUGGESTER,), hs_bundle=bundle).suggester
    if model_dir:
        raise NotFoundError(f"no suggester bundle in {model_dir}", details=[field_error("model_dir", "not a bundle")])
    try:
        return load_served(settings, names=(HS_SUGGESTER,)).suggester
    except ClearanceError as exc:  # no registry, no champion, a version that does not load: say how to get one
        raise NotFoundError(
            "no HS suggester found: run `clearance hs build` (or `clearance train`) first",
            details=[field_error("model", f"no bundle in {bundle} and no registry champion ({exc.message})")],
        ) from None


def _parse_elements(elements: str | None) -> dict | None:
    if not elements:
        return None
    from data.errors import InvalidInputError, field_error
    from data.rulings.schema import parse_declared_elements

    try:
        return parse_declared_elements(elements)
    except ValueError as exc:
        raise InvalidInputError(f"--elements: {exc}", details=[field_error("declared_elements", str(exc))]) from None


def _print_answer(answer) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"HS candidates for: {answer.query.text}")
    for col in ("#", "HS6", "conf", "HS4 conf", "description", "best evidence"):
        table.add_column(col)
    for i, c in enumerate(answer.candidates, 1):
        desc = c.description_zh or c.description_en or ""
        ev = c.evidence[0] if c.evidence else None
        evs = f"{ev.hs_code} {ev.text[:40]} ({ev.similarity:.2f})" if ev else "-"
        nat = f" → {c.national[0].code}" if c.national else ""
        table.add_row(str(i), c.code + nat, f"{c.confidence:.2f}", f"{c.confidence_hs4:.2f}", desc[:40], evs)
    console.print(table)
    if answer.answer:
        console.print(f"answer: [bold]{answer.answer.code}[/bold] (HS{answer.answer.level}, "
                      f"confidence {answer.answer.confidence:.2f})")
    else:
        console.print("[yellow]needs review[/yellow]")
    for r in answer.reasons:
        console.print(f"- {r.en} / {r.zh}")
    if answer.missing_elements:
        console.print("missing declaration elements (申报要素): " + "、".join(answer.missing_elements))
    from data.tariff import rate_label
    from serving.editions import tariff_differences

    for c in answer.candidates:
        if c.tariff:
            console.print(f"{c.code}: rebate {rate_label([f.rebate_rate for f in c.tariff])}, supervision "
                          f"{', '.join(sorted({f.supervision or '-' for f in c.tariff}))}")
        if c.transition is not None and c.transition.status != "unchanged":
            t = c.transition
            console.print(f"{c.code}: HS 2028 ({t.effective_date}) {t.status} → "
                          f"{t.new_code or ', '.join(t.new_codes)}")
    for diff in tariff_differences(answer.candidates):
        console.print(f"[bold]{diff['en']}[/bold] / {diff['zh']}")
    if answer.edition is not None:
        console.print(f"edition: {answer.edition.nomenclature}" + (f" + {answer.edition.tariff}"
                                                                    if answer.edition.tariff else ""))


@app.command()
def suggest(
    text: str = typer.Argument(..., help="Product description (Chinese or English)."),
    top_k: int = typer.Option(5, "--top-k", help="Number of candidates (1-50)."),
    elements: str = typer.Option(None, "--elements", help="申报要素 as 'key:value|key:value' or a JSON object."),
    as_json: bool = typer.Option(False, "--json", help="Print the answer object (same JSON as the API)."),
    model_dir: Path = typer.Option(None, "--model-dir", help="A saved suggester bundle [<data_dir>/hs-suggester]."),
) -> None:
    """Suggest HS codes with evidence, calibrated confidence and a needs-review flag."""
    suggester = _load_suggester(model_dir)
    from serving.editions import annotate_suggestion, book_for_settings

    answer = annotate_suggestion(suggester.suggest(text, _parse_elements(elements), top_k=top_k),
                                 book_for_settings(_settings()))
    if as_json:
        typer.echo(answer.model_dump_json(indent=2))
    else:
        _print_answer(answer)


@app.command()
def validate(
    text: str = typer.Argument(..., help="Product description."),
    code: str = typer.Argument(..., help="Declared HS code (4-10 digits, separators allowed)."),
    elements: str = typer.Option(None, "--elements", help="申报要素 as 'key:value|key:value' or a JSON object."),
    model_dir: Path = typer.Option(None, "--model-dir"),
    declaration_date: str = typer.Option(None, "--date", help="Declaration date YYYY-MM-DD (default today): the "
                                                              "code is checked against the edition then in force."),
) -> None:
    """Check a declared code against the library: agreement at HS6/HS4, confidence, alternatives, and the HS edition
    in force on the declaration date (JSON)."""
    from datetime import date

    from serving.editions import annotate_validation, book_for_settings

    suggester = _load_suggester(model_dir)
    try:
        day = date.fromisoformat(declaration_date) if declaration_date else None
    except ValueError:
        from data.errors import InvalidInputError, field_error

        raise InvalidInputError(f"--date: '{declaration_date}' is not YYYY-MM-DD",
                                details=[field_error("date", "not YYYY-MM-DD")]) from None
    result = annotate_validation(suggester.validate(text, code, _parse_elements(elements)),
                                 book_for_settings(_settings()), day)
    typer.echo(result.model_dump_json(indent=2, exclude={"suggestion"}))


@app.command()
def build(
    out: Path = typer.Option(None, "--out", help="Bundle directory [<data_dir>/hs-suggester]."),
    encoder: str = typer.Option(None, "--encoder", help="use, minilm or a local sentence-transformers directory."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Build the suggester from the rulings in the store and save it as a bundle."""
    from data.nomenclature import Nomenclature
    from data.rulings.repository import RulingRepository
    from models.encoders import load_encoder
    from training.hs import build_suggester

    settings = _settings()
    engine = _engine(settings)
    rulings = list(RulingRepository(engine).iter_all())
    if not rulings:
        # Cold start: the nomenclature channel answers from the tariff alone until rulings are imported.
        typer.echo("the ruling library is empty: building a tariff-only suggester (every answer needs review until "
                   "rulings are imported with `clearance rulings import` or `clearance rulings demo`)", err=True)
    from training.cluster.client import dask_client, engine_of

    nomenclature = Nomenclature.load(engine)
    enc = load_encoder(encoder or settings.encoder, threads=settings.threads)
    with dask_client(settings) as client:
        if client is not None:  # CLEARANCE_DASK_SCHEDULER: the library is encoded on the workers (docs/dask.md)
            from training.cluster.encoding import DaskEncoder

            enc = DaskEncoder(enc, client)
        suggester = build_suggester(rulings, encoder=enc, nomenclature=nomenclature, progress=True, seed=seed)
        # the bundle keeps the plain encoder: answering needs no cluster
        suggester.encoder = getattr(enc, "base", enc)
        engine_used = engine_of(client)
    target = suggester.save(out or Path(settings.data_dir) / DEFAULT_BUNDLE)
    typer.echo(f"built {suggester!r} → {target}")
    typer.echo(json.dumps({"engine": engine_used, **{k: round(v, 4) for k, v in suggester.metrics.items()}},
                          indent=2))


@app.command()
def evaluate(
    library: Path = typer.Option(..., "--library", help="Rulings file to build the library from (CSV/TSV/JSONL/Parquet)."),
    queries: Path = typer.Option(..., "--queries", help="Query file with text and gold code columns."),
    text_col: str = typer.Option(None, "--text-col", help="Text column in both files [product_name]."),
    code_col: str = typer.Option(None, "--code-col", help="HS code column in both files [hs_code]."),
    description_col: str = typer.Option(None, "--description-col"),
    elements_col: str = typer.Option(None, "--elements-col"),
    json_out: Path = typer.Option(None, "--json", help="Write the report JSON here ('-' for stdout)."),
    baseline: bool = typer.Option(False, "--baseline", help="Also score TF-IDF (char 1-3 + word) + LinearSVC."),
    encoder: str = typer.Option(None, "--encoder", help="use, minilm or a local sentence-transformers directory."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", envvar="MLFLOW_TRACKING_URI",
                                     help="Log params, metrics and plots to this MLflow tracking URI."),
    limit: int = typer.Option(None, "--limit", help="Answer only the first N queries."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Build a library from FILE in a temporary store, answer every query, report accuracy and calibration."""
    from data.errors import InvalidInputError, field_error
    from data.rulings.readers import ColumnMapping
    from models.encoders import load_encoder
    from training.hs import evaluate_files, log_evaluation, public_report

    settings = _settings()
    options = {"text_col": text_col, "code_col": code_col, "description_col": description_col,
               "elements_col": elements_col}
    mapping = ColumnMapping(default_source="declaration", **{k: v for k, v in options.items() if v})
    if limit is not None and limit < 1:
        raise InvalidInputError("--limit must be at least 1", details=[field_error("limit", f"got {limit}")])
    nomenclature = None
    try:
        from data.nomenclature import Nomenclature

        nomenclature = Nomenclature.default()
    except Exception:  # descriptions are a nicety; evaluation does not need them
        nomenclature = None
    run = evaluate_files(library, queries, mapping=mapping,
                         encoder=load_encoder(encoder or settings.encoder, threads=settings.threads),
                         nomenclature=nomenclature, baseline=baseline, progress=True, seed=seed, limit=limit)
    report = public_report(run.report)
    if tracking_uri:  # an evaluation is logged only where it is asked to be
        report["mlflow_run_id"] = log_evaluation(
            run.report, {"library": str(library), "queries": str(queries), "baseline": baseline,
                         "encoder": run.suggester.encoder_name, "seed": seed,
                         **{f"param_{k}": v for k, v in run.suggester.params.__dict__.items()}},
            settings.model_copy(update={"mlflow_tracking_uri": tracking_uri}))
    text = json.dumps(report, ensure_ascii=False, indent=2, default=str)
    if json_out is not None and str(json_out) == "-":
        typer.echo(text)
    else:
        if json_out is not None:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(text)
        _print_summary(report)


def _print_summary(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"HS evaluation on {report['n']} queries")
    table.add_column("level")
    for k in ("top1", "top3", "top5"):
        table.add_column(k)
    base = report.get("baseline", {})
    for level in ("hs2", "hs4", "hs6", "hs8", "hs10"):
        if level in report:
            table.add_row(level, *(f"{report[level][k]:.3f}" for k in ("top1", "top3", "top5")))
        if level in base:
            table.add_row(f"{level} baseline", *(f"{base[level][k]:.3f}" for k in ("top1", "top3", "top5")))
    console = Console()
    console.print(table)
    console.print(f"confident answers: coverage {report['confident']['coverage']:.3f}, "
                  f"accuracy {report['confident']['accuracy']:.3f}; ECE {report['ece']:.3f}")
    for lang, row in report.get("by_language", {}).items():
        console.print(f"  {lang}: n={row['n']} HS6 top1 {row['hs6_top1']:.3f} top5 {row['hs6_top5']:.3f}")
