"""E-mail headers from untrusted text: a claim number with CR/LF (from a
portal or an 812) must not start a header of its own."""

from __future__ import annotations

import email
import email.policy
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

from dispute_filing.correspondence import compose, header_text


def _prepared(number: str, invoice: str) -> SimpleNamespace:
    packet = SimpleNamespace(
        amount=Decimal("12.50"),
        idempotency_key="northway:x",
        explanation="We dispute this claim.",
        attachments=(("cover_letter.pdf", b"%PDF-1.4 x"),),
    )
    claim = {"number": number, "currency": "USD", "invoice_number": invoice}
    return SimpleNamespace(packet=packet, facts=SimpleNamespace(claim=claim))


def test_cr_lf_in_a_claim_number_creates_no_header() -> None:
    evil = "NWA1\r\nBcc: victim@example.com\r\nX-Evil: 1"
    msg = compose(
        _prepared(evil, "INV1\nCc: other@example.com"),  # type: ignore[arg-type]
        "vendor.disputes@northway.example",
        "deductions@supplier.example\r\nBcc: x@example.com",
        date(2026, 11, 2),
    )
    raw = bytes(msg)
    back = email.message_from_bytes(raw, policy=email.policy.default)
    assert back["Bcc"] is None
    assert back["Cc"] is None
    assert back["X-Evil"] is None
    assert back["Subject"].startswith("Dispute of claim NWA1 Bcc: victim@example.com X-Evil: 1")
    assert "INV1 Cc: other@example.com" in back["Subject"]
    assert sorted(back.keys()) == sorted(
        ["From", "To", "Subject", "Date", "Message-ID", "Content-Type", "MIME-Version"]
    )


def test_header_text_is_bounded_and_single_line() -> None:
    value = header_text("a\u2028b\x00c" + "x" * 500)
    assert "\u2028" not in value
    assert "\x00" not in value
    assert len(value) == 200
    assert value.endswith("...")
