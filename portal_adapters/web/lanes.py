"""Several pages of one login at work together (``AdapterSession.lanes``).

A large account's backfill reads thousands of claim pages and documents; one
page at a time, at a portal's latency, that is hours of one page's pace while
the portal's request budget and the machine could take more. The pages share
the job's context (its cookies: one login session on the portal, the account
lock's promise) and its request budget, so the portal sees an analyst with a
few tabs open, not more logins.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from portal_adapters.errors import RecordInvalid

if TYPE_CHECKING:
    from portal_adapters.base import AdapterSession

K = TypeVar("K")
V = TypeVar("V")


async def side_by_side(
    session: AdapterSession,
    keys: Sequence[K],
    read: Callable[[AdapterSession, K], Awaitable[V]],
) -> list[V | RecordInvalid]:
    """``read`` each key on one of the session's pages, one read per page at
    a time, results in the keys' order. A key whose read raises RecordInvalid
    gets it as its result (that record alone cannot be read); any other error
    stops the other reads and is raised, as it would be with one page."""
    results: dict[int, V | RecordInvalid] = {}
    todo = deque(enumerate(keys))

    async def work(lane: AdapterSession) -> None:
        while todo:
            index, key = todo.popleft()
            try:
                results[index] = await read(lane, key)
            except RecordInvalid as exc:
                results[index] = exc

    await _first_error_stops_all([work(lane) for lane in session.lanes()[: len(keys)]])
    return [results[index] for index in range(len(keys))]


async def _first_error_stops_all(work: Sequence[Coroutine[Any, Any, None]]) -> None:
    """Run the pages' work side by side; the first to fail stops the others
    and its error is raised as it is (the runtime classifies a PortalError,
    not a group of them). Cancelled from outside, every page's work stops."""
    if not work:
        return
    tasks = [asyncio.create_task(w) for w in work]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in tasks:
        if task in done and not task.cancelled():
            error = task.exception()
            if error is not None:
                raise error
