"""Which deduction an analyst means by a REF: the one resolution every face uses.

A REF is ``portal:external_id``, or an external id alone when only one portal
has it. :func:`resolve_ref` says which deduction that is, or that there is none,
or which ones it could be (an external id on several portals), so each face can
answer in its own way (the CLI exits 1 or 2; the web app shows the choice).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Deduction

MAX_REF = 64 + 1 + 128
"""A portal slug, a colon and an external id: anything longer names nothing."""


@dataclass(frozen=True, slots=True)
class RefMatch:
    """``deduction`` when the REF names exactly one; else ``candidates`` (the
    ``portal:external_id`` of each deduction it could mean, empty when none)."""

    deduction: Deduction | None
    candidates: tuple[str, ...] = ()


def resolve_ref(session: Session, ref: str) -> RefMatch:
    """The deduction ``ref`` names. Never raises on odd input: an empty, overlong
    or unknown REF names nothing."""
    ref = ref.strip()
    if not ref or len(ref) > MAX_REF:
        return RefMatch(None)
    if ":" in ref:
        portal, ext = ref.split(":", 1)
        found = session.execute(
            select(Deduction).where(Deduction.portal == portal, Deduction.external_id == ext)
        ).scalar_one_or_none()
        if found is not None:
            return RefMatch(found)
        # "CB:1001" may be a claim number with a colon in it, on whichever portal.
    rows = list(
        session.execute(
            select(Deduction).where(Deduction.external_id == ref).order_by(Deduction.portal)
        ).scalars()
    )
    if len(rows) == 1:
        return RefMatch(rows[0])
    return RefMatch(None, tuple(f"{d.portal}:{d.external_id}" for d in rows))


__all__ = ["MAX_REF", "RefMatch", "resolve_ref"]
