"""``clearance db``: the store's schema migrations (Alembic). The service refuses a store whose schema is behind."""

from __future__ import annotations

import typer

app = typer.Typer(help="The store's schema: apply migrations, show where it stands.", no_args_is_help=True)


def _engine():
    from data.settings import get_settings
    from data.store.db import make_engine

    return make_engine(get_settings().database_url)


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target migration (default: the newest).")) -> None:
    """Apply the schema migrations (idempotent). Run it after installing a new version, before starting the service."""
    from data.store.db import upgrade_store

    engine = _engine()
    before, after = upgrade_store(engine, revision)
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        typer.echo(f"{where}: already at schema revision {after}")
    else:
        typer.echo(f"{where}: schema revision {before or '(none)'} -> {after}")


@app.command()
def status() -> None:
    """Show the store's schema revision and the code's; exit 1 when they differ."""
    from data.store.db import head_revision, schema_revision

    engine = _engine()
    current, head = schema_revision(engine), head_revision()
    typer.echo(f"store {engine.url.render_as_string(hide_password=True)}: revision {current or '(none)'}; "
               f"code: {head}")
    if current != head:
        typer.echo("run `clearance db upgrade`", err=True)
        raise typer.Exit(1)
