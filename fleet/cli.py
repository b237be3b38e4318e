"""The ``fleet`` command line: the composition root wires each command group in.

Each group lives in ``fleet/commands/<group>.py`` as its own typer app, so a
group can grow without this file growing with it.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="fleet",
    help="deductions-fleet: portal robots for retailer deductions and carrier PODs.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold secrets
)

# (module, group name or None for top-level commands registered by the module)
_GROUPS: tuple[tuple[str, str | None], ...] = (
    ("fleet.commands.fixtures", "fixtures"),
    ("fleet.commands.credentials", "credentials"),
    ("fleet.commands.accounts", "accounts"),
    ("fleet.commands.imports", "import"),
    ("fleet.commands.demo", None),
    ("fleet.commands.health", None),
    ("fleet.commands.run", None),
    ("fleet.commands.db", "db"),
    ("fleet.commands.match", None),
    ("fleet.commands.approvals", None),
    ("fleet.commands.config", "config"),
    ("fleet.commands.retrieve", None),
    ("fleet.commands.scheduler", None),
    ("fleet.commands.disputes", "disputes"),
    ("fleet.commands.deductions", None),
    ("fleet.commands.serve", None),
    ("fleet.commands.notify", "notify"),
)


def _wire() -> None:
    for module_name, group in _GROUPS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # that group is not built yet
            raise
        if group is None:
            module.register(app)
        else:
            app.add_typer(module.app, name=group)


_wire()


@app.callback()
def main() -> None:
    """deductions-fleet: portal robots for retailer deductions and carrier PODs."""
    from records.private import private_umask

    private_umask()  # whatever this process creates is its owner's alone (0600 / 0700)
    setup_logging()


def setup_logging(*, log_file: bool = False) -> None:
    """One logging chain for every command, with the secret scrubber in it.

    Console lines go to stderr (stdout is for results, e.g. a TOTP code);
    commands that run bots also write JSON lines under the data dir.
    """
    from credentials.scrub import SecretScrubber
    from fleet.logging_setup import configure_logging
    from fleet.settings import get_settings

    settings = get_settings()
    configure_logging(
        level=settings.log_level,
        log_file=settings.data_dir / "logs" / "fleet.jsonl" if log_file else None,
        json_console=settings.log_json_console,
        extra=[SecretScrubber()],
    )


@app.command()
def version() -> None:
    """Print the installed version."""
    from importlib.metadata import version as dist_version

    typer.echo(dist_version("deductions-fleet"))


if __name__ == "__main__":
    app()
