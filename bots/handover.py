"""An analyst's ``retrieve`` served by the job already working its account.

Never two sessions on one account (bots/locks.py): a ``retrieve`` for an
account whose sync holds the lock used to wait for the whole sync, minutes
on a large account, while the analyst watched. Now, while a browser job of
this process holds an account, a ``retrieve`` for that account joins it
instead: the holding job, at its next step boundary (between two claims:
``JobContext.serve_waiting``), runs the retrieve on its own signed-in session
as a run of its own, then goes on where it was. No second login and no second
portal session: one session, used in turn, as a person's two tabs are.

A holder that ends before a step boundary (a task with none, or past its
last claim) hands its waiting jobs back (``join`` returns None); they take the
lock as before, and get it as the holder lets go. In-process only: a job
holding the account in another process (another Celery worker) is waited for
through the lock, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Iterator

from bots.jobs import Job, JobResult
from bots.locks import LockTimeout

Serve = Callable[[Job], Awaitable[JobResult]]
"""Runs one joined job on the holder's session (the runtime's)."""


class Holder:
    """One account held by a running job, and the jobs waiting to be served by it."""

    def __init__(self) -> None:
        self.waiting: deque[tuple[Job, asyncio.Future[JobResult | None]]] = deque()

    async def serve(self, run: Serve) -> None:
        """Serve every job waiting now (and any that joins meanwhile), in order.

        A served job's own failure is its result, never the holder's: an
        unexpected error is handed to its waiter and the holder goes on."""
        while self.waiting:
            job, waiter = self.waiting.popleft()
            if waiter.done():  # it gave up waiting
                continue
            try:
                result = await run(job)
            except asyncio.CancelledError:
                if not waiter.done():
                    waiter.set_result(None)  # it takes the lock itself
                raise
            except Exception as exc:
                if not waiter.done():
                    waiter.set_exception(exc)
                continue
            if not waiter.done():
                waiter.set_result(result)

    def release(self) -> None:
        """The holder is done: whoever still waits takes the lock itself."""
        while self.waiting:
            _job, waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)


class Handover:
    """The accounts this process's browser jobs hold, by (portal, account)."""

    def __init__(self) -> None:
        self._holders: dict[tuple[str, str], Holder] = {}

    @contextlib.contextmanager
    def holding(self, portal: str, account: str) -> Iterator[Holder]:
        """While the block runs (inside the account's lock), jobs may join it."""
        key, holder = (portal, account), Holder()
        self._holders[key] = holder
        try:
            yield holder
        finally:
            if self._holders.get(key) is holder:
                del self._holders[key]
            holder.release()

    def holder(self, portal: str, account: str) -> Holder | None:
        """The holder of this account in this process, if a job holds it."""
        return self._holders.get((portal, account))

    async def join(self, job: Job, *, timeout: float) -> JobResult | None:
        """``job``'s result as the account's holder served it, or None when no
        job of this process holds the account or the holder ended first.
        Raises LockTimeout after ``timeout`` seconds, as the lock would."""
        holder = self.holder(job.portal, job.account)
        if holder is None:
            return None
        waiter: asyncio.Future[JobResult | None] = asyncio.get_running_loop().create_future()
        holder.waiting.append((job, waiter))
        try:
            return await asyncio.wait_for(waiter, timeout=max(timeout, 0.001))
        except TimeoutError:
            raise LockTimeout(f"{job.portal} account is busy with another job") from None


__all__ = ["Handover", "Holder", "Serve"]
