"""``clearance models``: list versions, show alias history, promote a challenger."""

from __future__ import annotations

import json

import typer

from models.names import RISK

app = typer.Typer(help="Registered model versions, promotion and alias history.", no_args_is_help=True)


def _settings():
    from data.settings import get_settings

    return get_settings()


@app.command("list")
def list_models(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """Every registered version with its aliases and stored evaluation metric."""
    from rich.console import Console
    from rich.table import Table

    from training import registry

    versions = registry.list_versions(_settings())
    if as_json:
        typer.echo(json.dumps([{**v.__dict__, "created_at": str(v.created_at)} for v in versions],
                              ensure_ascii=False, indent=2))
        return
    table = Table("model", "version", "aliases", "metric", "value", "run", "created")
    for v in versions:
        value = "" if v.primary_value is None else f"{v.primary_value:.4f}"
        table.add_row(v.name, str(v.version), ",".join(v.aliases), v.primary_metric or "", value,
                      (v.run_id or "")[:12], str(v.created_at or "")[:19])
    Console().print(table)


@app.command()
def history(name: str = typer.Argument(..., help=f"Registered model name, e.g. {RISK}."),
            as_json: bool = typer.Option(False, "--json")) -> None:
    """Every alias change of NAME: who, when, from → to, and the metrics behind it."""
    from rich.console import Console
    from rich.table import Table

    from training import registry

    changes = registry.history(name, _settings())
    if as_json:
        typer.echo(json.dumps([{"alias": c.alias, "action": c.action, "from": c.from_version, "to": c.to_version,
                                "actor": c.actor, "at": c.at.isoformat(), "forced": c.forced, "metrics": c.metrics,
                                "reason": c.reason} for c in changes], ensure_ascii=False, indent=2))
        return
    table = Table("when", "alias", "action", "from", "to", "who", "reason")
    for c in changes:
        table.add_row(c.at.isoformat(timespec="seconds"), c.alias, c.action, str(c.from_version or "-"),
                      str(c.to_version or "-"), c.actor, c.reason)
    Console().print(table)


@app.command()
def promote(name: str = typer.Argument(..., help="Registered model name."),
            force: bool = typer.Option(False, "--force", help="Promote even if the challenger is worse."),
            actor: str | None = typer.Option(None, help="Who promotes (default: the login name).")) -> None:
    """Move `champion` to the challenger when it is no worse on the stored evaluation metric."""
    from training import registry

    result = registry.promote(name, _settings(), actor=actor, force=force)
    if result.promoted:
        typer.secho(f"{name}: champion v{result.from_version or '-'} → v{result.to_version} ({result.reason})",
                    fg=typer.colors.GREEN)
    else:
        typer.secho(f"{name}: not promoted: {result.reason}. Use --force to override.", fg=typer.colors.YELLOW)
        raise typer.Exit(1)
