"""Text extraction from stored documents (in a killable child process) and field
extraction from that text, one module per concern:

* :mod:`~store.extraction.pdf` (+ ``_worker``): text from PDFs, bounded and killable;
* :mod:`~store.extraction.labels`: finding labelled values, confidences;
* :mod:`~store.extraction.backup`: a retailer's claim / debit memo and its lines;
* :mod:`~store.extraction.carrier`: a carrier's POD / BOL;
* :mod:`~store.extraction.invoice`: any invoice's header;
* :mod:`~store.extraction.line_detail`: a claim's line detail as CSV.

Amounts, dates and currencies come from the one parser in :mod:`records.parse`.
No database here: everything returns plain dataclasses for the extraction pass
(:mod:`store.extraction_pass`) to persist."""

from __future__ import annotations

from store.extraction.backup import BackupFields, LineItem, extract_backup_fields
from store.extraction.carrier import PodFields, extract_pod_fields
from store.extraction.invoice import InvoiceFields, extract_invoice_fields
from store.extraction.labels import ExtractedField
from store.extraction.line_detail import LineDetail, LineDetailError, read_line_detail
from store.extraction.pdf import (
    ExtractionLimits,
    ExtractionResult,
    ExtractionStatus,
    PdfExtractor,
    extract_pdf_text,
)

__all__ = [
    "BackupFields",
    "ExtractedField",
    "ExtractionLimits",
    "ExtractionResult",
    "ExtractionStatus",
    "InvoiceFields",
    "LineDetail",
    "LineDetailError",
    "LineItem",
    "PdfExtractor",
    "PodFields",
    "extract_backup_fields",
    "extract_invoice_fields",
    "extract_pdf_text",
    "extract_pod_fields",
    "read_line_detail",
]
