"""Which claim pages the MegaMart adapter reads in one evaluate, and which it
hands to its role locators (that say what is wrong). Pure: the evaluate's
answer is written out; the browser side is tested in tests/browser/adapters."""

from __future__ import annotations

from typing import Any

import pytest

from portal_adapters.megamart import _plain_claim_page

READ = {"fields": {"Claim Number": "C/1"}, "dispute_text": "Create dispute", "lines": None}


def page(*headings: str | tuple[str, bool], claim: Any = READ) -> dict[str, Any]:
    return {
        "headings": [[h, False] if isinstance(h, str) else list(h) for h in headings],
        "claim": claim,
    }


def test_the_plain_claim_page_is_read_at_once() -> None:
    assert _plain_claim_page(page("MegaMart", "Claim  C/1 "), "C/1") == READ
    assert _plain_claim_page(page("Claim C/1", "Claim not found"), "C/1") == READ  # first wins


@pytest.mark.parametrize(
    "found",
    [
        page("Sign in to MegaMart Supplier Payables", "Claim C/1"),  # the sign-in page first
        page("Claim not found"),
        page("Claim C/12"),  # names another claim: its RecordInvalid comes from the locators
        page("Nothing here"),  # no heading the locators would pick: LayoutChanged from them
        page(("Claim C/1", True)),  # an ARIA label names it, not its text
        page("Claim C/1", claim=None),  # no single main region
        page("Claim C/1", claim={"fields": None, "dispute_text": "x"}),  # not all there yet
        page("Claim C/1", claim={"fields": {}, "dispute_text": None}),
        None,
    ],
)
def test_anything_else_goes_to_the_locators(found: Any) -> None:
    assert _plain_claim_page(found, "C/1") is None
