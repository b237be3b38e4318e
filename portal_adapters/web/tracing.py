"""A job's Playwright trace, and secrets typed with the trace paused.

Playwright writes a trace as it goes: every action and its parameters land in
a live ``.trace`` file under the browser's traces dir while the job runs, so a
``fill`` of a password would sit there in clear until the job ends, and for
ever after a SIGKILL. Every secret a portal asks for is therefore typed with
:func:`fill_secret`, which ends the trace's current chunk (discarding it: it
is never exported) before the fill and starts a new one after it. The kept
trace of a failed job shows what happened after the last secret was typed;
no trace ever holds one. A test scans the adapters for a ``fill`` of a
revealed secret (tests/hostile/test_secret_fills.py).

Only contexts started here (``start_trace``) are paused: a context with no
trace types its secrets directly.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import AsyncIterator
from pathlib import Path

from playwright.async_api import BrowserContext, Locator

from credentials.secret import Secret

_RECORDING: weakref.WeakSet[object] = weakref.WeakSet()  # the contexts' Tracing objects


async def start_trace(context: BrowserContext, name: str) -> None:
    """Trace the context's actions (no DOM snapshots, screenshots or sources);
    its files are named ``name*`` in the browser's traces dir."""
    await context.tracing.start(name=name, snapshots=False, screenshots=False, sources=False)
    _RECORDING.add(context.tracing)


async def stop_trace(context: BrowserContext, path: Path | None = None) -> None:
    """End the trace, exported to ``path`` (a zip), or discarded when None."""
    _RECORDING.discard(context.tracing)
    await context.tracing.stop(path=path)


def is_tracing(context: BrowserContext) -> bool:
    return context.tracing in _RECORDING


@contextlib.asynccontextmanager
async def untraced(context: BrowserContext) -> AsyncIterator[None]:
    """Nothing done inside is recorded: the trace's chunk so far is discarded
    (never exported) and a new chunk starts after."""
    tracing = context.tracing
    if tracing not in _RECORDING:
        yield
        return
    _RECORDING.discard(tracing)
    await tracing.stop_chunk()
    try:
        yield
    finally:
        await tracing.start_chunk()
        _RECORDING.add(tracing)


async def fill_secret(locator: Locator, secret: Secret) -> None:
    """Type a secret into a field; the trace never sees it."""
    async with untraced(locator.page.context):
        await locator.fill(secret.reveal())
