"""Serving stored documents safely: the content type comes from the bytes, not
from the portal's word or the file name; every response is a download
(``Content-Disposition: attachment``) unless it is a PDF asked for inline, with
``nosniff`` and a sandboxing CSP, so a document never runs in the app's origin.
CSV files are also read into rows for a table in the page (bounded)."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from urllib.parse import quote

MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)
MAX_CSV_ROWS = 500
MAX_CSV_COLUMNS = 50
MAX_CELL = 500


def sniff(head: bytes, filename: str = "") -> str:
    """The media type the first bytes show; text is ``text/csv`` (a ``.csv`` name)
    or ``text/plain``, never HTML; anything else ``application/octet-stream``."""
    for magic, media in MAGIC:
        if head.startswith(magic):
            return media
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not a multi-byte character cut at the end
            return "application/octet-stream"
    if b"\x00" in head:
        return "application/octet-stream"
    return "text/csv" if filename.lower().endswith(".csv") else "text/plain"


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


def disposition(filename: str, *, inline: bool = False) -> str:
    """A Content-Disposition header: an ASCII fallback name and the UTF-8 one
    (RFC 6266 / 5987); no quotes, path parts, controls or bidi characters."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")[:150] or "document"
    ascii_name = _UNSAFE_NAME.sub("_", name).strip(" .") or "document"
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def document_headers(media_type: str, filename: str, *, inline: bool) -> dict[str, str]:
    return {
        "Content-Type": media_type + ("; charset=utf-8" if media_type.startswith("text/") else ""),
        "Content-Disposition": disposition(filename, inline=inline),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "Cache-Control": "private, no-store",
    }


def csv_rows(data: bytes) -> tuple[list[list[str]], bool]:
    """(rows, cut): the CSV's rows as text (bounded in rows, columns and cell
    length); ``cut`` when something was left out."""
    text = data.decode("utf-8-sig", errors="replace")
    rows: list[list[str]] = []
    cut = False
    try:
        for row in csv.reader(io.StringIO(text)):
            if len(rows) >= MAX_CSV_ROWS:
                cut = True
                break
            if len(row) > MAX_CSV_COLUMNS:
                row, cut = row[:MAX_CSV_COLUMNS], True
            rows.append([c[:MAX_CELL] for c in row])
    except csv.Error:
        cut = True
    return rows, cut


__all__ = ["csv_rows", "disposition", "document_headers", "sniff"]
