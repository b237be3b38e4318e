"""Errors as RFC 9457 problem details for the API (``application/problem+json``)
and as a plain error page for the pages. Raise :class:`Problem` anywhere."""

from __future__ import annotations

from typing import Any

PROBLEM_TYPE = "https://deductions-fleet.invalid/problems/"


class Problem(Exception):
    """An error a person or a script can act on: ``status`` (HTTP), a short
    ``title`` per kind, ``detail`` for this occurrence."""

    def __init__(self, status: int, title: str, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra

    @property
    def slug(self) -> str:
        return self.title.lower().replace(" ", "-")

    def body(self, instance: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": PROBLEM_TYPE + self.slug,
            "title": self.title,
            "status": self.status,
            "instance": instance,
        }
        if self.detail:
            out["detail"] = self.detail
        out.update(self.extra)
        return out


def forbidden(action: str) -> Problem:
    return Problem(403, "Forbidden", f"your access does not allow: {action}")


def not_found(what: str) -> Problem:
    return Problem(404, "Not found", what)


PROBLEM_SCHEMA: dict[str, Any] = {
    "description": "An error (RFC 9457 problem details)",
    "content": {
        "application/problem+json": {
            "schema": {
                "type": "object",
                "required": ["type", "title", "status"],
                "properties": {
                    "type": {"type": "string"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "instance": {"type": "string"},
                },
            }
        }
    },
}
"""What the OpenAPI schema says every error response is."""

__all__ = ["PROBLEM_SCHEMA", "PROBLEM_TYPE", "Problem", "forbidden", "not_found"]
