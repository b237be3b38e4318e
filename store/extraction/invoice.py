"""The header fields of any invoice (number, dates, total, currency, PO), across
the languages suppliers' invoices come in; works best on pypdf layout text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from records.parse import document_currency, find_amounts, uses_decimal_comma
from store.extraction.labels import (
    INVOICE_DATE,
    INVOICE_NO,
    PO,
    ExtractedField,
    amount_reader,
    best,
    date_reader,
    field_values,
    labels,
    prepare,
    read_ident,
    scan,
)


@dataclass
class InvoiceFields:
    """The header fields of any invoice."""

    invoice_number: ExtractedField[str] | None = None
    invoice_date: ExtractedField[date] | None = None
    due_date: ExtractedField[date] | None = None
    total: ExtractedField[Decimal] | None = None
    currency: ExtractedField[str] | None = None
    po_number: ExtractedField[str] | None = None

    def values(self) -> dict[str, Any]:
        return field_values(self)


_TOTAL = labels(
    [
        (r"\bgrand\s*total\b", 9),
        (r"\btotal\s*(?:amount\s*)?due\b", 9),
        (r"\bamount\s*due\b", 9),
        (r"\bbalance\s*due\b", 9),
        (r"\btotal\s*for\s*this\s*invoice\b", 9),
        (r"\binvoice\s*total\b", 9),
        (r"\btotal\s*ttc\b", 9, "fr"),
        (r"\bmontant\s*ttc\b", 8, "fr"),
        (r"\bsomme\s*à\s*payer\b", 9, "fr"),
        (r"\bnet\s*à\s*payer\b", 9, "fr"),
        (r"\bfactuur\s*totaal\b", 9, "nl"),
        (r"\bte\s*betalen\b", 9, "nl"),
        (r"\btotaalbedrag\b", 9, "nl"),
        (r"\b(?:gesamtbetrag|rechnungsbetrag|endbetrag)\b", 9, "de"),
        (r"\bnależność\s*ogółem\b", 9, "pl"),
        (r"\bdo\s*zapłaty\b", 9, "pl"),
        (r"\btotal\s*(?:amount|payable)\b", 8),
        (r"\btotaal\b", 6, "nl"),
        (r"\btotal\b", 5),
        (r"\bsumme\b", 5, "de"),
        (r"\bamount\s*paid\b", 4),
    ]
)
_DUE_DATE = labels(
    [
        (r"\bdue\s*date\b", 9),
        (r"\bpayment\s*due\b", 8),
        (r"\bvervaldatum\b", 9, "nl"),
        (r"\bf[äa]lligkeitsdatum|\bzahlungsziel\b", 8, "de"),
        (r"\bdate\s*limite\s*de\s*paiement(?:\s*le)?", 9, "fr"),
        (r"\béchéance\b", 8, "fr"),
    ]
)


def extract_invoice_fields(text: str, *, dayfirst: bool | None = None) -> InvoiceFields:
    """Read an invoice's number, dates, total and currency, across common languages.

    Prefers layout text. Dates: an unlabelled ambiguous "01/02/2023" is read day-first
    when the label is not English or the document's currency is not USD.
    """
    lines = prepare(text)
    joined = "\n".join(lines)
    decimal_comma = uses_decimal_comma(joined)
    doc_cur = document_currency(joined)
    if dayfirst is None and doc_cur and doc_cur[0] not in ("USD", "CAD"):
        dayfirst = True
    out = InvoiceFields()
    out.invoice_number = best(scan(lines, INVOICE_NO, read_ident))
    out.invoice_date = best(scan(lines, INVOICE_DATE, date_reader(dayfirst)))
    out.due_date = best(scan(lines, _DUE_DATE, date_reader(dayfirst)))
    out.po_number = best(scan(lines, PO, read_ident))
    total_hits = scan(lines, _TOTAL, amount_reader(decimal_comma), below=True)
    out.total = best(total_hits)
    currency = None
    if out.total:
        for token in find_amounts(out.total.raw, decimal_comma=decimal_comma):
            if token.currency:
                currency = ExtractedField(token.currency, 0.9, out.total.raw)
        if currency is None:
            row = next((ln for ln in lines if out.total.raw and out.total.raw in ln), "")
            found = document_currency(row)
            if found:
                currency = ExtractedField(found[0], 0.85, row.strip()[:200])
    if currency is None and doc_cur:
        currency = ExtractedField(doc_cur[0], 0.7 if doc_cur[1] > 1 else 0.5, doc_cur[0])
    out.currency = currency
    return out


__all__ = ["InvoiceFields", "extract_invoice_fields"]
