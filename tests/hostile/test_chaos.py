"""Chaos: the whole loop (sync, documents, PODs, matching, approvals, filing,
status) with faults on every portal while the fleet's process is killed with
SIGKILL at seeded random moments and started again, ends where a clean run
ends.

The clean run is the session's synced snapshot (the small world synced by the
fleet with no faults) carried on by the same people and the same ``fleet run``
in the test's own copy. The chaos run starts from an empty data dir on a world
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
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fixtures.scenario import Scenario
from fixtures.world import World
from scheduler.housekeeping import reap_stale_runs
from store.models import BotRun, Deduction, Dispute, Document, DocumentLink, Verdict
from tests.hostile.test_killed_login_leaves_no_secret import _leaks

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(1500)]

SEED = 20261203
KILLS = 5
FAULTS = (
    "error_rate=0.04,hang_rate=0.01,hang_seconds=4,burst_429_every=25,burst_429_length=2,"
    "retry_after=1,expire_every=30,bandwidth_kbps=400;parcelnet:captcha_rate=0.3"
)
MAX_SETTLE_RUNS = 4


def _env(data_dir: Path, tmp: Path, day: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
    env.update(
        {
            "TMPDIR": str(tmp),
            "FLEET_DATA_DIR": str(data_dir),
            "FLEET_CONFIG": str(data_dir / "fleet.toml"),
            "FLEET_KEYRING_BACKEND": "file",
            "FLEET_KEYRING_KEY_FILE": str(data_dir / "demo-keyring.key"),
            "FLEET_BUSINESS_DAY": day,
            "FLEET_HUMAN_WAIT_SECONDS": "0",  # nobody answers the chaos world's CAPTCHAs
        }
    )
    return env


def _start(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "fleet.cli", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the kill takes the browser too
    )


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _killed_runs(env: dict[str, str], rng: random.Random, kills: int, within: float) -> list[int]:
    """``fleet run`` started again and again, each killed (SIGKILL, the whole
    process group) at a moment drawn from ``rng`` in ``(1, within)`` seconds,
    until ``kills`` kills landed on a running process. Returns the killed pids."""
    killed: list[int] = []
    while len(killed) < kills:
        proc = _start(env)
        time.sleep(rng.uniform(1.0, within))
        if proc.poll() is not None:  # it finished first: start again, draw again
            continue
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        killed.append(proc.pid)
    return killed


def _run_to_end(env: dict[str, str]) -> tuple[int, str]:
    proc = _start(env)
    try:
        _, err = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    return proc.returncode, err.decode(errors="replace")[-3000:]


def _state(db: sessionmaker[Session], world: World) -> dict[str, Any]:
    """What must equal between the two runs: the store's claims, their documents by
    hash, verdicts, the disputes recorded, and the disputes on the portals."""
    with db() as s:
        deductions = {
            (d.portal, d.external_id): (str(d.amount), d.status)
            for d in s.scalars(select(Deduction))
        }
        documents: dict[tuple[str, str], set[str]] = defaultdict(set)
        for portal, claim, sha in s.execute(
            select(Deduction.portal, Deduction.external_id, Document.sha256)
            .join(DocumentLink, DocumentLink.deduction_id == Deduction.id)
            .join(Document, Document.id == DocumentLink.document_id)
        ):
            documents[(portal, claim)].add(sha)
        verdicts = {
            (portal, claim): validity
            for portal, claim, validity in s.execute(
                select(Deduction.portal, Deduction.external_id, Verdict.validity).join(
                    Verdict, Verdict.deduction_id == Deduction.id
                )
            )
        }
        disputes = {
            (portal, claim): str(amount)
            for portal, claim, amount in s.execute(
                select(Deduction.portal, Deduction.external_id, Dispute.amount).join(
                    Dispute, Dispute.deduction_id == Deduction.id
                )
            )
        }
    on_portals = Counter((d.portal, d.deduction_id) for d in world.disputes.values())
    return {
        "deductions": deductions,
        "documents": dict(documents),
        "verdicts": verdicts,
        "disputes": disputes,
        "on_portals": dict(on_portals),
    }


def _differences(got: dict[Any, Any], expected: dict[Any, Any]) -> dict[Any, Any]:
    """The first ten keys whose values differ: (the chaos run's, the clean run's)."""
    keys = sorted(set(got) | set(expected), key=repr)
    differ = [k for k in keys if got.get(k) != expected.get(k)]
    return {k: (got.get(k), expected.get(k)) for k in differ[:10]}


def _vault_orphans(data_dir: Path, db: sessionmaker[Session]) -> tuple[list[str], list[str]]:
    """Vault files nothing refers to (a document row, or a dispute packet that
    keeps what was sent: cover letters, merged evidence), and temp files left."""
    vault = data_dir / "vault"
    with db() as s:
        known = set(s.scalars(select(Document.sha256)))
        for packet in s.scalars(select(Dispute.packet).where(Dispute.packet.is_not(None))):
            known |= {a["sha256"] for a in (packet or {}).get("attachments", [])}
    stored = {
        p.name
        for p in vault.rglob("*")
        if p.is_file() and ".tmp" not in p.parts and "quarantine" not in p.parts
    }
    temps = [p.name for p in (vault / ".tmp").iterdir()] if (vault / ".tmp").exists() else []
    return sorted(stored - known), temps


async def _people_decide(demo: Any) -> None:
    await asyncio.to_thread(demo.decide_by_policy)
    await asyncio.to_thread(demo.release_waiting)


def _secrets(scenario: Scenario) -> set[str]:
    return {
        v
        for a in scenario.accounts
        for v in (a.password, a.totp_secret, a.security_answer, a.api_key)
        if v and len(v) >= 6
    }


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """The fleet's system temp dir, private to this test (short: Chromium's
    singleton socket path may not pass 107 bytes)."""
    d = Path(tempfile.mkdtemp(prefix="chaos-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


async def test_killed_and_faulted_fleet_ends_where_a_clean_one_does(
    make_demo, small_world: Scenario, tmp_path: Path, short_tmp: Path
) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(SEED)

    # --- the clean run: the session's snapshot, then the people and one more run
    clean_dir = tmp_path / "clean"
    async with make_demo(data_dir=clean_dir, synced=True) as clean:
        await _people_decide(clean)
        env = _env(clean_dir, short_tmp, clean.today().isoformat())
        clean_code, err = await asyncio.to_thread(_run_to_end, env)
        assert clean_code in (0, 1), err  # 1: a portal refused a late dispute, as it should
        expected = _state(clean.runtime.db, clean.world.world)
        assert _vault_orphans(clean_dir, clean.runtime.db) == ([], [])
    assert expected["disputes"], "the clean run filed disputes"
    assert set(expected["on_portals"].values()) == {1}

    # --- the chaos run
    chaos_dir = tmp_path / "chaos"
    async with make_demo(data_dir=chaos_dir, faults=FAULTS, with_key_file=True) as demo:
        running = demo.world
        env = _env(chaos_dir, short_tmp, demo.today().isoformat())
        killed = await asyncio.to_thread(_killed_runs, env, rng, 3, 25.0)
        # one whole run under the faults (the carriers' CAPTCHAs come late in it;
        # those lookups end needs-human and the next run asks again)
        await asyncio.to_thread(_run_to_end, env)
        running.set_faults(None)  # the portals recover; the schedule runs on
        for _ in range(MAX_SETTLE_RUNS):
            code, err = await asyncio.to_thread(_run_to_end, env)
            if code == 0:
                break
        assert code == 0, err
        await _people_decide(demo)
        running.set_faults(FAULTS)  # filing under the same faults, and killed again
        killed += await asyncio.to_thread(_killed_runs, env, rng, KILLS - 3, 12.0)
        last_kill = datetime.now(UTC)
        running.set_faults(None)
        for _ in range(MAX_SETTLE_RUNS):  # until a run ends as the clean one did
            code, err = await asyncio.to_thread(_run_to_end, env)
            if code == clean_code:
                break
        assert code == clean_code, err
        got = _state(demo.runtime.db, running.world)
        assert len(killed) >= KILLS
        for key in ("deductions", "documents", "verdicts", "disputes", "on_portals"):
            assert _differences(got[key], expected[key]) == {}, key
        assert set(got["on_portals"].values()) == {1}, "exactly one dispute per claim"

        orphans, temps = _vault_orphans(chaos_dir, demo.runtime.db)
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
        assert [pid for pid in killed if _alive(pid)] == [], "a killed group lives on"
        assert _leaks([short_tmp, chaos_dir], _secrets(small_world)) == []
        struck = {kind for _, kind in running.world.record.faults}
        assert struck >= {"5xx", "hang", "429", "session_expired"}, struck
        assert running.world.record.captchas, "the carrier's CAPTCHAs were met"
