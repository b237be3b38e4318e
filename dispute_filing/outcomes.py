"""What a decided dispute brought back: the business reading of a portal's status.

The adapters report the portal's status and, where it shows one, the amount it
approved. The rule here turns that into ``recovered_amount``: the portal's
approved amount when it says; the whole disputed amount for a full approval
that names none; nothing for a denial or an expired dispute; unknown (None)
for a partial approval that names no amount.

That unknown is read from the customer's remittances
(:func:`read_from_remittances`): a retailer pays a granted dispute back as a
remittance item that names its own claim (X12 820 ``RMR`` with a qualifier
other than an invoice's, ``RMR02`` the claim number). What those items paid
for the claim, at most the disputed amount, is what came back. It runs after
every ``fleet import remittances`` and in every ``match`` step, so a repayment
imported any day closes the gap.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from records.schemas import DisputeRecord, DisputeStatus
from store.models import Deduction, Dispute, Remittance, RemittanceLine
from store.repositories import disputes as disputes_repo

OUTCOME_WORDS: dict[str, str] = {
    DisputeStatus.approved.value: "won",
    DisputeStatus.partially_approved.value: "partially won",
    DisputeStatus.denied.value: "lost",
    DisputeStatus.expired.value: "lost",
}


def recovered(status: str, reported: Decimal | None, disputed: Decimal) -> Decimal | None:
    """The amount recovered for a dispute in ``status`` (None: not decided, or unknown)."""
    if status in (DisputeStatus.denied, DisputeStatus.expired):
        return Decimal("0.00")
    if status == DisputeStatus.approved:
        return min(reported, disputed) if reported is not None else disputed
    if status == DisputeStatus.partially_approved and reported is not None:
        return min(reported, disputed)
    return None


def outcome(status: str) -> str | None:
    """won, partially won, lost, or None while undecided."""
    return OUTCOME_WORDS.get(status)


INVOICE_QUALIFIERS = ("IV", "")
"""Remittance items that pay an invoice (not a claim repaid)."""


def read_from_remittances(session: Session) -> list[DisputeRecord]:
    """Partial wins whose portal named no amount: what the customer's
    remittances repaid against the claim becomes ``recovered_amount`` (at most
    the disputed amount). Returns the disputes it settled."""
    waiting = session.execute(
        select(Dispute, Deduction.external_id)
        .join(Deduction, Deduction.id == Dispute.deduction_id)
        .where(
            Dispute.status == DisputeStatus.partially_approved.value,
            Dispute.recovered_amount.is_(None),
        )
        .order_by(Dispute.id)
    ).all()
    settled: list[DisputeRecord] = []
    for dispute, claim in waiting:
        paid = session.scalar(
            select(func.coalesce(func.sum(RemittanceLine.paid_amount), 0))
            .join(Remittance, Remittance.id == RemittanceLine.remittance_id)
            .where(
                RemittanceLine.reference == claim,
                RemittanceLine.qualifier.not_in(INVOICE_QUALIFIERS),
                RemittanceLine.paid_amount > 0,
            )
        )
        back = Decimal(str(paid or 0))
        if back <= 0:
            continue
        record = disputes_repo.as_record(dispute, claim).model_copy(
            update={"recovered_amount": min(back, Decimal(dispute.amount))}
        )
        disputes_repo.upsert(session, record)
        settled.append(record)
    return settled


__all__ = ["INVOICE_QUALIFIERS", "OUTCOME_WORDS", "outcome", "read_from_remittances", "recovered"]
