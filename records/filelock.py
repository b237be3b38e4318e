"""One file lock for every process-wide critical section on one host.

``flock(2)`` on a file (created 0600 with its folder 0700) or on a folder: the
kernel drops the lock when the holder's process dies, so a SIGKILLed job
never leaves a lock behind. It is advisory and per open file description:
two holders in one process need their own guard (bots/locks.py keeps an
asyncio lock beside it). On a system without ``fcntl`` the lock does nothing,
as there is nothing to share a host with.

Used by the account lock (bots/locks.py), the standby scheduler's lock
(scheduler/leader.py), the keyring index (credentials/keyring_vault.py) and
fleet.toml edits (fleet/config_edit.py).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]  # no flock there: the lock does nothing


class FileLock:
    """An flock on ``path`` (a file, created if missing, or a folder)."""

    __slots__ = ("_fd", "path", "shared")

    def __init__(self, path: Path, *, shared: bool = False) -> None:
        self.path = path
        self.shared = shared
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _open(self) -> int:
        if self.path.is_dir():
            return os.open(self.path, os.O_RDONLY)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)

    def acquire(self, *, blocking: bool = True) -> bool:
        """Take the lock; without ``blocking``, False at once when someone holds it."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already locked by this holder")
        fd = self._open()
        if fcntl is None:  # pragma: no cover
            self._fd = fd
            return True
        mode = fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX
        try:
            fcntl.flock(fd, mode if blocking else mode | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        """Let go (closing the file releases the lock too). Safe to repeat."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if fcntl is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def locked(path: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold the lock on ``path`` for the block (waits for it)."""
    with FileLock(path, shared=shared):
        yield


__all__ = ["FileLock", "locked"]
