"""What a dispute's status means for the money, as every layer reads it.

Portals word statuses their own way; these are the lower-cased texts, as
stored, that count as a dispute won (money back, in full or in part) or lost.
Kept here, at the bottom, so the store's views (store/queries: a recovery in a
deduction's timeline) and matching's figures (matching/reports: win rate,
amount recovered) read them from one place.
"""

from __future__ import annotations

DISPUTE_WON: tuple[str, ...] = ("approved", "won", "partially_approved", "partially approved")
DISPUTE_LOST: tuple[str, ...] = ("denied", "lost", "expired")

__all__ = ["DISPUTE_LOST", "DISPUTE_WON"]
