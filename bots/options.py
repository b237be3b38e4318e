"""Plain values the composition root hands down to the bots layer.

Settings are read once, by the faces (fleet/, web/); bots/ receives what it
needs as frozen values, so it never imports a higher layer and a test can
build a runtime without any settings machinery.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BrowserOptions:
    """How to launch the one Chromium of a process."""

    executable_path: Path | None = None  # None: Playwright's own build
    args: tuple[str, ...] = ()
    headless: bool = True
