"""Fixtures for runtime tests (a plugin of tests/conftest.py, so that each
session-scoped one exists once however many folders use it): a generated world, a shared encrypted demo
keyring (its key derivation is slow, so one per session), and a FleetDemo per
test in its own data dir.

Many tests start from a store the robots have already filled (every retailer
synced, documents read, PODs fetched, claims judged): that sync costs about a
minute and a half, so it runs once per ``pytest`` run, for both xdist
processes (:func:`synced_snapshot`), and
``make_demo(synced=True)`` gives each test its own copy of that data dir,
served by a fresh world from the same scenario. The robots filled it from the
portals, through the product's own jobs; no loader is involved. The fresh
world equals the one the snapshot was taken from (a sync changes nothing on a
portal); saved browser sessions from the old world no longer log in, so the
first job of a copy logs in again, as after a portal's session expiry."""

from __future__ import annotations

import asyncio
import fcntl
import pickle
import shutil
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from bots.jobs import JobResult
from bots.retry import RetryPolicy
from credentials.backends import select_backend
from credentials.keyring_vault import CredentialVault
from fixtures.generator import generate
from fixtures.scenario import RETAILER_PORTALS, Scenario
from fleet.demo import FleetDemo, demo_keyring, fleet_demo
from records.normalize import portal_rules
from records.schemas import DeductionRecord
from store.repositories import deductions as deductions_repo

TEST_POLICY = RetryPolicy(max_attempts=8, base_delay=0.05, max_delay=0.5, max_retry_after=3)

T = TypeVar("T")


def once_per_run(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    compute: Callable[[], T],
) -> T:
    """``compute()`` once per ``pytest`` run, even across pytest-xdist's
    processes: the first to ask computes it under a file lock in the run's
    temp root (the workers' common parent, which no other run uses) and leaves
    a pickle there; the others wait on the lock and read it. The result must
    pickle, and the paths it names stay where it put them, in the run's temp
    tree. In one process it is plainly ``compute()``."""
    if not hasattr(request.config, "workerinput"):  # no xdist worker
        return compute()
    root = tmp_path_factory.getbasetemp().parent
    kept = root / f"{name}.pickle"
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if kept.exists():
            value: T = pickle.loads(kept.read_bytes())
            return value
        value = compute()
        kept.write_bytes(pickle.dumps(value))
        return value


def once_per_run_or_later(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    compute: Callable[[], T],
) -> Callable[[], T]:
    """:func:`once_per_run` for a value a test needs only late: when another
    xdist process is computing it right now, return at once, and wait for its
    pickle only when the returned getter is called (the test runs meanwhile,
    instead of waiting on the lock). Otherwise it is computed (or read) now,
    as :func:`once_per_run` does; the getter then returns it."""
    if hasattr(request.config, "workerinput"):
        root = tmp_path_factory.getbasetemp().parent
        with (root / f"{name}.lock").open("w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # the other process computes it now
                return lambda: once_per_run(request, tmp_path_factory, name, compute)
            fcntl.flock(lock, fcntl.LOCK_UN)
    value = once_per_run(request, tmp_path_factory, name, compute)
    return lambda: value


@pytest.fixture(scope="session")
def small_world() -> Scenario:
    return generate(7, "small")


@pytest.fixture(scope="session")
def tiny_world() -> Scenario:
    """The generator's tiny world: every portal, both carriers, claims to
    dispute on every retailer (tests/unit/fixtures/test_generator.py holds it
    to that), a quarter of the small world's claims. For tests that run the
    whole fleet many times over or under faults, where size adds time and no
    case; ``make_demo(scenario=tiny_world, with_key_file=True)`` (its logins
    are not the shared keyring's)."""
    return generate(7, "tiny")


@pytest.fixture(scope="session")
def shared_keyring(small_world: Scenario, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return demo_keyring(tmp_path_factory.mktemp("keyring"), small_world)


@dataclass(frozen=True)
class SyncedSnapshot:
    """A data dir the robots filled from the small world (never written after
    the fixture: tests copy it) and what the jobs that filled it reported."""

    data_dir: Path
    results: list[JobResult]


def own_keyring(data_dir: Path) -> CredentialVault:
    """The demo keyring already in ``data_dir`` (its key file beside it), opened
    as ``fleet`` opens it: nothing is written."""
    key_file = data_dir / "demo-keyring.key"
    backend = select_backend(
        data_dir, env={"FLEET_KEYRING_BACKEND": "file", "FLEET_KEYRING_KEY_FILE": str(key_file)}
    )
    return CredentialVault(backend, data_dir)


@pytest.fixture(scope="session")
def synced_snapshot(
    small_world: Scenario, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> SyncedSnapshot:
    """The small world synced once per ``pytest`` run by the fleet (see the
    module doc), for both xdist processes (:func:`once_per_run`)."""

    def sync() -> SyncedSnapshot:
        where = tmp_path_factory.mktemp("synced") / "fleet"

        async def fill() -> list[JobResult]:
            creds = demo_keyring(where, small_world)
            async with fleet_demo(
                small_world, where, policy=TEST_POLICY, credentials=creds
            ) as demo:
                return await demo.sync_everything()

        # A thread of its own: the tests' event loop is not running here, and
        # asyncio.run must not replace it as the main thread's current loop.
        with ThreadPoolExecutor(1) as pool:
            results = pool.submit(asyncio.run, fill()).result()
        return SyncedSnapshot(where, results)

    return once_per_run(request, tmp_path_factory, "synced-snapshot", sync)


@pytest.fixture
def make_demo(
    small_world: Scenario, shared_keyring, tmp_path: Path, request: pytest.FixtureRequest
):  # type: ignore[no-untyped-def]
    """``async with make_demo(faults=None, scenario=None, data_dir=None) as demo``.

    ``with_key_file``: a keyring of the demo's own in its data dir (its key file
    there too), for tests that run the ``fleet`` command on the demo's store.
    ``synced``: start from a copy of :func:`synced_snapshot` (its keyring, with
    its key file, comes along), on the small world. ``database_url``: the store
    (default: SQLite in the data dir)."""

    def make(
        *,
        faults: str | None = None,
        scenario: Scenario | None = None,
        data_dir: Path | None = None,
        credentials=None,
        with_key_file: bool = False,
        synced: bool = False,
        database_url: str | None = None,
    ) -> AsyncIterator[FleetDemo]:  # type: ignore[no-untyped-def]
        where = data_dir or tmp_path / "fleet"
        if synced:
            assert scenario is None, "the snapshot is of the small world"
            snapshot: SyncedSnapshot = request.getfixturevalue("synced_snapshot")
            shutil.copytree(snapshot.data_dir, where, symlinks=True)
            credentials = own_keyring(where)
        elif with_key_file:
            credentials = demo_keyring(where, scenario or small_world)
        return fleet_demo(
            scenario or small_world,
            where,
            faults=faults,
            policy=TEST_POLICY,
            credentials=credentials or shared_keyring,
            database_url=database_url,
        )

    return make


def load_visible_deductions(demo: FleetDemo) -> int:
    """Put every visible deduction in the store through the store's write path,
    as a retailer sync would (for tests of the carrier side alone)."""
    world = demo.world.world
    n = 0
    with demo.runtime.db() as s, s.begin():
        for a in demo.scenario.accounts:
            if a.portal not in RETAILER_PORTALS:
                continue
            for d in world.visible_deductions(a.portal, a.username):
                rules = portal_rules(d.portal)
                deductions_repo.upsert(
                    s,
                    DeductionRecord(
                        portal=d.portal,
                        external_id=d.deduction_id,
                        account=d.account,
                        amount=world.current_amount(d),
                        reason_code=d.reason_code,
                        category=rules.category(d.reason_code, d.reason_text),
                        carrier=d.carrier,
                        pro_number=d.pro_number,
                        bol_number=d.bol_number,
                        deduction_date=d.deduction_date,
                        invoice_number=d.invoice_number,
                    ),
                )
                n += 1
    return n
