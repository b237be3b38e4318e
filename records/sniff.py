"""Media type from the bytes, never from the server's Content-Type or the file name.

The classic failure this guards against: a portal whose session expired serves its
login page (HTML, status 200, ``Content-Type: application/pdf``) where the PDF
should be. Sniffing says ``text/html`` and the caller can treat the download as
failed instead of storing a "PDF" that is a web page.
"""

from __future__ import annotations

import csv
import re

PDF = "application/pdf"
ZIP = "application/zip"
PNG = "image/png"
JPEG = "image/jpeg"
GIF = "image/gif"
TIFF = "image/tiff"
HTML = "text/html"
XML = "application/xml"
CSV = "text/csv"
TEXT = "text/plain"
JSON = "application/json"
GZIP = "application/gzip"
OLE = "application/x-ole-storage"  # legacy .xls/.doc
OCTET = "application/octet-stream"
EMPTY = "application/x-empty"

SNIFF_BYTES = 8192

_HTML_MARKERS = re.compile(
    rb"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]|<script[\s>]|<title[\s>]"
    rb"|<meta[\s>]|<form[\s>]|<iframe[\s>]|<div[\s>]|<table[\s>]|<a\s+href",
    re.IGNORECASE,
)

_EXTENSIONS = {
    PDF: ".pdf",
    ZIP: ".zip",
    PNG: ".png",
    JPEG: ".jpg",
    GIF: ".gif",
    TIFF: ".tif",
    HTML: ".html",
    XML: ".xml",
    CSV: ".csv",
    TEXT: ".txt",
    JSON: ".json",
    GZIP: ".gz",
    OLE: ".bin",
    OCTET: ".bin",
    EMPTY: ".bin",
}


def extension_for(media_type: str) -> str:
    """The conventional extension (with dot) for a sniffed media type."""
    return _EXTENSIONS.get(media_type, ".bin")


def sniff_media_type(data: bytes) -> str:
    """Guess the media type of ``data`` from its first bytes.

    Only the first :data:`SNIFF_BYTES` are looked at. PDF is recognised when ``%PDF-``
    appears in the first 1024 bytes (readers accept leading junk there, and so do we).
    Text is classified as HTML, XML, JSON, CSV or plain; anything else is
    ``application/octet-stream``.
    """
    if not data:
        return EMPTY
    head = bytes(data[:SNIFF_BYTES])
    if head.startswith(b"%PDF-"):
        return PDF
    # Before the lenient PDF check: a ZIP that stores a PDF uncompressed has
    # "%PDF-" in its first kilobyte too, and is still a ZIP.
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return ZIP
    if b"%PDF-" in head[:1024]:
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return TIFF
    if head.startswith(b"\x1f\x8b"):
        return GZIP
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return OLE
    text = _decode_text(head)
    if text is None:
        return OCTET
    return _classify_text(text)


def _decode_text(head: bytes) -> str | None:
    """Decode ``head`` if it looks like text (BOM-aware); None for binary."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return head.decode("utf-16")
        except UnicodeDecodeError:
            return head[2:].decode("utf-16", errors="ignore")
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:  # a character cut by the sniff window
            text = head[: exc.start].decode("utf-8")
        else:
            text = head.decode("latin-1")
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
    if controls > max(2, len(text) // 100):
        return None
    return text


def _classify_text(text: str) -> str:
    stripped = text.lstrip()
    lowered = stripped[:1024].lower()
    encoded = text.encode("utf-8", errors="ignore")
    if lowered.startswith(("<!doctype html", "<html")) or _HTML_MARKERS.search(encoded[:4096]):
        return HTML
    if lowered.startswith("<?xml") or (lowered.startswith("<") and not lowered.startswith("<<")):
        return XML
    if stripped[:1] in "{[" and stripped:
        return JSON
    if _looks_like_csv(text):
        return CSV
    return TEXT


def _looks_like_csv(text: str) -> bool:
    raw_lines = text.splitlines()
    if len(raw_lines) > 2 and not text.endswith(("\n", "\r")):
        raw_lines = raw_lines[:-1]  # the last line may be cut by the sniff window
    lines = [ln for ln in raw_lines if ln.strip()][:20]
    if len(lines) < 2:
        return False
    for delim in (",", ";", "\t", "|"):
        try:
            widths = [len(row) for row in csv.reader(lines, delimiter=delim)]
        except csv.Error:
            continue
        if widths and widths[0] >= 2 and all(w == widths[0] for w in widths):
            return True
    return False
