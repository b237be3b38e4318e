"""Fixtures for runtime tests: a generated world, a shared encrypted demo
keyring (its key derivation is slow, so one per session), and a FleetDemo per
test in its own data dir."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.retry import RetryPolicy
from fixtures.generator import generate
from fixtures.scenario import RETAILER_PORTALS, Scenario
from fleet.demo import FleetDemo, demo_keyring, fleet_demo
from records.normalize import portal_rules
from records.schemas import DeductionRecord
from store.repositories import deductions as deductions_repo

TEST_POLICY = RetryPolicy(max_attempts=8, base_delay=0.05, max_delay=0.5, max_retry_after=3)


@pytest.fixture(scope="session")
def small_world() -> Scenario:
    return generate(7, "small")


@pytest.fixture(scope="session")
def shared_keyring(small_world: Scenario, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return demo_keyring(tmp_path_factory.mktemp("keyring"), small_world)


@pytest.fixture
def make_demo(small_world: Scenario, shared_keyring, tmp_path: Path):  # type: ignore[no-untyped-def]
    """``async with make_demo(faults=None, scenario=None, data_dir=None) as demo``.

    ``with_key_file``: a keyring of the demo's own in its data dir (its key file
    there too), for tests that run the ``fleet`` command on the demo's store."""

    def make(
        *,
        faults: str | None = None,
        scenario: Scenario | None = None,
        data_dir: Path | None = None,
        credentials=None,
        with_key_file: bool = False,
    ) -> AsyncIterator[FleetDemo]:  # type: ignore[no-untyped-def]
        where = data_dir or tmp_path / "fleet"
        if with_key_file:
            credentials = demo_keyring(where, scenario or small_world)
        return fleet_demo(
            scenario or small_world,
            where,
            faults=faults,
            policy=TEST_POLICY,
            credentials=credentials or shared_keyring,
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
