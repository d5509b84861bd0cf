"""``clearance shipments``: generate a synthetic 9710 history, check shipment documents from files."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

app = typer.Typer(help="9710 shipments: synthetic history and document checks.", no_args_is_help=True)


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
