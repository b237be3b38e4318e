"""What a failed job leaves for a person to look at: a screenshot, the page's
HTML and a Playwright trace, with secrets masked, under the data dir.

Playwright traces record typed text, so secrets are typed with the trace
paused (portal_adapters/web/tracing.py) and never enter one; the trace is
kept only on failure and still rewritten member by member through the
scrubber (a portal may echo a secret in a page) before it lands on disk; the HTML has
every input value removed and is scrubbed too; the screenshot masks password
and one-time-code fields. Files are mode 0600; old runs are pruned.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import time
import zipfile
from pathlib import Path

import structlog
from playwright.async_api import BrowserContext, Page

from credentials.scrub import scrub_bytes, scrub_text
from portal_adapters.web import stop_trace

log = structlog.get_logger(__name__)

SECRET_FIELDS = (
    "input[type=password], input[autocomplete=one-time-code], input[name*=code i], "
    "input[name*=otp i], input[name*=answer i], input[name*=token i], input[name*=key i]"
)
_INPUT_VALUE = re.compile(r"(<input\b[^>]*?\bvalue\s*=\s*)(\"[^\"]*\"|'[^']*'|[^\s>]+)", re.I)
_TEXTAREA = re.compile(r"(<textarea\b[^>]*>)(.*?)(</textarea>)", re.I | re.S)
MAX_HTML_BYTES = 5 * 1024 * 1024


def strip_form_values(html: str) -> str:
    """Remove every input value and textarea body: forms may hold secrets."""
    html = _INPUT_VALUE.sub(r'\1""', html)
    return _TEXTAREA.sub(r"\1\3", html)


def scrub_zip(data: bytes) -> bytes:
    """Rewrite a zip (a trace) with every member's bytes scrubbed."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            if info.is_dir():
                continue
            body = src.read(info)
            if not info.filename.endswith((".png", ".jpeg", ".jpg", ".webp")):
                body = scrub_bytes(body)
            dst.writestr(info.filename, body)
    return out.getvalue()


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def run_path(root: Path, portal: str, run_id: str) -> Path:
    """Where a run's artifacts live under ``root`` (portal text never becomes a
    path as it is: both parts are reduced to safe characters). Readers (the web
    app's ops page) and the keeper share it."""
    safe_portal = re.sub(r"[^a-z0-9_]", "_", portal.lower())[:40]
    safe_run = re.sub(r"[^A-Za-z0-9_-]", "_", run_id)[:64]
    return root / safe_portal / safe_run


class ArtifactKeeper:
    """Stores failure artifacts per run: ``<root>/<portal>/<run_id>/``."""

    def __init__(self, root: Path, *, keep_days: float = 14, keep_runs: int = 200) -> None:
        self.root = root
        self.keep_days = keep_days
        self.keep_runs = keep_runs

    def run_dir(self, portal: str, run_id: str) -> Path:
        d = run_path(self.root, portal, run_id)
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        return d

    async def capture(
        self,
        portal: str,
        run_id: str,
        context: BrowserContext,
        page: Page | None,
        *,
        trace_running: bool,
    ) -> Path:
        """Save what the failed job saw. Never raises: artifacts are best effort."""
        d = self.run_dir(portal, run_id)
        if page is not None and not page.is_closed():
            with contextlib.suppress(Exception):
                shot = await page.screenshot(
                    full_page=True, mask=[page.locator(SECRET_FIELDS)], timeout=10_000
                )
                _write_private(d / "screenshot.png", shot)
            with contextlib.suppress(Exception):
                html = strip_form_values(await page.content())
                _write_private(d / "page.html", scrub_text(html).encode("utf-8")[:MAX_HTML_BYTES])
        if trace_running:
            raw = d / "trace.raw.zip"
            try:
                await stop_trace(context, raw)
                _write_private(d / "trace.zip", scrub_zip(raw.read_bytes()))
            except Exception as exc:  # the trace is a bonus; the failure is the story
                log.warning("artifacts.trace_failed", error_class=type(exc).__name__)
            finally:
                raw.unlink(missing_ok=True)
        self.prune(portal)
        return d

    def prune(self, portal: str) -> int:
        base = self.root / re.sub(r"[^a-z0-9_]", "_", portal.lower())[:40]
        if not base.is_dir():
            return 0
        runs = sorted((p for p in base.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
        cutoff = time.time() - self.keep_days * 86400
        doomed = [p for p in runs if p.stat().st_mtime < cutoff]
        doomed += [p for p in runs[: max(0, len(runs) - self.keep_runs)] if p not in doomed]
        for p in doomed:
            shutil.rmtree(p, ignore_errors=True)
        return len(doomed)
