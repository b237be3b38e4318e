"""No adapter types a secret with a plain ``fill``: every revealed secret goes
through ``fill_secret`` (portal_adapters/web/tracing.py), which pauses the
Playwright trace, so no live or kept trace file ever holds it."""

from __future__ import annotations

import ast
from pathlib import Path

import portal_adapters

ROOT = Path(portal_adapters.__file__).parent


def _reveals(node: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "reveal"
        for n in ast.walk(node)
    )


def _plain_secret_fills(source: str) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"fill", "type", "press_sequentially", "insert_text"}
        and any(_reveals(a) for a in [*node.args, *(k.value for k in node.keywords)])
    ]


def test_the_scan_sees_a_plain_fill_of_a_secret() -> None:
    assert _plain_secret_fills("await page.fill(creds.password.reveal())") == [1]
    assert _plain_secret_fills("await fill_secret(locator, creds.password)") == []


def test_every_secret_is_typed_with_the_trace_paused() -> None:
    found = {
        str(p.relative_to(ROOT)): lines
        for p in sorted(ROOT.rglob("*.py"))
        if p.name != "tracing.py" and (lines := _plain_secret_fills(p.read_text()))
    }
    assert found == {}
