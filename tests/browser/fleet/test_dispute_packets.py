"""Dispute packets as a recovery team files them, against the fixture world in
real Chromium: a split files only its approved part where the portal takes an
amount (and waits for a person where it takes none), the cover letter reads
back with the facts, every file arrives intact (the world's sha256 of what it
received equals the vault's), a portal that takes fewer files gets them
merged, and a packet that cannot fit is refused before anything is filed."""

from __future__ import annotations

import email
import email.policy
import hashlib
import io
import json
import socket
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select, update

from bots.jobs import Job
from dispute_filing.habits import habits
from dispute_filing.narrative import OVERRIDE_DIR
from dispute_filing.packets import dispute_key, queue_dispute
from portal_adapters.registry import retailer_adapter
from records.schemas import DocumentRecord
from store.models import Deduction, Dispute, HealthEvent, Verdict
from store.repositories import disputes as disputes_repo
from store.repositories import documents as documents_repo
from tests.browser.fleet.test_pipeline import _cli

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]

RETAILERS = ("megamart", "shopright", "freshco")


def _claims(demo, portal: str, *, email: bool = False) -> list[Deduction]:  # type: ignore[no-untyped-def]
    """Claims with the window open and PDF evidence, not disputed yet (the ones the
    fleet judged invalid first); those the portal takes by e-mail only if asked."""
    world = demo.world.world
    by_email = [] if email else list(habits(portal).email)
    out = []
    with demo.runtime.db() as s:
        rows = s.execute(
            select(Deduction, Verdict.window_closes)
            .join(Verdict, Verdict.deduction_id == Deduction.id)
            .where(Deduction.portal == portal, Verdict.category.not_in(by_email))
            .order_by(Verdict.validity != "invalid", Deduction.id)
        ).all()
        for d, closes in rows:
            wd = world.deduction(portal, d.account, d.external_id)
            if wd is None or closes is None or closes < world.clock.today():
                continue
            if world.dispute_for(portal, d.external_id) is not None:
                continue
            if disputes_repo.by_key(s, dispute_key(portal, d.external_id)) is not None:
                continue
            if not any(doc.form.value == "pdf" for doc in world.available_documents(wd)):
                continue
            if world.current_amount(wd) != d.amount or d.amount < 2:
                continue
            s.expunge(d)
            out.append(d)
    assert out, f"no disputable claim on {portal}"
    return out


def _stored(demo, portal: str, claim: str):  # type: ignore[no-untyped-def]
    with demo.runtime.db() as s:
        row = disputes_repo.by_key(s, dispute_key(portal, claim))
        assert row is not None
        s.expunge(row)
        return row


async def _file(demo, portal: str, account: str):  # type: ignore[no-untyped-def]
    (result,) = await demo.run_jobs([Job(portal, account, "file_dispute")])
    assert result.error_class is None, result
    return result


def _received_intact(demo, portal: str, claim: str):  # type: ignore[no-untyped-def]
    """What the portal recorded equals what the vault keeps, file by file."""
    on_portal = demo.world.world.dispute_for(portal, claim)
    assert on_portal is not None, f"{portal}:{claim} was not filed"
    sent = _stored(demo, portal, claim).packet["attachments"]
    assert [a.sha256 for a in on_portal.attachments] == [a["sha256"] for a in sent]
    assert [a.size for a in on_portal.attachments] == [a["size"] for a in sent]
    for a in on_portal.attachments:
        assert demo.runtime.vault.verify(a.sha256), "the vault holds what was sent, intact"
    return on_portal, sent


async def _screenshot(adapter_session, running, portal: str, path: str, out: Path) -> None:  # type: ignore[no-untyped-def]
    """The portal's own page of a filed dispute, as a person would check it."""
    session = adapter_session(running, portal)
    await retailer_adapter(portal).login(session)
    page = await session.main_page()
    await page.goto(session.base_url + path)
    await page.screenshot(path=str(out), full_page=True)


async def test_splits_file_their_part_and_packets_arrive_intact(
    make_demo, adapter_session, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]  # type: ignore[no-untyped-def]
    async with make_demo(synced=True) as demo:
        world = demo.world.world
        half: dict[str, tuple[Deduction, Decimal]] = {}
        whole: dict[str, Deduction] = {}
        with demo.runtime.db() as s, s.begin():
            for portal in RETAILERS:
                first, second = _claims(demo, portal)[:2]
                part = (first.amount / 2).quantize(Decimal("0.01"))
                queue_dispute(s, portal, first.external_id, part)
                half[portal] = (first, part)
                queue_dispute(s, portal, second.external_id)
                whole[portal] = second
        for portal in RETAILERS:
            await _file(demo, portal, half[portal][0].account)

        # A split files its disputed part only, wherever the form takes an amount.
        for portal in ("shopright", "freshco"):
            d, part = half[portal]
            on_portal = world.dispute_for(portal, d.external_id)
            assert on_portal is not None
            assert on_portal.amount == part < d.amount
            assert f"{part:,.2f}" in on_portal.comment, "the narrative names the disputed part"
        number = world.dispute_for("freshco", half["freshco"][0].external_id).number
        await _screenshot(
            adapter_session, demo.world, "freshco", f"/disputes/{number}", tmp_path / "freshco.png"
        )
        # MegaMart's form takes no amount: nothing filed, the dispute waits for a person.
        d, part = half["megamart"]
        assert world.dispute_for("megamart", d.external_id) is None
        held = _stored(demo, "megamart", d.external_id)
        assert held.status == "awaiting_person"
        assert "takes no amount" in held.hold_reason
        assert f"{part}" in held.hold_reason
        assert f"{d.amount}" in held.hold_reason
        with demo.runtime.db() as s:
            kinds = s.scalars(select(HealthEvent.kind)).all()
        assert "dispute_needs_person" in kinds

        # Whole claims: filed with the portal's own reason, intact, within its limits.
        for portal in RETAILERS:
            d = whole[portal]
            on_portal, sent = _received_intact(demo, portal, d.external_id)
            assert on_portal.amount == d.amount
            limits = habits(portal).limits
            assert len(sent) <= limits.max_attachments
            assert all(a["size"] <= limits.max_attachment_bytes for a in sent)
            assert len(on_portal.comment) <= limits.max_text
            if portal == "freshco":  # a case type: the claim's own, as Lavante wants
                assert on_portal.fields["case_type"] in ("SH", "PU", "LC", "OI", "CV", "OV", "ORAD")
            else:
                category = _category(demo, portal, d.external_id)
                assert on_portal.reason == habits(portal).reason_for(category)
        # ShopRight takes one file: cover letter and evidence merged into it, in order.
        (merged,) = _stored(demo, "shopright", whole["shopright"].external_id).packet["attachments"]
        assert merged["kind"] == "merged"
        assert merged["sources"][0].startswith("cover_letter")
        data = demo.runtime.vault.read_bytes(merged["sha256"])
        letter_text = PdfReader(io.BytesIO(data)).pages[0].extract_text()
        assert whole["shopright"].external_id in letter_text

        # MegaMart: the cover letter first, the evidence files as the vault has them.
        d = whole["megamart"]
        on_portal, sent = _received_intact(demo, "megamart", d.external_id)
        assert sent[0]["kind"] == "cover_letter"
        with demo.runtime.db() as s:
            evidence_shas = {doc.sha256 for doc, _ in documents_repo.for_deduction(s, d.id)}
        assert {a["sha256"] for a in sent[1:]} <= evidence_shas | _shipment_shas(demo, d)
        letter = PdfReader(io.BytesIO(demo.runtime.vault.read_bytes(sent[0]["sha256"])))
        text = "\n".join(p.extract_text() for p in letter.pages)
        assert f"Dispute of claim {d.external_id}" in text
        assert d.invoice_number in text
        assert f"{d.amount}" in text
        for a in sent[1:]:
            assert a["name"] in text, "the letter lists the evidence it encloses"
        await _screenshot(
            adapter_session,
            demo.world,
            "megamart",
            f"/disputes/{on_portal.number}",
            tmp_path / "megamart.png",
        )
        flat = " ".join(text.split())
        assert " ".join(on_portal.comment.split()) in flat, "the letter carries the narrative"
        (tmp_path / f"cover_letter_{d.external_id}.pdf").write_bytes(
            demo.runtime.vault.read_bytes(sent[0]["sha256"])
        )


def _category(demo, portal: str, claim: str) -> str:  # type: ignore[no-untyped-def]
    with demo.runtime.db() as s:
        return s.scalar(
            select(Verdict.category)
            .join(Deduction, Deduction.id == Verdict.deduction_id)
            .where(Deduction.portal == portal, Deduction.external_id == claim)
        )


def _shipment_shas(demo, d: Deduction) -> set[str]:  # type: ignore[no-untyped-def]
    from store.models import Shipment

    out: set[str] = set()
    with demo.runtime.db() as s:
        for ship in s.scalars(select(Shipment).where(Shipment.pro_number == d.pro_number)):
            out |= {doc.sha256 for doc, _ in documents_repo.for_shipment(s, ship.id)}
    return out


async def test_a_packet_that_cannot_fit_is_refused_and_nothing_filed(
    make_demo, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "fleet"
    async with make_demo(data_dir=data_dir, synced=True) as demo:
        world = demo.world.world
        big, wordy, edited = _claims(demo, "freshco")[:3]
        # A backup over FreshCo's 5 MB a file (a scan, say), stored as a sync would.
        blob = b"%PDF-1.4\n" + b"0" * (habits("freshco").limits.max_attachment_bytes + 10)
        stored = demo.runtime.vault.put(blob, "scan.pdf", "application/pdf")
        with demo.runtime.db() as s, s.begin():
            doc = documents_repo.register(
                s,
                DocumentRecord(
                    sha256=stored.sha256,
                    size_bytes=stored.size,
                    media_type="application/pdf",
                    original_filename="scan.pdf",
                    vault_path=str(stored.path.relative_to(demo.runtime.vault.root)),
                ),
            )
            documents_repo.link(s, doc.id, "backup", deduction_id=big.id)
            queue_dispute(s, "freshco", big.external_id)
        # An analyst's template for FreshCo: one for every claim, one too long.
        overrides = data_dir / OVERRIDE_DIR / "freshco"
        overrides.mkdir(parents=True)
        (overrides / "default.j2").write_text(
            "{% if claim.number == '" + wordy.external_id + "' %}{{ 'x' * 1200 }}{% endif %}"
            "Claim {{ claim.number }}: our own words. Please credit "
            "{{ claim.disputed|money }}.\n"
        )
        with demo.runtime.db() as s, s.begin():
            queue_dispute(s, "freshco", wordy.external_id)
            queue_dispute(s, "freshco", edited.external_id)
        result = await _file(demo, "freshco", big.account)
        assert result.status == "partial"
        assert result.counts["disputes.held"] == 2
        assert result.counts["disputes.filed"] == 1
        for d, why in ((big, "bytes; freshco takes at most"), (wordy, "characters; freshco")):
            assert world.dispute_for("freshco", d.external_id) is None, "nothing filed"
            row = _stored(demo, "freshco", d.external_id)
            assert row.status == "awaiting_person"
            assert why in row.hold_reason, row.hold_reason
        filed = world.dispute_for("freshco", edited.external_id)
        assert filed is not None
        assert filed.comment.startswith(f"Claim {edited.external_id}: our own words.")

        # What a person sees: the preview says what would be sent, or why it cannot be.
        day = demo.today()
        shown = _cli(data_dir, day, "disputes", "preview", f"freshco:{big.external_id}")
        assert shown.returncode == 0, shown.stderr
        assert "cannot be filed by the robot" in shown.stdout
        assert f"scan.pdf  {len(blob):,} bytes" in shown.stdout
        exact = _cli(
            data_dir, day, "disputes", "preview", f"freshco:{edited.external_id}", "--json"
        )
        assert exact.returncode == 0, exact.stderr
        previewed = json.loads(exact.stdout)
        assert previewed["text"] == filed.comment
        assert [(a["name"], a["size"], a["sha256"]) for a in previewed["attachments"]] == [
            (a.filename, a.size, a.sha256) for a in filed.attachments
        ], "the preview is exactly what the portal received"
        listed = {
            r["claim"]: r for r in json.loads(_cli(data_dir, day, "disputes", "--json").stdout)
        }
        assert "takes at most" in listed[f"freshco:{big.external_id}"]["held_because"]
        health = json.loads(_cli(data_dir, day, "health", "--json").stdout)
        held = {r["deduction"]: r["why"] for r in health["disputes_refused"]}
        assert "characters; freshco" in held[wordy.external_id]
        alert = health["dispute_deadlines"]  # the match step's, once a business day
        assert alert["business_day"] == day.isoformat()
        assert 0 < len(alert["top"]) <= alert["count"]  # seed 7 has windows closing in 14 days
        shown = _cli(data_dir, day, "health")
        assert "Dispute windows closing within 14 days" in shown.stdout

        # Deadlines: what closes soon and is not on a portal yet, largest amount first.
        soon = json.loads(
            _cli(data_dir, day, "disputes", "deadlines", "--days", "400", "--json").stdout
        )
        assert soon, "the world has windows closing within 400 days"
        amounts = [Decimal(x["amount_at_risk"]) for x in soon]
        assert amounts == sorted(amounts, reverse=True)
        claims = {x["claim"] for x in soon}
        assert f"freshco:{edited.external_id}" not in claims, "a filed dispute is not at risk"
        assert f"freshco:{big.external_id}" in claims, "a held one still is"
        assert all(0 <= x["days_left"] <= 400 for x in soon)
        table = _cli(data_dir, day, "disputes", "deadlines", "--days", "400")
        assert soon[0]["claim"] in table.stdout


async def test_status_sync_records_partial_and_full_wins(make_demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "fleet"
    async with make_demo(data_dir=data_dir, synced=True) as demo:
        world = demo.world.world
        picked: dict[tuple[str, str], Deduction] = {}  # one of each outcome a portal has
        for portal in RETAILERS:
            for d in _claims(demo, portal):
                script = demo.scenario.truth.deductions[f"{portal}:{d.external_id}"].dispute
                if script is not None and script.outcome.value in (
                    "approved",
                    "partially_approved",
                ):
                    picked.setdefault((portal, script.outcome.value), d)
        assert {o for _, o in picked} == {"approved", "partially_approved"}, picked
        chosen = [(p, d) for (p, _), d in picked.items()]
        with demo.runtime.db() as s, s.begin():
            for portal, d in chosen:
                queue_dispute(s, portal, d.external_id)
        accounts = {(p, d.account) for p, d in chosen}
        for portal, account in sorted(accounts):
            await _file(demo, portal, account)
        longest = max(
            demo.scenario.truth.deductions[f"{p}:{d.external_id}"].dispute.days_to_outcome
            for p, d in chosen
        )
        demo.world.advance_clock(days=longest + 1)
        for portal, account in sorted(accounts):
            (result,) = await demo.run_jobs([Job(portal, account, "dispute_status")])
            assert result.error_class is None, result
        now = world.clock.now()
        expected_total = Decimal("0.00")
        partial_claims = []
        for portal, d in chosen:
            on_portal = world.dispute_for(portal, d.external_id)
            assert on_portal is not None
            row = _stored(demo, portal, d.external_id)
            assert row.status == on_portal.status_at(now).value
            paid = on_portal.approved_amount_at(now)
            assert row.recovered_amount == paid, f"{portal}: the portal's approved amount"
            expected_total += paid
            if row.status == "partially_approved":
                assert paid < row.amount
                partial_claims.append((portal, d, row.amount - paid))
        assert partial_claims

        day = demo.today()
        figures = json.loads(_cli(data_dir, day, "kpis", "--json").stdout)
        assert Decimal(figures["amount_recovered"]) == expected_total
        assert set(figures["recovered_by_portal"]) == {p for p, _ in chosen}
        listed = {
            r["claim"]: r for r in json.loads(_cli(data_dir, day, "disputes", "--json").stdout)
        }
        portal, d, lost = partial_claims[0]
        assert listed[f"{portal}:{d.external_id}"]["outcome"] == "partially won"
        exported = _cli(
            data_dir, day, "export", "credits", "--since", "2000-01-01", "--format", "json"
        )
        assert exported.returncode == 0, exported.stderr
        rows = json.loads(exported.stdout)
        back = {(r["portal"], r["deduction"], r["kind"]): Decimal(r["amount"]) for r in rows}
        assert sum(v for (_, _, k), v in back.items() if k == "recovered") == expected_total
        assert back[(portal, d.external_id, "dispute_write_off")] == lost
        again = _cli(
            data_dir, day, "export", "credits", "--since", "2000-01-01", "--format", "json"
        )
        assert not [r for r in json.loads(again.stdout) if r["kind"] == "recovered"], "once"


class _Inbox:
    """An aiosmtpd handler keeping what the test SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def _pdf_parts(raw: bytes) -> list[tuple[str, str]]:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return [
        (part.get_filename(), hashlib.sha256(part.get_content()).hexdigest())
        for part in msg.iter_attachments()
    ]


async def test_an_email_dispute_lands_in_the_outbox_and_through_smtp(
    make_demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = _Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    monkeypatch.setenv("FLEET_SMTP_URL", f"smtp://127.0.0.1:{port}")
    data_dir = tmp_path / "fleet"
    try:
        async with make_demo(data_dir=data_dir, synced=True) as demo:
            to = habits("megamart").email["compliance_fine"]
            fines = [
                d
                for d in _claims(demo, "megamart", email=True)
                if _category(demo, "megamart", d.external_id) == "compliance_fine"
            ]
            assert fines, "the world has an open OTIF fine at MegaMart"
            d = fines[0]
            part = (d.amount / 2).quantize(Decimal("0.01"))
            with demo.runtime.db() as s, s.begin():
                queue_dispute(s, "megamart", d.external_id, part)  # an e-mail states any amount
            result = await _file(demo, "megamart", d.account)
            assert result.counts["disputes.emailed"] == 1
            assert demo.world.world.dispute_for("megamart", d.external_id) is None
            row = _stored(demo, "megamart", d.external_id)
            sent = [(a["name"], a["sha256"]) for a in row.packet["attachments"]]
            eml = data_dir / "outbox" / f"megamart_{d.external_id}.eml"
            raw = eml.read_bytes()
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            assert msg["To"] == to
            assert msg["Message-ID"] == row.dispute_number
            assert row.status == "research"
            assert d.external_id in msg["Subject"]
            assert f"{part}" in msg["Subject"]
            assert f"{part:,.2f}" in msg.get_body(("plain",)).get_content()
            assert _pdf_parts(raw) == sent, "the .eml carries the packet, intact"
            assert sent[0][0].startswith("cover_letter")
            (received,) = inbox.messages
            assert received[1] == [to]
            got = email.message_from_bytes(received[2], policy=email.policy.default)
            assert got["Message-ID"] == row.dispute_number
            assert _pdf_parts(received[2]) == sent, "and so does the message the server got"
            # Killed after the server took it, before the row said so: not sent twice.
            with demo.runtime.db() as s, s.begin():
                s.execute(
                    update(Dispute)
                    .where(Dispute.id == row.id)
                    .values(status="filing", dispute_number=None)
                )
            again = await _file(demo, "megamart", d.account)
            assert again.counts["disputes.already_sent"] == 1, again.counts
            assert len(inbox.messages) == 1, "one e-mail, whatever the crash"
            assert _stored(demo, "megamart", d.external_id).dispute_number == row.dispute_number
    finally:
        smtp.stop()
