from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from records.normalize import (
    Category,
    NormalizationError,
    category_from_text,
    clean_text,
    normalize_customer,
    normalize_location,
    parse_amount,
    parse_currency,
    parse_date,
    parse_datetime,
    portal_rules,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$1,234.56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("1.234,56", "1234.56"),
        ("1 234,56", "1234.56"),
        ("(1,234.56)", "-1234.56"),
        ("-$5.00", "-5.00"),
        ("1234.56-", "-1234.56"),
        ("1,234.56 CR", "-1234.56"),
        ("USD 12", "12.00"),
        ("1,234", "1234.00"),
        ("12,5", "12.50"),
        ("1.234.567,89", "1234567.89"),
        # the real invoices in shared/testdata (invoice2data): as printed -> as expected
        ("$4.11", "4.11"),
        ("Rs 1939", "1939.00"),
        ("4.904,94", "4904.94"),
        ("56,02 €", "56.02"),
        ("34,73", "34.73"),
        ("717,97", "717.97"),
        ("29.99 €", "29.99"),
        ("319.00", "319.00"),
    ],
)
def test_amounts(text: str, expected: str) -> None:
    assert parse_amount(text) == Decimal(expected)


def test_comma_decimal_portal_reads_lone_dot_group_as_thousands() -> None:
    assert parse_amount("1.234", decimal_comma=True) == Decimal("1234.00")
    with pytest.raises(NormalizationError, match="decimal places"):
        parse_amount("1,234", decimal_comma=True)  # 1.234: never rounded to 1.23


def test_more_decimals_than_asked_are_refused_never_rounded() -> None:
    with pytest.raises(NormalizationError, match="more than 2 decimal places"):
        parse_amount("0.005")
    assert parse_amount("7.3445", places=4) == Decimal("7.3445")
    assert parse_amount("12.500") == Decimal("12.50")  # a trailing zero loses nothing


@pytest.mark.parametrize(
    "bad", ["", "abc", "12..3", "1,23,4.00", "$", "1e9999", "9" * 70, "12.3.4,5.6", "--5"]
)
def test_bad_amounts_are_refused_with_the_text(bad: str) -> None:
    with pytest.raises(NormalizationError, match="amount"):
        parse_amount(bad)


def test_absurd_amount_is_refused() -> None:
    with pytest.raises(NormalizationError, match="out of range"):
        parse_amount("1,000,000,000,000.00")


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("$1.00", "USD"),
        ("56,02 €", "EUR"),
        ("Rs 1939", "INR"),
        ("Total EUR 34,73", "EUR"),
        ("12.00", "USD"),
    ],
)
def test_currency(text: str, currency: str) -> None:
    assert parse_currency(text) == currency


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-09-03", date(2026, 9, 3)),
        ("09/03/2026", date(2026, 9, 3)),
        ("03-SEP-2026", date(2026, 9, 3)),
        ("Sep 3, 2026", date(2026, 9, 3)),
        ("20260903", date(2026, 9, 3)),
        ("2026-09-03T22:10:00Z", date(2026, 9, 3)),
        # the real invoices' own spellings
        ("August 3 , 2014", date(2014, 8, 3)),
        ("20-10-2015", date(2015, 10, 20)),
        ("28/11/2022", date(2022, 11, 28)),
        ("19 april 2014", date(2014, 4, 19)),
        ("29 maart 2014", date(2014, 3, 29)),
        ("02 Juillet 2015", date(2015, 7, 2)),
        ("3. März 2024", date(2024, 3, 3)),
    ],
)
def test_dates(text: str, expected: date) -> None:
    assert parse_date(text) == expected


def test_day_first_only_when_known() -> None:
    assert parse_date("09/03/2026") == date(2026, 9, 3)
    assert parse_date("09/03/2026", dayfirst=True) == date(2026, 3, 9)
    assert parse_date("05-OCT-2026", portal_rules("freshco").date_formats) == date(2026, 10, 5)


@pytest.mark.parametrize("bad", ["", "yesterday", "31/31/2026", "2026-02-30", "1/2/1850", "x" * 50])
def test_bad_dates_are_refused(bad: str) -> None:
    with pytest.raises(NormalizationError, match="date"):
        parse_date(bad)


def test_datetime_in_the_portal_time_zone() -> None:
    assert parse_datetime("09/03/2026 10:00 PM", "America/Chicago") == datetime(
        2026, 9, 4, 3, 0, tzinfo=UTC
    )
    assert parse_datetime("2026-09-03T10:00:00Z") == datetime(2026, 9, 3, 10, tzinfo=UTC)


def test_reason_codes_map_through_each_portals_table() -> None:
    assert portal_rules("megamart").category("22") is Category.shortage
    assert portal_rules("megamart").category("99") is Category.compliance_fine
    assert portal_rules("shopright").category("A030") is Category.shortage
    assert portal_rules("freshco").category("2") is Category.promotion
    assert portal_rules("freshco").category("02") is Category.promotion


def test_missing_code_falls_back_to_the_words() -> None:
    rules = portal_rules("megamart")
    assert rules.category("", "Concealed damage on delivery") is Category.damage
    assert rules.category("7777", "Duplicate payment") is Category.duplicate_post_audit
    assert rules.category(None, "mystery") is Category.other


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Carton shortage", Category.shortage),
        ("OTIF non-compliance fine", Category.compliance_fine),
        ("Scan-based markdown allowance", Category.promotion),
        ("Cost difference", Category.pricing),
        ("Return to vendor", Category.return_unsaleable),
    ],
)
def test_category_from_text(text: str, category: Category) -> None:
    assert category_from_text(text) is category


def test_dispute_window_is_data() -> None:
    rules = portal_rules("megamart")
    assert rules.window_closes(
        "99", invoice_date=date(2026, 9, 1), deduction_date=date(2026, 10, 1)
    ) == date(2026, 12, 30)
    assert rules.window_closes(
        "22", invoice_date=date(2026, 9, 1), deduction_date=date(2026, 10, 1)
    ) == date(2028, 8, 31)


def test_unknown_portal_is_a_clear_error() -> None:
    with pytest.raises(NormalizationError, match="no rules for portal"):
        portal_rules("nosuch")
    with pytest.raises(NormalizationError, match="not a portal name"):
        portal_rules("../../etc")


def test_text_and_names() -> None:
    assert clean_text("  a\x00b\n\tc  ") == "ab c"
    assert len(clean_text("x" * 1000)) == 500
    assert normalize_location("dc #6094") == "DC 6094"
    assert normalize_location("STORE 0412") == "Store 0412"
    assert normalize_location("Somewhere else") == "Somewhere else"
    assert normalize_customer("MegaMart Stores, Inc.") == normalize_customer("MEGAMART")
