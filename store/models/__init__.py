"""The fleet's tables as SQLAlchemy 2 typed models.

Conventions:

* natural keys are unique constraints (``portal + external_id``, ``sha256``,
  ``carrier + pro_number`` ...): repositories upsert on them, so running a bot
  job twice leaves one row;
* money is exact on both backends: a BIGINT of minor units (``store.money``),
  scale 2 for amounts and 4 for unit prices and rates, read back as ``Decimal``;
  a value with more decimals than its column's scale is refused, never rounded;
* timestamps are UTC and always time-zone aware in Python (stored naive-UTC on
  SQLite);
* raw payloads are JSON (``json``, not ``jsonb``, on PostgreSQL: it keeps the
  payload byte-for-byte, odd escapes included);
* no table holds a secret: accounts carry the username and the keyring entry is
  found from it by ``credentials/``.

The schema itself is owned by Alembic (``store/migrations``); these models must
match the newest revision (a test compares them). One module per domain:
portals, deductions, shipments, documents, erp, matching, approvals,
disputes, operations (with the notification cursors), audit; ``base`` holds what they share.
"""

from __future__ import annotations

from store.models.approvals import (
    ApiToken,
    Decision,
    DecisionStep,
    DeductionComment,
    Delegation,
    ExportBatch,
    SavedFilter,
    User,
    WebSession,
)
from store.models.audit import AuditHead, AuditLog
from store.models.base import NAMING, Base, UTCDateTime, table_of, utcnow
from store.models.deductions import Deduction, DeductionHistory, DeductionLine, DeductionSource
from store.models.disputes import Dispute, DisputeStatusHistory
from store.models.documents import Document, DocumentLink, FetchedRef
from store.models.erp import (
    ErpInvoice,
    ErpInvoiceLine,
    ErpPromotion,
    ErpShipment,
    Remittance,
    RemittanceAdjustment,
    RemittanceLine,
)
from store.models.matching import CategoryOverride, KpiDay, MatchingRun, Verdict
from store.models.operations import (
    BotRun,
    HealthEvent,
    HumanChallenge,
    NotificationCursor,
    Quarantine,
    RetrievalRequest,
    Watermark,
)
from store.models.portals import Account, PausedAccount, Portal
from store.models.shipments import Shipment

__all__ = [
    "NAMING",
    "Account",
    "ApiToken",
    "AuditHead",
    "AuditLog",
    "Base",
    "BotRun",
    "CategoryOverride",
    "Decision",
    "DecisionStep",
    "Deduction",
    "DeductionComment",
    "DeductionHistory",
    "DeductionLine",
    "DeductionSource",
    "Delegation",
    "Dispute",
    "DisputeStatusHistory",
    "Document",
    "DocumentLink",
    "ErpInvoice",
    "ErpInvoiceLine",
    "ErpPromotion",
    "ErpShipment",
    "ExportBatch",
    "FetchedRef",
    "HealthEvent",
    "HumanChallenge",
    "KpiDay",
    "MatchingRun",
    "NotificationCursor",
    "PausedAccount",
    "Portal",
    "Quarantine",
    "Remittance",
    "RemittanceAdjustment",
    "RemittanceLine",
    "RetrievalRequest",
    "SavedFilter",
    "Shipment",
    "UTCDateTime",
    "User",
    "Verdict",
    "Watermark",
    "WebSession",
    "table_of",
    "utcnow",
]
