"""``fleet serve``: the web app (``web/``) over this fleet's store, with uvicorn.

The composition root builds the store's session factory and the document
vault from settings and hands them to ``web.app.create_app``; the app reads no
settings itself. People sign in with the passwords ``fleet users passwd`` (or
``users add --password-stdin``) sets; scripts use ``fleet users token``.

``--workers N`` runs N uvicorn processes on one port: the app is built in each
by :func:`app_from_environment` from the same settings (sessions, lock-outs
and approvals live in the store, so any worker serves any user; the per-address
login rate limit is per worker). On a 2-core machine two workers serve ten busy
users about twice as fast as one (docs/performance.md)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from fastapi import FastAPI

    from fleet.settings import Settings
    from web.config import WebConfig

ENV_TLS = "FLEET_WEB_BEHIND_TLS"
ENV_IDLE = "FLEET_WEB_IDLE_MINUTES"
"""How ``fleet serve`` hands its options to the worker processes uvicorn starts
(they inherit its environment); not meant to be set by hand."""


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
        db=db,
        vault=DocumentVault(settings.data_dir / "vault"),
        today=settings.today,
        artifacts=settings.data_dir / "artifacts",
        data_dir=settings.data_dir,
        **overrides,
    )


def app_from_environment() -> FastAPI:
    """The app as ``fleet serve`` configured it, built in a uvicorn process
    (uvicorn's ``factory``): settings as the CLI reads them, options from
    :data:`ENV_TLS` and :data:`ENV_IDLE`."""
    from datetime import timedelta

    from fleet.config_loader import load_settings
    from web.app import create_app

    idle = timedelta(minutes=int(os.environ.get(ENV_IDLE, "30")))
    tls = os.environ.get(ENV_TLS) == "1"
    return create_app(web_config(load_settings(), secure_cookies=tls, idle=idle))


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
    workers: Annotated[
        int,
        typer.Option(
            "--workers", min=1, max=64, help="Server processes (about one per core serves most)."
        ),
    ] = 1,
) -> None:
    """Serve the web app: worklist, deductions, my approvals, disputes, /api/v1."""
    import uvicorn

    os.environ[ENV_TLS] = "1" if tls else "0"
    os.environ[ENV_IDLE] = str(idle_minutes)
    app_from_environment()  # settings, store and migrations checked here, before any worker
    plural = "es" if workers > 1 else ""
    typer.echo(
        f"serving on http://{host}:{port}/ ({workers} process{plural}; Ctrl-C stops)", err=True
    )
    uvicorn.run(
        f"{__name__}:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        proxy_headers=tls,
    )
