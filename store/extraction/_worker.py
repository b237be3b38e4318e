"""The child side of PDF extraction. Runs as ``python -m store.extraction._worker``.

It reads length-prefixed pickled jobs on stdin and writes pickled results on its own
copy of stdout (fd 1 is pointed at stderr so stray prints cannot corrupt the
channel). Limits that the parent cannot impose from outside are set here: the
address-space cap (RLIMIT_AS) and no core dumps. Everything pypdf raises is caught
and turned into a result; a MemoryError reports and then exits, so the parent replaces
a process whose heap may be in a bad state.

Only the parent is trusted to write to this process's stdin (pickle).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import pickle
import re
import struct
import sys
import time
import warnings
from typing import Any, BinaryIO

_HEADER = struct.Struct(">Q")
_SURROGATES = re.compile("[\ud800-\udfff]")


def read_frame(fh: BinaryIO) -> Any:
    header = fh.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    body = fh.read(size)
    if len(body) < size:
        return None
    return pickle.loads(body)  # noqa: S301 - the parent is the only writer


def write_frame(fh: BinaryIO, obj: Any) -> None:
    body = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    fh.write(_HEADER.pack(len(body)) + body)
    fh.flush()


def _clean(text: str) -> str:
    text = text.replace("\x00", "")
    return _SURROGATES.sub("\ufffd", text)


def _page_has_images(page: Any) -> bool:
    try:
        resources = page.get("/Resources")
        resources = resources.get_object() if resources is not None else None
        xobjects = resources.get("/XObject") if resources else None
        xobjects = xobjects.get_object() if xobjects is not None else None
        if xobjects:
            for ref in list(xobjects.values())[:50]:
                obj = ref.get_object()
                if obj.get("/Subtype") in ("/Image", "/Form"):
                    return True
        contents = page.get_contents()
        if contents is not None:
            data = contents.get_data()[:2_000_000]
            if b"BI" in data and b"ID" in data:
                return True
    except Exception:
        return False
    return False


def _describe(exc: BaseException) -> str:
    msg = str(exc).replace("\n", " ")[:300]
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def extract(data: bytes, opts: dict[str, Any]) -> dict[str, Any]:
    """Extract text from one PDF. Never raises (except MemoryError, handled by main)."""
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    started = time.monotonic()
    result: dict[str, Any] = {
        "status": "failed",
        "reason": "",
        "pages": [],
        "page_count": None,
        "layout_pages": None,
        "encrypted": False,
        "page_errors": 0,
        "truncated": False,
        "has_images": False,
    }
    max_pages: int = opts.get("max_pages", 200)
    max_chars: int = opts.get("max_chars", 5_000_000)
    want_layout: bool = opts.get("layout", False)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            result["encrypted"] = True
            opened = False
            for password in ["", *opts.get("passwords", ())]:
                try:
                    if reader.decrypt(password) != PasswordType.NOT_DECRYPTED:
                        opened = True
                        break
                except DependencyError as exc:
                    result.update(status="encrypted", reason=f"cannot decrypt: {_describe(exc)}")
                    return result
            if not opened:
                result.update(status="encrypted", reason="encrypted; no known password opens it")
                return result
        page_count = len(reader.pages)
        result["page_count"] = page_count
        if page_count == 0:
            result["reason"] = "no pages"
            return result
        todo = min(page_count, max_pages)
        pages: list[str] = []
        layout_pages: list[str] = []
        errors: list[str] = []
        chars = 0
        for i in range(todo):
            text = ""
            layout = ""
            try:
                page = reader.pages[i]
                text = _clean(page.extract_text() or "")
                if want_layout:
                    try:
                        layout = _clean(page.extract_text(extraction_mode="layout") or "")
                    except (MemoryError, RecursionError):
                        raise
                    except Exception:
                        layout = text
                if not result["has_images"] and not text.strip():
                    result["has_images"] = _page_has_images(page)
            except MemoryError:
                raise
            except FileNotDecryptedError as exc:
                result.update(status="encrypted", reason=_describe(exc))
                return result
            except Exception as exc:
                errors.append(f"page {i + 1}: {_describe(exc)}")
            chars += len(text) + len(layout)
            if chars > max_chars:
                result["truncated"] = True
                text = text[: max(0, max_chars - (chars - len(text) - len(layout)))]
                layout = ""
            pages.append(text)
            layout_pages.append(layout)
            if result["truncated"]:
                break
        result["pages"] = pages
        result["layout_pages"] = layout_pages if want_layout else None
        result["page_errors"] = len(errors)
        has_text = any(p.strip() for p in pages)
        if page_count > max_pages:
            result["status"] = "too_many_pages"
            result["reason"] = f"{page_count} pages; text read from the first {max_pages} only"
        elif errors and len(errors) == todo:
            result["reason"] = "; ".join(errors[:3])
        elif not has_text:
            result["status"] = "needs_ocr"
            result["reason"] = (
                "no text layer; pages carry images"
                if result["has_images"]
                else "no text on any page"
            )
            if errors:
                result["reason"] += f" ({len(errors)} pages unreadable)"
        else:
            result["status"] = "ok"
            if errors:
                result["reason"] = f"{len(errors)} of {todo} pages unreadable: {errors[0]}"
            elif result["truncated"]:
                result["reason"] = f"text truncated at {max_chars} characters"
    except (MemoryError, KeyboardInterrupt):
        raise
    except RecursionError as exc:
        result.update(status="failed", reason=f"structure nested too deeply: {_describe(exc)}")
    except Exception as exc:
        result.update(status="failed", reason=f"unreadable PDF: {_describe(exc)}")
    finally:
        result["elapsed_s"] = time.monotonic() - started
    return result


def _set_limits(memory_bytes: int | None) -> None:
    try:
        import resource
    except ImportError:  # not POSIX: wall time still bounds the child
        return
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if memory_bytes:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def main() -> None:
    chan_in = os.fdopen(os.dup(0), "rb")
    chan_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # prints and pypdf chatter go to stderr, never into the channel
    sys.stdout = sys.stderr
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    hello = read_frame(chan_in)
    if not isinstance(hello, dict):
        return
    _set_limits(hello.get("memory_bytes"))
    import pypdf  # noqa: F401 - import before "ready" so the first job's clock is fair

    write_frame(chan_out, {"ready": True, "pid": os.getpid()})
    while True:
        job = read_frame(chan_in)
        if job is None or job.get("stop"):
            return
        try:
            result = extract(job["data"], job.get("opts", {}))
        except MemoryError:
            job = None  # free the input before building the reply
            write_frame(
                chan_out,
                {
                    "status": "failed",
                    "reason": "memory limit exceeded",
                    "pages": [],
                    "page_count": None,
                    "fatal": True,
                },
            )
            return
        except RecursionError:
            write_frame(
                chan_out,
                {
                    "status": "failed",
                    "reason": "structure nested too deeply",
                    "pages": [],
                    "page_count": None,
                    "fatal": True,
                },
            )
            return
        except Exception as exc:
            result = {
                "status": "failed",
                "reason": f"extraction error: {_describe(exc)}",
                "pages": [],
                "page_count": None,
                "fatal": True,
            }
        write_frame(chan_out, result)


if __name__ == "__main__":
    main()
