"""Record validation: the messages a robot author sees when a record is refused."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from fixtures.scenario import Category as WorldCategory
from records.schemas import (
    Category,
    DeductionRecord,
    DocumentRecord,
    ErpPromotionRecord,
    ShipmentRecord,
)


def _deduction(**kw: Any) -> DeductionRecord:
    values: dict[str, Any] = {"portal": "megamart", "external_id": "CB-1", "amount": "12.30"}
    values.update(kw)
    return DeductionRecord(**values)


def test_category_values_match_the_world() -> None:
    assert [c.value for c in Category] == [c.value for c in WorldCategory]


def test_money_is_quantised_to_cents() -> None:
    assert _deduction(amount=Decimal("12.3")).amount == Decimal("12.30")
    assert str(_deduction(amount="7").amount) == "7.00"


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (Decimal("1.005"), "more than 2 decimal places"),
        (12.3, "not a float"),
        (Decimal("NaN"), "finite number"),
        (Decimal("1e15"), "larger than"),
    ],
)
def test_bad_money_is_refused_with_a_clear_message(amount: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _deduction(amount=amount)


def test_currency_is_three_letters() -> None:
    assert _deduction(currency="usd").currency == "USD"
    with pytest.raises(ValidationError, match="3-letter"):
        _deduction(currency="US$")


@pytest.mark.parametrize("day", [date(1899, 1, 1), date(2999, 1, 1), date(25, 3, 4)])
def test_absurd_dates_are_refused(day: date) -> None:
    with pytest.raises(ValidationError, match="probably a parse error"):
        _deduction(deduction_date=day)


def test_text_is_stripped_of_nul_and_whitespace() -> None:
    rec = _deduction(memo="  short\x00 3 cs  ", reason_text="Carton shortage")
    assert rec.memo == "short 3 cs"


def test_unknown_fields_and_bad_portal_names_are_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        _deduction(amout="1.00")
    with pytest.raises(ValidationError, match="portal"):
        _deduction(portal="Mega Mart")


def test_records_are_frozen() -> None:
    rec = _deduction()
    with pytest.raises(ValidationError):
        rec.amount = Decimal("1.00")  # type: ignore[misc]


def test_document_metadata_is_checked() -> None:
    sha = "A" * 64
    doc = DocumentRecord(
        sha256=sha,
        size_bytes=3,
        vault_path="aa/" + "a" * 64,
        media_type="Application/PDF; charset=binary",
        original_filename="../../evil\x00.pdf",
    )
    assert doc.sha256 == "a" * 64
    assert doc.media_type == "application/pdf"
    assert doc.original_filename == "../../evil.pdf"  # kept as metadata, never a path
    for bad in ("/etc/passwd", "../x", "C:/x", "a/../../b"):
        with pytest.raises(ValidationError, match="relative path"):
            DocumentRecord(sha256=sha, size_bytes=1, vault_path=bad)
    with pytest.raises(ValidationError, match="64 hex"):
        DocumentRecord(sha256="abc", size_bytes=1, vault_path="x")


def test_shipment_and_promotion_rules() -> None:
    with pytest.raises(ValidationError, match="pro_number"):
        ShipmentRecord(carrier="haulstar", pro_number="12 34")
    with pytest.raises(ValidationError, match="ends"):
        ErpPromotionRecord(
            promo_id="P",
            customer="C",
            start_date=date(2025, 2, 1),
            end_date=date(2025, 1, 1),
            rate_per_unit=Decimal("1"),
        )
