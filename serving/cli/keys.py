"""``clearance keys``: create, list and revoke API keys. The plaintext key is printed once, at creation."""

from __future__ import annotations

import json

import typer

app = typer.Typer(help="API keys for the service (scopes: suggest, score, admin).", no_args_is_help=True)


def _engine():
    from data.settings import get_settings
    from data.store.db import open_store

    return open_store(get_settings().database_url)


@app.command()
def create(
    name: str = typer.Option(..., "--name", help="A unique name for who or what uses the key."),
    scope: list[str] = typer.Option(..., "--scope", help="suggest, score or admin; repeat for several."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (key included) instead of text."),
) -> None:
    """Create a key; it is shown only now (the store keeps its hash)."""
    from data.store.keys import create_key

    record, key = create_key(_engine(), name, scope)
    if as_json:
        typer.echo(json.dumps({"name": record.name, "key_id": record.key_id, "scopes": list(record.scopes),
                               "key": key}))
        return
    typer.echo(f"API key '{record.name}' (id {record.key_id}, scopes: {', '.join(record.scopes)}):")
    typer.echo(key)
    typer.echo("Store it now: it cannot be shown again. Send it as 'Authorization: Bearer <key>' or 'X-API-Key'.",
               err=True)


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """Every key (never the key itself): name, id, scopes, created, revoked."""
    from data.store.keys import list_keys

    keys = list_keys(_engine())
    if as_json:
        typer.echo(json.dumps([{"name": k.name, "key_id": k.key_id, "scopes": list(k.scopes),
                                "created_at": k.created_at.isoformat(),
                                "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None} for k in keys]))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "id", "scopes", "created", "revoked")
    for k in keys:
        table.add_row(k.name, k.key_id, ",".join(k.scopes), str(k.created_at)[:19],
                      str(k.revoked_at)[:19] if k.revoked_at else "")
    Console().print(table)


@app.command()
def revoke(name_or_id: str = typer.Argument(..., help="The key's name or id.")) -> None:
    """Revoke a key; requests with it get 401 (within the service's few-second key cache)."""
    from data.store.keys import revoke_key

    record = revoke_key(_engine(), name_or_id)
    typer.echo(f"revoked '{record.name}' (id {record.key_id}) at {record.revoked_at:%Y-%m-%d %H:%M:%S}")
