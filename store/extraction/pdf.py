"""PDF text extraction in a child process that can be killed.

pypdf is pure Python and good, but a hostile or damaged PDF can make it loop, recurse,
allocate gigabytes or raise anything from ``AssertionError`` to ``TypeError``. So the
parsing never runs in the fleet's own process: a worker child (a plain
``python -m store.extraction._worker`` subprocess, which also works inside daemonic
Celery workers where ``multiprocessing`` may not fork) gets the bytes over a pipe,
runs with an address-space cap, and is killed if it overruns its wall time. After a
timeout or a crash the worker is replaced on the next job.

Promises: :meth:`PdfExtractor.extract` never raises for any input bytes and never
blocks longer than ``timeout`` (plus worker start-up on a cold or replaced worker);
every outcome is an :class:`ExtractionResult` with a status and a human reason.
Workers are reused, so a batch pays one process start, not one per document.
"""

from __future__ import annotations

import contextlib
import os
import queue
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from store.extraction._worker import _HEADER

DEFAULT_TIMEOUT_S = 20.0
DEFAULT_MAX_PAGES = 200
DEFAULT_MEMORY_BYTES = 1024 * 1024 * 1024
DEFAULT_MAX_CHARS = 5_000_000
STARTUP_TIMEOUT_S = 60.0
_PROJECT_ROOT = Path(__file__).resolve().parents[2]
_CHILD_ENV = frozenset(
    {
        "PATH",
        "LANG",
        "LC_ALL",
        "LC_CTYPE",
        "PYTHONPATH",
        "PYTHONHOME",
        "VIRTUAL_ENV",
        "TMPDIR",
        "SYSTEMROOT",
        "FLEET_EXTRACTION_DEBUG",
    }
)


class ExtractionStatus(StrEnum):
    ok = "ok"
    failed = "failed"  # unreadable: damaged beyond what pypdf recovers, or crashed
    needs_ocr = "needs_ocr"  # pages exist but carry no text (scans, photos of PODs)
    encrypted = "encrypted"  # no known password opens it; bytes are kept
    timeout = "timeout"  # the worker overran its wall time and was killed
    too_many_pages = "too_many_pages"  # over the page limit; the first pages are read


@dataclass(frozen=True)
class ExtractionResult:
    """What extraction made of one PDF. Plain data for a repository to persist."""

    status: ExtractionStatus
    reason: str = ""
    pages: list[str] = field(default_factory=list)
    page_count: int | None = None
    layout_pages: list[str] | None = None  # pypdf layout mode, when asked for
    encrypted: bool = False
    page_errors: int = 0
    truncated: bool = False
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status is ExtractionStatus.ok

    @property
    def text(self) -> str:
        """All page texts, pages separated by a form feed line."""
        return "\n\f\n".join(self.pages)

    @property
    def layout_text(self) -> str:
        """Layout-mode text when available (better for label/value fields), else plain."""
        if self.layout_pages is not None and any(p.strip() for p in self.layout_pages):
            return "\n\f\n".join(self.layout_pages)
        return self.text


@dataclass(frozen=True)
class ExtractionLimits:
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_pages: int = DEFAULT_MAX_PAGES
    memory_bytes: int | None = DEFAULT_MEMORY_BYTES
    max_chars: int = DEFAULT_MAX_CHARS


class _WorkerCrashed(Exception):
    pass


class _Worker:
    """One child process. Not thread-safe: the pool hands it to one caller at a time."""

    def __init__(self, memory_bytes: int | None) -> None:
        self.memory_bytes = memory_bytes
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def _start(self) -> None:
        # The child parses hostile bytes: it gets no secrets, only what Python needs.
        env = {k: v for k, v in os.environ.items() if k in _CHILD_ENV}
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_PROJECT_ROOT), env.get("PYTHONPATH", "")) if p
        )
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "store.extraction._worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            # FLEET_EXTRACTION_DEBUG=1 shows the worker's stderr (pypdf warnings, crashes).
            stderr=None if os.environ.get("FLEET_EXTRACTION_DEBUG") else subprocess.DEVNULL,
            env=env,
            close_fds=True,
            start_new_session=True,
        )
        self.starts += 1
        self._send({"memory_bytes": self.memory_bytes})
        reply = self._recv(time.monotonic() + STARTUP_TIMEOUT_S)
        if not (isinstance(reply, dict) and reply.get("ready")):
            self.kill()
            raise _WorkerCrashed("extraction worker failed to start")

    def _send(self, obj: Any) -> None:
        import pickle

        assert self.proc is not None
        assert self.proc.stdin is not None
        body = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.proc.stdin.write(_HEADER.pack(len(body)) + body)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as exc:
            raise _WorkerCrashed(f"worker gone ({exc})") from exc

    def _read_exact(self, n: int, deadline: float) -> bytes | None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        chunks: list[bytes] = []
        got = 0
        while got < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(fd, min(n - got, 1 << 20))
            if not chunk:
                raise _WorkerCrashed(self._death_note())
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def _recv(self, deadline: float) -> Any:
        """A reply, or None when the deadline passes first."""
        import pickle

        header = self._read_exact(_HEADER.size, deadline)
        if header is None:
            return None
        (size,) = _HEADER.unpack(header)
        # Once a reply has started, give it a moment to finish arriving.
        body = self._read_exact(size, max(deadline, time.monotonic() + 5.0))
        if body is None:
            return None
        return pickle.loads(body)  # noqa: S301 - written by our own child

    def _death_note(self) -> str:
        assert self.proc is not None
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "worker closed its output"
        if code < 0:
            return f"worker killed by signal {-code}"
        return f"worker exited with code {code}"

    def run(self, data: bytes, opts: dict[str, Any], timeout_s: float) -> dict[str, Any] | None:
        """Run one job. None on timeout (the worker is killed)."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        self._send({"data": data, "opts": opts})
        reply = self._recv(time.monotonic() + timeout_s)
        if reply is None:
            self.kill()
            return None
        if reply.get("fatal"):
            self.kill()
        return reply

    def kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, OSError):
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        for stream in (proc.stdin, proc.stdout):
            with contextlib.suppress(OSError, BrokenPipeError, ValueError):
                if stream is not None:
                    stream.close()

    def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(_WorkerCrashed):
                self._send({"stop": True})
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=2)
        self.kill()


class PdfExtractor:
    """A pool of reusable extraction workers.

    Thread-safe: ``extract`` may be called from several threads (or via ``aextract``
    from asyncio); each call borrows one worker. Workers start lazily and are
    replaced after a timeout, a crash or a memory blow-up. Use as a context manager
    or call :meth:`close`.
    """

    def __init__(self, workers: int = 1, limits: ExtractionLimits | None = None) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.limits = limits or ExtractionLimits()
        self._workers = [_Worker(self.limits.memory_bytes) for _ in range(workers)]
        self._idle: queue.Queue[_Worker] = queue.Queue()
        for w in self._workers:
            self._idle.put(w)
        self._closed = False
        self._lock = threading.Lock()

    @property
    def worker_starts(self) -> int:
        """How many worker processes have been started (replacements included)."""
        return sum(w.starts for w in self._workers)

    def extract(
        self,
        data: bytes,
        *,
        timeout_s: float | None = None,
        max_pages: int | None = None,
        layout: bool = False,
        passwords: Sequence[str] = (),
    ) -> ExtractionResult:
        """Extract text from PDF bytes. Never raises for bad input; see the statuses.

        ``passwords`` are tried after the empty password (they never appear in the
        result). ``layout`` adds pypdf's layout-mode text, better for label/value
        fields in tables, at roughly twice the cost.
        """
        if self._closed:
            raise RuntimeError("PdfExtractor is closed")
        limits = self.limits
        timeout = limits.timeout_s if timeout_s is None else timeout_s
        opts = {
            "max_pages": limits.max_pages if max_pages is None else max_pages,
            "max_chars": limits.max_chars,
            "layout": layout,
            "passwords": list(passwords),
        }
        started = time.monotonic()
        worker = self._idle.get()
        try:
            reply = worker.run(bytes(data), opts, timeout)
        except _WorkerCrashed as exc:
            worker.kill()
            return ExtractionResult(
                ExtractionStatus.failed,
                reason=f"extraction crashed: {exc}",
                elapsed_s=time.monotonic() - started,
            )
        finally:
            self._idle.put(worker)
        elapsed = time.monotonic() - started
        if reply is None:
            return ExtractionResult(
                ExtractionStatus.timeout,
                reason=f"no result within {timeout:g} s; worker killed",
                elapsed_s=elapsed,
            )
        return _to_result(reply, elapsed)

    async def aextract(self, data: bytes, **kwargs: Any) -> ExtractionResult:
        import asyncio

        return await asyncio.to_thread(self.extract, data, **kwargs)

    def extract_many(self, items: Iterable[bytes], **kwargs: Any) -> list[ExtractionResult]:
        """Extract a batch, using every worker in the pool; results in input order."""
        items = list(items)
        if len(self._workers) == 1 or len(items) <= 1:
            return [self.extract(d, **kwargs) for d in items]
        with ThreadPoolExecutor(max_workers=len(self._workers)) as ex:
            return list(ex.map(lambda d: self.extract(d, **kwargs), items))

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for w in self._workers:
            w.stop()

    def __enter__(self) -> PdfExtractor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


def _to_result(reply: dict[str, Any], elapsed: float) -> ExtractionResult:
    try:
        status = ExtractionStatus(reply.get("status", "failed"))
    except ValueError:
        status = ExtractionStatus.failed
    return ExtractionResult(
        status=status,
        reason=str(reply.get("reason", ""))[:1000],
        pages=list(reply.get("pages") or []),
        page_count=reply.get("page_count"),
        layout_pages=reply.get("layout_pages"),
        encrypted=bool(reply.get("encrypted", False)),
        page_errors=int(reply.get("page_errors", 0)),
        truncated=bool(reply.get("truncated", False)),
        elapsed_s=elapsed,
    )


def extract_pdf_text(data: bytes, **kwargs: Any) -> ExtractionResult:
    """One-off extraction (starts and stops a worker). Prefer a shared :class:`PdfExtractor`."""
    with PdfExtractor() as ex:
        return ex.extract(data, **kwargs)
