from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bots.locks import FileAccountLock, LockTimeout

HOLDER = """
import asyncio, sys
from pathlib import Path
from bots.locks import FileAccountLock

async def main():
    async with FileAccountLock(Path(sys.argv[1])).hold("megamart", "acme-ar"):
        print("held", flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_second_job_on_the_same_account_waits_or_times_out(tmp_path: Path) -> None:
    locks = FileAccountLock(tmp_path)
    async with locks.hold("megamart", "acme-ar"):
        with pytest.raises(LockTimeout, match="busy"):
            async with locks.hold("megamart", "acme-ar", wait_seconds=0.2):
                pass
        async with locks.hold("megamart", "other-account"):
            pass  # other accounts are free
    async with locks.hold("megamart", "acme-ar"):
        pass  # released


async def test_waiter_gets_the_lock_when_it_is_released(tmp_path: Path) -> None:
    locks = FileAccountLock(tmp_path)
    order: list[str] = []
    held, release = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with locks.hold("freshco", "a"):
            order.append("first")
            held.set()
            await release.wait()

    async def second() -> None:
        async with locks.hold("freshco", "a", wait_seconds=10):
            order.append("second")

    t1 = asyncio.create_task(first())
    await held.wait()
    t2 = asyncio.create_task(second())
    for _ in range(20):
        await asyncio.sleep(0)  # let the waiter run: it must still be waiting
    assert order == ["first"]
    assert not t2.done()
    release.set()
    await asyncio.gather(t1, t2)
    assert order == ["first", "second"]


def test_lock_of_a_killed_process_is_released(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])},
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        locks = FileAccountLock(tmp_path)

        async def take(wait: float) -> None:
            async with locks.hold("megamart", "acme-ar", wait_seconds=wait):
                pass

        with pytest.raises(LockTimeout):
            asyncio.run(take(0.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        asyncio.run(take(5))
    finally:
        if proc.poll() is None:
            proc.kill()


def test_account_names_never_shape_paths(tmp_path: Path) -> None:
    locks = FileAccountLock(tmp_path)
    p = locks._path("megamart", "../../etc/passwd")
    assert p.parent == tmp_path
    assert "passwd" not in p.name
