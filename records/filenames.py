"""Safe file names for documents that arrive with hostile ones.

Portals serve names such as ``../../etc/passwd``, ``CON.pdf``, ``invoice\x00.pdf.exe``
or 400 characters of emoji. The vault never uses a served name as a path (files are
stored by sha256); :func:`sanitize_filename` produces the *display and download* name.
The original is kept only as metadata. The function is pure and idempotent:
``sanitize_filename(sanitize_filename(x)) == sanitize_filename(x)``.
"""

from __future__ import annotations

import re
import unicodedata

MAX_FILENAME_BYTES = 120

_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"COM{i}" for i in range(10)}
    | {f"LPT{i}" for i in range(10)}
    | {f"COM{c}" for c in "¹²³"}
    | {f"LPT{c}" for c in "¹²³"}
)
# Characters Windows refuses and characters that mean something to shells/URLs.
_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f-\x9f]')
_BIDI_AND_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]")
_SPACES = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_MAX_EXT_BYTES = 16


def _utf8_truncate(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` UTF-8 bytes without splitting a character."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    return raw[:limit].decode("utf-8", errors="ignore")


def sanitize_filename(
    name: str | None, default: str = "document", max_bytes: int = MAX_FILENAME_BYTES
) -> str:
    """Return a name safe on POSIX and Windows file systems and in a Content-Disposition.

    Path components and traversal are dropped (only the last component survives),
    control characters, NUL and bidi overrides go, reserved Windows device names get an
    underscore prefix, leading dots and trailing dots/spaces go, text is NFC-normalised
    and the result is capped at ``max_bytes`` UTF-8 bytes keeping a short extension.
    An empty result becomes ``default`` (itself sanitised).
    """
    if not name:
        return _fallback(default)
    text = unicodedata.normalize("NFC", str(name))
    text = _BIDI_AND_INVISIBLE.sub("", text)
    # Last path component under either separator convention.
    text = re.split(r"[/\\]", text)[-1]
    text = _SPACES.sub(" ", text)
    text = _FORBIDDEN.sub("_", text).strip()
    text = text.lstrip(". ").rstrip(". ")
    # "CON", "con.txt", "LPT1.tar.gz": the stem before the first dot is what Windows checks.
    if text.split(".", 1)[0].rstrip(" ").upper() in _WINDOWS_RESERVED:
        text = "_" + text
    if not text or set(text) <= {"_"}:
        return _fallback(default)
    if len(text.encode("utf-8")) > max_bytes:
        stem, dot, ext = text.rpartition(".")
        if dot and stem and 0 < len(ext.encode("utf-8")) <= _MAX_EXT_BYTES and " " not in ext:
            keep = max_bytes - len(ext.encode("utf-8")) - 1
            text = _utf8_truncate(stem, keep).rstrip(". ") + "." + ext
        else:
            text = _utf8_truncate(text, max_bytes)
        text = text.rstrip(". ")
        if not text:
            return _fallback(default)
    return text


def _fallback(default: str) -> str:
    if default and default != "document":
        return sanitize_filename(default, default="document")
    return "document"
