"""Printed terms on a delivery receipt are not exceptions noted by the consignee."""

from __future__ import annotations

from store.extraction import extract_pod_fields

TERMS = (
    "Received the above described goods in apparent good order except as noted. "
    "Concealed damage must be reported within 5 days of delivery."
)


def test_clean_receipt_with_printed_terms_has_no_exceptions() -> None:
    fields = extract_pod_fields(f"PRO Number: 1234567\nExceptions: NO EXCEPTIONS\n{TERMS}\n")
    assert fields.exceptions == []


def test_noted_exception_is_read_and_terms_are_not() -> None:
    fields = extract_pod_fields(f"PRO Number: 1234567\nExceptions: SHORT 3 CS\n{TERMS}\n")
    assert fields.exceptions == ["SHORT 3 CS"]


def test_concealed_damage_written_as_a_note_still_counts() -> None:
    fields = extract_pod_fields("PRO Number: 1234567\nRemarks: CONCEALED DAMAGE\n")
    assert fields.exceptions == ["CONCEALED DAMAGE"]


def test_backup_promotion_number_is_read() -> None:
    from store.extraction import extract_backup_fields

    text = "Claim Number: 4023344501\nPromotion Number: PR-2026-07\nAmount: $480.00\n"
    fields = extract_backup_fields(text)
    assert fields.promotion_number is not None
    assert fields.promotion_number.value == "PR-2026-07"
    assert extract_backup_fields("Claim Number: 1\nAmount: 5.00\n").promotion_number is None
