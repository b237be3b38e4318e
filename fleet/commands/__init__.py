"""One typer sub-app per command group; fleet/cli.py wires them together."""
