"""The chaos tests' world and clean run (tests/hostile/chaos_support.py)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fixtures.scenario import CARRIER_PORTALS, RETAILER_PORTALS, Scenario
from fleet.demo import demo_keyring, fleet_demo
from tests.fleet_fixtures import TEST_POLICY, once_per_run_or_later
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


def _clean_run(world: Scenario, where: Path) -> CleanRun:
    """The fleet's sync of ``world`` from an empty store (in process, as the
    demo runs it), the demo's people, then one ``fleet run``: no faults, no kills."""
    tmp = Path(tempfile.mkdtemp(prefix="clean-"))

    async def run() -> CleanRun:
        creds = demo_keyring(where, world)
        async with fleet_demo(world, where, policy=TEST_POLICY, credentials=creds) as clean:
            synced = await clean.sync_everything()
            assert all(r.ok for r in synced), [(str(r.job), r.error_class) for r in synced]
            await people_decide(clean)
            env = fleet_env(where, tmp, clean.today().isoformat())
            code, err = await asyncio.to_thread(run_to_end, env)
            assert code in (0, 1), err  # 1: a portal refused a late dispute, as it should
            assert vault_orphans(where, clean.runtime.db) == ([], [])
            served = {e.portal for e in clean.world.world.record.downloads}
            assert served >= set(CARRIER_PORTALS), "PODs from both carriers"
            return CleanRun(fleet_state(clean.runtime.db, clean.world.world), code)

    try:
        # A thread of its own: a session fixture may not run on a test's event loop.
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, run()).result()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def clean_chaos_run(
    tiny_world: Scenario, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Callable[[], CleanRun]:
    """Where every chaos run must end, computed once per ``pytest`` run: the
    two chaos files may run in two xdist processes. A getter: a chaos test
    compares with the clean run only at its end, so while one process
    computes it the other runs its own chaos (:func:`once_per_run_or_later`)."""
    later = once_per_run_or_later(
        request,
        tmp_path_factory,
        "chaos-clean-run",
        lambda: _clean_run(tiny_world, tmp_path_factory.mktemp("clean") / "fleet"),
    )

    def get() -> CleanRun:
        run = later()
        disputed = {portal for portal, _ in run.state["disputes"]}
        assert disputed >= set(RETAILER_PORTALS), (
            f"the clean run filed on every retailer: {disputed}"
        )
        assert set(run.state["on_portals"].values()) == {1}
        return run

    return get
