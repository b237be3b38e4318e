"""A portal's limits held by the whole Celery fleet, seen from the portal.

Two real ``fleet worker`` processes on a Redis broker sync two MegaMart
accounts at once. Each process alone keeps to fleet.toml's limits; together
they keep to them only because the bucket and the session slots live in Redis
(bots/politeness_shared.py). What is checked is the portal's own record: when
each request reached it (``World.busiest``), and which runs were logged in at
once (bot_runs, whose rows open and close inside the session slot).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from bots.jobs import Job
from bots.politeness import PortalLimits
from bots.politeness_shared import KEY_PREFIX, SESSIONS_PREFIX
from fixtures.scenario import Scenario
from fixtures.scenario_io import load_scenario
from fixtures.world import World
from fleet.demo import demo_keyring
from scheduler.dispatch import send_job
from tests.conftest import EXAMPLE_SCENARIO
from tests.integration.scheduler.celery_fleet import Fleet, wait_until
from tests.integration.scheduler.conftest import need

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BROKER = "redis://127.0.0.1:6379/12"
"""A database of its own: the other Celery tests purge theirs (db 15) and may run
beside this one."""
PORTAL, ACCOUNTS = "megamart", ("acme-ar", "acme-east")
PER_MINUTE = 45
"""Low enough that two syncs' requests (about 58) are more than a minute's allowance."""
BURST = PortalLimits().burst  # what the runtime gives every portal
JITTER = 2
"""Requests over the bucket's bound a window may hold: the bucket admits a
request, the portal records it when it answers, and requests admitted apart
may be answered closer together. Two local buckets would double the bound."""


def allowed(seconds: float) -> float:
    """The most a GCRA of ``PER_MINUTE`` and ``BURST`` admits in any window of
    ``seconds``: a burst, then the rate (plus :data:`JITTER`)."""
    return BURST + PER_MINUTE * seconds / 60 + JITTER


def two_accounts() -> Scenario:
    """The example world with a second MegaMart login holding every other claim
    of the first: two syncs of one portal that no account lock serializes."""
    base = load_scenario(EXAMPLE_SCENARIO)
    data = base.model_dump(mode="json")
    first = next(a for a in data["accounts"] if a["portal"] == PORTAL)
    data["accounts"].append({**first, "username": ACCOUNTS[1]})
    mine = [d for d in data["deductions"] if d["portal"] == PORTAL]
    for d in mine[1::2]:
        d["account"] = ACCOUNTS[1]
    return Scenario.model_validate(data)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return two_accounts()


@pytest.fixture(scope="module")
def keyring(tmp_path_factory: pytest.TempPathFactory, scenario: Scenario) -> Path:
    root = tmp_path_factory.mktemp("keyring-two-accounts")
    demo_keyring(root, scenario)
    return root


@pytest.fixture
def broker() -> Iterator[str]:
    need("Redis", 6379)
    client = redis.Redis.from_url(BROKER)
    keys = [KEY_PREFIX + PORTAL, SESSIONS_PREFIX + PORTAL]
    client.delete(*keys)  # a bucket left by an aborted run would pace this one
    yield BROKER
    client.delete(*keys)
    client.close()


@pytest.fixture
def two_syncs(
    tmp_path: Path, world_factory: Any, scenario: Scenario, keyring: Path, broker: str
) -> Callable[[str], tuple[World, list[Any]]]:
    """``two_syncs(megamart's fleet.toml lines)``: the world and MegaMart's runs
    after two workers synced both accounts (:func:`sync_both_on_two_workers`)."""

    def run(lines: str) -> tuple[World, list[Any]]:
        running = world_factory(scenario)
        fleet = Fleet(tmp_path, running, broker, keyring, 300, portal_lines={PORTAL: lines})
        try:
            return running.world, sync_both_on_two_workers(fleet)
        finally:
            fleet.close()

    return run


def sync_both_on_two_workers(fleet: Fleet) -> list[Any]:
    """Both workers up, then one sync per account; returns the portal's runs
    once every job (follow-ups included) is done."""
    for name in ("w1", "w2"):
        fleet.start_worker(name)
    for account in ACCOUNTS:
        send_job(fleet.app, Job(PORTAL, account, "sync"), on_demand=False)

    def settled() -> bool:
        syncs = [r for r in fleet.runs(portal=PORTAL, task="sync") if r.finished_at]
        started = sum(len(fleet.events(w, "worker.job_start")) for w in ("w1", "w2"))
        done = sum(len(fleet.events(w, "worker.job_done")) for w in ("w1", "w2"))
        return len(syncs) == 2 and started == done

    wait_until(settled, 240, "both syncs and their follow-ups to finish")
    for name in ("w1", "w2"):  # each process served the portal: two hosts, one portal
        portals = [e["portal"] for e in fleet.events(name, "worker.job_start")]
        assert PORTAL in portals, (name, portals)
    runs = fleet.runs(portal=PORTAL)
    assert {r.account for r in runs if r.task == "sync"} == set(ACCOUNTS)
    assert all(r.status in ("succeeded", "partial") for r in runs), [
        (r.task, r.status, r.error_class) for r in runs
    ]
    return runs


def most_at_once(runs: list[Any]) -> int:
    """The most runs open at one instant (a run that ends as another starts: one)."""
    edges: list[tuple[datetime, int]] = []
    for r in runs:
        edges += [(r.started_at, 1), (r.finished_at, -1)]
    most = now = 0
    for _, step in sorted(edges):
        now += step
        most = max(most, now)
    return most


def test_two_workers_keep_to_one_portals_requests_per_minute(
    two_syncs: Callable[[str], tuple[World, list[Any]]],
) -> None:
    world, runs = two_syncs(f"requests_per_minute = {PER_MINUTE}\nmax_sessions = 2\n")
    served = world.record.requests[PORTAL]
    figures = {w: world.busiest(PORTAL, w) for w in (60, 10, 5)}
    print(f"\n{PORTAL}: {served} requests; most in any window {figures}; limit {PER_MINUTE}/min")
    assert most_at_once(runs) == 2, "the two syncs worked the portal at the same time"
    # More than a minute's allowance: the busiest minute needed the fleet-wide bucket.
    assert served > allowed(60), served
    for seconds, most in figures.items():
        assert most <= allowed(seconds), (seconds, most, allowed(seconds))


def test_two_workers_keep_to_one_portals_max_sessions(
    two_syncs: Callable[[str], tuple[World, list[Any]]],
) -> None:
    _, runs = two_syncs("requests_per_minute = 6000\nmax_sessions = 1\n")
    # each worker would run its own sync at once (one slot per process): the
    # fleet-wide slot makes the second wait for the first
    assert most_at_once(runs) == 1, [(r.account, r.started_at, r.finished_at) for r in runs]
