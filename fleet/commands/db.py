"""``fleet db``: the store's schema (Alembic migrations)."""

from __future__ import annotations

from typing import Annotated

import typer

from records.private import private_dir

app = typer.Typer(help="Database schema: upgrade, downgrade, current.", no_args_is_help=True)


def _url() -> str:
    from fleet.config_loader import load_settings

    settings = load_settings()
    private_dir(settings.data_dir)
    return settings.resolved_database_url


@app.command()
def upgrade(rev: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Migrate the fleet database up (safe to run from several processes at once)."""
    from store.migrate import current_revision
    from store.migrate import upgrade as do_upgrade

    do_upgrade(_url(), rev)
    typer.echo(f"at revision {current_revision(_url())}")


@app.command()
def downgrade(rev: Annotated[str, typer.Argument(help="Target revision.")]) -> None:
    """Migrate down to a revision ("base" drops everything)."""
    from store.migrate import current_revision
    from store.migrate import downgrade as do_downgrade

    do_downgrade(_url(), rev)
    typer.echo(f"at revision {current_revision(_url())}")


@app.command()
def current() -> None:
    """Print the database's revision and the newest one this code knows."""
    from store.migrate import current_revision, head_revision

    typer.echo(f"database: {current_revision(_url())}, code: {head_revision()}")
