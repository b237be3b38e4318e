"""Checks a robot hands to a person while its job waits (``human_challenges``).

One open challenge per portal and ref (a partial unique index decides, so two
jobs meeting the same CAPTCHA share it). Every move is a compare-and-set on
the status: a person answers an ``open`` challenge once; the robot takes an
``answered`` one once; a challenge past its time can no longer be answered.
The answer is erased when the robot took it or the wait ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from store.db import rows_changed
from store.models import HumanChallenge, table_of, utcnow
from store.repositories._common import insert_for

H = table_of(HumanChallenge)
_OPEN_WHERE = text("status IN ('open', 'answered')")
OPEN = "open"
ANSWERED = "answered"
PASSED = "passed"
FAILED = "failed"
EXPIRED = "expired"
CLEARED = "cleared"
MAX_IMAGE_BYTES = 256 * 1024
KEYRING_KINDS = frozenset({"security_question"})
"""Challenges whose answer is a credential: it goes into the keyring (the web
app writes it there) and the row records only that it was given."""
MAX_ANSWER = 64


@dataclass(frozen=True)
class OpenChallenge:
    id: int
    created: bool
    """False: another job had already opened it (one item, once)."""


def open_challenge(
    session: Session,
    *,
    portal: str,
    account: str,
    kind: str,
    ref: str,
    prompt: str,
    image: bytes | None,
    expires_at: datetime,
    run_id: str | None = None,
) -> OpenChallenge:
    """Open the challenge, or return the one already open for (portal, ref)."""
    if image is not None and len(image) > MAX_IMAGE_BYTES:
        image = None  # a picture that large is not a CAPTCHA: the prompt says what to do
    inserted = session.execute(
        insert_for(session, H)
        .values(
            portal=portal,
            account=account[:320],
            kind=kind,
            ref=ref[:500],
            prompt=prompt[:500],
            image=image,
            status=OPEN,
            run_id=run_id,
            created_at=utcnow(),
            expires_at=expires_at,
        )
        .on_conflict_do_nothing(index_elements=["portal", "ref"], index_where=_OPEN_WHERE)
        .returning(H.c.id)
    ).scalar_one_or_none()
    if inserted is not None:
        return OpenChallenge(inserted, True)
    existing: int = session.execute(
        select(H.c.id).where(
            H.c.portal == portal, H.c.ref == ref[:500], H.c.status.in_((OPEN, ANSWERED))
        )
    ).scalar_one()
    return OpenChallenge(existing, False)


def answer(session: Session, challenge_id: int, text_: str | None, by: str) -> bool:
    """A person's answer to an open challenge still in time (compare-and-set);
    None for one whose answer went into the keyring."""
    now = utcnow()
    res = session.execute(
        update(HumanChallenge)
        .where(
            HumanChallenge.id == challenge_id,
            HumanChallenge.status == OPEN,
            HumanChallenge.expires_at > now,
        )
        .values(
            status=ANSWERED,
            answer=None if text_ is None else text_[:MAX_ANSWER],
            answered_by=by[:128],
            answered_at=now,
        )
    )
    return rows_changed(res) == 1


def look(session: Session, challenge_id: int) -> tuple[str | None, str | None]:
    """The challenge's status and answer in one read (None, None: no such row).
    Reading does not consume: :func:`close` does, with the outcome. A
    keyring-held answer shows as ``answered`` with no answer here."""
    row = session.execute(
        select(HumanChallenge.status, HumanChallenge.answer).where(
            HumanChallenge.id == challenge_id
        )
    ).one_or_none()
    return (None, None) if row is None else (row.status, row.answer)


def close(session: Session, challenge_id: int, status: str) -> bool:
    """End the challenge (passed, failed, expired, cleared) and erase its answer."""
    res = session.execute(
        update(HumanChallenge)
        .where(HumanChallenge.id == challenge_id, HumanChallenge.status.in_((OPEN, ANSWERED)))
        .values(status=status, answer=None, closed_at=utcnow())
    )
    return rows_changed(res) == 1


def expire_overdue(session: Session, now: datetime | None = None) -> int:
    """Challenges whose wait ended unanswered (their job has moved on or died)."""
    res = session.execute(
        update(HumanChallenge)
        .where(
            HumanChallenge.status == OPEN,
            HumanChallenge.expires_at <= (now or utcnow()),
        )
        .values(status=EXPIRED, answer=None, closed_at=utcnow())
    )
    return rows_changed(res)


def waiting(session: Session, limit: int = 100) -> list[HumanChallenge]:
    """Open challenges still in time, oldest first (the ops page's list)."""
    return list(
        session.scalars(
            select(HumanChallenge)
            .where(HumanChallenge.status == OPEN, HumanChallenge.expires_at > utcnow())
            .order_by(HumanChallenge.id)
            .limit(limit)
        )
    )


def image_of(session: Session, challenge_id: int) -> bytes | None:
    return session.scalar(select(HumanChallenge.image).where(HumanChallenge.id == challenge_id))


__all__ = [
    "ANSWERED",
    "CLEARED",
    "EXPIRED",
    "FAILED",
    "KEYRING_KINDS",
    "MAX_IMAGE_BYTES",
    "OPEN",
    "PASSED",
    "OpenChallenge",
    "answer",
    "close",
    "expire_overdue",
    "image_of",
    "look",
    "open_challenge",
    "waiting",
]
