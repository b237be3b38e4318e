"""One Playwright driver and one Chromium per process; a fresh context per job.

Contexts are cheap (tens of MB) and isolated like browser profiles; a browser
is several times that. A context reused for hundreds of pages grows without
bound, so each job gets a new one and closes it when done. A semaphore puts a
ceiling on open contexts.

Everything the browser writes while it works lives under the data dir, in a
folder named for this process (``tmp/browser-<pid>``, mode 0700): downloads,
the live trace files (``traces``) and the Playwright driver's own temp dir
(``tmp``: its artifacts folder, Chromium's profile, upload buffers). Nothing
lands in the system temp dir but Chromium's singleton-socket folder (a socket
path may not pass 107 bytes, so it cannot follow a deep data dir; it holds no
data). A killed run's folder is recognised by its dead pid and removed at the
next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import structlog
from playwright.async_api import (
    Browser,
    BrowserContext,
    Playwright,
    StorageState,
    async_playwright,
)

from bots.options import BrowserOptions
from records.private import private_dir

log = structlog.get_logger(__name__)

STALE_SYSTEM_ARTIFACTS_SECONDS = 24 * 3600


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stray_browser_dirs(root: Path) -> list[Path]:
    """Remove download folders of dead fleet processes (and day-old system ones)."""
    removed: list[Path] = []
    if root.is_dir():
        for d in root.glob("browser-*"):
            try:
                pid = int(d.name.split("-", 1)[1])
            except ValueError:
                continue
            if pid != os.getpid() and not _pid_alive(pid):
                shutil.rmtree(d, ignore_errors=True)
                removed.append(d)
    tmp = Path(tempfile.gettempdir())
    cutoff = time.time() - STALE_SYSTEM_ARTIFACTS_SECONDS
    for d in tmp.glob("playwright-artifacts-*"):
        with contextlib.suppress(OSError):
            if d.stat().st_mtime < cutoff:
                shutil.rmtree(d, ignore_errors=True)
                removed.append(d)
    return removed


@contextlib.contextmanager
def _driver_temp_dir(path: Path) -> Iterator[None]:
    """The Playwright driver (Node) takes its temp dir from TMPDIR when it starts:
    point it into the data dir for the start, then put the environment back."""
    saved = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(path)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved


def _browser_env() -> dict[str, str | float | bool]:
    """Chromium's environment: the process's, without the keyring's password or
    key file (a page's process need not see them), with the system temp dir
    for its singleton socket (see the module doc)."""
    env: dict[str, str | float | bool] = {
        k: v for k, v in os.environ.items() if not k.startswith("FLEET_KEYRING_")
    }
    env["TMPDIR"] = tempfile.gettempdir()
    return env


class BrowserPool:
    """Hands out browser contexts from one shared Chromium.

    Use as ``async with BrowserPool(options, data_dir=...) as pool:`` then
    ``async with pool.context() as ctx:``. Safe for many concurrent jobs in
    one event loop; not shared across processes (each worker has its own).
    """

    def __init__(self, options: BrowserOptions, *, data_dir: Path, max_contexts: int = 4) -> None:
        if max_contexts < 1:
            raise ValueError("max_contexts must be at least 1")
        self.options = options
        self.max_contexts = max_contexts
        self._slots = asyncio.Semaphore(max_contexts)
        self._pw: Playwright | None = None
        self._browser: Browser | None = None
        self._start_lock = asyncio.Lock()
        self.open_contexts = 0
        self.contexts_created = 0
        self.scratch_dir = data_dir / "tmp" / f"browser-{os.getpid()}"
        self.downloads_dir = self.scratch_dir / "downloads"
        self.traces_dir = self.scratch_dir / "traces"

    async def __aenter__(self) -> BrowserPool:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        async with self._start_lock:
            if self._browser is not None:
                return
            removed = clean_stray_browser_dirs(self.scratch_dir.parent)
            if removed:
                log.info("browser_pool.cleaned_stray_dirs", count=len(removed))
            for d in (self.scratch_dir.parent, self.scratch_dir, self.downloads_dir):
                private_dir(d)
            private_dir(self.traces_dir)
            private_dir(self.scratch_dir / "tmp")
            with _driver_temp_dir(self.scratch_dir / "tmp"):
                self._pw = await async_playwright().start()
            path = self.options.executable_path
            self._browser = await self._pw.chromium.launch(
                executable_path=str(path) if path else None,
                args=list(self.options.args),
                headless=self.options.headless,
                downloads_path=str(self.downloads_dir),
                traces_dir=str(self.traces_dir),
                env=_browser_env(),
            )
            log.info(
                "browser_pool.started",
                browser=self._browser.version,
                max_contexts=self.max_contexts,
            )

    async def close(self) -> None:
        if self._browser is not None:
            with contextlib.suppress(Exception):
                await self._browser.close()
            self._browser = None
        if self._pw is not None:
            with contextlib.suppress(Exception):
                await self._pw.stop()
            self._pw = None
        shutil.rmtree(self.scratch_dir, ignore_errors=True)

    def drop_trace_files(self, name: str) -> None:
        """Remove a finished job's live trace files (``start_trace(ctx, name)``)."""
        for f in self.traces_dir.glob(f"{glob.escape(name)}*"):
            with contextlib.suppress(OSError):
                f.unlink()

    @contextlib.asynccontextmanager
    async def context(
        self, *, storage_state: dict[str, Any] | None = None, default_timeout_ms: float = 20_000
    ) -> AsyncIterator[BrowserContext]:
        """A new context for one job; waits for a free slot; always closed after."""
        if self._browser is None:
            await self.start()
        assert self._browser is not None
        async with self._slots:
            ctx = await self._browser.new_context(
                accept_downloads=True,
                # what ctx.storage_state() gave the session vault, read back
                storage_state=cast(StorageState | None, storage_state),
                locale="en-US",
                timezone_id="America/Chicago",
                viewport={"width": 1280, "height": 900},
            )
            ctx.set_default_timeout(default_timeout_ms)
            ctx.set_default_navigation_timeout(default_timeout_ms * 1.5)
            self.open_contexts += 1
            self.contexts_created += 1
            try:
                yield ctx
            finally:
                self.open_contexts -= 1
                with contextlib.suppress(Exception):
                    await ctx.close()
