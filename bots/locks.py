"""Never two sessions on one portal account at once.

Two robots logged into one account fight: the second login ends the first
session, and portals flag the pattern. Every job takes the account's lock
first.

``FileAccountLock`` is the embedded default: an ``flock`` on a file under the
data dir. The kernel drops it when the holding process dies, SIGKILL
included, so a crashed run never leaves the account locked. It covers every
process on one host; several hosts need a lock in a shared service (issue 5:
PostgreSQL advisory lock or Redis), behind the same ``AccountLock`` protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

from records.filelock import FileLock


class LockTimeout(TimeoutError):
    """The account stayed busy (another job holds it) for the whole wait."""


class AccountLock(Protocol):
    def hold(
        self, portal: str, account: str, *, wait_seconds: float = 0
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold the account's lock for the ``async with`` block or raise LockTimeout."""
        ...


class FileAccountLock:
    """flock-based account locks under ``root`` (one file per account)."""

    def __init__(self, root: Path, *, poll_seconds: float = 0.1) -> None:
        self.root = root
        self.poll_seconds = poll_seconds
        self._local: dict[str, asyncio.Lock] = {}

    def _path(self, portal: str, account: str) -> Path:
        # Hashed: account names are untrusted text and must not shape paths.
        digest = hashlib.sha256(f"{portal}\0{account}".encode()).hexdigest()[:32]
        return self.root / f"{portal[:32]}-{digest}.lock"

    @contextlib.asynccontextmanager
    async def hold(
        self, portal: str, account: str, *, wait_seconds: float = 0
    ) -> AsyncIterator[None]:
        key = f"{portal}\0{account}"
        # flock is per open file description: two jobs in one process need their own guard.
        local = self._local.setdefault(key, asyncio.Lock())
        deadline = time.monotonic() + wait_seconds
        try:
            await asyncio.wait_for(local.acquire(), timeout=max(wait_seconds, 0.001))
        except TimeoutError:
            raise LockTimeout(f"{portal} account is busy with another job") from None
        try:
            lock = FileLock(self._path(portal, account))
            while not lock.acquire(blocking=False):
                if time.monotonic() >= deadline:
                    raise LockTimeout(f"{portal} account is busy with another process")
                await asyncio.sleep(self.poll_seconds)
            try:
                yield
            finally:
                lock.release()
        finally:
            local.release()
