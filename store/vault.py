"""Content-addressed document vault: raw bytes by sha256, written atomically.

Layout under ``root``::

    ab/cd/<sha256>             the document (mode 0600; directories 0700)
    .tmp/<host>.<pid>.<rand>   a write in progress (same file system, so rename is atomic)
    quarantine/<sha256>        the first ``max_bytes`` of an oversized download
    quarantine/<sha256>.json   a note: why, how much was kept, the names it came with

What it promises:

* **Atomic**: bytes go to a temp file, are fsync'ed, then renamed to the final name and
  the directory is fsync'ed. A crash at any point leaves either no file or the whole
  file under the final name, never a partial one. Stray temp files of dead writers are
  removed when a vault is opened.
* **Idempotent**: storing the same bytes twice stores them once (``created=False`` the
  second time); safe to retry after any failure.
* **Bounded**: nothing larger than ``max_bytes`` enters the vault. An oversized stream
  is cut at the cap; the prefix is kept in quarantine (nothing fetched is lost) and
  :class:`DocumentTooLarge` is raised.
* **Never trusts names or headers**: the media type is sniffed from the bytes, the file
  name is sanitised and kept only as metadata; the path is derived from the hash alone.

The vault needs no database: it returns :class:`StoredDocument` for a repository to
persist.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import socket
import time
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from records.filenames import sanitize_filename
from records.sniff import SNIFF_BYTES, extension_for, sniff_media_type

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
CHUNK = 1024 * 1024
FILE_MODE = 0o600
DIR_MODE = 0o700
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TMP_DIR = ".tmp"
_QUARANTINE_DIR = "quarantine"


class VaultError(Exception):
    """Base class of the vault's errors."""


class DocumentTooLarge(VaultError):
    """A document exceeded the vault's cap. The prefix up to the cap was kept.

    ``kept_sha256`` / ``kept_path`` name the quarantined prefix; ``kept_bytes`` is its
    length (equal to ``max_bytes``).
    """

    def __init__(
        self,
        *,
        max_bytes: int,
        kept_bytes: int,
        kept_sha256: str,
        kept_path: Path,
        original_filename: str | None,
    ) -> None:
        self.max_bytes = max_bytes
        self.kept_bytes = kept_bytes
        self.kept_sha256 = kept_sha256
        self.kept_path = kept_path
        self.original_filename = original_filename
        super().__init__(
            f"document exceeds the {max_bytes}-byte cap; the first {kept_bytes} bytes were "
            f"kept in quarantine as {kept_sha256}"
        )


class DocumentNotFound(VaultError, KeyError):
    """No document with that sha256 in the vault."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "document not found"


class InvalidDigest(VaultError, ValueError):
    """A sha256 argument that is not 64 lower-case hex digits (never used as a path)."""


@dataclass(frozen=True)
class StoredDocument:
    """What the vault knows about bytes it holds. Plain data for a repository to persist."""

    sha256: str
    size: int
    media_type: str  # sniffed from the bytes
    safe_filename: str  # for display and download; never used as a path
    path: Path
    created: bool  # False: the same bytes were already stored
    original_filename: str | None = None
    declared_type: str | None = None

    @property
    def type_mismatch(self) -> bool:
        """The server declared one type and served another (e.g. an HTML login page
        served as application/pdf)."""
        if not self.declared_type:
            return False
        declared = self.declared_type.split(";", 1)[0].strip().lower()
        if declared in ("", "application/octet-stream", "binary/octet-stream"):
            return False
        return declared != self.media_type


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_digest(sha256: str) -> str:
    if not isinstance(sha256, str) or not _SHA256.match(sha256):
        raise InvalidDigest(f"not a sha256 hex digest: {str(sha256)[:80]!r}")
    return sha256


class _Writer:
    """One write in progress: a temp file, a running hash, a byte count and a cap."""

    def __init__(self, vault: DocumentVault) -> None:
        self.vault = vault
        name = f"{vault._host}.{os.getpid()}.{secrets.token_hex(8)}"
        self.tmp_path = vault._tmp_dir / name
        fd = os.open(self.tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        self.file: IO[bytes] = os.fdopen(fd, "wb")
        self.hash = hashlib.sha256()
        self.size = 0
        self.head = bytearray()
        self.overflow = False
        self.closed = False

    def write(self, chunk: bytes) -> bool:
        """Append ``chunk``; False once the cap is reached (the rest is dropped)."""
        if not chunk:
            return True
        room = self.vault.max_bytes - self.size
        if len(chunk) > room:
            chunk = chunk[:room]
            self.overflow = True
        if chunk:
            self.file.write(chunk)
            self.hash.update(chunk)
            self.size += len(chunk)
            if len(self.head) < SNIFF_BYTES:
                self.head += chunk[: SNIFF_BYTES - len(self.head)]
        return not self.overflow

    def _close(self) -> None:
        if not self.closed:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            self.closed = True

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            if not self.closed:
                self.file.close()
                self.closed = True
        with contextlib.suppress(FileNotFoundError):
            self.tmp_path.unlink()

    def commit(self, original_filename: str | None, declared_type: str | None) -> StoredDocument:
        try:
            self._close()
            digest = self.hash.hexdigest()
            media_type = sniff_media_type(bytes(self.head))
            if self.overflow:
                raise self._quarantine(digest, media_type, original_filename, declared_type)
            final = self.vault.path_for(digest)
            created = True
            if final.exists() and final.stat().st_size == self.size:
                created = False
                self.tmp_path.unlink()
            else:
                self.vault._ensure_dir(final.parent)
                os.replace(self.tmp_path, final)
                _fsync_dir(final.parent)
        except BaseException:
            self.abort()
            raise
        safe = sanitize_filename(original_filename, default=f"document{extension_for(media_type)}")
        return StoredDocument(
            sha256=digest,
            size=self.size,
            media_type=media_type,
            safe_filename=safe,
            path=final,
            created=created,
            original_filename=original_filename,
            declared_type=declared_type,
        )

    def _quarantine(
        self,
        digest: str,
        media_type: str,
        original_filename: str | None,
        declared_type: str | None,
    ) -> DocumentTooLarge:
        qdir = self.vault._quarantine_dir
        self.vault._ensure_dir(qdir)
        target = qdir / digest
        os.replace(self.tmp_path, target)
        note = {
            "reason": "too_large",
            "max_bytes": self.vault.max_bytes,
            "kept_bytes": self.size,
            "sha256_of_prefix": digest,
            "media_type": media_type,
            "original_filename": original_filename,
            "safe_filename": sanitize_filename(original_filename),
            "declared_type": declared_type,
            "quarantined_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        note_tmp = self.vault._tmp_dir / f"{target.name}.{secrets.token_hex(4)}.json"
        fd = os.open(note_tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(note, fh, indent=2, ensure_ascii=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(note_tmp, qdir / f"{digest}.json")
        _fsync_dir(qdir)
        return DocumentTooLarge(
            max_bytes=self.vault.max_bytes,
            kept_bytes=self.size,
            kept_sha256=digest,
            kept_path=target,
            original_filename=original_filename,
        )


class DocumentVault:
    """Raw document bytes on disk, addressed by sha256. Safe for several processes
    (and hosts on shared storage) to write at once: the final rename is atomic and
    identical content is identical bytes."""

    def __init__(
        self,
        root: Path | str,
        max_bytes: int = DEFAULT_MAX_BYTES,
        *,
        stale_tmp_seconds: float = 3600.0,
    ) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.root = Path(root)
        self.max_bytes = max_bytes
        self._host = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:40] or "host"
        self._tmp_dir = self.root / _TMP_DIR
        self._quarantine_dir = self.root / _QUARANTINE_DIR
        self._ensure_dir(self.root)
        self._ensure_dir(self._tmp_dir)
        self.removed_stray_temps = self._clean_stray_temps(stale_tmp_seconds)

    # ------------------------------------------------------------------ writing

    def put(
        self,
        data: bytes | bytearray | memoryview | BinaryIO,
        original_filename: str | None = None,
        declared_type: str | None = None,
    ) -> StoredDocument:
        """Store bytes (or everything readable from a binary file object).

        Idempotent. Raises :class:`DocumentTooLarge` past the cap (prefix kept).
        """
        if isinstance(data, bytes | bytearray | memoryview):
            view = memoryview(data)
            chunks: Iterable[bytes] = (
                bytes(view[i : i + CHUNK]) for i in range(0, max(len(view), 1), CHUNK)
            )
        elif hasattr(data, "read"):
            chunks = iter(lambda: data.read(CHUNK), b"")
        else:
            raise TypeError(f"put() takes bytes or a binary file object, not {type(data)!r}")
        return self.put_stream(chunks, original_filename, declared_type)

    def put_stream(
        self,
        chunks: Iterable[bytes],
        original_filename: str | None = None,
        declared_type: str | None = None,
    ) -> StoredDocument:
        """Store a stream of byte chunks; stops reading at the cap."""
        writer = _Writer(self)
        try:
            for chunk in chunks:
                if not writer.write(bytes(chunk)):
                    break
        except BaseException:
            writer.abort()
            raise
        finally:
            close = getattr(chunks, "close", None)
            if callable(close):
                with contextlib.suppress(Exception):
                    close()
        return writer.commit(original_filename, declared_type)

    async def aput_stream(
        self,
        chunks: AsyncIterable[bytes] | Iterable[bytes],
        original_filename: str | None = None,
        declared_type: str | None = None,
    ) -> StoredDocument:
        """Async :meth:`put_stream` for downloads (e.g. an httpx/Playwright byte stream).

        Chunk writes go to the page cache and are not offloaded; the fsyncs and renames
        at the end run in a worker thread so the event loop is not held by the disk.
        """
        import asyncio

        if not isinstance(chunks, AsyncIterable):
            return await asyncio.to_thread(
                self.put_stream, chunks, original_filename, declared_type
            )
        writer = await asyncio.to_thread(_Writer, self)
        try:
            async for chunk in chunks:
                if not writer.write(bytes(chunk)):
                    break
        except BaseException:
            writer.abort()
            raise
        finally:
            aclose = getattr(chunks, "aclose", None)
            if callable(aclose):
                with contextlib.suppress(Exception):
                    await aclose()
        return await asyncio.to_thread(writer.commit, original_filename, declared_type)

    # ------------------------------------------------------------------ reading

    def path_for(self, sha256: str) -> Path:
        """Where the document with this digest lives (whether or not it exists)."""
        digest = _check_digest(sha256)
        return self.root / digest[:2] / digest[2:4] / digest

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def open(self, sha256: str) -> BinaryIO:
        """Open a stored document for reading. Raises :class:`DocumentNotFound`."""
        path = self.path_for(sha256)
        try:
            return path.open("rb")
        except FileNotFoundError:
            raise DocumentNotFound(f"no document {sha256} in the vault") from None

    def read_bytes(self, sha256: str) -> bytes:
        with self.open(sha256) as fh:
            return fh.read()

    def verify(self, sha256: str) -> bool:
        """Recompute the digest of a stored file: False if missing or corrupted."""
        h = hashlib.sha256()
        try:
            with self.open(sha256) as fh:
                for chunk in iter(lambda: fh.read(CHUNK), b""):
                    h.update(chunk)
        except DocumentNotFound:
            return False
        return h.hexdigest() == sha256

    def quarantine_note(self, sha256: str) -> dict[str, object] | None:
        """The note stored beside a quarantined prefix, or None."""
        path = self._quarantine_dir / f"{_check_digest(sha256)}.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def quarantine_path(self, sha256: str) -> Path:
        return self._quarantine_dir / _check_digest(sha256)

    # ------------------------------------------------------------------ housekeeping

    def _ensure_dir(self, path: Path) -> None:
        """Create ``path`` (and parents) with mode 0700, fsyncing each new directory's
        parent so the new entry survives a crash."""
        missing: list[Path] = []
        p = path
        while not p.exists():
            missing.append(p)
            if p.parent == p:
                break
            p = p.parent
        for d in reversed(missing):
            try:
                d.mkdir(mode=DIR_MODE)
            except FileExistsError:
                continue
            os.chmod(d, DIR_MODE)
            _fsync_dir(d.parent)

    def _clean_stray_temps(self, stale_seconds: float) -> int:
        """Remove temp files left by crashed writers: those of dead processes on this
        host, and any older than ``stale_seconds`` (writers on other hosts)."""
        removed = 0
        now = time.time()
        for entry in self._tmp_dir.iterdir():
            parts = entry.name.split(".")
            stale = False
            if len(parts) >= 3 and parts[0] == self._host and parts[1].isdigit():
                stale = not _pid_alive(int(parts[1]))
            if not stale:
                with contextlib.suppress(FileNotFoundError):
                    stale = now - entry.stat().st_mtime > stale_seconds
            if stale:
                with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                    entry.unlink()
                    removed += 1
        return removed


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
