"""``fleet notify test`` and ``fleet notify status``: the notifications'
command-line face (scheduler/notify.py does the sending, from the
scheduler's housekeeping).

Exit codes: 0 every channel delivered, 1 a channel failed, 2 nothing is
configured or the configuration is wrong (the message says what to change).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from scheduler.notify import Channel

app = typer.Typer(
    help="Notifications by webhook and e-mail (the notifications table of fleet.toml).",
    no_args_is_help=True,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def _channels() -> list[Channel]:
    from fleet.config_loader import load_fleet
    from fleet.notifications import NotificationSetupError, channels_for

    config, settings = load_fleet()
    try:
        channels = channels_for(config, settings)
    except NotificationSetupError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    if not channels:
        err.print(
            "[red]error:[/] no notification channel: add a [notifications] table with "
            "webhook_url and/or email_to to fleet.toml (fleet.example.toml shows one)"
        )
        raise typer.Exit(2)
    return channels


@app.command("test")
def test() -> None:
    """Send one test notification through each configured channel; say, per
    channel, whether it was delivered. Health events and cursors are not touched."""
    from scheduler.notify import send_test

    failed = 0
    for channel, problem in send_test(_channels()):
        where = escape(channel.describe())
        if problem is None:
            out.print(f"{channel.name} {where}: [green]delivered[/]")
        else:
            failed += 1
            out.print(f"{channel.name} {where}: [red]failed[/] ({escape(problem)})")
    if failed:
        raise typer.Exit(1)


@app.command("status")
def status() -> None:
    """Each channel's last health event delivered, failures in a row, last error."""
    from fleet.config_loader import load_settings
    from store.db import init_db, session_factory
    from store.repositories.notifications import cursors

    db = session_factory(init_db(load_settings().resolved_database_url))
    with db() as s:
        rows = cursors(s)
    table = Table(title="Notification channels")
    for col in ("channel", "last event sent", "failures in a row", "last error", "updated"):
        table.add_column(col)
    for c in rows:
        table.add_row(
            c.channel,
            str(c.last_event_id),
            str(c.failures),
            escape(c.last_error or "-"),
            c.updated_at.isoformat(timespec="seconds"),
        )
    if not rows:
        table.add_row("nothing sent yet", "", "", "", "")
    out.print(table)


@app.callback()
def _group() -> None:
    """Notifications by webhook and e-mail (the notifications table of fleet.toml)."""
