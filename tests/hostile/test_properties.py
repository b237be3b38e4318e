"""Property tests for every normalizer and parser that reads portal or file
text: whatever the input, the only failure is the documented refusal, never
another exception, and what is accepted keeps its promises.

Amounts, dates and currencies (records/parse.py), reason codes (the portal
rules), file names (records/filenames.py), CSV and JSON rows (fleet import),
X12 bytes and segments (store/x12), and locators built from portal text (a
claim number with ``/`` once ended a selector and stopped a whole sync)."""

from __future__ import annotations

import html
import re
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from playwright.async_api import BrowserContext

from portal_adapters.errors import PortalError
from portal_adapters.web.pages import expect_heading
from records.filenames import MAX_FILENAME_BYTES, sanitize_filename
from records.normalize import clean_text, portal_rules
from records.parse import (
    MAX_AMOUNT,
    MAX_DATE,
    MIN_DATE,
    NormalizationError,
    find_amounts,
    find_dates,
    parse_amount,
    parse_currency,
    parse_date,
)
from store.erp_import import KINDS, ImportRefused, read_file
from store.x12.envelope import decode_x12, read_x12

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
HOSTILE = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("()[]{}/\\.*+?^$|-,'\"<>&=@#%~`:;!\u202e\u200f\u00a0 \t\n0123456789")),
        st.characters(blacklist_categories=("Cs",)),
    ),
    max_size=80,
)
MONEYISH = st.from_regex(r"\A[-(]?\$?[0-9]{0,12}([.,][0-9]{0,5})?[)]?( ?(CR|DR|-))?\Z")


@SETTINGS
@given(st.one_of(HOSTILE, MONEYISH))
def test_an_amount_is_an_exact_decimal_or_a_refusal(text: str) -> None:
    try:
        value = parse_amount(text)
    except NormalizationError:
        return
    assert isinstance(value, Decimal)
    assert value.is_finite()
    assert abs(value) < MAX_AMOUNT
    assert -value.as_tuple().exponent == 2  # type: ignore[operator]  # never rounded: 2 places fit


@SETTINGS
@given(st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=3))
def test_a_third_decimal_place_is_refused_never_rounded(value: Decimal) -> None:
    text = f"{value:.3f}"
    if value == value.quantize(Decimal("0.01")):
        assert parse_amount(text) == value
    else:
        with pytest.raises(NormalizationError):
            parse_amount(text)


@SETTINGS
@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1e9"), places=2))
def test_an_accountants_negative_is_negative(value: Decimal) -> None:
    assert parse_amount(f"({value:,.2f})") == -value
    assert parse_amount(f"{value:.2f} CR") == -value
    with pytest.raises(NormalizationError):
        parse_amount(f"({value:.2f} CR)")  # two signs: which one counts is unknown


@SETTINGS
@given(HOSTILE)
def test_finding_amounts_dates_and_a_currency_in_text_never_raises(text: str) -> None:
    for found in find_amounts(text):
        assert abs(found.value) < MAX_AMOUNT
    for found_date in find_dates(text):
        assert MIN_DATE <= found_date.value <= MAX_DATE
    assert len(parse_currency(text)) == 3


@SETTINGS
@given(st.one_of(HOSTILE, st.dates().map(str), st.dates().map(lambda d: d.strftime("%m/%d/%y"))))
def test_a_date_is_in_range_or_a_refusal(text: str) -> None:
    try:
        value = parse_date(text)
    except NormalizationError:
        return
    assert isinstance(value, date)
    assert MIN_DATE <= value <= MAX_DATE


@SETTINGS
@given(st.sampled_from(["megamart", "shopright", "freshco"]), HOSTILE, HOSTILE)
def test_any_reason_code_and_text_get_a_category(portal: str, code: str, text: str) -> None:
    rules = portal_rules(portal)
    assert rules.category(code, text) is not None
    assert rules.category(None, text) is not None


@SETTINGS
@given(st.one_of(HOSTILE, st.text(max_size=600), st.sampled_from(["..", ".", "CON", "nul.txt"])))
def test_a_file_name_is_one_safe_component(name: str) -> None:
    safe = sanitize_filename(name)
    assert safe
    assert len(safe.encode("utf-8")) <= MAX_FILENAME_BYTES
    assert not re.search(r"[/\\\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]", safe)
    assert safe not in (".", "..")
    assert not safe.startswith(".")
    assert safe.split(".")[0].upper() not in {"CON", "NUL", "PRN", "AUX", "COM1", "LPT1"}


CSV_CELL = st.one_of(HOSTILE, MONEYISH, st.dates().map(str)).map(
    lambda s: '"' + s.replace('"', '""') + '"' if re.search(r'[,"\n\r]', s) else s
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.sampled_from(KINDS),
    st.lists(st.lists(CSV_CELL, min_size=1, max_size=12), min_size=1, max_size=6),
    st.booleans(),
)
def test_a_csv_file_is_rows_and_named_errors_or_a_refusal(
    kind: str, rows: list[list[str]], use_header: bool
) -> None:
    header = {
        "invoices": "invoice_number,customer,invoice_date,total,sku,quantity,unit_price,amount",
        "promotions": "promo_id,customer,start_date,end_date,rate_per_unit",
        "shipments": "shipment_id,pro_number",
        "remittances": "remittance_id,customer,payment_date,total_paid,currency,"
        "invoice_number,invoice_amount,paid_amount",
    }[kind]
    text = (header + "\n" if use_header else "") + "".join(",".join(r) + "\n" for r in rows)
    _read_any(kind, text, ".csv")


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.sampled_from(KINDS),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | HOSTILE | MONEYISH,
        lambda c: st.lists(c, max_size=4) | st.dictionaries(HOSTILE, c, max_size=5),
        max_leaves=20,
    ),
)
def test_a_json_file_is_rows_and_named_errors_or_a_refusal(kind: str, value: object) -> None:
    import json

    _read_any(kind, json.dumps([value]), ".json")


def _read_any(kind: str, text: str, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"f{suffix}"
        path.write_text(text, encoding="utf-8")
        try:
            good, bad = read_file(kind, path)  # type: ignore[arg-type]
        except ImportRefused as exc:
            good, bad = [], [str(exc)]  # type: ignore[list-item]
    for line, _record in good:
        assert line >= 1
    for err in bad:
        assert str(err)


X12_SEGMENT = st.lists(
    st.one_of(
        HOSTILE,
        st.sampled_from(["ISA", "GS", "ST", "BPR", "RMR", "SE", "GE", "IEA", "~", "*", ":"]),
    ),
    max_size=12,
).map("*".join)


@SETTINGS
@given(st.one_of(st.binary(max_size=400), X12_SEGMENT.map(str.encode)))
def test_x12_bytes_are_transactions_or_named_refusals(data: bytes) -> None:
    try:
        text, _ = decode_x12(data)
    except ValueError:
        return
    parsed = read_x12(text)
    for err in parsed.errors:
        assert str(err)


@SETTINGS
@given(st.lists(X12_SEGMENT, max_size=20))
def test_x12_segments_never_raise(segments: list[str]) -> None:
    parsed = read_x12("~".join(segments) + "~")
    for err in parsed.errors:
        assert str(err)


LOCATOR_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("()[]{}/\\.*+?^$|-,'\"<>&=@#%~`:;! >>")),
        st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp", "Cf", "Co", "Cn")),
    ),
    min_size=1,
    max_size=40,
).filter(lambda s: clean_text(s) != "")


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(number=LOCATOR_TEXT)
async def test_a_heading_locator_built_from_portal_text_finds_it(
    context: BrowserContext, number: str
) -> None:
    page = context.pages[0] if context.pages else await context.new_page()
    await page.set_content(f"<h1>Claim {html.escape(number)}</h1>")
    try:
        seen = await expect_heading(
            page, [f"Claim {number}"], portal="megamart", step="claim", timeout_ms=3000
        )
    except PortalError as exc:  # pragma: no cover - the property failing
        raise AssertionError(f"{number!r}: {exc.error_class}: {exc}") from None
    assert clean_text(number) in seen
