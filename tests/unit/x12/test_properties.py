"""Property tests for the X12 readers: whatever the text, the only failure is
the documented refusal (an X12Error in the result, never an exception), and a
file that is accepted gives back exactly the totals it was written with."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.x12.adjustments import read_adjustments
from store.x12.envelope import X12Error, read_x12
from store.x12.remittances import read_remittances
from tests.unit.x12.build import (
    CRLF_PIPES,
    NEWLINE_TERMINATED,
    ONE_LINE,
    PER_LINE,
    Layout,
    interchange,
    render,
    transaction,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CENT = Decimal("0.01")
LAYOUTS = st.sampled_from([ONE_LINE, PER_LINE, CRLF_PIPES, NEWLINE_TERMINATED])
# Retailer files and what a deduction's BCD05 is for each (records/data/edi).
RETAILERS = {
    "megamart": ("MEGAMART STORES INC", "0614141000005", "D", "22"),
    "shopright": ("SHOPRIGHT CORPORATION", "0037000000009", "C", "60"),
}


def _implied(amount: Decimal) -> str:
    """An amount as an N2 element: 311.92 -> 31192."""
    return str(int(amount * 100))


@dataclass
class Line:
    flag: str
    quantity: int
    price: Decimal

    @property
    def amount(self) -> Decimal:
        return (self.quantity * self.price).quantize(CENT, ROUND_HALF_UP)


prices = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("999.9999"), places=4)
lines = st.builds(Line, st.sampled_from("CD"), st.integers(1, 500), prices)


@dataclass
class Claim:
    number: str
    flag: str
    lines: list[Line]

    def net(self) -> Decimal:
        """Against BCD05, as the header total is written."""
        return sum(
            (ln.amount if ln.flag == self.flag else -ln.amount for ln in self.lines), Decimal(0)
        )


@st.composite
def claims_812(draw: st.DrawFn) -> tuple[str, list[Claim], str]:
    """A retailer's 812 file: interchanges reusing ISA13, claims with lines."""
    retailer = draw(st.sampled_from(sorted(RETAILERS)))
    name, gln, _, code = RETAILERS[retailer]
    layout: Layout = draw(LAYOUTS)
    n_interchanges = draw(st.integers(1, 3))
    claims: list[Claim] = []
    text = ""
    for i in range(n_interchanges):
        txs = []
        for j in range(draw(st.integers(1, 3))):
            claim = Claim(
                f"CL{i}-{j}", draw(st.sampled_from("CD")), draw(st.lists(lines, max_size=5))
            )
            claims.append(claim)
            body = [
                f"BCD*20260301*{claim.number}*A*{_implied(claim.net())}*{claim.flag}*20260115*"
                f"INV-{i}{j}**20260110*PO-{i}{j}*00*DR",
                f"N1*XI*{name}*UL*{gln}",
            ]
            for ln in claim.lines:
                body += [
                    f"CDD*{code}*{ln.flag}**{_implied(ln.amount)}***{ln.quantity}*EA***"
                    f"{ln.price}***LINE TEXT",
                    f"LIN**VN*SKU-{ln.quantity}",
                ]
            txs.append(transaction("812", f"{j + 1:04d}", body))
        text += render(interchange(txs, functional_id="CD", control="000000009"), layout)
    return retailer, claims, text


@SETTINGS
@given(claims_812())
def test_an_accepted_812_round_trips_its_totals(case: tuple[str, list[Claim], str]) -> None:
    retailer, claims, text = case
    read = read_adjustments(text)
    assert [str(e) for e in read.errors] == []
    deduction_flag = RETAILERS[retailer][2]
    by_number = {a.record.external_id: a for a in read.adjustments}
    assert sorted(by_number) == sorted(c.number for c in claims)
    for claim in claims:
        adj = by_number[claim.number]
        sign = 1 if claim.flag == deduction_flag else -1
        assert adj.record.portal == retailer
        assert adj.record.amount == claim.net() * sign
        assert [ln.amount for ln in adj.record.lines] == [
            ln.amount if ln.flag == deduction_flag else -ln.amount for ln in claim.lines
        ]
        assert [ln.unit_cost for ln in adj.record.lines] == [ln.price for ln in claim.lines]
        if claim.lines:
            assert adj.lines_total == adj.header_total == adj.record.amount


@st.composite
def mutated(draw: st.DrawFn, files: st.SearchStrategy[str]) -> str:
    """A valid file with a few edits of the kind transmission and senders make."""
    text = draw(files)
    for _ in range(draw(st.integers(1, 4))):
        if not text:
            break
        at = draw(st.integers(0, len(text) - 1))
        kind = draw(st.sampled_from(["delete", "insert", "cut", "duplicate"]))
        if kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 12)) :]
        elif kind == "insert":
            text = (
                text[:at]
                + draw(st.text(alphabet="*~>|^:-.0123456789ABCDE \n", max_size=6))
                + text[at:]
            )
        elif kind == "cut":
            text = text[:at]
        else:
            end = text.find("~", at)
            text = text[:end] + text[at:end] + text[end:] if end > 0 else text
    return text


@SETTINGS
@given(mutated(claims_812().map(lambda c: c[2])))
def test_a_damaged_812_is_refused_or_still_adds_up(text: str) -> None:
    read = read_adjustments(text)
    assert all(isinstance(e, X12Error) for e in read.errors)
    for adj in read.adjustments:
        assert adj.lines_total in (None, adj.header_total)
        assert adj.record.amount == adj.header_total


@SETTINGS
@given(st.text(max_size=600) | st.text(alphabet="ISAGSTE*~>\n 0123456789", max_size=600))
def test_any_text_is_read_or_refused_never_raises(text: str) -> None:
    parsed = read_x12(text)
    assert all(isinstance(e, X12Error) for e in parsed.errors)
    read_adjustments(text)
    read_remittances(text)


money = st.decimals(min_value=Decimal("-5000"), max_value=Decimal("5000"), places=2)


@dataclass
class Item:
    qualifier: str
    paid: Decimal
    deductions: list[Decimal]


@dataclass
class Loop:
    deductions: list[Decimal]  # loop-level, documented sign
    items: list[Item]


@st.composite
def remittances_820(draw: st.DrawFn) -> tuple[str, list[Loop], str]:
    """One 820 with ENT loops with and without RMRs, in a payer's own signs."""
    payer = draw(st.sampled_from(["MEGAMART STORES INC", "SHOPRIGHT CORPORATION"]))
    negative = payer.startswith("SHOPRIGHT")
    loops = draw(
        st.lists(
            st.builds(
                Loop,
                st.lists(money, max_size=2),
                st.lists(
                    st.builds(
                        Item,
                        st.sampled_from(["IV", "IV", "IK"]),
                        money,
                        st.lists(money, max_size=2),
                    ),
                    max_size=3,
                ),
            ),
            min_size=1,
            max_size=4,
        )
    )

    def adx(amount: Decimal, ref: str) -> str:
        return f"ADX*{-amount if negative else amount}*CB*CB*{ref}"

    body = []
    for n, loop in enumerate(loops, start=1):
        body.append(f"ENT*{n}")
        body += [adx(a, f"L{n}-{k}") for k, a in enumerate(loop.deductions)]
        for m, item in enumerate(loop.items):
            body.append(f"RMR*{item.qualifier}*R{n}-{m}**{item.paid}")
            body += [adx(a, f"R{n}-{m}-{k}") for k, a in enumerate(item.deductions)]
    bpr02 = sum((i.paid for lp in loops for i in lp.items), Decimal("0.00")) - sum(
        (a for lp in loops for a in lp.deductions), Decimal("0.00")
    )
    head = [f"BPR*C*{bpr02}*C*ACH*CTX", "TRN*1*T-1", f"N1*PR*{payer}", "DTM*097*20261015"]
    text = render(
        interchange([transaction("820", "0001", head + body)], functional_id="RA"),
        draw(LAYOUTS),
    )
    return payer, loops, text


@SETTINGS
@given(remittances_820())
def test_an_accepted_820_balances_and_keeps_each_adjustment_in_its_loop(
    case: tuple[str, list[Loop], str],
) -> None:
    _, loops, text = case
    read = read_remittances(text)
    assert [str(e) for e in read.errors] == []
    (rem,) = read.remittances
    assert rem.balance.balanced
    assert rem.record.total_paid == rem.balance.bpr02
    raw_loops = rem.record.raw["loops"]
    assert len(raw_loops) == len(loops)
    for loop, raw in zip(loops, raw_loops, strict=True):
        assert [Decimal(a["amount"]) for a in raw["adjustments"]] == loop.deductions
        assert [[Decimal(a["amount"]) for a in i["adjustments"]] for i in raw["items"]] == [
            i.deductions for i in loop.items
        ]
    stored = [a.amount for ln in rem.record.lines for a in ln.adjustments]
    expected = [
        a for lp in loops for a in [*lp.deductions, *(d for i in lp.items for d in i.deductions)]
    ]
    assert sorted(stored) == sorted(expected)
    invoices = [ln.invoice_number for ln in rem.record.lines if ln.qualifier == "IK"]
    assert set(invoices) <= {""}


@SETTINGS
@given(mutated(remittances_820().map(lambda c: c[2])))
def test_a_damaged_820_is_refused_or_read_with_its_balance_stated(text: str) -> None:
    read = read_remittances(text)
    assert all(isinstance(e, X12Error) for e in read.errors)
    for rem in read.remittances:
        b = rem.balance
        assert b.balanced == (b.computed == b.bpr02)
        assert rem.record.raw["balance"]["computed"] == str(b.computed)
