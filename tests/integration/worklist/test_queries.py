"""The worklist query (store.queries.worklist) on SQLite and PostgreSQL: every
filter, every sort in both directions, pagination, and the bad values it refuses.
The store is described in tests/integration/worklist/store.py."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from store.queries import worklist
from store.queries.worklist import FilterError, Filters, Sort, list_deductions, prefix_range
from tests.integration.store.conftest import Db
from tests.integration.worklist.store import TODAY, fill


@pytest.fixture
def ids(db: Db) -> dict[str, int]:
    return fill(db)


def names(db: Db, ids: dict[str, int], sort: Sort | None = None, **filters: Any) -> list[str]:
    by_id = {v: k for k, v in ids.items()}
    with db.sessions() as s:
        page = list_deductions(s, Filters(**filters), sort or Sort("claim"), 1, 500)
    assert page.total == len(page.items)
    return [by_id[r.id] for r in page.items]


FILTERS: list[tuple[dict[str, Any], list[str]]] = [
    ({}, ["mm1", "sr2", "mm2", "mm3", "fc1", "sr1"]),
    ({"portals": ("megamart",)}, ["mm1", "mm2", "mm3"]),
    ({"portals": ("freshco", "shopright")}, ["sr2", "fc1", "sr1"]),
    ({"accounts": ("SR@Supplier.example",)}, ["sr2", "sr1"]),
    ({"accounts": ("nobody@x",)}, []),
    # the ERP invoice's customer, or the portal's slug or display name, any case
    ({"customer": "stores, INC"}, ["mm1"]),
    ({"customer": "megamart"}, ["mm1", "mm2", "mm3"]),
    ({"customer": "supplier payables"}, ["mm1", "mm2", "mm3"]),
    ({"customer": "grocers"}, ["fc1"]),
    ({"customer": "nobody"}, []),
    # the verdict's category wins over the portal's; no verdict: the portal's
    ({"categories": ("damage",)}, ["sr2", "mm2"]),
    ({"categories": ("pricing",)}, []),
    ({"categories": ("compliance_fine", "shortage")}, ["mm1", "mm3", "fc1"]),
    ({"statuses": ("OPEN",)}, ["mm1", "sr2", "mm3", "sr1"]),
    ({"statuses": ("paid", "disputed")}, ["mm2", "fc1"]),
    ({"validities": ("invalid",)}, ["mm1"]),
    ({"validities": ("none",)}, ["fc1"]),
    ({"validities": ("valid", "none")}, ["mm2", "mm3", "fc1"]),
    ({"min_age_days": 30, "today": TODAY}, ["mm2", "mm3"]),
    ({"max_age_days": 9, "today": TODAY}, ["mm1", "sr2"]),
    ({"min_age_days": 10, "max_age_days": 20, "today": TODAY}, ["sr1"]),
    ({"min_amount": Decimal("100")}, ["mm1", "sr2", "sr1"]),
    ({"max_amount": Decimal("0")}, ["fc1"]),
    ({"min_amount": Decimal("50.00"), "max_amount": Decimal("50")}, ["mm2", "mm3"]),
    ({"closes_by": date(2025, 4, 15)}, ["mm1", "sr2"]),
    ({"closes_from": date(2025, 4, 1)}, ["mm1", "mm2", "mm3"]),
    ({"closes_from": TODAY, "closes_by": TODAY + timedelta(days=30)}, ["sr2"]),
    (
        {"portals": ("megamart",), "statuses": ("open",), "min_amount": Decimal("60")},
        ["mm1"],
    ),
]


def test_each_filter_selects_what_it_says(db: Db, ids: dict[str, int]) -> None:
    """One store, every case (a failure lists each case that differs)."""
    got = {repr(f): names(db, ids, **f) for f, _ in FILTERS}
    assert got == {repr(f): expected for f, expected in FILTERS}


SEARCHES: list[tuple[str, list[str]]] = [
    ("CB-1001", ["mm1", "sr2"]),  # a claim number on two portals
    ("CB-100", ["mm1", "sr2", "mm2", "mm3"]),  # prefix
    ("cb-1002", ["mm2"]),  # typed in lower case
    ("  SR-2001 ", ["sr1"]),
    ("INV-600", ["sr2", "sr1"]),  # invoice prefix
    ("INV-5001", ["mm1"]),
    ("PO-778", ["mm2"]),
    ("12345", ["mm1"]),  # PRO prefix
    ("BOL-9_1%", ["mm2"]),  # LIKE metacharacters are plain text
    ("BOL-9_", ["mm2"]),
    ("BOL-9%", []),
    ("BOL-_", []),
    ("%", []),
    ("_", []),
    ("\\", []),
    ("CB-1001'; DROP TABLE deductions; --", []),
    ("Z", []),
]


def test_each_filter_pages_the_same(db: Db, ids: dict[str, int]) -> None:
    """One row a page, end to end, gives the same list (on SQLite a dense filter
    takes another plan: the sort index is walked, the filters' indexes unused)."""
    by_id = {v: k for k, v in ids.items()}
    got = {}
    with db.sessions() as s:
        for f, expected in FILTERS:
            rows = [
                list_deductions(s, Filters(**f), Sort("claim"), n, 1).items
                for n in range(1, len(expected) + 2)
            ]
            got[repr(f)] = [by_id[r.id] for page in rows for r in page]
    assert got == {repr(f): expected for f, expected in FILTERS}


def test_too_many_statuses_or_customers_to_list(
    db: Db, ids: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past DISTINCT_CAP distinct values the filters compare lower-cased text in
    the database instead, and select the same claims."""
    monkeypatch.setattr(worklist, "DISTINCT_CAP", 2)
    cases = [
        {"statuses": ("OPEN",)},
        {"statuses": ("paid", "disputed")},
        {"customer": "stores, INC"},
        {"customer": "grocers"},
        {"customer": "megamart"},
        {"customer": "%"},
    ]
    got = {repr(f): names(db, ids, **f) for f in cases}
    assert got == {repr(f): expected for f, expected in FILTERS if f in cases} | {
        repr({"customer": "%"}): []
    }


def test_search_finds_a_claim_by_any_of_its_numbers(db: Db, ids: dict[str, int]) -> None:
    got = {text: names(db, ids, text=text) for text, _ in SEARCHES}
    assert got == dict(SEARCHES)


def test_a_prefix_range_holds_exactly_the_strings_that_start_with_it() -> None:
    words = ["ab", "ab-", "ab-z", "ab\U0010ffff", "abc", "ac", "a", "b", "ab\ud7ff", "ab\ue000"]
    for prefix in ("ab", "ab-", "a\U0010ffff", "ab\ud7ff", "\U0010ffff"):
        low, high = prefix_range(prefix)
        inside = {w for w in words if low <= w and (high is None or w < high)}
        assert inside == {w for w in words if w.startswith(prefix)}, prefix


ORDERS = {
    "deadline": ["sr2", "mm1", "mm2", "mm3", "sr1", "fc1"],  # no deadline last, by id
    "-deadline": ["mm3", "mm2", "mm1", "sr2", "fc1", "sr1"],
    "amount": ["fc1", "mm2", "mm3", "sr2", "mm1", "sr1"],  # equal amounts by id
    "-amount": ["sr1", "mm1", "sr2", "mm3", "mm2", "fc1"],
    "age": ["mm1", "sr2", "sr1", "mm2", "mm3", "fc1"],  # newest first, no date last
    "-age": ["mm3", "mm2", "sr1", "sr2", "mm1", "fc1"],
    "portal": ["fc1", "mm1", "mm2", "mm3", "sr2", "sr1"],
    "-portal": ["sr1", "sr2", "mm3", "mm2", "mm1", "fc1"],
    "claim": ["mm1", "sr2", "mm2", "mm3", "fc1", "sr1"],
    "-claim": ["sr1", "fc1", "mm3", "mm2", "sr2", "mm1"],
}


def test_each_sort_in_both_directions(db: Db, ids: dict[str, int]) -> None:
    got = {order: names(db, ids, Sort.parse(order), today=TODAY) for order in ORDERS}
    assert got == ORDERS


def test_pages_cover_the_list_once_in_order(db: Db, ids: dict[str, int]) -> None:
    """Pages of any size, put end to end, are the whole list: no row twice, none
    skipped (the deadline and age sorts read rows with and without a value
    separately; a page may straddle the two). Past the last page: no rows."""
    by_id = {v: k for k, v in ids.items()}
    got: dict[tuple[str, int], list[str]] = {}
    with db.sessions() as s:
        for order in ORDERS:
            for size in (1, 2, 4):
                seen: list[str] = []
                for page_no in range(1, -(-6 // size) + 2):
                    page = list_deductions(
                        s, Filters(today=TODAY), Sort.parse(order), page_no, size
                    )
                    assert (page.total, page.pages) == (6, -(-6 // size))
                    assert len(page.items) == max(0, min(size, 6 - (page_no - 1) * size))
                    seen += [by_id[r.id] for r in page.items]
                got[(order, size)] = seen
    assert got == {(order, size): ORDERS[order] for order in ORDERS for size in (1, 2, 4)}


def test_filtered_pages_with_a_deadline_sort(db: Db, ids: dict[str, int]) -> None:
    by_id = {v: k for k, v in ids.items()}
    with db.sessions() as s:
        pages = [
            list_deductions(s, Filters(statuses=("open",)), Sort("deadline"), n, 2)
            for n in (1, 2, 3)
        ]
    assert [[by_id[r.id] for r in p.items] for p in pages] == [["sr2", "mm1"], ["mm3", "sr1"], []]
    assert {p.total for p in pages} == {4}


def test_rows_carry_what_the_worklist_shows(db: Db, ids: dict[str, int]) -> None:
    with db.sessions() as s:
        page = list_deductions(s, Filters(text="CB-1001", today=TODAY), Sort("portal"))
    mm1, sr2 = page.items
    assert mm1.ref == "megamart:CB-1001"
    assert mm1.customer == "MegaMart Stores, Inc."
    assert mm1.amount == Decimal("1234.56")
    assert mm1.category == "shortage"
    assert (mm1.validity, mm1.window_closes, mm1.days_left) == ("invalid", date(2025, 4, 15), 36)
    assert mm1.age_days == 6
    assert (mm1.documents, mm1.decision, mm1.dispute_status) == (0, None, None)
    # no ERP invoice: the portal's display name stands for the customer, when it has one
    assert sr2.customer is None
    assert sr2.days_left == 10
    with db.sessions() as s:
        (mm2,) = list_deductions(s, Filters(text="CB-1002")).items
    assert mm2.customer == "MegaMart Supplier Payables"
    assert (mm2.age_days, mm2.days_left) == (None, None)  # no "today" given


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"categories": ("bogus",)}, "category"),
        ({"min_amount": Decimal("10"), "max_amount": Decimal("5")}, "lower bound"),
        ({"min_amount": 1.5}, "exact amount"),
        ({"min_amount": Decimal("NaN")}, "exact amount"),
        ({"min_age_days": 3}, "needs the day"),
        ({"min_age_days": -1, "today": TODAY}, "between 0"),
        ({"closes_from": date(2025, 5, 1), "closes_by": date(2025, 4, 1)}, "lower bound"),
        ({"text": "   "}, "empty"),
        ({"text": "x" * 201}, "longer than"),
        ({"text": "CB\x00"}, "NUL"),
        ({"text": "\udcff"}, "not valid text"),
        ({"statuses": "open"}, "a list"),
        ({"portals": tuple(f"p{i}" for i in range(51))}, "at most"),
    ],
)
def test_bad_filters_are_refused_with_a_reason(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(FilterError, match=message):
        Filters(**kwargs)


def test_bad_sort_and_pages_are_refused(db: Db) -> None:
    with pytest.raises(FilterError, match="sort"):
        Sort.parse("-colour")
    with db.sessions() as s:
        with pytest.raises(FilterError, match="page"):
            list_deductions(s, page=0)
        with pytest.raises(FilterError, match="page size"):
            list_deductions(s, page_size=501)
