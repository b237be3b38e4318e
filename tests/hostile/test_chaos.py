"""Chaos: the whole loop (sync, documents, PODs, matching, approvals, filing,
status) with faults on every portal while the fleet's process is killed with
SIGKILL at seeded random moments and started again, ends where a clean run
ends.

The clean run (tests/hostile/chaos_support.py, once per ``pytest`` run) is the
tiny world synced by the fleet, carried on by the same people and the same
``fleet run``. The chaos run starts from an empty data dir on the same world
with 5xx answers, hung requests, 429 bursts, session expiry and slow downloads
on every portal and CAPTCHAs on one carrier; ``fleet run`` (the command an
operator or cron runs; in process, SQLite) is killed, with its browser, at
least five times at moments drawn from a seeded RNG (three while it syncs,
two while it files disputes the people approved), and restarted each time;
one run goes to its end under the faults. Then the faults stop (the portals
recover) and the fleet runs on until a run ends as the clean one did, as its
schedule would. At the end:

* the same deductions (amount, status), the same documents on each claim by
  hash, the same verdicts as the clean run;
* exactly one dispute per claim on the portal side, for the same claims;
* no vault file without its document row, no temp file left in the vault;
* nothing left running (no run marked running once housekeeping reaps the
  killed ones' runs; no process of the killed groups alive);
* no secret in the temp dir or the data dir.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from fixtures.scenario import Scenario
from scheduler.housekeeping import reap_stale_runs
from store.models import BotRun
from tests.hostile.chaos_support import (
    FAULTS,
    STATE_KEYS,
    CleanRun,
    differences,
    fleet_env,
    fleet_state,
    group_alive,
    people_decide,
    run_to_end,
    start_fleet,
    vault_orphans,
    world_secrets,
)
from tests.hostile.test_killed_login_leaves_no_secret import _leaks

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(1500)]

SEED = 20261203
KILLS = 5
MAX_SETTLE_RUNS = 4


def _killed_runs(env: dict[str, str], rng: random.Random, kills: int, within: float) -> list[int]:
    """``fleet run`` started again and again, each killed (SIGKILL, the whole
    process group) at a moment drawn from ``rng`` in ``(1, within)`` seconds,
    until ``kills`` kills landed on a running process. Returns the killed pids."""
    killed: list[int] = []
    while len(killed) < kills:
        proc = start_fleet(env, "run")
        time.sleep(rng.uniform(1.0, within))
        if proc.poll() is not None:  # it finished first: start again, draw again
            continue
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        killed.append(proc.pid)
    return killed


async def test_killed_and_faulted_fleet_ends_where_a_clean_one_does(
    make_demo,
    tiny_world: Scenario,
    clean_chaos_run: Callable[[], CleanRun],
    tmp_path: Path,
    short_tmp: Path,
) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(SEED)

    # --- the chaos run
    chaos_dir = tmp_path / "chaos"
    async with make_demo(
        data_dir=chaos_dir, faults=FAULTS, scenario=tiny_world, with_key_file=True
    ) as demo:
        running = demo.world
        env = fleet_env(chaos_dir, short_tmp, demo.today().isoformat())
        killed = await asyncio.to_thread(_killed_runs, env, rng, 3, 25.0)
        # one whole run under the faults (the carriers' CAPTCHAs come late in it;
        # those lookups end needs-human and the next run asks again)
        await asyncio.to_thread(run_to_end, env)
        running.set_faults(None)  # the portals recover; the schedule runs on
        for _ in range(MAX_SETTLE_RUNS):
            code, err = await asyncio.to_thread(run_to_end, env)
            if code == 0:
                break
        assert code == 0, err
        await people_decide(demo)
        running.set_faults(FAULTS)  # filing under the same faults, and killed again
        killed += await asyncio.to_thread(_killed_runs, env, rng, KILLS - 3, 12.0)
        last_kill = datetime.now(UTC)
        running.set_faults(None)
        # the clean run, computed meanwhile if another process took it on
        clean = await asyncio.to_thread(clean_chaos_run)
        expected, clean_code = clean.state, clean.code
        for _ in range(MAX_SETTLE_RUNS):  # until a run ends as the clean one did
            code, err = await asyncio.to_thread(run_to_end, env)
            if code == clean_code:
                break
        assert code == clean_code, err
        got = fleet_state(demo.runtime.db, running.world)
        assert len(killed) >= KILLS
        for key in STATE_KEYS:
            assert differences(got[key], expected[key]) == {}, key
        assert set(got["on_portals"].values()) == {1}, "exactly one dispute per claim"

        orphans, temps = vault_orphans(chaos_dir, demo.runtime.db)
        assert orphans == [], "vault files without a document row"
        assert temps == [], "temp files of dead writers swept"
        # a killed process leaves its runs in flight "running" (several at once: four
        # browser contexts and the core steps); housekeeping closes those, no other
        reaped = reap_stale_runs(demo.runtime.db, timedelta(0))
        assert reaped, "the killed processes' runs"
        with demo.runtime.db() as s:
            assert s.scalars(select(BotRun).where(BotRun.status == "running")).all() == []
            started = s.scalars(select(BotRun.started_at).where(BotRun.run_id.in_(reaped))).all()
        assert max(started) <= last_kill, "only runs of killed processes were reaped"
        assert [pid for pid in killed if group_alive(pid)] == [], "a killed group lives on"
        assert _leaks([short_tmp, chaos_dir], world_secrets(tiny_world)) == []
        struck = {kind for _, kind in running.world.record.faults}
        assert struck >= {"5xx", "hang", "429", "session_expired"}, struck
        assert running.world.record.captchas, "the carrier's CAPTCHAs were met"
