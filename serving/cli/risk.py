"""``clearance risk``: spec-driven training on any table, and scoring shipment files with the registered models."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="Risk models: spec-driven training on any table; score shipment files.", no_args_is_help=True)


@app.command()
def train(
    spec: Path = typer.Option(..., "--spec", help="Dataset spec YAML (e.g. data/specs/kcs-declarations.yaml)."),
    train_file: Path = typer.Option(..., "--train", help="Training table (CSV/TSV/Parquet/JSONL)."),
    valid_file: Path = typer.Option(..., "--valid", help="Validation table: tuning and early stopping use only it."),
    test_file: Path | None = typer.Option(None, "--test", help="Optional test table, evaluated once at the end."),
    json_out: Path | None = typer.Option(None, "--json", help="Write metrics per split (and tuning log) here."),
    register: bool = typer.Option(False, "--register/--no-register",
                                  help="Register the model in MLflow (alias challenger)."),
    name: str | None = typer.Option(None, "--name", help="Registered model name (default: the spec name)."),
    log: bool = typer.Option(True, "--log/--no-log", help="Log the run to MLflow."),
) -> None:
    """Train LightGBM on a table described by a spec, tune on valid, evaluate each split, log to MLflow."""
    from data.settings import get_settings
    from data.specs.schema import load_spec
    from training.risk import train_and_log_spec

    settings = get_settings()
    the_spec = load_spec(spec)
    result = train_and_log_spec(the_spec, train_file, valid_file, test_file, settings, register=register,
                                name=name, log=log or register)
    payload = result.to_json()
    for warning in payload["warnings"]:
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW, err=True)
    for split in ("train", "valid", "test"):
        m = result.metrics.get(split)
        if m is None:
            continue
        shown = {k: round(v, 4) for k, v in m.items() if k in ("precision_at_5pct", "precision_at_10pct", "roc_auc",
                                                                  "pr_auc", "macro_f1", "auc_ovr", "mae",
                                                                  "pinball_p50", "pinball_p90", "coverage_p90", "ece")}
        typer.echo(f"{split:5s} {json.dumps(shown)}")
    typer.echo(f"best params {result.best_params} · iterations {result.model.best_iterations_} · "
               f"{result.train_seconds:.1f}s" + (f" · run {result.run_id}" if result.run_id else "")
               + (f" · registered v{result.registered_version} (challenger)" if result.registered_version else ""))
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(payload, indent=2, default=str))
        typer.echo(f"wrote {json_out}")


@app.command()
def score(
    file: Path = typer.Argument(..., help="Shipments: a JSON document, a JSON list, or JSONL (one per line)."),
    alias: str = typer.Option("champion", "--alias", help="Registry alias of the delay and risk models."),
    explain: bool = typer.Option(True, "--explain/--no-explain", help="Include reasons."),
    out: Path | None = typer.Option(None, "--out", help="Write JSONL results here instead of stdout."),
) -> None:
    """Score shipment documents; invalid documents get an error line naming each bad field, the rest are scored."""
    import mlflow.pyfunc
    from pydantic import ValidationError

    from data.errors import InvalidInputError, UnavailableError, field_error
    from data.nomenclature import Nomenclature
    from data.settings import get_settings
    from data.shipments.schema import Shipment
    from models.advisories import load_rules
    from models.scoring import ShipmentScorer
    from training import registry

    if not file.exists():
        raise InvalidInputError(f"file not found: {file}", details=[field_error("file", "not found")])
    text = file.read_text(encoding="utf-8")
    try:
        docs = json.loads(text)
        docs = docs if isinstance(docs, list) else [docs]
    except json.JSONDecodeError:
        docs = []
        for i, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    docs.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise InvalidInputError(f"{file}:{i}: not JSON: {exc.msg}",
                                            details=[field_error(f"line {i}", exc.msg)]) from None
    settings = get_settings()
    registry.configure_mlflow(settings)
    natives = {}
    for name in ("clearance-delay", "clearance-risk"):
        try:
            natives[name] = mlflow.pyfunc.load_model(f"models:/{name}@{alias}").unwrap_python_model().native
        except Exception as exc:  # noqa: BLE001 - any registry failure means the model is not available
            raise UnavailableError(f"cannot load {name}@{alias}: {exc}; run `clearance train` first",
                                   details=[field_error(name, f"no version with alias {alias}")]) from None
    scorer = ShipmentScorer(natives["clearance-delay"], natives["clearance-risk"], load_rules(),
                            Nomenclature.default())
    sink = out.open("w", encoding="utf-8") if out else None
    n_ok = n_bad = 0
    try:
        for i, doc in enumerate(docs):
            try:
                shipment = Shipment.model_validate(doc)
            except ValidationError as exc:
                n_bad += 1
                errors = [field_error(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
                line = json.dumps({"index": i, "errors": errors}, ensure_ascii=False)
            else:
                n_ok += 1
                result = scorer.score(shipment, explain=explain)
                line = json.dumps({"index": i, "result": result.model_dump(mode="json")}, ensure_ascii=False)
            if sink:
                sink.write(line + "\n")
            else:
                typer.echo(line)
    finally:
        if sink:
            sink.close()
    typer.echo(f"scored {n_ok}, invalid {n_bad}", err=True)
