"""A web app over a small SQLite store: a few deductions (one with hostile
text and a CSV document), people of every access role with web passwords, and
TestClients that sign in through the login form as a browser does."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from credentials.passwords import hash_password
from matching import approvals
from records.schemas import LinkRole
from store.db import init_db, session_factory, transaction
from store.repositories import approvals as approvals_repo
from store.repositories import deductions, documents
from store.vault import DocumentVault
from tests.integration.store import factories
from tests.migrated import migrated_sqlite
from web.app import create_app
from web.config import WebConfig

TODAY = date(2025, 3, 20)
PASSWORD = "correct horse battery"
PASSWORD_HASH = hash_password(PASSWORD)  # once: argon2 is slow on purpose
HOSTILE_MEMO = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">\u202etxt.exe'
EVIL_HTML = b"<html><script>alert(1)</script></html>"
CSV = b'sku,qty,amount\nSKU-1,3,30.00\n<b>SKU-2</b>,1,=HYPERLINK("x")\n'

# username -> (chain role, access, approval limit)
PEOPLE: dict[str, tuple[str, str, Decimal | None]] = {
    "ana": ("analyst", "analyst", None),
    "otto": ("analyst", "ops", None),
    "mia": ("manager", "approver", Decimal("1000.00")),
    "dora": ("director", "approver", None),
    "root": ("director", "admin", None),
}


@dataclass
class WebStore:
    db: sessionmaker[Session]
    vault: DocumentVault
    config: WebConfig
    ids: dict[str, int] = field(default_factory=dict)
    documents: dict[str, int] = field(default_factory=dict)

    def client(self, **kw: Any) -> TestClient:
        return TestClient(create_app(self.config), follow_redirects=False, **kw)

    def login(self, username: str, password: str = PASSWORD) -> SignedIn:
        c = self.client()
        page = c.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        r = c.post("/login", data={"username": username, "password": password, "csrf_token": token})
        assert r.status_code == 303, r.text[:500]
        page = c.get("/worklist")
        csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)
        return SignedIn(c, csrf, username)


@dataclass
class SignedIn:
    client: TestClient
    csrf: str
    username: str

    def post(self, url: str, data: dict[str, str] | None = None, **kw: Any):  # type: ignore[no-untyped-def]
        return self.client.post(url, data={"csrf_token": self.csrf, **(data or {})}, **kw)


def make_store(tmp_path: Path, **config: Any) -> WebStore:
    # a copy of a migrated store (tests/migrated.py): init_db finds it at head
    db = session_factory(init_db(migrated_sqlite(tmp_path / "fleet.db")))
    vault = DocumentVault(tmp_path / "vault")
    store = WebStore(db, vault, WebConfig(db=db, vault=vault, today=lambda: TODAY, **config))
    with transaction(db) as s:
        for name, (role, access, limit) in PEOPLE.items():
            approvals.add_user(s, name, role, "test", name.title())
            approvals.set_access(s, name, "test", access=access, approval_limit=limit)
            approvals_repo.set_password_hash(s, name, PASSWORD_HASH)
        for ext, amount, extra in (
            ("CB-1001", "250.00", {}),
            ("CB-2002", "4000.00", {"invoice_number": "INV-7002", "po_number": "PO-42"}),
            ("CB-3003", "900.00", {"memo": HOSTILE_MEMO, "invoice_number": "INV-9"}),
        ):
            row = deductions.upsert(
                s,
                factories.deduction(
                    ext, amount=Decimal(amount), deduction_date=date(2025, 3, 4), **extra
                ),
            )
            store.ids[ext] = row.id
        for key, content, name in (
            ("csv", CSV, "lines.csv"),
            ("pdf", b"%PDF-1.4 backup of the claim", "claim CB-3003.pdf"),
            ("html", EVIL_HTML, 'evil"; x=.pdf'),
        ):
            stored = vault.put(content, original_filename=name)
            res = documents.register(
                s, factories.document(content, media_type=stored.media_type, original_filename=name)
            )
            documents.link(s, res.id, LinkRole.backup, deduction_id=store.ids["CB-3003"])
            store.documents[key] = res.id
    return store


def waiting_dispute(s: Session, deduction_id: int) -> int:
    """An approved dispute the filing policy leaves for a person (awaiting_person):
    proposed by "prop", approved by "ana" (an analyst step: under 1,000)."""
    from dispute_filing.handoff import queue_approved_disputes
    from dispute_filing.policy import AutoFileRule, FilingPolicy
    from store.models import Dispute

    if approvals_repo.get_user(s, "prop") is None:
        approvals.add_user(s, "prop", "analyst", "test")
    decision = approvals.propose(s, deduction_id, "dispute", "prop")
    approvals.act(s, decision.id, "ana", approve=True, today=TODAY)
    queue_approved_disputes(s, FilingPolicy(rules=(AutoFileRule(action="person"),)), TODAY)
    return int(
        s.execute(select(Dispute.id).where(Dispute.deduction_id == deduction_id)).scalar_one()
    )


@pytest.fixture
def web(tmp_path: Path) -> WebStore:
    return make_store(tmp_path)
