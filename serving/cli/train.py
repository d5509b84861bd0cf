"""``clearance train``: train or build every model, log the runs and register the new versions as challenger."""

from __future__ import annotations

import typer

app = typer.Typer(help="Train the demo models (HS suggester, delay, risk) and register them as challengers.")


def _run(only: list[str], skip_existing: bool, promote: bool, rulings_n: int, shipments_n: int, seed: int) -> None:
    from data.settings import get_settings
    from training.pipeline import train_all

    report = train_all(get_settings(), only=tuple(only), skip_existing=skip_existing, promote=promote,
                       rulings_n=rulings_n, shipments_n=shipments_n, seed=seed)
    for name in report.skipped:
        typer.echo(f"{name}: champion exists, skipped (--no-skip-existing retrains)")
    for name, result in report.trained.items():
        version = getattr(result, "version", None)
        typer.echo(f"{name}: registered v{version} as challenger (run {getattr(result, 'run_id', '?')})")
    for name, promotion in report.promotions.items():
        state = "champion" if promotion.promoted else "not promoted"
        typer.echo(f"{name}: {state} v{promotion.to_version}: {promotion.reason}")


_ONLY = typer.Option(["hs", "shipments"], "--only", help="What to train: hs, shipments (repeatable).")
_SKIP = typer.Option(False, "--skip-existing/--no-skip-existing", help="Skip models that already have a champion.")
_PROMOTE = typer.Option(False, "--promote", help="Promote each new challenger when it is no worse than the champion.")
_RULINGS = typer.Option(3600, "--rulings", help="Demo library size when the store is empty.")
_SHIPMENTS = typer.Option(200_000, "--shipments", help="Demo shipment history size, generated and imported only when "
                                                          "the store holds no outcomes (delay and risk train on the "
                                                          "store).")
_SEED = typer.Option(42, "--seed")


@app.callback(invoke_without_command=True)
def train(ctx: typer.Context, only: list[str] = _ONLY, skip_existing: bool = _SKIP, promote: bool = _PROMOTE,
          rulings: int = _RULINGS, shipments: int = _SHIPMENTS, seed: int = _SEED) -> None:
    """Train the whole demo (same as `clearance train all`)."""
    if ctx.invoked_subcommand is None:
        _run(only, skip_existing, promote, rulings, shipments, seed)


@app.command("all")
def train_all_cmd(only: list[str] = _ONLY, skip_existing: bool = _SKIP, promote: bool = _PROMOTE,
                  rulings: int = _RULINGS, shipments: int = _SHIPMENTS, seed: int = _SEED) -> None:
    """Train or build every model, log the runs, register the new versions as challenger."""
    _run(only, skip_existing, promote, rulings, shipments, seed)
