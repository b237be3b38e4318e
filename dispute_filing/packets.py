"""Dispute packets: what to file for a deduction, decided from the store alone.

A dispute is queued once per deduction (portals refuse a second one) under an
idempotency key fixed before the first attempt. The packet is rebuilt the
same way on every attempt (:func:`prepare`):

- the portal's own reason for the deduction's category (``habits``, data);
- the amount approved: a split files its disputed part only, and a portal
  whose form takes no amount cannot file a partial dispute (the packet is
  held for a person, nothing is filed);
- a narrative from a template (``narrative``) filled with the facts the
  matching core found (``facts``);
- a cover letter PDF (``letter``), then the evidence ordered by its strength
  for the category (the POD first for a shortage, the deal sheet for a
  promotion...), in the portal's accepted types;
- the portal's limits checked: PDFs beyond its attachment count are merged
  into its last slot; a file over its size cap, a text over its length or an
  amount it cannot take is a refusal that names why, and the dispute waits
  for a person.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from dispute_filing.facts import Facts, gather
from dispute_filing.habits import DisputeHabits, habits
from dispute_filing.letter import cover_letter
from dispute_filing.narrative import render
from portal_adapters.base import DisputePacket
from records.filenames import sanitize_filename
from records.pdfs import merge_pdfs
from records.schemas import Category, DisputeReason, DisputeRecord, DisputeStatus
from store.models import Deduction, Dispute, Document, DocumentLink
from store.repositories import disputes as disputes_repo
from store.vault import DocumentVault

REASON_BY_CATEGORY: dict[Category | None, DisputeReason] = {
    Category.shortage: DisputeReason.proof_of_delivery,
    Category.damage: DisputeReason.proof_of_delivery,
    Category.promotion: DisputeReason.allowance_not_owed,
    Category.pricing: DisputeReason.pricing_per_agreement,
    Category.duplicate_post_audit: DisputeReason.duplicate_deduction,
    Category.compliance_fine: DisputeReason.compliance_met,
}
# Evidence by strength for each category: what proves the supplier right comes first.
STRENGTH: dict[str, tuple[str, ...]] = {
    "shortage": ("pod", "bol", "invoice", "backup", "line_detail", "remittance", "deal_sheet"),
    "damage": ("pod", "bol", "invoice", "backup", "line_detail", "remittance", "deal_sheet"),
    "compliance_fine": ("pod", "bol", "backup", "invoice", "remittance", "deal_sheet"),
    "promotion": ("deal_sheet", "remittance", "invoice", "backup", "line_detail", "pod", "bol"),
    "pricing": ("invoice", "deal_sheet", "backup", "line_detail", "remittance", "pod", "bol"),
    "duplicate_post_audit": ("remittance", "backup", "invoice", "deal_sheet", "pod", "bol"),
}
DEFAULT_STRENGTH = ("pod", "bol", "invoice", "deal_sheet", "remittance", "backup", "line_detail")
NOT_EVIDENCE = ("cover_letter", "dispute_receipt")


class NotDisputable(ValueError):
    """The deduction is unknown, or the amount is not a sensible one to dispute."""


def dispute_key(portal: str, external_id: str) -> str:
    return f"{portal}:{external_id}:dispute"


def queue_dispute(
    session: Session,
    portal: str,
    external_id: str,
    amount: Decimal | None = None,
    *,
    status: DisputeStatus = DisputeStatus.queued,
) -> Dispute:
    """Create (once) a dispute of ``amount`` (default: the whole deduction) in
    ``status``. Idempotent: an existing dispute is returned unchanged."""
    d = session.scalar(
        select(Deduction).where(Deduction.portal == portal, Deduction.external_id == external_id)
    )
    if d is None:
        raise NotDisputable(f"no deduction {external_id!r} on {portal}")
    amt = d.amount if amount is None else amount
    if amt <= 0 or amt > d.amount:
        raise NotDisputable(f"the disputed amount must be above 0 and at most {d.amount}")
    key = dispute_key(portal, external_id)
    existing = disputes_repo.by_key(session, key)
    if existing is not None:
        return existing
    disputes_repo.upsert(
        session,
        DisputeRecord(
            portal=portal,
            deduction_external_id=external_id,
            idempotency_key=key,
            status=status.value,
            amount=amt,
            currency=d.currency,
        ),
    )
    found = disputes_repo.by_key(session, key)
    assert found is not None
    return found


@dataclass(frozen=True)
class Attachment:
    """One file as the portal will receive it."""

    name: str
    data: bytes
    kind: str  # cover_letter, pod, backup, ... or merged
    sources: tuple[str, ...] = ()  # what a merged file holds

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "size": len(self.data),
            "sha256": self.sha256,
            "kind": self.kind,
        }
        if self.sources:
            out["sources"] = list(self.sources)
        return out


@dataclass(frozen=True)
class Prepared:
    """A dispute's packet as it would be sent, or why it cannot be."""

    packet: DisputePacket
    habits: DisputeHabits
    facts: Facts
    template: str
    attachments: tuple[Attachment, ...]
    refusal: str | None = None
    left_out: tuple[str, ...] = field(default=())  # evidence the portal does not accept
    email_to: str | None = None  # the retailer takes this one by e-mail (no form)

    def summary(self) -> dict[str, Any]:
        """What is (or would be) sent, for the dispute's ``packet`` column and previews."""
        text = self.packet.explanation
        return {
            "portal_reason": self.packet.portal_reason,
            "amount": str(self.packet.amount),
            "template": self.template,
            "text_chars": len(text),
            "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
            "attachments": [a.summary() for a in self.attachments],
            "left_out": list(self.left_out),
            "refusal": self.refusal,
            "channel": "email" if self.email_to else "portal",
        }


def prepare(
    session: Session,
    vault: DocumentVault,
    dispute: Dispute,
    *,
    data_dir: Path | None = None,
    today: date | None = None,
) -> Prepared:
    """The packet for ``dispute``, checked against its portal's habits. Reads only."""
    d = session.get(Deduction, dispute.deduction_id)
    assert d is not None
    hab = habits(d.portal)
    facts = gather(session, dispute)
    category = facts.category
    evidence, left_out = _evidence(session, vault, d, facts, hab)
    narrative, template = render(facts, [a.name for a in evidence], data_dir=data_dir)
    # the day it is filed (a retry the same day rebuilds the same bytes)
    dated = dispute.filed_on or today or date.today()
    letter = cover_letter(
        facts,
        narrative,
        [(a.name, len(a.data)) for a in evidence],
        portal_name=hab.addressee or d.portal,
        dated=dated,
    )
    stem = "appeal_letter" if facts.appeal else "cover_letter"
    letter_name = _pdf_name(f"{stem}_{d.external_id}.pdf", 0)
    files = [Attachment(letter_name, letter, "cover_letter")]
    files += evidence
    files, refusal = _fit(files, hab, d.external_id)
    email_to = None if facts.appeal else hab.email.get(category)  # appeals: on the portal
    # an e-mail states any amount; a form that takes none cannot file a part
    amount_refusal = None if email_to else _amount_refusal(hab, dispute, d)
    refusal = (
        amount_refusal
        or _no_address(hab, category, email_to)
        or refusal
        or _limit_refusal(hab, files, narrative)
        or _message_refusal(hab, files, narrative, email_to)
    )
    try:
        reason = REASON_BY_CATEGORY.get(Category(category), DisputeReason.other)
    except ValueError:
        reason = DisputeReason.other
    packet = DisputePacket(
        deduction_external_id=d.external_id,
        idempotency_key=dispute.idempotency_key,
        reason=reason,
        amount=dispute.amount,
        explanation=narrative,
        attachments=tuple((a.name, a.data) for a in files),
        portal_reason=hab.reason_for(category),
    )
    return Prepared(packet, hab, facts, template, tuple(files), refusal, tuple(left_out), email_to)


def _evidence(
    session: Session, vault: DocumentVault, d: Deduction, facts: Facts, hab: DisputeHabits
) -> tuple[list[Attachment], list[str]]:
    """The deduction's documents and its shipment's (POD, BOL), strongest first."""
    target = DocumentLink.deduction_id == d.id
    if facts.shipment_ids:
        target = or_(target, DocumentLink.shipment_id.in_(facts.shipment_ids))
    rows = list(
        session.execute(
            select(
                Document.sha256, Document.original_filename, Document.media_type, DocumentLink.role
            )
            .join(DocumentLink, DocumentLink.document_id == Document.id)
            .where(target)
            .order_by(Document.id)
        )
    )
    order = STRENGTH.get(facts.category, DEFAULT_STRENGTH)
    rank = {role: i for i, role in enumerate(order)}

    def role_of(row: Any) -> str:
        return str(getattr(row.role, "value", row.role))

    rows.sort(key=lambda r: (rank.get(role_of(r), 99), r.original_filename, r.sha256))
    seen: set[str] = set()
    names: set[str] = {
        _pdf_name(f"{stem}_{d.external_id}.pdf", 0).casefold()
        for stem in ("cover_letter", "appeal_letter")
    }
    out: list[Attachment] = []
    left_out: list[str] = []
    for row in rows:
        sha, original, media_type, role = (
            row.sha256,
            row.original_filename,
            row.media_type,
            role_of(row),
        )
        if sha in seen or role in NOT_EVIDENCE:
            continue
        seen.add(sha)
        if media_type not in hab.limits.accepted_types:
            left_out.append(f"{original or sha[:12]} ({media_type}: not accepted)")
            continue
        name = _unique(_pdf_name(original, len(out)), names)
        out.append(Attachment(name, vault.read_bytes(sha), role))
    return out, left_out


def _fit(
    files: list[Attachment], hab: DisputeHabits, external_id: str
) -> tuple[list[Attachment], str | None]:
    """Merge the PDFs beyond the portal's attachment count into its last slot."""
    limit = hab.limits.max_attachments
    if len(files) <= limit:
        return files, None
    if limit == 0:
        return files, f"{hab.portal} takes no attachments; the packet has {len(files)}"
    if not hab.limits.merge_to_fit:
        return files, f"{hab.portal} takes at most {limit} attachments; the packet has {len(files)}"
    keep, rest = files[: limit - 1], files[limit - 1 :]
    try:
        merged = merge_pdfs([a.data for a in rest])
    except Exception as exc:  # pypdf raises many types on hostile input
        first = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        return files, (
            f"the evidence cannot be merged into the {limit} files {hab.portal} takes: {first}"
        )
    name = f"{external_id}_supporting_documents.pdf" if keep else f"{external_id}_dispute.pdf"
    merged_att = Attachment(
        _pdf_name(name, limit - 1), merged, "merged", tuple(a.name for a in rest)
    )
    return [*keep, merged_att], None


def _amount_refusal(hab: DisputeHabits, dispute: Dispute, d: Deduction) -> str | None:
    if hab.takes_amount or Decimal(dispute.amount) >= Decimal(d.amount):
        return None
    return (
        f"{hab.portal}'s dispute form takes no amount: filing would dispute the whole "
        f"{d.amount} {d.currency}, but {dispute.amount} {dispute.currency} is approved; "
        "a person files the approved part by hand (or approves the whole claim)"
    )


def _limit_refusal(hab: DisputeHabits, files: list[Attachment], text: str) -> str | None:
    lim = hab.limits
    if len(text) > lim.max_text:
        return (
            f"the dispute text has {len(text):,} characters; {hab.portal} takes "
            f"{lim.max_text:,} (shorten the template)"
        )
    for a in files:
        if len(a.data) > lim.max_attachment_bytes:
            return (
                f"{a.name} is {len(a.data):,} bytes; {hab.portal} takes at most "
                f"{lim.max_attachment_bytes:,} bytes a file"
            )
    return None


def _no_address(hab: DisputeHabits, category: str, email_to: str | None) -> str | None:
    if not hab.email_only or email_to:
        return None
    return (
        f"{hab.portal} takes disputes by e-mail only and its data file names no address "
        f"for {category} claims (disputes.email in records/data/portals/{hab.portal}.json)"
    )


def message_bytes(files: list[Attachment], text: str) -> int:
    """About what the e-mail weighs as sent: base64 grows each attachment by
    4/3 (plus line ends), the text and headers add a little."""
    encoded = sum((len(a.data) + 2) // 3 * 4 * 77 // 76 for a in files)
    return encoded + len(text.encode()) + 2048


def _message_refusal(
    hab: DisputeHabits, files: list[Attachment], text: str, email_to: str | None
) -> str | None:
    cap = hab.limits.max_message_bytes
    if email_to is None or cap is None:
        return None
    size = message_bytes(files, text)
    if size <= cap:
        return None
    return (
        f"the e-mail to {email_to} would weigh about {size:,} bytes with its "
        f"{len(files)} attachments; {hab.portal}'s mail takes at most {cap:,}: a person "
        "sends the evidence in parts (or leaves some out)"
    )


def _unique(name: str, taken: set[str]) -> str:
    out, n = name, 1
    while out.casefold() in taken:
        n += 1
        stem, dot, ext = name.rpartition(".")
        out = f"{stem}-{n}.{ext}" if dot else f"{name}-{n}"
    taken.add(out.casefold())
    return out


def _pdf_name(original: str, index: int) -> str:
    name = sanitize_filename(original, default=f"evidence-{index + 1}.pdf")
    return name if name.lower().endswith(".pdf") else f"{name}.pdf"
