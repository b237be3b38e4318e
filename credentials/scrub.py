"""Masking secrets in log events and artifacts.

:class:`SecretScrubber` is a structlog processor. Register one instance with
``fleet.logging_setup.add_processor`` (the composition root does it) so it runs on
every event, structlog's and stdlib's alike, before any renderer. It masks:

* :class:`~credentials.secret.Secret` objects anywhere in the event (nested dicts,
  lists, tuples, sets);
* every registered secret value (see :mod:`credentials.registry`) as a substring of
  any string in the event, including the message, positional args and the rendered
  exception text (it renders a pending ``exc_info`` itself, so chain order cannot
  let a traceback slip past);
* other objects whose ``str``/``repr`` contains a registered value (they are
  replaced by their scrubbed ``repr``).

:func:`scrub_text` / :func:`scrub_bytes` do the substring part for artifacts (HTML
snapshots, console logs, HAR files). They cannot see into compressed data such as
Playwright trace zips: scrub the members before zipping, or do not keep traces of
login pages.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from credentials.registry import MASK, REGISTRY, SecretRegistry, register_secret
from credentials.secret import Secret

__all__ = ["MASK", "SecretScrubber", "register_secret", "scrub_bytes", "scrub_text"]

_MAX_DEPTH = 32
_PLAIN = (int, float, bool, type(None))
_META_KEYS = frozenset({"_record", "_from_structlog"})  # ProcessorFormatter plumbing


def scrub_text(text: str, registry: SecretRegistry = REGISTRY) -> str:
    """``text`` with every known secret value replaced by the mask."""
    return registry.scrub(text)


def scrub_bytes(data: bytes, registry: SecretRegistry = REGISTRY) -> bytes:
    """``data`` (UTF-8 text as bytes) with every known secret value masked."""
    return registry.scrub_bytes(data)


class SecretScrubber:
    """structlog processor: mask Secrets and known secret values in the event dict.

    Cheap when nothing matches: one compiled regex search per string. Never raises
    on odd values (an object whose ``repr`` fails is replaced by a placeholder).
    """

    __slots__ = ("mask", "registry")

    def __init__(self, registry: SecretRegistry = REGISTRY, mask: str = MASK) -> None:
        self.registry = registry
        self.mask = mask

    def __repr__(self) -> str:
        return "SecretScrubber()"

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        exc_info = event_dict.get("exc_info")
        if exc_info and "exception" not in event_dict:
            import structlog

            event_dict = structlog.processors.format_exc_info(logger, method_name, event_dict)
        for key in list(event_dict):
            if key in _META_KEYS:
                continue
            event_dict[key] = self._scrub(event_dict[key], 0, set())
        return event_dict

    def _scrub(self, value: Any, depth: int, seen: set[int]) -> Any:
        if isinstance(value, Secret):
            return self.mask
        if isinstance(value, str):
            return self.registry.scrub(value, self.mask)
        if isinstance(value, _PLAIN):
            return value
        if depth >= _MAX_DEPTH or id(value) in seen:
            return "<...>"
        if isinstance(value, dict):
            seen.add(id(value))
            return {
                self._scrub(k, depth + 1, seen): self._scrub(v, depth + 1, seen)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            seen.add(id(value))
            items = [self._scrub(v, depth + 1, seen) for v in value]
            if isinstance(value, list):
                return items
            if isinstance(value, tuple):
                return tuple(items)  # a namedtuple comes back as a plain tuple
            return set(items) if isinstance(value, set) else frozenset(items)
        if isinstance(value, bytes | bytearray):
            return self.registry.scrub_bytes(bytes(value), self.mask.encode())
        return self._scrub_object(value)

    def _scrub_object(self, value: Any) -> Any:
        try:
            as_repr = repr(value)
            as_str = str(value)
        except Exception:  # a hostile __repr__ must not break logging
            return f"<unprintable {type(value).__name__}>"
        if self.registry.contains_secret(as_repr) or self.registry.contains_secret(as_str):
            return self.registry.scrub(as_repr, self.mask)
        return value
