"""Each retailer portal's dispute habits, as data (``records/data/portals/<portal>.json``,
key ``disputes``): whether its form takes an amount, its own reason for each
category, its limits (attachments, their size and types, text length), and
whether (and how long after a denial) it takes a second-level appeal.

A portal's change (a new reason list, a smaller upload cap) is a data change;
the packet builder checks every packet against these before anything is filed.
"""

from __future__ import annotations

import json
import re
from functools import cache

from pydantic import BaseModel, ConfigDict, Field

from records.normalize import PORTAL_DATA


class DisputeLimits(BaseModel):
    """What one dispute on the portal may carry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attachments: int = Field(default=3, ge=0, le=50)
    max_attachment_bytes: int = Field(default=5 * 1024 * 1024, ge=1)
    max_text: int = Field(default=1000, ge=1)
    accepted_types: tuple[str, ...] = ("application/pdf",)
    merge_to_fit: bool = True
    """PDFs beyond ``max_attachments`` are merged into the last slot."""
    max_message_bytes: int | None = Field(default=None, ge=1)
    """For disputes by e-mail: the most one message may weigh as sent (its
    attachments base64-encoded), what the retailer's mail server takes."""


class DisputeHabits(BaseModel):
    """One portal's dispute form, as the packet builder needs to know it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    portal: str
    addressee: str = ""
    """Whom the cover letter is addressed to (the portal's own name)."""
    takes_amount: bool = True
    """False: the form disputes the whole claim (a partial dispute waits for a person)."""
    reasons: dict[str, str] = Field(default_factory=dict)
    """Category -> the portal's own reason (its list's words, or a case type)."""
    limits: DisputeLimits = DisputeLimits()
    email: dict[str, str] = Field(default_factory=dict)
    """Category -> the address that takes its disputes by e-mail (no form for them)."""
    email_only: bool = False
    """The retailer has no portal at all (Northway): every dispute goes by
    e-mail, its ``file_dispute`` job opens no browser and logs in nowhere."""
    appeal_window_days: int | None = Field(default=None, ge=1, le=3650)
    """Days after a denial within which the portal takes one second-level
    appeal (None: the portal offers no appeal)."""

    def reason_for(self, category: str) -> str:
        return self.reasons.get(category) or self.reasons.get("other", "")


@cache
def habits(portal: str) -> DisputeHabits:
    """The portal's dispute habits (conservative defaults when its file has none)."""
    if not re.fullmatch(r"[a-z0-9_]{1,40}", portal):
        raise ValueError(f"not a portal name: {portal[:40]!r}")
    path = PORTAL_DATA / f"{portal}.json"
    raw = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return DisputeHabits(portal=portal, **raw.get("disputes", {}))


@cache
def mail_only_retailers() -> tuple[str, ...]:
    """Retailers with no portal (``email_only``): no account or URL in
    fleet.toml names them, yet their e-mail filing jobs need a queue and a
    worker that takes it."""
    names = sorted(f.stem for f in PORTAL_DATA.glob("*.json"))
    return tuple(n for n in names if re.fullmatch(r"[a-z0-9_]{1,40}", n) and habits(n).email_only)


__all__ = ["DisputeHabits", "DisputeLimits", "habits", "mail_only_retailers"]
