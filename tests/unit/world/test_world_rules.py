from __future__ import annotations

from datetime import date
from decimal import Decimal

import pyotp
import pytest

from fixtures.faults import FaultPlan
from fixtures.portals.kit import Obfuscator, SessionStore
from fixtures.world import DisputeRefused, DisputeStatus, World, busiest_window

PDF = b"%PDF-1.4\n%test\n"


def test_clock_moves_forward_only(hand_scenario) -> None:  # type: ignore[no-untyped-def]
    w = World(hand_scenario)
    assert w.clock.today() == date(2026, 11, 1)
    w.clock.advance(days=3)
    assert w.clock.today() == date(2026, 11, 4)
    with pytest.raises(ValueError, match="only moves forward"):
        w.clock.advance(days=-1)


def test_deductions_appear_when_posted(hand_scenario) -> None:  # type: ignore[no-untyped-def]
    w = World(hand_scenario)
    ids = {d.deduction_id for d in w.visible_deductions("megamart", "acme-ar")}
    assert "4023344524" not in ids  # posted 2026-11-10
    assert len(ids) == 24
    w.clock.advance(days=9)
    assert len(w.visible_deductions("megamart", "acme-ar")) == 25


def test_deductions_are_scoped_to_the_account(hand_scenario) -> None:  # type: ignore[no-untyped-def]
    w = World(hand_scenario)
    assert w.deduction("megamart", "someone-else", "4023344501") is None
    assert w.visible_deductions("shopright", "acme-ar") == []


def test_revision_changes_amount_from_its_date(hand_scenario) -> None:  # type: ignore[no-untyped-def]
    w = World(hand_scenario)
    d = w.deduction("megamart", "acme-ar", "4023344502")
    assert w.current_amount(d) == Decimal("175.00")
    w.clock.advance(days=2)
    assert w.current_amount(d) == Decimal("150.00")


def test_backup_arrives_later(hand_scenario) -> None:  # type: ignore[no-untyped-def]
    w = World(hand_scenario)
    d = w.deduction("megamart", "acme-ar", "4023344503")
    assert w.available_documents(d) == []
    w.clock.advance(days=7)
    assert [s.doc_id for s in w.available_documents(d)] == ["mm-late-backup"]


def test_password_lockout_after_repeated_failures(hand_scenario) -> None:  # type: ignore[no-untyped-def]
    w = World(hand_scenario)
    for _ in range(w.lockout_after):
        assert w.check_password("megamart", "acme-ar", "wrong") is None
    assert w.is_locked("megamart", "acme-ar")
    assert w.check_password("megamart", "acme-ar", "Mm-pass-7Q2!xz") is None
    assert sum(1 for e in w.record.logins if e.step == "password") == w.lockout_after + 1


def test_totp_accepts_current_code_only(hand_scenario) -> None:  # type: ignore[no-untyped-def]
    w = World(hand_scenario)
    acct = w.account("megamart", "acme-ar")
    assert w.verify_totp(acct, pyotp.TOTP(acct.totp_secret).now())
    assert not w.verify_totp(acct, "000000") or pyotp.TOTP(acct.totp_secret).now() == "000000"
    assert not w.verify_totp(acct, "abcdef")


def test_dispute_once_then_refused(hand_scenario) -> None:  # type: ignore[no-untyped-def]
    w = World(hand_scenario)
    d = w.open_dispute(
        "megamart",
        "acme-ar",
        "4023344501",
        reason="POD",
        comment="see POD",
        attachments=[("pod.pdf", PDF, "application/pdf")],
    )
    assert d.number == "MD0000001"
    with pytest.raises(DisputeRefused, match="already exists"):
        w.open_dispute("megamart", "acme-ar", "4023344501", reason="POD", comment="again")


def test_dispute_status_follows_the_script(hand_scenario) -> None:  # type: ignore[no-untyped-def]
    w = World(hand_scenario)
    d = w.open_dispute("megamart", "acme-ar", "4023344501", reason="POD", comment="")
    assert d.status_at(w.clock.now()) is DisputeStatus.research
    w.clock.advance(days=7)
    assert d.status_at(w.clock.now()) is DisputeStatus.supplier_action
    w.clock.advance(days=13)
    assert d.status_at(w.clock.now()) is DisputeStatus.denied


def test_draft_is_not_submitted_until_asked(hand_scenario) -> None:  # type: ignore[no-untyped-def]
    w = World(hand_scenario)
    d = w.open_dispute("megamart", "acme-ar", "4023344505", reason="x", comment="", submit=False)
    assert d.status_at(w.clock.now()) is DisputeStatus.draft
    w.add_attachments(d.number, [("a.pdf", PDF, "application/pdf")])
    w.submit_dispute(d.number)
    assert d.status_at(w.clock.now()) is DisputeStatus.research
    with pytest.raises(DisputeRefused, match="cannot be changed"):
        w.add_attachments(d.number, [("b.pdf", PDF, "application/pdf")])


def test_window_closes(hand_scenario) -> None:  # type: ignore[no-untyped-def]
    w = World(hand_scenario)
    # reason 99 (OTIF fine): 90 days from the deduction date 2026-10-04
    d = w.deduction("megamart", "acme-ar", "4023344503")
    assert w.window_closes(d) == date(2027, 1, 2)
    w.clock.advance(days=63)
    with pytest.raises(DisputeRefused, match="window for this claim closed on 2027-01-02"):
        w.open_dispute("megamart", "acme-ar", "4023344503", reason="x", comment="")


@pytest.mark.parametrize(
    ("attachments", "message"),
    [
        ([("a.pdf", PDF, "application/pdf")] * 6, "At most 5 attachments"),
        ([("a.exe", b"MZ\x90", "application/pdf")], "only PDF"),
        ([("big.pdf", PDF + b"0" * (10 * 1024 * 1024), "application/pdf")], "limited to"),
    ],
)
def test_attachment_limits(hand_scenario, attachments, message) -> None:  # type: ignore[no-untyped-def]
    w = World(hand_scenario)
    with pytest.raises(DisputeRefused, match=message):
        w.open_dispute(
            "megamart", "acme-ar", "4023344506", reason="x", comment="", attachments=attachments
        )
    assert w.dispute_for("megamart", "4023344506") is None


def test_disputed_amount_is_bounded(hand_scenario) -> None:  # type: ignore[no-untyped-def]
    w = World(hand_scenario)
    with pytest.raises(DisputeRefused, match="at most"):
        w.open_dispute(
            "megamart", "acme-ar", "4023344507", reason="x", comment="", amount=Decimal("99999")
        )


def test_captcha_is_deterministic_per_lookup_and_near_its_rate(hand_scenario) -> None:  # type: ignore[no-untyped-def]
    w = World(hand_scenario, FaultPlan.parse("parcelnet:captcha_rate=0.3"))
    refs = [f"1PN{i:010d}" for i in range(1000)]
    first = [w.captcha_due("parcelnet", r) for r in refs]
    assert first == [w.captcha_due("parcelnet", r) for r in refs]
    assert 230 <= sum(first) <= 370
    assert not any(w.captcha_due("haulstar", r) for r in refs)


def test_session_store_idle_and_budget() -> None:
    store = SessionStore(max_requests=3)
    s = store.create("u", "ok")
    assert all(store.get(s.sid) is not None for _ in range(3))
    assert store.get(s.sid) is None
    idle = SessionStore(idle_seconds=1e-9)
    s2 = idle.create("u", "ok")
    assert idle.get(s2.sid) is None


def test_obfuscator_renames_and_reorders_only_with_a_seed() -> None:
    plain, mangled = Obfuscator("megamart", None), Obfuscator("megamart", 3)
    cols = ["Claim Number", "Invoice", "PO", "Amount", "Status", "Date"]
    assert plain.id("claims") == "claims"
    assert plain.order(cols) == cols
    assert mangled.id("claims") != "claims"
    assert mangled.id("claims") == Obfuscator("megamart", 3).id("claims")
    assert sorted(mangled.order(cols)) == sorted(cols)
    assert mangled.order(cols) != cols


def test_busiest_window_counts_the_worst_window_not_the_calendar_minute() -> None:
    """Ten requests straddling a minute boundary are ten in one minute, though
    no calendar minute holds more than five: a portal's limiter slides."""
    stamps = [55.0 + i for i in range(10)]  # 55 s to 64 s
    assert busiest_window(stamps, 60) == 10
    assert busiest_window(stamps, 2) == 2
    assert busiest_window([0.0, 60.0], 60) == 1  # a window is half-open
    assert busiest_window([], 60) == 0
