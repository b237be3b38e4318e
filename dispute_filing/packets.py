"""Dispute packets: what to file for a deduction, decided from the store alone.

A dispute is queued once per deduction (portals refuse a second one) under an
idempotency key fixed before the first attempt. The packet is rebuilt the
same way on every attempt: the reason from the deduction's category, an
explanation naming the evidence, and the evidence itself (POD first, then
the backup), PDFs only, as the portals accept.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal_adapters.base import DisputePacket
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
EVIDENCE_ORDER = ("pod", "bol", "backup", "deal_sheet", "remittance")
MAX_ATTACHMENTS = 3  # the strictest portal's form; adapters merge where they take fewer


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


def build_packet(session: Session, vault: DocumentVault, dispute: Dispute) -> DisputePacket:
    d = session.get(Deduction, dispute.deduction_id)
    assert d is not None
    evidence = list(
        session.execute(
            select(Document.sha256, Document.original_filename, DocumentLink.role)
            .join(DocumentLink, DocumentLink.document_id == Document.id)
            .where(DocumentLink.deduction_id == d.id, Document.media_type == "application/pdf")
        ).all()
    )
    rank = {role: i for i, role in enumerate(EVIDENCE_ORDER)}
    evidence.sort(
        key=lambda e: (rank.get(str(getattr(e.role, "value", e.role)), 99), e.original_filename)
    )
    seen: set[str] = set()
    attachments: list[tuple[str, bytes]] = []
    for sha, name, _role in evidence:
        if sha in seen or len(attachments) >= MAX_ATTACHMENTS:
            continue
        seen.add(sha)
        attachments.append((_pdf_name(name, len(attachments)), vault.read_bytes(sha)))
    reason = REASON_BY_CATEGORY.get(d.category, DisputeReason.other)
    named = ", ".join(n for n, _ in attachments) or "none"
    explanation = (
        f"We dispute {dispute.amount} {dispute.currency} of claim {d.external_id} "
        f"(invoice {d.invoice_number or 'n/a'}). Reason: {reason.replace('_', ' ')}. "
        f"Evidence attached: {named}."
    )
    return DisputePacket(
        deduction_external_id=d.external_id,
        idempotency_key=dispute.idempotency_key,
        reason=reason,
        amount=dispute.amount,
        explanation=explanation[:2000],
        attachments=tuple(attachments),
    )


def _pdf_name(original: str, index: int) -> str:
    from records.filenames import sanitize_filename

    name = sanitize_filename(original, default=f"evidence-{index + 1}.pdf")
    return name if name.lower().endswith(".pdf") else f"{name}.pdf"
