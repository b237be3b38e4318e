"""The dispute's text, from a Jinja2 template a user can edit.

Templates are plain files: the package's under ``dispute_filing/templates/
narrative/``, overridden by files of the same name under
``<data dir>/templates/disputes/`` (the analysts' own wording). The first that
exists of ``<portal>/<category>.j2``, ``<portal>/default.j2``,
``<category>.j2`` and ``default.j2`` is used (for an appeal:
``<portal>/appeal.j2``, then ``appeal.j2``). Templates run in Jinja2's
sandbox (a template file is user input) and see only the facts
(:mod:`dispute_filing.facts`) and the evidence names.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from dispute_filing.facts import Facts

OVERRIDE_DIR = Path("templates") / "disputes"
"""Where, under the data dir, a user's templates override the package's."""


def _money(value: Any) -> str:
    try:
        return f"{Decimal(value):,.2f}"
    except (ArithmeticError, TypeError, ValueError):
        return str(value)


def _environment(overrides: Path | None) -> SandboxedEnvironment:
    loaders: list[Any] = []
    if overrides is not None and overrides.is_dir():
        loaders.append(FileSystemLoader(str(overrides)))
    loaders.append(PackageLoader("dispute_filing", "templates/narrative"))
    env = SandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,  # plain text for a form field, never HTML
        undefined=StrictUndefined,
    )
    env.filters["money"] = _money
    return env


def template_names(portal: str, category: str, *, appeal: bool = False) -> list[str]:
    if appeal:  # an appeal says why the denial was wrong, whatever the category
        return [f"{portal}/appeal.j2", "appeal.j2"]
    return [f"{portal}/{category}.j2", f"{portal}/default.j2", f"{category}.j2", "default.j2"]


def render(facts: Facts, evidence: list[str], *, data_dir: Path | None = None) -> tuple[str, str]:
    """The narrative and the name of the template that wrote it."""
    env = _environment(data_dir / OVERRIDE_DIR if data_dir else None)
    names = template_names(facts.claim["portal"], facts.category, appeal=facts.appeal is not None)
    template = env.select_template(names)
    text = template.render(**facts.as_template_vars(), evidence=evidence)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    out: list[str] = []
    for line in lines:  # one blank line at most between paragraphs
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip(), str(template.name)


__all__ = ["OVERRIDE_DIR", "render", "template_names"]
