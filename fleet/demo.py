"""The demo fleet: a simulated world, an encrypted demo keyring holding its
logins, the ERP extract imported the way a user would, and a runtime over a
fresh SQLite store. ``fleet demo`` and the end-to-end tests both drive it.

Only this module (with the CLI) joins product code and the fixture world,
and only to start the world and to check results against its truth.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bots.jobs import Job, JobResult
from bots.retry import RetryPolicy
from bots.runtime import FleetRuntime
from credentials.backends import select_backend
from credentials.keyring_vault import CredentialVault, SecretKind
from credentials.secret import Secret
from fixtures.audit import AuditReport, audit
from fixtures.erp_export import export_erp
from fixtures.scenario import CARRIER_PORTALS, RETAILER_PORTALS, Scenario
from fixtures.server import RunningWorld, start_world
from fleet.runtime_factory import open_runtime
from fleet.settings import get_settings
from store.db import transaction
from store.erp_import import import_file
from store.extraction_pass import extract_pending
from store.repositories import accounts as accounts_repo


def demo_keyring(data_dir: Path, scenario: Scenario) -> CredentialVault:
    """An encrypted file keyring with a fresh random key, holding the world's logins."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_file = data_dir / "demo-keyring.key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(32))
        key_file.chmod(0o600)
    backend = select_backend(
        data_dir, env={"FLEET_KEYRING_BACKEND": "file", "FLEET_KEYRING_KEY_FILE": str(key_file)}
    )
    creds = CredentialVault(backend, data_dir)
    for a in scenario.accounts:
        creds.set(a.portal, a.username, Secret(a.password), SecretKind.PASSWORD)
        for kind, value in (
            (SecretKind.TOTP, a.totp_secret),
            (SecretKind.SECURITY_ANSWER, a.security_answer),
            (SecretKind.API_KEY, a.api_key),
        ):
            if value:
                creds.set(a.portal, a.username, Secret(value), kind)
    return creds


@dataclass
class FleetDemo:
    """A running world plus a runtime that works on it."""

    scenario: Scenario
    world: RunningWorld
    runtime: FleetRuntime
    results: list[JobResult] = field(default_factory=list)

    @property
    def retail_jobs(self) -> list[Job]:
        return [
            Job(a.portal, a.username, "sync")
            for a in self.scenario.accounts
            if a.portal in RETAILER_PORTALS
        ]

    @property
    def carrier_jobs(self) -> list[Job]:
        return [
            Job(a.portal, a.username, "pods")
            for a in self.scenario.accounts
            if a.portal in CARRIER_PORTALS
        ]

    async def run_jobs(self, jobs: list[Job]) -> list[JobResult]:
        results = list(await asyncio.gather(*(self.runtime.run(j) for j in jobs)))
        self.results += results
        return results

    async def sync_everything(self) -> list[JobResult]:
        """Retailers, then extraction (PRO/BOL in backups), then carriers."""
        results = await self.run_jobs(self.retail_jobs)
        await asyncio.to_thread(extract_pending, self.runtime.db, self.runtime.vault)
        results += await self.run_jobs(self.carrier_jobs)
        return results

    def audit(self, results: list[JobResult] | None = None) -> AuditReport:
        reasons: dict[str, str] = {}
        for r in results if results is not None else self.results:
            for h in r.needs_human:
                reasons[h.ref] = f"needs-human ({h.error_class})"
            if r.error_class:
                for d in self.scenario.deductions_on(r.job.portal):
                    if d.account == r.job.account:
                        reasons.setdefault(d.deduction_id, r.error_class)
        return audit(self.world.world, self.runtime.db, reasons=reasons)


@asynccontextmanager
async def fleet_demo(
    scenario: Scenario,
    data_dir: Path,
    *,
    faults: str | None = None,
    policy: RetryPolicy | None = None,
    max_contexts: int = 4,
    credentials: CredentialVault | None = None,
    say: Any = None,
) -> AsyncIterator[FleetDemo]:
    """Serve the world, load the keyring and the ERP extract, open a runtime."""
    say = say or (lambda *_: None)
    running = start_world(scenario, faults)
    try:
        say(
            f"world: seed {scenario.seed} ({scenario.size}), {len(scenario.deductions)} "
            f"deductions, {len(scenario.shipments)} shipments, five portals up"
        )
        settings = get_settings(
            data_dir=data_dir,
            database_url=None,
            portal_urls=running.urls,
            max_contexts=max_contexts,
        )
        if credentials is None:
            say("keyring: loading the world's logins into an encrypted demo keyring")
            credentials = await asyncio.to_thread(demo_keyring, data_dir, scenario)
        async with open_runtime(settings, credentials=credentials, policy=policy) as rt:
            with transaction(rt.db) as s:
                for a in scenario.accounts:
                    accounts_repo.upsert_account(s, a.portal, a.username)
            paths = await asyncio.to_thread(export_erp, scenario.erp, data_dir / "erp")
            for kind in ("invoices", "promotions", "shipments", "remittances"):
                res = await asyncio.to_thread(import_file, rt.db, kind, paths[kind])
                say(f"erp: imported {res.records} {kind}")
            yield FleetDemo(scenario, running, rt)
    finally:
        running.stop()


def summary(demo: FleetDemo, report: AuditReport, started: float) -> dict[str, Any]:
    return {
        "seed": demo.scenario.seed,
        "size": demo.scenario.size,
        "seconds": round(time.monotonic() - started, 1),
        "jobs": [
            {
                "portal": r.job.portal,
                "account": r.job.account,
                "task": r.job.task,
                "status": r.status,
                "error_class": r.error_class,
                "counts": dict(sorted(r.counts.items())),
                "needs_human": [h.ref for h in r.needs_human],
            }
            for r in demo.results
        ],
        "requests_served": dict(demo.world.world.record.requests),
        "audit": report.as_dict(),
    }
