"""``clearance risk``: spec-driven training on any table, and scoring shipment files with the registered models."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import typer

app = typer.Typer(help="Risk models: spec-driven training on any table; score shipment files.", no_args_is_help=True)


@app.command()
def train(
    spec: Path | None = typer.Option(None, "--spec", help="Dataset spec YAML (e.g. data/specs/kcs-declarations.yaml)."),
    train_file: Path | None = typer.Option(None, "--train", help="Training table (CSV/TSV/Parquet/JSONL)."),
    valid_file: Path | None = typer.Option(None, "--valid",
                                           help="Validation table: tuning and early stopping use only it."),
    test_file: Path | None = typer.Option(None, "--test", help="Optional test table, evaluated once at the end."),
    json_out: Path | None = typer.Option(None, "--json", help="Write metrics per split (and tuning log) here."),
    register: bool = typer.Option(False, "--register/--no-register",
                                  help="Register the model in MLflow (alias challenger)."),
    name: str | None = typer.Option(None, "--name", help="Registered model name (default: the spec name)."),
    log: bool = typer.Option(True, "--log/--no-log", help="Log the run to MLflow."),
    from_store: bool = typer.Option(False, "--from-store", help=(
        "Train the delay and risk models on the store's shipments with outcomes (time split; no --spec/--train/"
        "--valid), register them as challengers.")),
    promote: bool = typer.Option(False, "--promote", help="With --from-store: promote each challenger that is no "
                                                          "worse than the champion on the newest outcomes."),
) -> None:
    """Train LightGBM on a table described by a spec, tune on valid, evaluate each split, log to MLflow; or, with
    --from-store, the delay and risk models on the store's own shipment history.

    With CLEARANCE_DASK_SCHEDULER set (docs/dask.md), --train may be a partitioned Parquet folder larger than memory:
    LightGBM trains on the cluster (lightgbm.dask) and the model is saved as plain local boosters.
    """
    from data.errors import InvalidInputError, field_error
    from data.settings import get_settings

    settings = get_settings()
    if from_store:
        _train_from_store(settings, promote, json_out)
        return
    if spec is None or train_file is None or valid_file is None:
        raise InvalidInputError("give --spec, --train and --valid (or --from-store)",
                                details=[field_error(n, "required without --from-store")
                                         for n, v in (("spec", spec), ("train", train_file), ("valid", valid_file))
                                         if v is None])
    from data.specs.schema import load_spec
    from training.cluster.client import dask_client
    from training.tabular import train_and_log_spec

    the_spec = load_spec(spec)
    with dask_client(settings) as client:
        result = train_and_log_spec(the_spec, train_file, valid_file, test_file, settings, register=register,
                                    name=name, log=log or register, client=client)
    payload = result.to_json()
    typer.echo(f"engine {payload['engine']}", err=True)
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


def _train_from_store(settings, promote: bool, json_out: Path | None) -> None:
    from training.pipeline import train_from_store

    results, promotions = train_from_store(settings, register=True, promote=promote)
    payload = {}
    for name, res in results.items():
        test = {k: round(v, 4) for k, v in res.metrics["test"].items() if isinstance(v, float)}
        payload[name] = {"version": res.version, "run_id": res.run_id, "split": res.metrics["split"], "test": test}
        typer.echo(f"{name}: registered v{res.version} (challenger) · test {json.dumps(test)}")
    for name, p in promotions.items():
        payload[name]["promoted"], payload[name]["promotion"] = p.promoted, p.reason
        typer.echo(f"{name}: {'champion' if p.promoted else 'not promoted'} v{p.to_version}: {p.reason}")
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(payload, indent=2, default=str))


#: Documents per ``score_documents`` call: large enough for the worker pool (``parallel_min_rows``) and for per-call
#: costs to vanish, small enough that memory stays bounded on files of millions of lines.
SCORE_CHUNK = 5000


def _load_scorer(settings, alias: str, workers: int):
    """The delay and risk models registered under ``alias``, composed as the service composes them (same rules, the
    store's nomenclature), as a scorer with ``workers`` extra processes."""
    from data.errors import ClearanceError, UnavailableError, field_error
    from models.names import DELAY, RISK
    from serving.served import load_served

    try:
        served = load_served(settings, alias, names=(DELAY, RISK), workers=workers)
        return served.scorer, served.version_map()
    except ClearanceError as exc:  # no registry, no version under the alias, a version that does not load
        raise UnavailableError(f"cannot load {DELAY} and {RISK} under alias '{alias}': {exc.message}; "
                               "run `clearance train` first",
                               details=[field_error(name, f"no loadable version with alias {alias}")
                                        for name in (DELAY, RISK)]) from None


def _read_documents(path: Path) -> tuple[int, str, Iterator[tuple[list, int]]]:
    """(progress total, its unit, chunks of (documents, progress done)) for a JSON document, a JSON list or JSONL.

    JSONL lines stay raw bytes (the scorer parses each one while validating it, and a line that is not JSON costs
    only itself) and are read one chunk at a time. A JSON list or a pretty-printed document is read whole: a JSON
    value cannot be split without parsing it, so big files should be JSONL.
    """
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        fh.seek(0)
        first_line = next((line for line in fh if line.strip()), b"")
    if head.startswith(b"[") or (head.startswith(b"{") and not _is_json(first_line)):
        try:
            value = json.loads(path.read_bytes().decode("utf-8-sig"))
        except ValueError:
            value = None  # not one JSON value either: read it as JSONL, where each bad line gets its own error
        if value is not None:
            docs = value if isinstance(value, list) else [value]
            return len(docs), "doc", ((docs[a:a + SCORE_CHUNK], min(a + SCORE_CHUNK, len(docs)) - a)
                                      for a in range(0, len(docs), SCORE_CHUNK))
    return path.stat().st_size, "B", _jsonl_chunks(path)


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line.decode("utf-8-sig"))
    except ValueError:
        return False
    return True


def _jsonl_chunks(path: Path) -> Iterator[tuple[list[bytes], int]]:
    chunk: list[bytes] = []
    consumed = 0
    with path.open("rb") as fh:
        for number, line in enumerate(fh):
            consumed += len(line)
            if number == 0 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            if line.isspace() or not line:
                continue
            chunk.append(line)
            if len(chunk) == SCORE_CHUNK:
                yield chunk, consumed
                chunk, consumed = [], 0
    if chunk or consumed:
        yield chunk, consumed


@app.command()
def score(
    file: Path = typer.Argument(..., help="Shipments: a JSON document, a JSON list, or JSONL (one per line)."),
    alias: str = typer.Option("champion", "--alias", help="Registry alias of the delay and risk models."),
    explain: bool = typer.Option(True, "--explain/--no-explain", help="Include reasons."),
    out: Path | None = typer.Option(None, "--out", help="Write JSONL results here instead of stdout (with Dask: a "
                                    "folder of Parquet parts)."),
    workers: int | None = typer.Option(
        None, "--workers", min=0,
        help="Extra scoring processes (default: settings score_workers, CLEARANCE_SCORE_WORKERS; 0: this process "
             "only). They take part with --no-explain: explanations are scored in this process."),
    report: Path | None = typer.Option(None, "--report", help="Write the JSON summary (engine, counts) here."),
) -> None:
    """Score shipment documents; invalid documents get an error line naming each bad field, the rest are scored.

    Output: one JSON line per document, ``{"index", "result"}`` or ``{"index", "errors": [{"field", "reason"}]}``
    (``index`` counts documents, blank lines excluded), then a summary on stderr. Scored shipments are kept in the
    store with their predictions (setting ``record_shipments``, CLEARANCE_RECORD_SHIPMENTS=false to skip). JSONL is read and scored in chunks
    of 5,000 with a progress bar on stderr.

    With CLEARANCE_DASK_SCHEDULER set (docs/dask.md), FILE is JSONL or Parquet (a file or a folder), the partitions
    are scored on the cluster and --out is a folder of Parquet parts (valid shipments only), with the invalid rows
    per partition in ``_errors.jsonl`` and the summary in ``_report.json``.
    """
    import sys
    import time

    from tqdm import tqdm

    from data.errors import InvalidInputError, field_error
    from data.settings import get_settings
    from training.cluster.client import dask_client

    if not file.exists():
        raise InvalidInputError(f"file not found: {file}", details=[field_error("file", "not found")])
    settings = get_settings()
    if settings.dask_scheduler and out is None:  # said before any cluster starts
        raise InvalidInputError("Dask scoring writes partitioned Parquet: give --out FOLDER",
                                details=[field_error("out", "required with CLEARANCE_DASK_SCHEDULER")])
    from data.store.db import open_store
    from features.congestion import current_congestion
    from serving.shipments.recording import record_scored

    engine = open_store(settings.database_url)
    with dask_client(settings) as client:
        if client is not None:
            from training.cluster.scoring import score_file_dask

            scorer, _ = _load_scorer(settings, alias, 0)  # the cluster is the parallelism: no process pool per worker
            scorer.congestion = current_congestion(engine)
            try:
                summary = score_file_dask(file, out, scorer, client, explain=explain)
            finally:
                scorer.close()
            _write_report(report, summary)
            typer.echo(f"engine dask · scored {summary['scored']}, invalid {summary['invalid']} in "
                       f"{summary['partitions']} partitions → {out} (not kept in the store)", err=True)
            return
    t0 = time.perf_counter()
    scorer, versions = _load_scorer(settings, alias, settings.score_workers if workers is None else workers)
    scorer.congestion = current_congestion(engine)  # the ports' figures now, as the service scores with
    total, unit, chunks = _read_documents(file)
    sink = out.open("w", encoding="utf-8") if out else sys.stdout
    n_ok = n_bad = index = 0
    try:
        with tqdm(total=total, unit=unit, unit_scale=unit == "B", desc="scoring", file=sys.stderr) as bar:
            for docs, done in chunks:
                scored = scorer.score_documents(docs, explain=explain) if docs else None
                errors: dict[int, list] = {}
                for e in scored.errors if scored else ():
                    errors.setdefault(e["index"], []).append({"field": e["field"], "reason": e["reason"]})
                lines = []
                for i, result in enumerate(scored.results if scored else ()):
                    if result is None:
                        n_bad += 1
                        lines.append(json.dumps({"index": index + i, "errors": errors.get(i) or [
                            {"field": "shipment", "reason": "not scored"}]}, ensure_ascii=False))
                    else:
                        n_ok += 1
                        # pydantic's own serializer: several times faster than model_dump + json.dumps per row
                        lines.append(f'{{"index": {index + i}, "result": {result.model_dump_json()}}}')
                index += len(docs)
                if scored is not None and settings.record_shipments:
                    record_scored(engine, docs, scored.results, versions, scorer.congestion, source="cli")
                if lines:
                    sink.write("\n".join(lines) + "\n")
                bar.update(done)
                bar.set_postfix(scored=n_ok, invalid=n_bad, refresh=False)
    finally:
        scorer.close()
        if out:
            sink.close()
        else:
            sink.flush()
    _write_report(report, {"engine": "local", "input": str(file), "out": str(out) if out else None, "scored": n_ok,
                           "invalid": n_bad, "seconds": round(time.perf_counter() - t0, 2)})
    typer.echo(f"scored {n_ok}, invalid {n_bad}", err=True)


def _write_report(path: Path | None, payload: dict) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False))
