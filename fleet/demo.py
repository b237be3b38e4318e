"""The demo fleet: a simulated world, configured and run the way a user runs
the product, then checked against the world's truth.

What a user does, the demo does through the same code: a fleet.toml naming
the world's portals, accounts and a filing policy (validated by the same
loader as ``fleet config check``); the logins in an encrypted keyring (a fresh
key in the demo's data dir); the ERP extract through ``fleet import``'s code;
the pipeline through ``fleet run``'s dispatcher and jobs (sync, read
documents, PODs, match, queue disputes, file, status); approvals through the
functions behind ``fleet propose`` / ``fleet approve`` / ``fleet disputes
file``, under the demo approval policy (:data:`DEMO_APPROVAL_POLICY`); the
credit export through ``fleet export credits``'s code. The business day is the
world's clock, which the demo moves on so disputes can be decided.

Only this module (with the CLI) joins product code and the fixture world, and
only to start the world and to check results against its truth.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bots.jobs import Job, JobResult
from bots.retry import RetryPolicy
from bots.runtime import FleetRuntime
from credentials.backends import select_backend
from credentials.keyring_vault import CredentialVault, SecretKind
from credentials.secret import Secret
from dispute_filing.handoff import NotReleasable, release
from fixtures.audit import AuditReport, audit
from fixtures.erp_export import export_erp
from fixtures.scenario import Scenario
from fixtures.server import RunningWorld, start_world
from fleet.accounts import follow_fleet_toml
from fleet.config_loader import settings_for
from fleet.running import run_jobs
from fleet.runtime_factory import open_runtime
from fleet.settings import Settings
from matching.approvals import ApprovalError, act, add_user, propose
from records.schemas import DisputeStatus
from scheduler.config import FleetConfig, load_config
from scheduler.pipeline import pending_work, portal_kind, start_jobs
from store.db import transaction
from store.erp_import import import_file
from store.models import Decision, DecisionStep, Deduction, Dispute, Verdict
from store.x12_import import import_adjustments

DEMO_APPROVAL_POLICY = """\
The demo's people: ana (analyst) proposes, leo (analyst), mia (manager) and
dora (director) approve, each step by the first of them whose role reaches it
(nobody approves their own proposal). ana proposes, for every verdict:
invalid -> dispute the claim; partial -> split (accept the valid amount as a
credit memo, dispute the rest); valid -> accept as a credit memo;
needs_review -> nothing yet (the evidence it names is missing). Every step is
approved unless the portal's dispute window has closed (then it is refused,
never overridden). Filing policy (fleet.toml [disputes]): disputes up to
10,000 file by themselves; larger ones wait for a person, and dora releases
them (fleet disputes file).""".replace("\n", " ")

DEMO_FILING_RULES = """\
[disputes]
# Disputes up to 10,000 are filed by the robot as soon as they are approved;
# larger ones wait for a person (fleet disputes file REF).
[[disputes.rules]]
max_amount = 10000
action = "auto"
[[disputes.rules]]
action = "person"
"""

PROPOSER = "ana"
APPROVERS = {"analyst": ("leo",), "manager": ("mia",), "director": ("dora",)}
DEMO_USERS = {"ana": "analyst", "leo": "analyst", "mia": "manager", "dora": "director"}


@dataclass
class MailServer:
    """The demo's local SMTP server (aiosmtpd): where e-mailed disputes land."""

    url: str
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(
            (envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content))
        )
        return "250 OK"


@contextmanager
def local_mail_server() -> Iterator[MailServer | None]:
    """An SMTP server on 127.0.0.1 (a free port) for the demo's e-mailed
    disputes; None when aiosmtpd is not installed (the outbox still gets
    every message)."""
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        yield None
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP line
    mail = MailServer(f"smtp://127.0.0.1:{port}")
    controller = Controller(mail, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mail
    finally:
        controller.stop()


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


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_demo_config(
    data_dir: Path, urls: dict[str, str], scenario: Scenario, database_url: str | None = None
) -> Path:
    """The fleet.toml a user would write for this world (no secrets in it).
    ``database_url``: the store (default: SQLite in the data dir)."""
    lines = [
        "# Written by fleet demo: the simulated world's portals and accounts.",
        f"data_dir = {_toml_str(str(data_dir))}",
    ]
    if database_url is not None:
        lines.append(f"database_url = {_toml_str(database_url)}")
    lines.append("")
    for portal, url in sorted(urls.items()):
        lines += [f"[portals.{portal}]", f"base_url = {_toml_str(url)}", "max_sessions = 2", ""]
    for a in scenario.accounts:
        lines += [
            "[[accounts]]",
            f"portal = {_toml_str(a.portal)}",
            f"username = {_toml_str(a.username)}",
            "",
        ]
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = data_dir / "fleet.toml"
    path.write_text("\n".join(lines) + "\n" + DEMO_FILING_RULES, encoding="utf-8")
    path.chmod(0o600)
    return path


@dataclass
class FleetDemo:
    """A running world plus a runtime that works on it, configured like a user's."""

    scenario: Scenario
    world: RunningWorld
    runtime: FleetRuntime
    config: FleetConfig
    settings: Settings
    results: list[JobResult] = field(default_factory=list)
    on_result: Callable[[JobResult], None] | None = None

    @property
    def accounts(self) -> list[tuple[str, str]]:
        return [(a.portal, a.username) for a in self.config.accounts]

    @property
    def retail_jobs(self) -> list[Job]:
        """A sync of every retailer account (the pipeline's start)."""
        return start_jobs(a for a in self.accounts if portal_kind(a[0]) != "carrier")

    @property
    def carrier_jobs(self) -> list[Job]:
        """A pods job on every carrier account."""
        return [Job(p, a, "pods") for p, a in self.accounts if portal_kind(p) == "carrier"]

    async def run_jobs(self, jobs: list[Job]) -> list[JobResult]:
        """These jobs alone (no follow-ups), concurrently."""
        results = list(await asyncio.gather(*(self.runtime.run(j) for j in jobs)))
        self.results += results
        return results

    async def run_pipeline(self, jobs: list[Job] | None = None) -> list[JobResult]:
        """These jobs (default: the pipeline's start, a sync per retailer) and
        everything that follows them, as ``fleet run`` runs them."""
        results = await run_jobs(
            self.runtime,
            start_jobs(self.accounts) if jobs is None else jobs,
            workers=self.runtime.pool.max_contexts,
            portal_limits={p: c.max_sessions for p, c in self.config.portals.items()},
            on_result=self.on_result,
        )
        self.results += results
        return results

    async def sync_everything(self) -> list[JobResult]:
        """The pipeline from every retailer's sync: documents read, PODs, matching."""
        return await self.run_pipeline()

    def today(self) -> Any:
        return self.world.world.clock.today()

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

    # ------------------------------------------------------------------ people

    def decide_by_policy(self) -> dict[str, Any]:
        """The demo's people propose and approve (see DEMO_APPROVAL_POLICY)."""
        out: dict[str, Any] = {"proposed": {}, "approved": 0, "refused": []}
        today = self.today()
        with transaction(self.runtime.db) as s:
            for user, role in DEMO_USERS.items():
                if user not in _users(s):
                    add_user(s, user, role, actor="system:demo")
            rows = s.execute(
                select(Verdict, Deduction)
                .join(Deduction, Deduction.id == Verdict.deduction_id)
                .where(~Deduction.id.in_(select(Decision.deduction_id)))
                .order_by(Deduction.id)
            ).all()
            for verdict, ded in rows:
                kind, accept = _proposal(verdict, ded)
                if kind is None:
                    continue
                try:
                    decision = propose(
                        s,
                        ded.id,
                        kind,
                        PROPOSER,
                        accept_amount=accept,
                        note=f"demo policy: verdict {verdict.validity}",
                    )
                except ApprovalError as exc:
                    out["refused"].append(f"{ded.portal}:{ded.external_id}: {exc}")
                    continue
                out["proposed"][kind] = out["proposed"].get(kind, 0) + 1
                if _approve_all(s, decision.id, today, out):
                    out["approved"] += 1
        return out

    def release_waiting(self) -> int:
        """dora releases every dispute the filing policy left for a person."""
        n = 0
        with transaction(self.runtime.db) as s:
            for d in s.scalars(
                select(Dispute).where(Dispute.status == DisputeStatus.awaiting_person.value)
            ):
                try:
                    release(s, d, "dora", self.today())
                except NotReleasable:
                    continue
                n += 1
        return n

    async def file_what_waits(self) -> list[JobResult]:
        """What the scheduler's housekeeping starts: hand-over and filing."""
        return await self.run_pipeline(await asyncio.to_thread(pending_work, self.runtime.db))


def _users(s: Any) -> set[str]:
    from store.models import User

    return set(s.scalars(select(User.username)))


def _proposal(verdict: Verdict, ded: Deduction) -> tuple[str | None, Decimal | None]:
    validity = str(verdict.validity)
    if validity == "invalid":
        return "dispute", None
    if validity == "valid":
        return "accept", None
    valid = verdict.valid_amount
    if validity == "partial" and valid is not None and Decimal("0") < valid < ded.amount:
        return "split", valid
    return None, None


def _approve_all(s: Any, decision_id: int, today: Any, out: dict[str, Any]) -> bool:
    """Approve each step with the first demo person whose role reaches it."""
    while True:
        step = s.scalars(
            select(DecisionStep)
            .where(DecisionStep.decision_id == decision_id, DecisionStep.status == "pending")
            .order_by(DecisionStep.level)
        ).first()
        if step is None:
            return True
        acted = set(
            s.scalars(select(DecisionStep.actor).where(DecisionStep.decision_id == decision_id))
        )
        people = [p for p in APPROVERS.get(step.role, ()) if p not in acted]
        people += [p for p in ("mia", "dora") if p not in acted and p not in people]
        for person in people:
            try:
                act(s, decision_id, person, approve=True, note="demo policy", today=today)
                break
            except ApprovalError as exc:
                if "window" in str(exc):
                    out["refused"].append(f"decision {decision_id}: {exc}")
                    return False
        else:
            out["refused"].append(
                f"decision {decision_id}: nobody may approve the {step.role} step"
            )
            return False


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
    edi: bool = False,
    smtp_url: str | None = None,
    database_url: str | None = None,
) -> AsyncIterator[FleetDemo]:
    """Serve the world, write its fleet.toml, load the keyring and the ERP
    extract, open a runtime on the world's clock.

    ``edi``: also import the 812 file of the retailers with no portal
    (Northway), as ``fleet import adjustments`` does; off by default, so the
    tests that share this fixture see the portals' world alone. ``smtp_url``:
    where e-mailed disputes go (else ``FLEET_SMTP_URL``, else the outbox only).
    ``database_url``: the store (default: SQLite in the data dir), written into
    fleet.toml so every ``fleet`` process started on it shares it."""
    say = say or (lambda *_: None)
    running = start_world(scenario, faults)
    try:
        say(
            f"world: seed {scenario.seed} ({scenario.size}), {len(scenario.deductions)} "
            f"deductions, {len(scenario.shipments)} shipments, five portals up"
        )
        path = await asyncio.to_thread(
            write_demo_config, data_dir, running.urls, scenario, database_url
        )
        config = load_config(path, required=True)
        settings = settings_for(
            config, data_dir=data_dir, database_url=database_url, max_contexts=max_contexts
        ).model_copy(update={"human_wait_seconds": 0})  # nobody watches the demo's ops page
        if smtp_url is not None:
            settings = settings.model_copy(update={"smtp_url": smtp_url})
        if credentials is None:
            say("keyring: loading the world's logins into an encrypted demo keyring")
            credentials = await asyncio.to_thread(demo_keyring, data_dir, scenario)
        async with open_runtime(
            settings,
            credentials=credentials,
            policy=policy,
            filing=config.disputes,
            today=running.world.clock.today,
        ) as rt:
            await asyncio.to_thread(follow_fleet_toml, settings.resolved_database_url, path)
            paths = await asyncio.to_thread(
                export_erp,
                scenario.erp,
                data_dir / "erp",
                edi_retailers={str(k): v for k, v in scenario.edi_retailers.items()},
                edi_deductions=scenario.edi_deductions if edi else None,
            )
            for kind in ("invoices", "promotions", "shipments", "remittances"):
                res = await asyncio.to_thread(import_file, rt.db, kind, paths[kind])
                say(f"erp: imported {res.records} {kind}")
            if edi:
                adj = await asyncio.to_thread(import_adjustments, rt.db, paths["adjustments_812"])
                say(
                    f"edi: imported {adj.deductions} deductions from {adj.path.name} "
                    f"({', '.join(f'{p} {n}' for p, n in sorted(adj.portals.items()))}): "
                    "no portal, disputes by e-mail"
                )
            yield FleetDemo(scenario, running, rt, config, settings)
    finally:
        running.stop()
