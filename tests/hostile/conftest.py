"""The chaos tests' clean run, once per session (tests/hostile/chaos_support.py)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fixtures.scenario import Scenario
from fleet.demo import fleet_demo
from tests.fleet_fixtures import TEST_POLICY, SyncedSnapshot, own_keyring
from tests.hostile.chaos_support import (
    CleanRun,
    fleet_env,
    fleet_state,
    people_decide,
    run_to_end,
    vault_orphans,
)


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """The fleet's system temp dir, private to this test (short: Chromium's
    singleton socket path may not pass 107 bytes)."""
    d = Path(tempfile.mkdtemp(prefix="chaos-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def clean_chaos_run(
    small_world: Scenario,
    synced_snapshot: SyncedSnapshot,
    tmp_path_factory: pytest.TempPathFactory,
) -> CleanRun:
    """The session's synced snapshot carried on by the demo's people and one
    ``fleet run`` with no faults and no kills: where every chaos run must end."""
    where = tmp_path_factory.mktemp("clean") / "fleet"
    shutil.copytree(synced_snapshot.data_dir, where, symlinks=True)
    tmp = Path(tempfile.mkdtemp(prefix="clean-"))

    async def carry_on() -> CleanRun:
        async with fleet_demo(
            small_world, where, policy=TEST_POLICY, credentials=own_keyring(where)
        ) as clean:
            await people_decide(clean)
            env = fleet_env(where, tmp, clean.today().isoformat())
            code, err = await asyncio.to_thread(run_to_end, env)
            assert code in (0, 1), err  # 1: a portal refused a late dispute, as it should
            assert vault_orphans(where, clean.runtime.db) == ([], [])
            return CleanRun(fleet_state(clean.runtime.db, clean.world.world), code)

    try:
        # A thread of its own: a session fixture may not run on a test's event loop.
        with ThreadPoolExecutor(1) as pool:
            run = pool.submit(asyncio.run, carry_on()).result()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert run.state["disputes"], "the clean run filed disputes"
    assert set(run.state["on_portals"].values()) == {1}
    return run
