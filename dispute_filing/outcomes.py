"""What a decided dispute brought back: the business reading of a portal's status.

The adapters report the portal's status and, where it shows one, the amount it
approved. The rule here turns that into ``recovered_amount``: the portal's
approved amount when it says; the whole disputed amount for a full approval
that names none; nothing for a denial or an expired dispute; unknown (None)
for a partial approval that names no amount (a person reads the remittance).
"""

from __future__ import annotations

from decimal import Decimal

from records.schemas import DisputeStatus

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


__all__ = ["OUTCOME_WORDS", "outcome", "recovered"]
