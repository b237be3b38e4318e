"""The adapter toolkit: what every adapter needs and none writes again.

Adapters import from here (``from portal_adapters.web import goto, ...``); the
submodules keep each concern small:

* ``failures``: Playwright's errors mapped to the most specific PortalError
  (``translate_playwright_error``, ``playwright_errors``), as httpx maps its
  transport errors; one record's failure as that record's RecordInvalid naming
  the field (``read_field``, ``build_record``, ``record_unreadable``).
* ``http``: ``request`` through the context's authenticated request API (never
  off the portal's origin, size-bounded), statuses (``raise_for_status``),
  documents checked for what their bytes are (``fetch_bytes``,
  ``document_bytes``, ``sniff_kind`` on ``records.sniff``), and header values
  through the standard library (``filename_from_disposition`` with
  ``email.message``, ``retry_after_seconds`` with ``email.utils``).
* ``pages``: ``goto``, ``expect_heading``, ``heading_text``, ``submit_form``,
  ``alert_text``, ``shows_page``, ``form_page``; sign-in codes
  (``one_time_code``, ``submit_code``) and uploads (``upload_file``, names
  through ``records.filenames``).
* ``tracing``: a job's trace (``start_trace``, ``stop_trace``) and secrets
  typed with it paused (``fill_secret``, ``untraced``): no trace file, live or
  kept, ever holds a typed password, answer or code.
* ``tables``: tables read by header text in one round trip (``read_table``).
* ``lanes``: several pages of one login at work together (``side_by_side``).
* ``carriers``: a carrier lookup's result section and the documents it links.

The rules behind all of it: a page or a response we did not expect is an error
with a class, never an empty result; no locator, URL or path is built from
portal text without escaping it for that context. Portal text reaches a
locator only as a plain ``name=``/``has_text=`` string, which Playwright
escapes itself, never as a pattern built from it (Playwright copies a Python
pattern's source into its selector unescaped: a ``/`` in a claim number ended
the selector); it reaches a URL only through ``quote`` or as a link the portal
printed, resolved and kept on the portal's origin (``portal_url``).
"""

from __future__ import annotations

from portal_adapters.web.carriers import (
    ShipmentResult,
    check_asked,
    linked_documents,
    read_lines,
    read_shipment_result,
    shipment_documents,
    shipment_from_result,
    shipment_record,
    split_list,
)
from portal_adapters.web.failures import (
    FieldError,
    build_record,
    check_record_heading,
    explain,
    first_line,
    playwright_errors,
    read_field,
    record_invalid,
    record_unreadable,
    translate_playwright_error,
)
from portal_adapters.web.http import (
    API_TIMEOUT_MS,
    DEFAULT_MAX_BYTES,
    DOWNLOAD_TIMEOUT_MS,
    MAX_JSON_BYTES,
    MAX_URL,
    Reply,
    check_response,
    document_bytes,
    fetch_bytes,
    fetched_document,
    filename_from_disposition,
    is_pdf,
    json_object,
    media_type,
    portal_url,
    raise_for_status,
    request,
    retry_after_seconds,
    same_origin,
    sniff_kind,
    url_path,
)
from portal_adapters.web.lanes import side_by_side
from portal_adapters.web.pages import (
    HEADING_TIMEOUT_MS,
    NAV_TIMEOUT_MS,
    alert_text,
    describe_page,
    expect_heading,
    form_page,
    goto,
    heading_text,
    link_href,
    one_time_code,
    optional_amount,
    shows_page,
    submit_code,
    submit_form,
    upload_file,
    upload_name,
)
from portal_adapters.web.tables import TABLE_CELLS_JS, Row, read_table, rows_by_header, single_row
from portal_adapters.web.tracing import (
    fill_secret,
    is_tracing,
    start_trace,
    stop_trace,
    untraced,
)

__all__ = [
    "API_TIMEOUT_MS",
    "DEFAULT_MAX_BYTES",
    "DOWNLOAD_TIMEOUT_MS",
    "HEADING_TIMEOUT_MS",
    "MAX_JSON_BYTES",
    "MAX_URL",
    "NAV_TIMEOUT_MS",
    "TABLE_CELLS_JS",
    "FieldError",
    "Reply",
    "Row",
    "ShipmentResult",
    "alert_text",
    "build_record",
    "check_asked",
    "check_record_heading",
    "check_response",
    "describe_page",
    "document_bytes",
    "expect_heading",
    "explain",
    "fetch_bytes",
    "fetched_document",
    "filename_from_disposition",
    "fill_secret",
    "first_line",
    "form_page",
    "goto",
    "heading_text",
    "is_pdf",
    "is_tracing",
    "json_object",
    "link_href",
    "linked_documents",
    "media_type",
    "one_time_code",
    "optional_amount",
    "playwright_errors",
    "portal_url",
    "raise_for_status",
    "read_field",
    "read_lines",
    "read_shipment_result",
    "read_table",
    "record_invalid",
    "record_unreadable",
    "request",
    "retry_after_seconds",
    "rows_by_header",
    "same_origin",
    "shipment_documents",
    "shipment_from_result",
    "shipment_record",
    "shows_page",
    "side_by_side",
    "single_row",
    "sniff_kind",
    "split_list",
    "start_trace",
    "stop_trace",
    "submit_code",
    "submit_form",
    "translate_playwright_error",
    "untraced",
    "upload_file",
    "upload_name",
    "url_path",
]
