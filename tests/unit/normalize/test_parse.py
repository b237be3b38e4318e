"""The one amount/date/currency parser: the strict form and the find-in-text form
agree, the strict form round-trips what it formats, the find form never raises."""

from __future__ import annotations

import contextlib
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from records.parse import (
    MAX_DATE,
    MIN_DATE,
    NormalizationError,
    document_currency,
    find_amount,
    find_amounts,
    find_date,
    find_dates,
    parse_amount,
    parse_currency,
    parse_date,
)

AMOUNTS = st.decimals(
    min_value=Decimal("-999999999.99"),
    max_value=Decimal("999999999.99"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)


def _printed(value: Decimal, style: str) -> str:
    """``value`` as a portal or a document prints it."""
    body = f"{abs(value):,.2f}"
    if style == "comma":
        body = body.replace(",", "_").replace(".", ",").replace("_", ".")
    elif style == "space":
        body = body.replace(",", " ")
    elif style == "plain":
        body = f"{abs(value):.2f}"
    if value < 0:
        return {"comma": f"-{body}", "space": f"({body})"}.get(style, f"{body}-")
    return body


@given(AMOUNTS, st.sampled_from(["dot", "comma", "space", "plain"]))
def test_strict_parse_round_trips_a_formatted_decimal(value: Decimal, style: str) -> None:
    text = _printed(value, style)
    assert parse_amount(text, decimal_comma=style == "comma") == value


@given(AMOUNTS, st.sampled_from(["$", "USD ", "", "€"]))
def test_find_in_text_reads_what_strict_reads(value: Decimal, mark: str) -> None:
    text = f"Claim Amount: {mark}{_printed(value, 'dot')} per agreement"
    assert find_amount(text.split(": ", 1)[1]) == parse_amount(_printed(value, "dot"))


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_find_in_text_never_raises(text: str) -> None:
    for found in find_amounts(text):
        assert abs(found.value) < Decimal("1000000000000")
        assert found.value == found.value.quantize(Decimal("0.01"))
    for d in find_dates(text):
        assert MIN_DATE <= d.value <= MAX_DATE
    find_date(text)
    document_currency(text)


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_strict_forms_raise_only_the_documented_refusal(text: str) -> None:
    for parse in (parse_amount, parse_date):
        with contextlib.suppress(NormalizationError):
            parse(text)


@given(st.dates(min_value=MIN_DATE, max_value=MAX_DATE))
def test_dates_round_trip_in_every_printed_form(d: date) -> None:
    for text in (
        d.isoformat(),
        d.strftime("%m/%d/%Y"),
        d.strftime("%d-%b-%Y"),
        f"{d:%B} {d.day}, {d.year}",
    ):
        assert parse_date(text) == d
        found = find_date(f"Invoice Date: {text}")
        assert found is not None
        assert found.value == d
    assert parse_date(d.strftime("%d/%m/%Y"), dayfirst=True) == d
    assert parse_date(d.strftime("%d.%m.%Y")) == d  # dotted dates are day first


def test_amounts_are_never_rounded() -> None:
    with pytest.raises(NormalizationError, match="decimal places"):
        parse_amount("12.345")  # 12.345, not 12.35
    assert find_amounts("unit 12.345 each") == []  # not a two-place amount
    assert parse_amount("12.345", places=3) == Decimal("12.345")
    assert parse_amount("1,234") == Decimal("1234.00")  # a thousands group


def test_one_table_of_currencies_for_both_forms() -> None:
    for text, code in [
        ("$1.00", "USD"),
        ("C$ 12.00", "CAD"),
        ("56,02 €", "EUR"),
        ("Rs 1939", "INR"),
        ("12 zł", "PLN"),
        ("MXN 100.00", "MXN"),
        ("£3.00", "GBP"),
    ]:
        assert parse_currency(text) == code
        found = find_amounts(text, decimal_comma="," in text)
        assert found, text
        assert found[0].currency == code, text
        assert document_currency(text) == (code, 1)
    assert parse_currency("12 hrs") == "USD"  # "rs" inside a word is not rupees


def test_ambiguous_numeric_dates_are_marked_in_text_and_follow_the_hint() -> None:
    found = find_date("Date: 03/04/2025")
    assert found is not None
    assert found.value == date(2025, 3, 4)
    assert found.ambiguous
    hinted = find_date("Date: 03/04/2025", dayfirst=True)
    assert hinted is not None
    assert hinted.value == date(2025, 4, 3)
    assert not hinted.ambiguous
    clear = find_date("Date: 28/11/2022")
    assert clear is not None
    assert clear.value == date(2022, 11, 28)
    assert not clear.ambiguous
    assert parse_date("8-9-2022") == date(2022, 8, 9)  # the same rule in the strict form
    assert parse_date("8-9-2022", dayfirst=True) == date(2022, 9, 8)


def test_the_same_year_rules_in_both_forms() -> None:
    assert parse_date("1/2/95") == find_dates("on 1/2/95")[0].value == date(1995, 1, 2)
    assert parse_date("1/2/25") == find_dates("on 1/2/25")[0].value == date(2025, 1, 2)
    with pytest.raises(NormalizationError, match="out of range"):
        parse_date("1/2/1950")
    assert find_dates("founded 1/2/1950") == []


def test_negative_forms() -> None:
    for text in ("-12.50", "(12.50)", "12.50-", "12.50 CR"):
        assert parse_amount(text) == Decimal("-12.50")
        assert find_amounts(f"adj {text} ok")[0].value == Decimal("-12.50"), text
