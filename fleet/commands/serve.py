"""``fleet serve``: the web app (``web/``) over this fleet's store, with uvicorn.

The composition root builds the store's session factory and the document
vault from settings and hands them to ``web.app.create_app``; the app reads no
settings itself. People sign in with the passwords ``fleet users passwd`` (or
``users add --password-stdin``) sets; scripts use ``fleet users token``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from fleet.settings import Settings
    from web.config import WebConfig


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def web_config(settings: Settings, **overrides: Any) -> WebConfig:
    """The web app's config from settings: the store, the vault, the business day."""
    from store.db import init_db, session_factory
    from store.vault import DocumentVault
    from web.config import WebConfig

    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    db = session_factory(init_db(settings.resolved_database_url))
    return WebConfig(
        db=db, vault=DocumentVault(settings.data_dir / "vault"), today=settings.today, **overrides
    )


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port.")] = 8000,
    tls: Annotated[
        bool,
        typer.Option(
            "--behind-tls",
            help="Served over HTTPS (by a proxy): cookies get Secure and the __Host- prefix.",
        ),
    ] = False,
    idle_minutes: Annotated[
        int, typer.Option("--idle-minutes", min=1, help="Sign out after this long idle.")
    ] = 30,
) -> None:
    """Serve the web app: worklist, deductions, my approvals, disputes, /api/v1."""
    from datetime import timedelta

    import uvicorn

    from fleet.config_loader import load_settings
    from web.app import create_app

    settings = load_settings()
    app = create_app(web_config(settings, secure_cookies=tls, idle=timedelta(minutes=idle_minutes)))
    typer.echo(f"serving on http://{host}:{port}/ (Ctrl-C stops)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=tls)
