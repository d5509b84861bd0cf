"""``clearance serve``: the API under uvicorn."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: str | None = typer.Option(None, "--host", help="Bind address (default: settings.host)."),
        port: int | None = typer.Option(None, "--port", min=1, max=65535, help="Port (default: settings.port)."),
        reload_interval: float | None = typer.Option(
            None, "--reload-interval", min=0.5, help="Seconds between registry polls (default: settings.reload_interval_s)."),
        log_level: str = typer.Option("info", "--log-level"),
    ) -> None:
        """Serve the champions over HTTP (loads them in the background; /readyz says when they are in)."""
        from data.settings import get_settings
        from serving.app import create_app
        from serving.logging import configure_logging

        settings = get_settings()
        updates = {k: v for k, v in {"host": host, "port": port, "reload_interval_s": reload_interval}.items()
                   if v is not None}
        if updates:
            settings = settings.model_copy(update=updates)
        configure_logging(log_level.upper())
        if settings.auth_disabled:
            typer.secho("auth is DISABLED (CLEARANCE_AUTH_DISABLED): local development only", fg="yellow", err=True)
        run_app(create_app(settings), settings, log_level)


def run_app(app, settings, log_level: str = "info") -> None:
    """Serve ``app`` under uvicorn until SIGINT/SIGTERM (also what bench/reliability.py runs)."""
    import uvicorn

    class _Server(uvicorn.Server):
        def handle_exit(self, sig, frame):
            # From the signal on: /readyz says 503 and new requests are refused with 503 + Retry-After, while the
            # requests in flight get shutdown_grace_s to finish (then 503, see serving.middleware).
            app.state.admission.draining = True
            super().handle_exit(sig, frame)

    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None, log_level=log_level,
                            access_log=False, timeout_graceful_shutdown=settings.shutdown_grace_s)
    _Server(config).run()
