"""The process-wide registry of secret values that must never appear in output.

Every :class:`~credentials.secret.Secret` registers its value here when it is made or
revealed, so the log scrubber and :func:`~credentials.scrub.scrub_text` can mask the
value even after it has left its wrapper (a password typed into a form and echoed
back in portal HTML, a cookie value inside an exception message).

The registry only grows by registration and is bounded: the oldest values are
forgotten past :data:`MAX_ENTRIES`, so a long-running worker does not leak memory.
Values shorter than :data:`MIN_LENGTH` are not registered: masking every "1" or
"en" in every log line would destroy the logs and protect nothing.
"""

from __future__ import annotations

import html
import json
import re
import threading
from collections import OrderedDict
from urllib.parse import quote, quote_plus

MASK = "**********"
MIN_LENGTH = 4
MAX_ENTRIES = 10_000


def _variants(value: str) -> set[str]:
    """The value and the encodings it commonly turns up in (URL, form, HTML, JSON)."""
    out = {value, quote(value, safe=""), quote_plus(value), html.escape(value, quote=True)}
    out.add(json.dumps(value)[1:-1])
    out.add(json.dumps(value, ensure_ascii=False)[1:-1])
    return {v for v in out if len(v) >= MIN_LENGTH}


class SecretRegistry:
    """A thread-safe, bounded set of secret strings with a compiled matcher."""

    __slots__ = ("_bytes_pattern", "_lock", "_pattern", "_values", "max_entries")

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._lock = threading.Lock()
        self._values: OrderedDict[str, None] = OrderedDict()
        self._pattern: re.Pattern[str] | None = None
        self._bytes_pattern: re.Pattern[bytes] | None = None
        self.max_entries = max_entries

    def __repr__(self) -> str:
        return f"<SecretRegistry entries={len(self._values)}>"

    def __len__(self) -> int:
        return len(self._values)

    def register(self, value: str) -> None:
        """Remember ``value`` (and its URL/HTML/JSON encodings). Idempotent."""
        if not isinstance(value, str) or len(value) < MIN_LENGTH:
            return
        variants = _variants(value)
        with self._lock:
            changed = False
            for v in variants:
                if v in self._values:
                    self._values.move_to_end(v)
                else:
                    self._values[v] = None
                    changed = True
            while len(self._values) > self.max_entries:
                self._values.popitem(last=False)
                changed = True
            if changed:
                self._pattern = None
                self._bytes_pattern = None

    def clear(self) -> None:
        """Forget every value (tests; never needed in production)."""
        with self._lock:
            self._values.clear()
            self._pattern = None
            self._bytes_pattern = None

    def _compiled(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._pattern is None and self._values:
                # Longest first, so a secret containing another is masked whole.
                alts = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(v) for v in alts))
            return self._pattern

    def _compiled_bytes(self) -> re.Pattern[bytes] | None:
        with self._lock:
            if self._bytes_pattern is None and self._values:
                alts = sorted({v.encode("utf-8") for v in self._values}, key=len, reverse=True)
                self._bytes_pattern = re.compile(b"|".join(re.escape(v) for v in alts))
            return self._bytes_pattern

    def scrub(self, text: str, mask: str = MASK) -> str:
        """``text`` with every registered value replaced by ``mask``."""
        if not text:
            return text
        pattern = self._compiled()
        if pattern is None:
            return text
        return pattern.sub(mask, text)

    def scrub_bytes(self, data: bytes, mask: bytes = MASK.encode()) -> bytes:
        """Like :meth:`scrub` on UTF-8 bytes (HTML snapshots, HAR files)."""
        if not data:
            return data
        pattern = self._compiled_bytes()
        if pattern is None:
            return data
        return pattern.sub(mask, data)

    def contains_secret(self, text: str) -> bool:
        pattern = self._compiled()
        return bool(pattern is not None and text and pattern.search(text))


REGISTRY = SecretRegistry()
"""The registry every Secret reports to and the default scrubber reads."""


def register_secret(value: str) -> None:
    """Register a raw secret value that did not come through a :class:`Secret`."""
    REGISTRY.register(value)
