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
    ("fleet.commands.imports", "import"),
    ("fleet.commands.demo", None),
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


@app.command()
def version() -> None:
    """Print the installed version."""
    from importlib.metadata import version as dist_version

    typer.echo(dist_version("deductions-fleet"))


if __name__ == "__main__":
    app()
