"""What is addressed to one person: the comments that @mention them (the web
app's inbox, beside the approvals that wait for them). Only reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Deduction, DeductionComment

SCAN = 5_000
"""Newest comments looked through for mentions (mentions are a JSON list, not
indexed: part 1 reads the recent ones)."""


@dataclass(frozen=True, slots=True)
class Mention:
    comment_id: int
    deduction_id: int
    ref: str
    author: str
    body: str
    created_at: datetime


def mentions_of(session: Session, username: str, limit: int = 50) -> list[Mention]:
    """The newest comments mentioning ``username``, newest first."""
    rows = session.execute(
        select(DeductionComment, Deduction.portal, Deduction.external_id)
        .join(Deduction, Deduction.id == DeductionComment.deduction_id)
        .order_by(DeductionComment.id.desc())
        .limit(SCAN)
    )
    out: list[Mention] = []
    for c, portal, external_id in rows:
        if username in (c.mentions or []):
            out.append(
                Mention(
                    c.id, c.deduction_id, f"{portal}:{external_id}", c.author, c.body, c.created_at
                )
            )
            if len(out) >= limit:
                break
    return out


__all__ = ["Mention", "mentions_of"]
