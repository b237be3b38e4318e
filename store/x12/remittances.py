"""EDI 820 (payment order / remittance advice) into remittance records, loop by loop.

One ST..SE transaction is one remittance:

    BPR02 total paid (BPR03 credit/debit, BPR04 method)   BPR16 or DTM*097 payment date
    TRN02 trace (check/EFT) number: the remittance id     CUR02 currency
    N1*PR the payer (the retailer, our customer)
    ENT   starts a loop; the RMRs and ADXs up to the next ENT are that loop's
    RMR   RMR01 qualifier (IV: an invoice; IK, CM ...: other items), RMR02 number,
          RMR04 paid, RMR05 invoice amount; the REFs and ADXs after it are its own
    ADX   ADX01 amount, ADX02 reason code, ADX03 qualifier, ADX04 reference; an ADX
          before the loop's first RMR (or in a loop without one) is loop-level

An ADX belongs to the items of its own ENT loop, never to the previous loop's.
Signs: the stored adjustment is positive when it reduces the payment (the
fleet's documented sign). Whether a sender writes a deduction as a positive or
a negative ADX01 is that customer's habit (``adx_sign`` in records/data/edi).
The remittance must balance: BPR02 = sum of RMR04 - loop-level deductions (an
RMR04 is already net of its own ADXs). A remittance that does not is imported
and flagged, with both figures, in the import report and its raw payload.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from records.schemas import RemittanceAdjustmentRecord, RemittanceLineRecord, RemittanceRecord
from store.x12 import elements as el
from store.x12.envelope import Notice, Parsed, Segment, Transaction, Where, X12Error, read_x12
from store.x12.partners import Partner, default_partner, find

FORMAT = "x12-820"
ZERO = Decimal("0.00")
_PAYMENT_DATES = ("097", "234", "009")
_REF_LIKE = ("REF", "DTM", "NTE")


@dataclass(frozen=True)
class Balance:
    """BPR02 against what the items add up to, under the sender's convention."""

    bpr02: Decimal
    sum_rmr04: Decimal
    loop_deductions: Decimal  # documented sign: positive reduces the payment
    item_deductions: Decimal
    computed: Decimal  # sum_rmr04 - loop_deductions
    convention: str
    balanced: bool
    hints: tuple[str, ...] = ()

    def as_raw(self) -> dict[str, Any]:
        return {
            "bpr02": str(self.bpr02),
            "sum_rmr04": str(self.sum_rmr04),
            "loop_deductions": str(self.loop_deductions),
            "computed": str(self.computed),
            "convention": self.convention,
            "balanced": self.balanced,
            "hints": list(self.hints),
        }


@dataclass(frozen=True)
class Remittance:
    record: RemittanceRecord
    where: Where
    partner: Partner
    partner_known: bool
    balance: Balance
    digest: str


@dataclass
class RemittancesRead:
    parsed: Parsed
    remittances: list[Remittance] = field(default_factory=list)
    errors: list[X12Error] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)


@dataclass
class _Adx:
    seg: Segment
    refs: list[Segment] = field(default_factory=list)


@dataclass
class _Item:
    seg: Segment
    refs: list[Segment] = field(default_factory=list)
    adjustments: list[_Adx] = field(default_factory=list)


@dataclass
class _Loop:
    ent: Segment | None
    refs: list[Segment] = field(default_factory=list)
    adjustments: list[_Adx] = field(default_factory=list)
    items: list[_Item] = field(default_factory=list)


@dataclass
class _Shape:
    bpr: Segment | None = None
    trn: Segment | None = None
    cur: Segment | None = None
    dates: list[Segment] = field(default_factory=list)
    refs: list[Segment] = field(default_factory=list)
    parties: list[Segment] = field(default_factory=list)
    loops: list[_Loop] = field(default_factory=list)


def _shape(tx: Transaction) -> _Shape:
    """Segments into header, ENT loops, RMR items and ADX adjustments."""
    shape = _Shape()
    item: _Item | None = None
    adx: _Adx | None = None
    for seg in tx.body:
        sid = seg.id
        loop = shape.loops[-1] if shape.loops else None
        if sid == "ENT":
            shape.loops.append(_Loop(seg))
            item, adx = None, None
        elif sid == "RMR":
            if loop is None:
                loop = _Loop(None)
                shape.loops.append(loop)
            item, adx = _Item(seg), None
            loop.items.append(item)
        elif sid == "ADX":
            if loop is None:
                loop = _Loop(None)
                shape.loops.append(loop)
            adx = _Adx(seg)
            (item.adjustments if item else loop.adjustments).append(adx)
        elif sid in _REF_LIKE and (owner := adx or item or loop) is not None:
            owner.refs.append(seg)
        elif loop is not None:
            continue  # NM1, N1 ... of a loop: kept in the raw segments
        elif sid in ("BPR", "TRN", "CUR") and getattr(shape, sid.lower()) is None:
            setattr(shape, sid.lower(), seg)
        elif sid == "DTM":
            shape.dates.append(seg)
        elif sid == "REF":
            shape.refs.append(seg)
        elif sid == "N1":
            shape.parties.append(seg)
    return shape


def _partner(tx: Transaction, payer: Segment | None) -> tuple[Partner, bool]:
    ids = [payer.el(4)] if payer else []
    found = find([*ids, tx.interchange.sender, tx.group.sender], [payer.el(2)] if payer else [])
    return (found, True) if found else (default_partner(), False)


@dataclass
class _Built:
    adjustments: list[RemittanceAdjustmentRecord]
    deductions: Decimal
    raw: list[dict[str, Any]]


def _adjustments(tx: Transaction, adxs: list[_Adx], partner: Partner) -> _Built:
    out, total, raw = [], ZERO, []
    for a in adxs:
        written = el.written(tx, a.seg, 1)
        amount = written if partner.adx_sign == "positive_reduces" else -written
        try:
            out.append(
                RemittanceAdjustmentRecord(
                    reference=a.seg.el(4),
                    reason_code=a.seg.el(2),
                    amount=amount,
                    reference_qualifier=a.seg.el(3),
                )
            )
        except ValidationError as exc:
            raise tx.error(a.seg, None, el.explain(exc)) from None
        total += amount
        raw.append(
            {
                "segment": a.seg.position,
                "adx01": a.seg.el(1),
                "amount": str(amount),
                "reason_code": a.seg.el(2),
                "qualifier": a.seg.el(3),
                "reference": a.seg.el(4),
                "references": el.references(a.refs),
            }
        )
    return _Built(out, total, raw)


def _payment_date(tx: Transaction, shape: _Shape, bpr: Segment) -> Any:
    if bpr.el(16):
        return el.x12_date(tx, bpr, 16)
    for dtm in shape.dates:
        if dtm.el(1) in _PAYMENT_DATES and dtm.el(2):
            return el.x12_date(tx, dtm, 2)
    raise tx.error(bpr, 16, "no payment date: BPR16 is empty and there is no DTM*097")


def read_remittance(tx: Transaction) -> Remittance:
    """One 820 transaction as a remittance record; raises :class:`X12Error`."""
    if tx.set_id != "820":
        raise tx.error(None, 1, f"transaction set {tx.set_id!r}, not 820")
    shape = _shape(tx)
    bpr, trn = shape.bpr, shape.trn
    if bpr is None:
        raise tx.error(None, None, "no BPR segment: an 820 starts with one")
    if trn is None or not trn.el(2):
        raise tx.error(trn, 2 if trn else None, "no TRN02 trace number: the remittance id")
    payer = next((p for p in shape.parties if p.el(1) == "PR"), None)
    partner, known = _partner(tx, payer)
    bpr02 = el.written(tx, bpr, 2)
    lines: list[RemittanceLineRecord] = []
    line_segments: list[Segment] = []
    loops_raw, sum_rmr04, loop_deductions, item_deductions = [], ZERO, ZERO, ZERO
    for loop in shape.loops:
        held = _adjustments(tx, loop.adjustments, partner)
        loop_deductions += held.deductions
        anchor = loop.ent or (loop.adjustments[0].seg if loop.adjustments else None)
        if held.adjustments:
            lines.append(
                RemittanceLineRecord(
                    invoice_number="",
                    invoice_amount=ZERO,
                    paid_amount=ZERO,
                    adjustments=held.adjustments,
                )
            )
            line_segments.append(anchor or loop.adjustments[0].seg)
        items_raw = []
        for item in loop.items:
            rmr = item.seg
            if not rmr.el(4):
                raise tx.error(rmr, 4, "RMR04 (the amount paid) is empty")
            paid = el.written(tx, rmr, 4)
            billed = el.optional_written(tx, rmr, 5)
            own = _adjustments(tx, item.adjustments, partner)
            sum_rmr04 += paid
            item_deductions += own.deductions
            qualifier = rmr.el(1)
            try:
                lines.append(
                    RemittanceLineRecord(
                        invoice_number=rmr.el(2) if qualifier in partner.invoice_qualifiers else "",
                        invoice_amount=paid if billed is None else billed,
                        paid_amount=paid,
                        adjustments=own.adjustments,
                        qualifier=qualifier,
                        reference=rmr.el(2),
                    )
                )
            except ValidationError as exc:
                raise tx.error(rmr, None, el.explain(exc)) from None
            line_segments.append(rmr)
            items_raw.append(
                {
                    "segment": rmr.position,
                    "qualifier": qualifier,
                    "reference": rmr.el(2),
                    "action": rmr.el(3),
                    "paid": rmr.el(4),
                    "invoice_amount": rmr.el(5),
                    "discount": rmr.el(6),
                    "is_invoice": qualifier in partner.invoice_qualifiers,
                    "references": el.references(item.refs),
                    "adjustments": own.raw,
                }
            )
        loops_raw.append(
            {
                "ent": loop.ent.el(1) if loop.ent else None,
                "segment": anchor.position if anchor else None,
                "references": el.references(loop.refs),
                "adjustments": held.raw,
                "items": items_raw,
            }
        )
    balance = _balance(partner, bpr02, sum_rmr04, loop_deductions, item_deductions)
    raw = {
        "format": FORMAT,
        **tx.envelope(),
        "bpr": {
            "handling": bpr.el(1),
            "amount": bpr.el(2),
            "credit_debit": bpr.el(3),
            "method": bpr.el(4),
            "date": bpr.el(16),
        },
        "trn": {"type": trn.el(1), "number": trn.el(2), "originator": trn.el(3)},
        "currency": {"entity": shape.cur.el(1), "code": shape.cur.el(2)} if shape.cur else None,
        "references": el.references(shape.refs),
        "parties": el.parties(shape.parties),
        "convention": {"adx_sign": partner.adx_sign, "file": partner.source, "known": known},
        "balance": balance.as_raw(),
        "loops": loops_raw,
        "segments": [s.text for s in tx.segments],
    }
    try:
        record = RemittanceRecord(
            remittance_id=trn.el(2),
            customer=payer.el(2) if payer else "",
            payment_date=_payment_date(tx, shape, bpr),
            total_paid=bpr02,
            currency=(shape.cur.el(2) if shape.cur else "") or "USD",
            lines=lines,
            raw=raw,
        )
    except ValidationError as exc:
        loc = exc.errors()[0]["loc"]
        seg, n = bpr, None
        if loc and loc[0] == "remittance_id":
            seg, n = trn, 2
        elif loc and loc[0] == "currency" and shape.cur:
            seg, n = shape.cur, 2
        elif loc and loc[0] == "lines" and len(loc) > 1 and isinstance(loc[1], int):
            seg = line_segments[loc[1]]
        raise tx.error(seg, n, el.explain(exc)) from None
    return Remittance(
        record=record,
        where=tx.where(),
        partner=partner,
        partner_known=known,
        balance=balance,
        digest=hashlib.sha256("\n".join(s.text for s in tx.body).encode()).hexdigest(),
    )


def _balance(
    partner: Partner, bpr02: Decimal, rmr04: Decimal, loop_ded: Decimal, item_ded: Decimal
) -> Balance:
    computed = rmr04 - loop_ded
    hints = []
    if computed != bpr02:
        if rmr04 + loop_ded == bpr02 and loop_ded:
            other = "negative" if partner.adx_sign == "positive_reduces" else "positive"
            hints.append(
                f"it balances if a deduction is a {other} ADX01: check adx_sign in {partner.source}"
            )
        if rmr04 - loop_ded - item_ded == bpr02 and item_ded:
            hints.append("it balances if RMR04 is before its own adjustments")
    return Balance(
        bpr02,
        rmr04,
        loop_ded,
        item_ded,
        computed,
        partner.adx_sign,
        computed == bpr02,
        tuple(hints),
    )


def read_remittances(text: str) -> RemittancesRead:
    """Every 820 in a file; refusals name the interchange, transaction,
    segment and element."""
    parsed = read_x12(text)
    out = RemittancesRead(parsed, errors=list(parsed.errors), notices=list(parsed.notices))
    for tx in parsed.transactions:
        try:
            rem = read_remittance(tx)
        except X12Error as exc:
            out.errors.append(exc)
            continue
        if not rem.partner_known:
            out.notices.append(
                Notice(
                    rem.where,
                    f"payer {rem.record.customer!r} has no file in records/data/edi: its ADX "
                    f"signs are read as {rem.partner.adx_sign.replace('_', ' ')} (the default)",
                )
            )
        out.remittances.append(rem)
    return out


__all__ = [
    "FORMAT",
    "Balance",
    "Remittance",
    "RemittancesRead",
    "read_remittance",
    "read_remittances",
]
