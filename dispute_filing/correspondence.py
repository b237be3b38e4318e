"""Disputes by e-mail, for a retailer (or a kind of claim) with no dispute form.

Where the portal's habits name an address for the dispute's category
(``disputes.email`` in ``records/data/portals/<portal>.json``), the packet
becomes one RFC 5322 message (standard library ``email``): the narrative as
its text, the cover letter and evidence as PDF attachments, exactly the
packet a form would have received. The message is written to the outbox
(``<data dir>/outbox/<portal>_<claim>.eml``) and, when an SMTP server is
configured (``FLEET_SMTP_URL``, ``smtp://host:port``), sent through it.

Its Message-ID is derived from the dispute's idempotency key, so the
retailer's reply threads to it and a retry writes the same file. An e-mail has
no "look first" on the retailer's side, so the outbox keeps one: the moment
the SMTP server accepts the message, a marker beside the ``.eml``
(``.<name>.sent``, holding the Message-ID) says so, and a retry after a
process was killed between sending and recording finds it and does not send
again (:func:`send_once`). Only a kill inside the few microseconds between the
server's answer and the marker's write can still send twice, under the same
Message-ID. Replies are out of scope.
"""

from __future__ import annotations

import hashlib
import os
import re
import smtplib
from datetime import UTC, date, datetime, time
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit

from dispute_filing.packets import Prepared
from records.filenames import sanitize_filename


def message_id(idempotency_key: str) -> str:
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@deductions-fleet>"


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
HEADER_LIMIT = 200


def header_text(value: object, limit: int = HEADER_LIMIT) -> str:
    """A header value from untrusted text (a claim number from a portal or an
    812): line breaks and other controls become one space, so no value can
    start a header of its own, and it is bounded."""
    text = _CONTROL.sub(" ", str(value)).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def compose(prepared: Prepared, to_addr: str, from_addr: str, dated: date) -> EmailMessage:
    """The dispute as one e-mail: text, then every attachment of the packet.
    Every header value passes :func:`header_text`."""
    p = prepared.packet
    claim = prepared.facts.claim
    msg = EmailMessage()
    msg["From"] = header_text(from_addr)
    msg["To"] = header_text(to_addr)
    subject = f"Dispute of claim {claim['number']}: {p.amount} {claim['currency']}" + (
        f" (invoice {claim['invoice_number']})" if claim["invoice_number"] else ""
    )
    msg["Subject"] = header_text(subject, 300)
    msg["Date"] = format_datetime(datetime.combine(dated, time(12), tzinfo=UTC))
    msg["Message-ID"] = message_id(p.idempotency_key)
    msg.set_content(p.explanation + "\n")
    for name, data in p.attachments:
        msg.add_attachment(data, maintype="application", subtype="pdf", filename=name)
    return msg


def write_outbox(msg: EmailMessage, outbox: Path, portal: str, claim: str) -> Path:
    """Write the message as ``<portal>_<claim>.eml`` (atomically; same bytes on a retry)."""
    outbox.mkdir(parents=True, exist_ok=True)
    name = sanitize_filename(f"{portal}_{claim}.eml", default="dispute.eml")
    path = outbox / name
    tmp = outbox / f".{name}.tmp"
    tmp.write_bytes(bytes(msg))
    os.replace(tmp, path)
    return path


def send(msg: EmailMessage, smtp_url: str, *, timeout: float = 30) -> None:
    """Hand the message to the SMTP server ``smtp://host:port``."""
    parts = urlsplit(smtp_url)
    if parts.scheme != "smtp" or not parts.hostname:
        raise ValueError("FLEET_SMTP_URL must look like smtp://host:port")
    with smtplib.SMTP(parts.hostname, parts.port or 25, timeout=timeout) as smtp:
        smtp.send_message(msg)


def sent_marker(eml: Path) -> Path:
    return eml.with_name(f".{eml.name}.sent")


def send_once(msg: EmailMessage, smtp_url: str, eml: Path, *, timeout: float = 30) -> bool:
    """Send the message unless its marker says the server already accepted it;
    True when it was sent now."""
    marker = sent_marker(eml)
    wanted = str(msg["Message-ID"])
    if marker.is_file() and marker.read_text(encoding="utf-8").strip() == wanted:
        return False
    send(msg, smtp_url, timeout=timeout)
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(wanted + "\n", encoding="utf-8")
    os.replace(tmp, marker)
    return True


__all__ = [
    "compose",
    "header_text",
    "message_id",
    "send",
    "send_once",
    "sent_marker",
    "write_outbox",
]
