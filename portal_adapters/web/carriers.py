"""What carrier portals share: a lookup's result section (a summary table, the
lines under it, links to the POD and the BOL, a status note when the POD is
not imaged yet) and the documents behind its links."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from playwright.async_api import Locator, Page

from portal_adapters.base import AdapterSession, FetchedDocument, ShipmentDocuments
from portal_adapters.errors import PortalError, RecordInvalid
from portal_adapters.web.failures import FieldError, build_record, playwright_errors, read_field
from portal_adapters.web.http import (
    DEFAULT_MAX_BYTES,
    DOWNLOAD_TIMEOUT_MS,
    document_bytes,
    fetched_document,
    portal_url,
    request,
)
from portal_adapters.web.pages import link_href
from portal_adapters.web.tables import single_row
from records.normalize import clean_text, portal_rules
from records.schemas import PodStatus, ShipmentRecord


@dataclass(frozen=True)
class ShipmentResult:
    """One lookup's result section as the carrier shows it (strings, unparsed)."""

    row: dict[str, str]  # the summary table's one row, by header
    text: str  # the section's text: the lines under the table
    links: dict[str, str]  # document role -> the link's href, for the links shown
    note: str  # the role=status note ("not imaged yet"), "" when none


async def read_shipment_result(
    region: Locator,
    *,
    table: str,
    headers: Iterable[str],
    links: Mapping[str, str],
    portal: str,
    step: str,
) -> ShipmentResult:
    """The result section ``region``: its table named ``table`` read by header,
    and the links named by ``links`` (role -> link text)."""
    found = region.get_by_role("table", name=table, exact=True)
    row = await single_row(found.first, headers, portal=portal, what=table, step=step)
    async with playwright_errors(portal, step):
        text = await region.inner_text()
        hrefs = {role: await link_href(region, name) for role, name in links.items()}
        status = region.get_by_role("status")
        note = clean_text(await status.first.inner_text()) if await status.count() else ""
    return ShipmentResult(
        row, text, {role: href for role, href in hrefs.items() if href is not None}, note
    )


async def linked_documents(
    session: AdapterSession,
    result: ShipmentResult,
    *,
    base: str,
    pro: str,
    forbidden: Callable[[str], PortalError] | None = None,
) -> list[FetchedDocument] | RecordInvalid:
    """The documents behind a result's links, through the request API, checked.

    A POD link that answers 404 is a POD not imaged after all (skipped: look
    again later); a document that cannot be read is the shipment's
    RecordInvalid (``kind="document"``, raw naming the PRO and role); 403 is
    ``forbidden(role)`` when given (a carrier's security check).
    """
    documents: list[FetchedDocument] = []
    for role, href in result.links.items():
        step = f"download_{role}"
        ref = f"{role}:{pro}"
        reply = await request(
            session,
            portal_url(session, href, step=step, base=base),
            step=step,
            max_bytes=DEFAULT_MAX_BYTES,
            timeout_ms=DOWNLOAD_TIMEOUT_MS,
        )
        if reply.status == 403 and forbidden is not None:
            raise forbidden(role)
        if reply.status == 404 and role == "pod":
            continue
        try:
            document_bytes(reply, session=session, step=step, ref=ref)
        except RecordInvalid as exc:
            exc.raw = {"pro_number": pro, "role": role, **exc.raw}
            return exc
        documents.append(
            fetched_document(reply, role=role, ref=ref, filename=f"{role.upper()}_{pro}.pdf")
        )
    return documents


def shipment_documents(
    record: ShipmentRecord, documents: list[FetchedDocument]
) -> ShipmentDocuments:
    """The lookup's answer: the record, its POD status from what was fetched."""
    pod_available = any(d.role == "pod" for d in documents)
    status = PodStatus.fetched if pod_available else PodStatus.not_available
    return ShipmentDocuments(
        shipment=record.model_copy(update={"pod_status": status}),
        documents=documents,
        pod_available=pod_available,
    )


def read_lines(
    result: ShipmentResult, labels: Iterable[str], raw: dict[str, Any]
) -> dict[str, str]:
    """The values of the "<label>: value" lines under a result's table, for the
    ``labels`` asked for (the first of each), each also kept in ``raw``."""
    wanted, found = set(labels), {}
    for line in (clean_text(x) for x in result.text.splitlines()):
        label, sep, value = line.partition(":")
        if sep and label in wanted and label not in found and value.strip():
            found[label] = raw[label] = value.strip()
    return found


def split_list(text: str, sep: str = ";") -> list[str]:
    """ "SHORT 3 CS; 2 CS DAMAGED" -> ["SHORT 3 CS", "2 CS DAMAGED"]."""
    return [part.strip() for part in text.split(sep) if part.strip()]


def check_asked(shown: Mapping[str, str], asked: tuple[str, str]) -> None:
    """The answer is about the number asked for (``asked``: "pro"/"bol" and the
    number; ``shown`` has "PRO Number" and "BOL Number"); FieldError otherwise."""
    by, number = asked
    key = "PRO Number" if by == "pro" else "BOL Number"
    if shown.get(key, "").upper() != number.upper():
        raise FieldError(key, f"the answer is about {shown.get(key, '')[:40]!r}, not {number!r}")


def shipment_record(
    result: ShipmentResult,
    *,
    carrier: str,
    asked: tuple[str, str],
    raw: dict[str, Any],
    delivered: str,
    step: str,
    extra: Callable[[], dict[str, Any]] = dict,
) -> ShipmentRecord | RecordInvalid:
    """The shipment a result's summary row shows, or its RecordInvalid.

    Reads the columns every carrier's summary has (PRO, BOL, Consignee, Ship
    Date, the delivery date under the header ``delivered``, Pieces when
    shown) plus the carrier's own fields from ``extra()`` (called inside, so
    its failures are the record's too). A value that does not validate (an
    absurd piece count), or a result about another number than ``asked``, is
    the RecordInvalid, naming the field, with ``raw`` kept.
    """
    rules = portal_rules(carrier)
    row = result.row
    if result.note:
        raw["POD message"] = result.note

    def day(column: str) -> date | None:
        text = row.get(column, "")
        return read_field(column, rules.date, text) if text else None

    def build() -> ShipmentRecord:
        check_asked(row, asked)
        pieces = row.get("Pieces", "").replace(",", "")
        return ShipmentRecord(
            carrier=carrier,
            pro_number=row["PRO Number"],
            bol_number=row["BOL Number"],
            consignee=row["Consignee"],
            ship_date=day("Ship Date"),
            delivery_date=day(delivered),
            pieces_shipped=read_field("Pieces", int, pieces) if pieces else None,
            raw=raw,
            **extra(),
        )

    return build_record(
        build,
        raw=raw,
        external_id=row.get("PRO Number") or asked[1],
        kind="shipment",
        portal=carrier,
        step=step,
        what="the shipment result cannot be read",
    )


async def shipment_from_result(
    session: AdapterSession,
    page: Page,
    region: Locator,
    *,
    table: str,
    headers: Iterable[str],
    links: Mapping[str, str],
    parse: Callable[[ShipmentResult], ShipmentRecord | RecordInvalid],
    step: str,
    forbidden: Callable[[str], PortalError] | None = None,
) -> ShipmentDocuments | RecordInvalid:
    """A lookup's answer from its result section ``region``: read it
    (``read_shipment_result``), ``parse`` the record, fetch the linked
    documents (``linked_documents``). The record's or a document's
    RecordInvalid when either cannot be read; nothing is downloaded for a
    record that cannot be."""
    result = await read_shipment_result(
        region, table=table, headers=headers, links=links, portal=session.portal, step=step
    )
    record = parse(result)
    if isinstance(record, RecordInvalid):
        return record
    documents = await linked_documents(
        session, result, base=page.url, pro=record.pro_number, forbidden=forbidden
    )
    if isinstance(documents, RecordInvalid):
        return documents
    return shipment_documents(record, documents)
