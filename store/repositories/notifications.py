"""Notification cursors: how far each channel has delivered the health events,
under a lease so that one scheduler at a time delivers (scheduler/notify.py).

The protocol, per channel and pass:

1. :func:`claim` takes the lease (compare-and-set: only when nobody holds
   it, or the holder's lease ran out) and returns the cursor;
2. the caller reads :func:`events_after` the cursor and sends them;
3. :func:`advance` moves the cursor (only for the lease's holder) and lets
   go; :func:`release` lets go without moving it, recording why (an error
   class or a status code, never text that could carry a URL's token).

Each step is its own short transaction: nothing is held open while the
network is slow. A holder that dies between 1 and 3 leaves its lease to
expire; the events it may have sent go out again then (at least once after
a crash, exactly once otherwise).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from store.db import rows_changed
from store.models import HealthEvent, NotificationCursor, table_of
from store.repositories._common import insert_for

C = table_of(NotificationCursor)


def claim(session: Session, channel: str, token: str, now: datetime, until: datetime) -> int | None:
    """Take ``channel``'s lease until ``until``; the cursor (0 for a new channel),
    or None when another holder's lease still runs."""
    session.execute(
        insert_for(session, C)
        .values(channel=channel, last_event_id=0, failures=0, updated_at=now)
        .on_conflict_do_nothing(index_elements=["channel"])
    )
    taken = session.execute(
        update(C)
        .where(C.c.channel == channel, or_(C.c.lease_until.is_(None), C.c.lease_until < now))
        .values(lease_token=token, lease_until=until, updated_at=now)
    )
    if rows_changed(taken) != 1:
        return None
    return int(
        session.execute(select(C.c.last_event_id).where(C.c.channel == channel)).scalar_one()
    )


def advance(session: Session, channel: str, token: str, last_event_id: int, now: datetime) -> bool:
    """Delivered up to ``last_event_id``: move the cursor and let go. False when
    the lease was lost meanwhile (it ran out and another holder took it)."""
    done = session.execute(
        update(C)
        .where(C.c.channel == channel, C.c.lease_token == token)
        .values(
            last_event_id=last_event_id,
            lease_token=None,
            lease_until=None,
            failures=0,
            last_error=None,
            updated_at=now,
        )
    )
    return rows_changed(done) == 1


def release(session: Session, channel: str, token: str, error: str | None, now: datetime) -> None:
    """Let go without moving the cursor: the next pass sends the same events again."""
    session.execute(
        update(C)
        .where(C.c.channel == channel, C.c.lease_token == token)
        .values(
            lease_token=None,
            lease_until=None,
            failures=C.c.failures + (1 if error else 0),
            last_error=error[:128] if error else None,
            updated_at=now,
        )
    )


def events_after(
    session: Session, after_id: int, kinds: Collection[str], since: datetime, limit: int
) -> list[HealthEvent]:
    """Health events of ``kinds`` with an id above ``after_id`` recorded at or
    after ``since``, oldest first, at most ``limit``."""
    return list(
        session.scalars(
            select(HealthEvent)
            .where(HealthEvent.id > after_id, HealthEvent.kind.in_(kinds), HealthEvent.at >= since)
            .order_by(HealthEvent.id)
            .limit(limit)
        )
    )


def cursors(session: Session) -> list[NotificationCursor]:
    """Every channel's cursor (for ``fleet notify status`` and tests)."""
    return list(session.scalars(select(NotificationCursor).order_by(NotificationCursor.channel)))


__all__ = ["advance", "claim", "cursors", "events_after", "release"]
