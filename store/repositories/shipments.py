"""Shipments and PODs from carrier portals, keyed by (carrier, pro_number).

Idempotent, safe to retry and under concurrency (see ``_keyed``). A later
observation never lowers the POD status: once the POD is ``fetched`` it stays
so, and ``unknown`` (not looked at) never overwrites what we know.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from records.schemas import PodStatus, ShipmentRecord
from store.db import json_dumps
from store.models import Shipment, table_of, utcnow
from store.repositories._common import UpsertResult, ensure_portal
from store.repositories._keyed import keyed_upsert, stored_columns

S = table_of(Shipment)

FIELDS: tuple[str, ...] = (
    "bol_number",
    "tracking_number",
    "po_numbers",
    "shipper",
    "consignee",
    "consignee_address",
    "ship_date",
    "delivery_date",
    "pieces_shipped",
    "pieces_delivered",
    "weight_lb",
    "exceptions",
    "signer",
    "freight_terms",
    "pod_status",
    "raw",
)

_POD_RANK = {
    PodStatus.unknown: 0,
    PodStatus.not_available: 1,
    PodStatus.available: 2,
    PodStatus.fetched: 3,
}


def _keep_pod_status(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    before, after = PodStatus(old["pod_status"]), PodStatus(new["pod_status"])
    if _POD_RANK[after] < _POD_RANK[before]:
        return {**new, "pod_status": before}
    return new


def upsert(session: Session, record: ShipmentRecord, run_id: str | None = None) -> UpsertResult:
    """Store one observation of a shipment. ``changes`` lists what moved (no
    history table for shipments: the carrier's latest word is what counts)."""
    now = utcnow()
    ensure_portal(session, record.carrier, "carrier")
    tracked: dict[str, Any] = {f: getattr(record, f) for f in FIELDS}
    tracked["po_numbers"] = list(record.po_numbers)
    tracked["exceptions"] = list(record.exceptions)
    tracked["raw"] = json.loads(json_dumps(record.raw))
    return keyed_upsert(
        session,
        S,
        {"carrier": record.carrier, "pro_number": record.pro_number},
        tracked,
        stored=lambda i: stored_columns(session, S, i, list(FIELDS)),
        extra={"updated_at": now},
        on_create={"first_seen_at": now},
        touch={"last_seen_at": now, "last_run_id": run_id},
        merge=_keep_pod_status,
    )


def get(session: Session, carrier: str, pro_number: str) -> Shipment | None:
    return session.execute(
        select(Shipment).where(Shipment.carrier == carrier, Shipment.pro_number == pro_number)
    ).scalar_one_or_none()


__all__ = ["FIELDS", "get", "upsert"]
