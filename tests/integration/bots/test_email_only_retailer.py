"""A retailer with no portal at all (Northway): its claims come in through
``fleet import adjustments`` (the world's ERP export writes its EDI 812), the
carriers' PODs are fetched by the BOL its 812 names, the claims are judged
and approved, and the ``file_dispute northway/*`` job e-mails each approved
dispute without a browser: one valid RFC 5322 .eml per dispute in the
outbox, the same message through a local SMTP server (aiosmtpd), the packet's
bytes intact, and nothing sent again on a second run. A packet over the
retailer's e-mail size limit goes to a person with the reason, unsent."""

from __future__ import annotations

import email
import email.policy
import hashlib
import io
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from bots.jobs import EVERY_ACCOUNT, Job
from dispute_filing.habits import DisputeLimits, habits
from fixtures.erp_export import export_erp
from scheduler.pipeline import core_job
from store.models import Deduction, Dispute, HealthEvent, Verdict
from tests.browser.fleet.test_pipeline import _cli

pytestmark = pytest.mark.timeout(600)

NORTHWAY = "northway"


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.original_content))
        return "250 OK"


@pytest.fixture
def smtp_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Inbox]:
    """A local SMTP server, named to the fleet as FLEET_SMTP_URL."""
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("FLEET_SMTP_URL", f"smtp://127.0.0.1:{port}")
    try:
        yield inbox
    finally:
        controller.stop()


async def _judged(demo, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """The 812 imported through the CLI, PODs fetched by BOL, claims judged and
    approved under the demo's policy; approved disputes queued."""
    sc = demo.scenario
    paths = export_erp(
        sc.erp,
        data_dir / "edi",
        edi_retailers={str(k): v for k, v in sc.edi_retailers.items()},
        edi_deductions=sc.edi_deductions,
    )
    out = _cli(data_dir, demo.today(), "import", "adjustments", str(paths["adjustments_812"]))
    assert out.returncode == 0, out.stderr
    assert f"{len(sc.edi_deductions)} created" in out.stderr, out.stderr
    assert "equal" in out.stderr
    await demo.run_pipeline(demo.carrier_jobs)  # pods -> read_documents -> match
    decided = demo.decide_by_policy()
    assert decided["approved"], decided


def _disputes(demo) -> list[tuple[Dispute, str]]:  # type: ignore[no-untyped-def]
    with demo.runtime.db() as s:
        return list(
            s.execute(
                select(Dispute, Deduction.external_id)
                .join(Deduction, Deduction.id == Dispute.deduction_id)
                .where(Deduction.portal == NORTHWAY)
                .order_by(Dispute.id)
            ).all()
        )


def _parts(raw: bytes) -> list[tuple[str, str]]:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return [
        (str(p.get_filename()), hashlib.sha256(p.get_content()).hexdigest())
        for p in msg.iter_attachments()
    ]


async def test_email_only_retailer_disputes_land_as_eml_and_through_smtp(
    make_demo, smtp_server: _Inbox, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "fleet"
    to = habits(NORTHWAY).email["shortage"]
    async with make_demo(data_dir=data_dir, with_key_file=True) as demo:
        await _judged(demo, data_dir)
        truth = demo.scenario.truth.deductions
        with demo.runtime.db() as s:
            verdicts = dict(
                s.execute(
                    select(Deduction.external_id, Verdict.validity)
                    .join(Verdict, Verdict.deduction_id == Deduction.id)
                    .where(Deduction.portal == NORTHWAY)
                ).all()
            )
        owed = {
            d.deduction_id for d in demo.scenario.edi_deductions if truth[d.key].disputable_amount
        }
        assert owed, "the world has Northway claims to dispute"
        assert len(verdicts) == len(demo.scenario.edi_deductions)
        # the hand-over, then the e-mail job housekeeping starts: no login, no browser
        results = await demo.run_pipeline([core_job("queue_disputes")])
        (mailed,) = [r for r in results if r.job.portal == NORTHWAY]
        assert mailed.job == Job(NORTHWAY, EVERY_ACCOUNT, "file_dispute")
        assert str(mailed.job) == "file_dispute northway/*"
        assert mailed.status == "succeeded", mailed
        assert "requests" not in mailed.counts  # no browser context was opened
        rows = _disputes(demo)
        assert {ext for _, ext in rows} == owed, "every claim owed back, and only those"
        assert mailed.counts["disputes.emailed"] == len(rows)
        assert len(smtp_server.messages) == len(rows)
        received = {
            str(email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"]): (
                rcpt,
                raw,
            )
            for _, rcpt, raw in smtp_server.messages
        }
        for row, ext in rows:
            claim = next(d for d in demo.scenario.edi_deductions if d.deduction_id == ext)
            assert row.status == "research"
            assert row.amount <= truth[claim.key].disputable_amount
            raw = (data_dir / "outbox" / f"northway_{ext}.eml").read_bytes()
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            assert msg["To"] == to
            assert msg["Message-ID"] == row.dispute_number
            assert ext in msg["Subject"]
            assert claim.invoice_number in msg["Subject"]
            assert not msg.defects
            sent = [(a["name"], a["sha256"]) for a in row.packet["attachments"]]
            assert _parts(raw) == sent, "the .eml carries the packet, byte for byte"
            assert row.packet["channel"] == "email"
            assert row.packet["sent"] is True
            letter_name, _ = sent[0]
            assert letter_name.startswith("cover_letter")
            letter = next(p for p in msg.iter_attachments() if p.get_filename() == letter_name)
            text = "".join(
                page.extract_text() for page in PdfReader(io.BytesIO(letter.get_content())).pages
            )
            assert ext in text
            assert claim.invoice_number in text
            assert f"{row.amount:,.2f}" in text
            if claim.bol_number and truth[claim.key].category in ("shortage", "damage"):
                assert claim.bol_number in text, "the 812's N9*BM found the carrier's POD"
                assert len(sent) >= 2, "the POD goes with it"
            rcpt, got = received[row.dispute_number]
            assert rcpt == [to]
            assert _parts(got) == sent, "and so does the message the SMTP server took"
        # A second run (and housekeeping's next pass) sends nothing again.
        (again,) = await demo.run_jobs([Job(NORTHWAY, EVERY_ACCOUNT, "file_dispute")])
        assert again.status == "succeeded"
        assert not again.counts.get("disputes.emailed"), again.counts
        assert len(smtp_server.messages) == len(rows), "each dispute e-mailed exactly once"
        assert not [r for r in await demo.file_what_waits() if r.job.portal == NORTHWAY]
        # ... and so does the command a user runs (no account, no portal URL needed)
        out = _cli(data_dir, demo.today(), "run", "--task", "file_dispute", "--portal", NORTHWAY)
        assert out.returncode == 0, out.stderr
        assert "file_dispute northway/*" in out.stderr, out.stderr
        assert len(smtp_server.messages) == len(rows)


async def test_a_packet_over_the_email_size_limit_goes_to_a_person_unsent(
    make_demo, smtp_server: _Inbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import dispute_filing.packets as packets

    tiny = habits(NORTHWAY).model_copy(
        update={"limits": DisputeLimits(max_attachments=50, max_text=20000, max_message_bytes=4000)}
    )
    monkeypatch.setattr(
        packets, "habits", lambda portal: tiny if portal == NORTHWAY else habits(portal)
    )
    data_dir = tmp_path / "fleet"
    async with make_demo(data_dir=data_dir, with_key_file=True) as demo:
        await _judged(demo, data_dir)
        results = await demo.run_pipeline([core_job("queue_disputes")])
        (mailed,) = [r for r in results if r.job.portal == NORTHWAY]
        assert mailed.status == "partial"
        rows = _disputes(demo)
        assert rows
        assert mailed.counts["disputes.held"] == len(rows)
        for row, _ext in rows:
            assert row.status == "awaiting_person"
            assert row.dispute_number is None
            assert "would weigh about" in (row.hold_reason or "")
            assert "4,000" in (row.hold_reason or "")
        assert smtp_server.messages == []
        assert not list((data_dir / "outbox").glob("northway_*.eml"))
        with demo.runtime.db() as s:
            held = s.scalars(
                select(HealthEvent).where(
                    HealthEvent.kind == "dispute_needs_person", HealthEvent.portal == NORTHWAY
                )
            ).all()
        assert len(held) == len(rows)
