"""What the two chaos tests share (tests/hostile/test_chaos.py on SQLite with
``fleet run``, tests/hostile/test_chaos_celery.py on PostgreSQL with the
scheduler and Celery workers): the world, the faults, the clean run they are
compared with, and the end state that must equal it.

The world is the generator's tiny one (``tiny_world``, tests/fleet_fixtures.py):
every portal, both carriers and disputes on every retailer, small enough that
the dozen whole runs of the fleet a chaos test makes stay short. The clean run is that world
synced by the fleet with no faults, carried on by the same people (the demo's
approval policy) and one ``fleet run``. It is computed once per ``pytest``
run, shared by the two files even in two xdist processes
(:func:`clean_chaos_run`, a fixture in tests/hostile/conftest.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fixtures.scenario import Scenario
from fixtures.world import World
from store.models import Deduction, Dispute, Document, DocumentLink, Verdict

FAULTS = (
    "error_rate=0.04,hang_rate=0.01,hang_seconds=4,burst_429_every=25,burst_429_length=2,"
    "retry_after=1,expire_every=15,bandwidth_kbps=400;parcelnet:captcha_rate=0.3"
)
"""5xx answers, hung requests, 429 bursts, session expiry and slow downloads on
every portal; CAPTCHAs on one carrier. Sessions expire every 15th request: a
tiny world's sync sends a portal a few dozen, and each chaos phase must meet
an expiry (the Celery test's faulted sync met none at every 30th)."""

STATE_KEYS = ("deductions", "documents", "verdicts", "disputes", "on_portals")


@dataclass(frozen=True)
class CleanRun:
    """Where a clean fleet ends on the chaos world: its state and ``fleet run``'s exit code."""

    state: dict[str, Any]
    code: int


def fleet_env(data_dir: Path, tmp: Path, day: str) -> dict[str, str]:
    """The environment of a ``fleet`` process on the demo's data dir: its
    fleet.toml, its own keyring, the world's business day, a private temp dir."""
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


def start_fleet(
    env: dict[str, str], *args: str, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """``fleet ARGS`` in a process group of its own (a kill takes its browser too)."""
    out = log.open("ab") if log is not None else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "fleet.cli", *args],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT if log is not None else subprocess.PIPE,
        start_new_session=True,
    )


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def run_to_end(env: dict[str, str]) -> tuple[int, str]:
    """``fleet run`` to its end (10 minutes at most): exit code and stderr's tail."""
    proc = start_fleet(env, "run")
    try:
        _, err = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        raise
    return proc.returncode, err.decode(errors="replace")[-3000:]


def fleet_state(db: sessionmaker[Session], world: World) -> dict[str, Any]:
    """What must equal between two runs: the store's claims, their documents by
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


def differences(got: dict[Any, Any], expected: dict[Any, Any]) -> dict[Any, Any]:
    """The first ten keys whose values differ: (the chaos run's, the clean run's)."""
    keys = sorted(set(got) | set(expected), key=repr)
    differ = [k for k in keys if got.get(k) != expected.get(k)]
    return {k: (got.get(k), expected.get(k)) for k in differ[:10]}


def vault_orphans(data_dir: Path, db: sessionmaker[Session]) -> tuple[list[str], list[str]]:
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


async def people_decide(demo: Any) -> None:
    """The demo's people propose and approve by its policy, and release what waits."""
    await asyncio.to_thread(demo.decide_by_policy)
    await asyncio.to_thread(demo.release_waiting)


def world_secrets(scenario: Scenario) -> set[str]:
    return {
        v
        for a in scenario.accounts
        for v in (a.password, a.totp_secret, a.security_answer, a.api_key)
        if v and len(v) >= 6
    }
