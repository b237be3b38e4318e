"""EDI 812 (credit/debit adjustment) into deduction records.

One ST..SE transaction is one deduction, as a retailer's claim or debit memo:

    BCD01 adjustment date -> deduction_date   BCD02 adjustment number -> claim number
    BCD03 handling code (A: off-invoice)      BCD04 total, 2 implied decimals (31192 = 311.92)
    BCD05 credit/debit flag                   BCD06/07 invoice date and number
    BCD09/10 PO date and number               BCD11 purpose, BCD12 type (DR: debit memo)
    CUR02 currency     N9 references (IA vendor, DP department, MR merchandise type,
    RV receiving, BM bill of lading: the shipment a shortage or damage is about,
    so the carrier's POD can be found by it)
    N1 parties (XI the retailer with its GLN, SU the supplier)
    CDD per line: CDD01 reason code, CDD02 credit/debit, CDD04 amount (2 implied
    decimals) = CDD07 quantity x CDD11 unit price (written decimals), CDD08 unit,
    CDD14 free text; then LIN (item, UPC, vendor item ids) and N9 (the retailer's
    own claim code) for that line.

Signs: a deduction is positive (the supplier was paid that much less). Which
BCD05/CDD02 flag means that is the retailer's habit (``deduction_flag`` in its
records/data/edi file). A line whose flag differs from BCD05 counts against the
header total; BCD04 must equal the lines' net, or the transaction is refused
naming the BCD. A line whose CDD04 is not CDD07 x CDD11 (to the cent) is kept
and reported. The raw payload keeps every segment's text and each element.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pydantic import ValidationError

from records.normalize import clean_text
from records.schemas import DeductionLineRecord, DeductionRecord
from store.x12 import elements as el
from store.x12.envelope import Notice, Parsed, Segment, Transaction, Where, X12Error, read_x12
from store.x12.partners import Partner, find, for_portal, slug_for

SOURCE = "edi-812"
CENT = Decimal("0.01")
UNIT_PRICE_PLACES = 4
_REF_NAMES = {
    "IA": "vendor_number",
    "DP": "department",
    "MR": "merchandise_type",
    "RV": "receiving_number",
    "BM": "bol_number",
}
_SKU_QUALIFIERS = ("VN", "VA", "VP", "IN", "BP", "UP", "UK", "EN")


@dataclass(frozen=True)
class Adjustment:
    """One 812 read: the deduction record and what was checked on the way."""

    record: DeductionRecord
    where: Where
    partner: Partner
    partner_known: bool
    header_total: Decimal  # BCD04 in the documented sign (a deduction is positive)
    lines_total: Decimal | None  # the CDD lines' net in the same sign; None without lines
    digest: str  # sha256 of the segments between ST and SE
    notices: tuple[Notice, ...] = ()


@dataclass
class AdjustmentsRead:
    """A whole 812 file: the adjustments read, refusals and warnings."""

    parsed: Parsed
    adjustments: list[Adjustment] = field(default_factory=list)
    errors: list[X12Error] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)


@dataclass
class _Line:
    cdd: Segment
    lin: Segment | None = None
    refs: list[Segment] = field(default_factory=list)
    other: list[Segment] = field(default_factory=list)


@dataclass
class _Shape:
    bcd: Segment | None = None
    cur: Segment | None = None
    refs: list[Segment] = field(default_factory=list)
    parties: list[Segment] = field(default_factory=list)
    lines: list[_Line] = field(default_factory=list)


def _shape(tx: Transaction) -> _Shape:
    shape = _Shape()
    for seg in tx.body:
        if seg.id == "CDD":
            shape.lines.append(_Line(seg))
        elif shape.lines:
            line = shape.lines[-1]
            if seg.id == "LIN" and line.lin is None:
                line.lin = seg
            elif seg.id == "N9":
                line.refs.append(seg)
            else:
                line.other.append(seg)
        elif seg.id == "BCD":
            if shape.bcd is not None:
                raise tx.error(seg, None, "a second BCD in one transaction")
            shape.bcd = seg
        elif seg.id == "CUR":
            shape.cur = seg
        elif seg.id == "N9":
            shape.refs.append(seg)
        elif seg.id == "N1":
            shape.parties.append(seg)
    return shape


def _party(segs: list[Segment], *entities: str) -> Segment | None:
    return next((s for s in segs if s.el(1) in entities), None)


def _partner(
    tx: Transaction, shape: _Shape, retailer: str | None
) -> tuple[Partner, bool, Notice | None]:
    if retailer:
        return for_portal(retailer), True, None
    xi = _party(shape.parties, "XI", "BY")
    name = xi.el(2) if xi else ""
    ids = [xi.el(4)] if xi else []
    ids += [tx.interchange.sender, tx.group.sender]
    found = find(ids, [name] if name else [])
    if found is not None:
        return found, True, None
    slug = slug_for(name or tx.interchange.sender)
    told = f"{name!r}" + (f" ({xi.el(3)} {xi.el(4)})" if xi and xi.el(4) else "")
    notice = Notice(
        tx.where(xi),
        f"retailer {told}, sender {tx.interchange.sender!r}, has no file in "
        f"records/data/edi: filed under portal {slug!r} with the X12 defaults "
        "(pass --retailer PORTAL, or add its file)",
    )
    return for_portal(slug), False, notice


def _claim_number(tx: Transaction, shape: _Shape, bcd: Segment, partner: Partner) -> str:
    rule = partner.claim_number
    if rule == "BCD02":
        value = bcd.el(2)
        if not value:
            raise tx.error(bcd, 2, "BCD02 (the adjustment number) is empty")
        return value
    qualifier = rule.removeprefix("N9:")
    for ref in shape.refs:
        if ref.el(1) == qualifier and ref.el(2):
            return ref.el(2)
    raise tx.error(
        None,
        None,
        f"no N9*{qualifier} segment: {partner.source} says the claim number is there",
    )


def _item_ids(lin: Segment | None) -> dict[str, str]:
    if lin is None:
        return {}
    ids: dict[str, str] = {}
    for i in range(2, len(lin.elements) - 1, 2):
        qualifier, value = lin.el(i), lin.el(i + 1)
        if qualifier and value and qualifier not in ids:
            ids[qualifier] = value
    return ids


@dataclass
class _ReadLine:
    record: DeductionLineRecord
    relative: Decimal  # signed against BCD05, for the header total
    reason: str
    claim_codes: list[str]
    text: str
    raw: dict[str, Any]


def _line(
    tx: Transaction, line: _Line, flag: str, partner: Partner, notices: list[Notice]
) -> _ReadLine:
    cdd = line.cdd
    reason = cdd.el(1)
    if not reason:
        raise tx.error(cdd, 1, "CDD01 (the reason code) is empty")
    cd = el.code(tx, cdd, 2, ("C", "D"))
    amount = el.implied(tx, cdd, 4)
    quantity = el.whole(tx, cdd, 7) if cdd.el(7) else None
    price = el.optional_written(tx, cdd, 11, UNIT_PRICE_PLACES)
    difference = el.optional_written(tx, cdd, 9, UNIT_PRICE_PLACES)
    if quantity is not None and (price is not None or difference is not None):
        products = [quantity * p for p in (price, difference) if p is not None]
        if all(p.quantize(CENT, ROUND_HALF_UP) != amount for p in products):
            notices.append(
                Notice(
                    tx.where(cdd, 4),
                    f"CDD04 {amount} is not CDD07 {quantity} x CDD11 {price} "
                    f"(= {products[0]}); kept as the retailer wrote it",
                )
            )
    ids = _item_ids(line.lin)
    sku = next((ids[q] for q in _SKU_QUALIFIERS if q in ids), next(iter(ids.values()), ""))
    text = clean_text(cdd.el(14))
    claim_codes = [r.el(2) for r in line.refs if r.el(2)]
    stored = amount if cd == partner.deduction_flag else -amount
    try:
        record = DeductionLineRecord(
            sku=sku[:500],
            description=text,
            quantity=quantity or 0,
            unit_cost=price,
            amount=stored,
        )
    except ValidationError as exc:
        raise tx.error(cdd, None, el.explain(exc)) from None
    raw = {
        "segment": cdd.position,
        "reason_code": reason,
        "credit_debit": cd,
        "assigned_id": cdd.el(3),
        "amount": cdd.el(4),
        "quantity": cdd.el(7),
        "unit": cdd.component_of(8),
        "unit_price_difference": cdd.el(9),
        "unit_price": cdd.el(11),
        "text": cdd.el(14),
        "item_ids": ids,
        "references": el.references(line.refs),
    }
    return _ReadLine(record, amount if cd == flag else -amount, reason, claim_codes, text, raw)


_FIELD_ELEMENT = {
    "external_id": ("bcd", 2),
    "amount": ("bcd", 4),
    "deduction_date": ("bcd", 1),
    "invoice_date": ("bcd", 6),
    "invoice_number": ("bcd", 7),
    "po_number": ("bcd", 10),
    "currency": ("cur", 2),
}


def read_adjustment(tx: Transaction, retailer: str | None = None) -> Adjustment:
    """One 812 transaction as a deduction record; raises :class:`X12Error`."""
    if tx.set_id != "812":
        raise tx.error(None, 1, f"transaction set {tx.set_id!r}, not 812")
    shape = _shape(tx)
    bcd = shape.bcd
    if bcd is None:
        raise tx.error(None, None, "no BCD segment: an 812 starts with one")
    notices: list[Notice] = []
    partner, known, told = _partner(tx, shape, retailer)
    if told is not None:
        notices.append(told)
    flag = el.code(tx, bcd, 5, ("C", "D"))
    total = el.implied(tx, bcd, 4)
    lines = [_line(tx, ln, flag, partner, notices) for ln in shape.lines]
    if lines:
        net = sum((ln.relative for ln in lines), Decimal("0.00"))
        if net != total:
            where = ", ".join(str(ln.cdd.position) for ln in shape.lines[:10])
            raise tx.error(
                bcd,
                4,
                f"BCD04 {total} is not the sum of its {len(lines)} CDD lines ({net}; "
                f"CDD at segment {where}): refused",
            )
    sign = 1 if flag == partner.deduction_flag else -1
    main = max(lines, key=lambda ln: abs(ln.record.amount), default=None)
    reason = main.reason if main else ""  # the largest line speaks for a mixed claim
    known_reason = partner.reason(reason) if reason else None
    text = known_reason.text if known_reason else (main.text if main else "")
    ship_to = _party(shape.parties, "ST")
    raw = _raw(tx, shape, bcd, partner, known, [ln.raw for ln in lines])
    bol = clean_text(raw.get("bol_number") or "")[:64] or None
    values: dict[str, Any] = {
        "portal": partner.portal,
        "external_id": _claim_number(tx, shape, bcd, partner),
        "account": None,
        "invoice_number": bcd.el(7),
        "po_number": bcd.el(10),
        "location": clean_text(ship_to.el(2) or ship_to.el(4)) if ship_to else "",
        "amount": total * sign,
        "currency": (shape.cur.el(2) if shape.cur else "") or "USD",
        "reason_code": reason,
        "reason_text": text[:500],
        "category": partner.category(reason, main.claim_codes if main else [], text),
        "deduction_date": el.x12_date(tx, bcd, 1),
        "invoice_date": el.optional_date(tx, bcd, 6),
        "bol_number": bol,
        "lines": [ln.record for ln in lines],
        "raw": raw,
    }
    el.optional_date(tx, bcd, 9)  # the PO date is kept raw, but must be a date
    try:
        record = DeductionRecord(**values)
    except ValidationError as exc:
        first = exc.errors()[0]["loc"]
        seg, n = bcd, None
        if first and first[0] in _FIELD_ELEMENT:
            which, n = _FIELD_ELEMENT[str(first[0])]
            seg = shape.cur if which == "cur" and shape.cur else bcd
        elif first and first[0] == "lines" and len(first) > 1 and isinstance(first[1], int):
            seg = shape.lines[first[1]].cdd
        raise tx.error(seg, n, el.explain(exc)) from None
    return Adjustment(
        record=record,
        where=tx.where(),
        partner=partner,
        partner_known=known,
        header_total=total * sign,
        lines_total=None if not lines else sum((ln.record.amount for ln in lines), Decimal(0)),
        digest=hashlib.sha256("\n".join(s.text for s in tx.body).encode()).hexdigest(),
        notices=tuple(notices),
    )


def _raw(
    tx: Transaction,
    shape: _Shape,
    bcd: Segment,
    partner: Partner,
    known: bool,
    lines: list[dict[str, Any]],
) -> dict[str, Any]:
    refs = el.references(shape.refs)
    named = {_REF_NAMES[r["qualifier"]]: r["value"] for r in refs if r["qualifier"] in _REF_NAMES}
    return {
        "source": SOURCE,
        **tx.envelope(),
        "bcd": {
            "date": bcd.el(1),
            "number": bcd.el(2),
            "handling": bcd.el(3),
            "total": bcd.el(4),
            "credit_debit": bcd.el(5),
            "invoice_date": bcd.el(6),
            "invoice_number": bcd.el(7),
            "vendor_order": bcd.el(8),
            "po_date": bcd.el(9),
            "po_number": bcd.el(10),
            "purpose": bcd.el(11),
            "type": bcd.el(12),
        },
        "currency": {"entity": shape.cur.el(1), "code": shape.cur.el(2)} if shape.cur else None,
        "references": refs,
        **named,
        "parties": el.parties(shape.parties),
        "lines": lines,
        "partner": {"file": partner.source, "known": known},
        "segments": [s.text for s in tx.segments],
    }


def read_adjustments(text: str, retailer: str | None = None) -> AdjustmentsRead:
    """Every 812 in a file. A claim number twice in one file is read once when
    both say the same, and refused (naming both) when they differ."""
    parsed = read_x12(text)
    out = AdjustmentsRead(parsed, errors=list(parsed.errors), notices=list(parsed.notices))
    seen: dict[tuple[str, str], Adjustment] = {}
    clashing: set[tuple[str, str]] = set()
    for tx in parsed.transactions:
        if tx.group.functional_id not in ("CD", "") and tx.set_id == "812":
            out.notices.append(
                Notice(tx.where(), f"GS01 is {tx.group.functional_id!r}, not CD; read anyway")
            )
        try:
            adj = read_adjustment(tx, retailer)
        except X12Error as exc:
            out.errors.append(exc)
            continue
        out.notices.extend(adj.notices)
        key = (adj.record.portal, adj.record.external_id)
        first = seen.get(key)
        if first is None:
            seen[key] = adj
            out.adjustments.append(adj)
        elif first.digest == adj.digest:
            out.notices.append(
                Notice(adj.where, f"claim {key[1]} repeats {first.where} unchanged; read once")
            )
        else:
            clashing.add(key)
            out.errors.append(
                X12Error(
                    adj.where,
                    f"claim {key[1]} is also at {first.where} with other content: both refused",
                )
            )
    out.adjustments = [
        a for a in out.adjustments if (a.record.portal, a.record.external_id) not in clashing
    ]
    return out


__all__ = ["SOURCE", "Adjustment", "AdjustmentsRead", "read_adjustment", "read_adjustments"]
