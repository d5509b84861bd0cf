"""The one ``clearance`` command. Each domain keeps its sub-commands in its own module under ``serving/cli/``.

Sub-command modules must stay cheap to import (heavy imports go inside the commands), so ``clearance --help`` is fast.
"""

from __future__ import annotations

import importlib
import sys

import typer

import data  # noqa: F401  (thread caps before any numeric library loads)
from data.errors import ClearanceError

app = typer.Typer(name="clearance", help="HS classification and clearance-risk service for 9710 exporters.",
                  no_args_is_help=True, pretty_exceptions_enable=False)

@app.callback()
def _root() -> None:
    """HS classification and clearance-risk service for 9710 exporters."""


# (module under serving.cli, group name). A module exposes ``app`` (a Typer group) or ``register(app)``.
GROUPS: list[tuple[str, str]] = [
    ("db", "db"),
    ("models", "models"),
    ("train", "train"),
    ("keys", "keys"),
    ("serve", "serve"),
    ("rulings", "rulings"),
    ("hs", "hs"),
    ("shipments", "shipments"),
    ("nomenclature", "nomenclature"),
    ("risk", "risk"),
]

for _module, _name in GROUPS:
    _mod = importlib.import_module(f"serving.cli.{_module}")
    if hasattr(_mod, "register"):
        _mod.register(app)
    else:
        app.add_typer(_mod.app, name=_name)


@app.command()
def version() -> None:
    """Print the clearance version."""
    from importlib.metadata import version as _v

    typer.echo(_v("clearance"))


def main() -> None:
    try:
        app()
    except ClearanceError as exc:
        # A domain error is the user's to fix: say what and where, never a traceback.
        typer.secho(f"error [{exc.code}]: {exc.message}", fg=typer.colors.RED, err=True)
        if exc.details:
            import json

            typer.echo(json.dumps(exc.details, ensure_ascii=False, indent=2, default=str), err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
