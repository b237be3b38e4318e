"""Text extraction from stored documents (in a killable child process) and field
extraction from that text (backup, POD/BOL, generic invoices). No database here:
everything returns plain dataclasses for the repositories to persist."""

from __future__ import annotations

from store.extraction.fields import (
    BackupFields,
    ExtractedField,
    InvoiceFields,
    LineItem,
    PodFields,
    extract_backup_fields,
    extract_invoice_fields,
    extract_pod_fields,
    parse_amount,
    parse_date,
)
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
    "LineItem",
    "PdfExtractor",
    "PodFields",
    "extract_backup_fields",
    "extract_invoice_fields",
    "extract_pdf_text",
    "extract_pod_fields",
    "parse_amount",
    "parse_date",
]
