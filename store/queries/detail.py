"""One deduction, everything the store knows about it: ``fleet show`` and the web
app's deduction page.

:func:`deduction_detail` reads (never writes) the deduction with its lines, its
documents (its own, and the PODs and BOLs of the shipments it names), those
shipments, the current verdict with reasons and evidence, every proposal with
its approval chain, the comments, the disputes with their status history, and
one timeline that puts it all in order:

========================  ======================================================
kind                      what (fields used besides ``at`` and ``actor``)
========================  ======================================================
``first_seen``            the robots first stored it
``changed``               a field changed on the portal (``field``, ``before``,
                          ``after``; ``ref`` is the bot run)
``document``              a document was retrieved (``ref`` file name, ``field``
                          role, ``note`` "shipment carrier:PRO" for a POD/BOL)
``verdict``               the matcher's verdict (``before``/``after`` validity,
                          ``note`` valid amount)
``proposed``              a decision was proposed (``after`` kind, ``ref``
                          decision id, ``note`` the proposer's note)
``approval``              one step of a chain decided (``field`` role, ``after``
                          approved/rejected, ``note``; ``actor`` "x for y" when
                          a delegate acted)
``decision``              a decision closed (``after`` approved/rejected)
``credit_exported``       an accepted amount went to the ERP (``after`` amount,
                          ``ref`` export batch)
``comment``               an internal comment (``note`` the text)
``dispute``               a dispute was queued (``after`` amount)
``dispute_filed``         filed on the portal (``ref`` the portal's number)
``dispute_status``        its status changed (``before``/``after``)
``recovered``             the portal decided for the supplier (``after`` the
                          status, ``ref`` the dispute number); see
                          ``records.outcomes``
========================  ======================================================

Events come oldest first; at the same instant, in the order of this table.
Everything that came from a portal or a person is untrusted text: escape it
where it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

from records.outcomes import DISPUTE_WON
from store.models import (
    AuditLog,
    Decision,
    DecisionStep,
    Deduction,
    DeductionComment,
    DeductionHistory,
    DeductionLine,
    Dispute,
    DisputeStatusHistory,
    Document,
    DocumentLink,
    ExportBatch,
    FetchedRef,
    Portal,
    Shipment,
    Verdict,
)
from store.queries.refs import resolve_ref
from store.queries.worklist import customers_of

V = TypeVar("V", bound="DataclassInstance")

KIND_ORDER = (
    "first_seen",
    "changed",
    "document",
    "verdict",
    "proposed",
    "approval",
    "decision",
    "credit_exported",
    "comment",
    "dispute",
    "dispute_filed",
    "dispute_status",
    "recovered",
)


class UnknownRef(LookupError):
    """No deduction has that REF."""


class AmbiguousRef(LookupError):
    """The REF (an external id alone) is on several portals: ``candidates``."""

    def __init__(self, ref: str, candidates: tuple[str, ...]) -> None:
        super().__init__(f"{ref[:80]!r} is on several portals: {', '.join(candidates)}")
        self.candidates = candidates


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class LineView:
    line_no: int
    sku: str
    description: str
    quantity: int
    unit_cost: Decimal | None
    amount: Decimal


@dataclass(frozen=True, slots=True)
class DeductionFields:
    """Every stored field of the deduction (``raw``: the portal's payload as read)."""

    id: int
    portal: str
    external_id: str
    account: str | None
    customer: str | None
    invoice_number: str
    po_number: str
    location: str
    amount: Decimal
    currency: str
    reason_code: str
    reason_text: str
    category: str | None
    deduction_date: date | None
    invoice_date: date | None
    posted_date: date | None
    status: str
    promo_id: str | None
    carrier: str | None
    pro_number: str | None
    bol_number: str | None
    memo: str
    raw: dict[str, Any]
    lines: list[LineView]
    first_seen_at: datetime
    last_seen_at: datetime
    updated_at: datetime
    last_run_id: str | None

    @property
    def ref(self) -> str:
        return f"{self.portal}:{self.external_id}"


@dataclass(frozen=True, slots=True)
class DocumentView:
    """A document of the deduction, or of a shipment it names (``via``)."""

    id: int
    role: str
    via: str | None
    """None for the deduction's own; "shipment carrier:PRO" for a POD or BOL."""
    filename: str
    media_type: str
    size_bytes: int
    sha256: str
    extraction_status: str
    extraction_reason: str
    needs_ocr: bool
    fields: dict[str, Any]
    attached_at: datetime
    fetched_at: datetime | None


@dataclass(frozen=True, slots=True)
class ShipmentView:
    id: int
    carrier: str
    pro_number: str
    bol_number: str
    pod_status: str
    ship_date: date | None
    delivery_date: date | None
    pieces_shipped: int | None
    pieces_delivered: int | None
    exceptions: list[Any]
    signer: str
    last_seen_at: datetime


@dataclass(frozen=True, slots=True)
class VerdictView:
    validity: str
    category: str
    category_source: str
    rule: str
    claimed_amount: Decimal
    current_amount: Decimal
    valid_amount: Decimal | None
    disputable_amount: Decimal | None
    window_closes: date | None
    reasons: list[Any]
    evidence: list[Any]
    missing: list[Any]
    computed_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StepView:
    level: int
    role: str
    status: str
    actor: str | None
    on_behalf_of: str | None
    note: str
    decided_at: datetime | None


@dataclass(frozen=True, slots=True)
class DecisionView:
    """A proposal and where its approval chain stands."""

    id: int
    kind: str
    status: str
    accept_amount: Decimal
    dispute_amount: Decimal
    credit_kind: str
    proposed_by: str
    note: str
    created_at: datetime
    decided_at: datetime | None
    exported_at: datetime | None
    steps: list[StepView]

    @property
    def waiting_for(self) -> StepView | None:
        """The step a pending decision waits for."""
        if self.status != "pending":
            return None
        return next((s for s in self.steps if s.status == "pending"), None)


@dataclass(frozen=True, slots=True)
class CommentView:
    id: int
    author: str
    body: str
    mentions: list[str]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DisputeStatusView:
    at: datetime
    old_status: str | None
    status: str


@dataclass(frozen=True, slots=True)
class DisputeView:
    id: int
    portal: str
    dispute_number: str | None
    status: str
    amount: Decimal
    currency: str
    filed_at: datetime | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    history: list[DisputeStatusView]

    @property
    def won(self) -> bool:
        return self.status.lower() in DISPUTE_WON


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One thing that happened; see the module's table for what each field holds."""

    at: datetime
    kind: str
    actor: str | None = None
    field: str | None = None
    before: str | None = None
    after: str | None = None
    ref: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class DeductionDetail:
    deduction: DeductionFields
    verdict: VerdictView | None
    documents: list[DocumentView]
    shipments: list[ShipmentView]
    decisions: list[DecisionView]
    comments: list[CommentView]
    disputes: list[DisputeView]
    timeline: list[TimelineEvent] = field(default_factory=list)

    @property
    def approval(self) -> DecisionView | None:
        """The newest decision: the chain that is running or ran last."""
        return self.decisions[-1] if self.decisions else None


# --------------------------------------------------------------------------- the query


def _view(cls: type[V], row: Any, **given: Any) -> V:
    """A ``cls`` filled from ``row``'s attributes of the same names (``given``
    first): one place that copies stored rows into the plain results."""
    return cls(
        **{f.name: given[f.name] if f.name in given else getattr(row, f.name) for f in fields(cls)}
    )


def deduction_detail(session: Session, ref: str | int) -> DeductionDetail:
    """Everything about one deduction: ``ref`` is its id, ``portal:external_id``,
    or an external id that only one portal has. Raises :class:`UnknownRef` or
    :class:`AmbiguousRef` (with the candidates)."""
    ded = _deduction(session, ref)
    claim = _fields(session, ded)
    documents = _documents(session, ded.id)
    shipments = _shipments(session, ded, documents)
    documents += _shipment_documents(session, shipments)
    verdict = _verdict(session, ded.id)
    decisions = _decisions(session, ded.id)
    comments = [
        _view(CommentView, c, mentions=list(c.mentions or []))
        for c in session.execute(
            select(DeductionComment)
            .where(DeductionComment.deduction_id == ded.id)
            .order_by(DeductionComment.id)
        ).scalars()
    ]
    disputes = _disputes(session, ded.id)
    detail = DeductionDetail(claim, verdict, documents, shipments, decisions, comments, disputes)
    return replace(detail, timeline=_timeline(session, detail))


def _deduction(session: Session, ref: str | int) -> Deduction:
    if isinstance(ref, int) and not isinstance(ref, bool):
        found = session.get(Deduction, ref)
        if found is None:
            raise UnknownRef(f"no deduction with id {ref}")
        return found
    match = resolve_ref(session, str(ref))
    if match.deduction is not None:
        return match.deduction
    if match.candidates:
        raise AmbiguousRef(str(ref), match.candidates)
    raise UnknownRef(f"no deduction {str(ref)[:80]!r}")


def _fields(session: Session, d: Deduction) -> DeductionFields:
    claim = (d.invoice_number, d.portal)
    lines = [
        _view(LineView, x)
        for x in session.execute(
            select(DeductionLine)
            .where(DeductionLine.deduction_id == d.id)
            .order_by(DeductionLine.line_no)
        ).scalars()
    ]
    return _view(
        DeductionFields,
        d,
        customer=customers_of(session, [claim]).get(claim),
        category=d.category.value if d.category else None,
        raw=dict(d.raw or {}),
        lines=lines,
    )


def _document_views(
    session: Session, link_filter: Any, fetched_filter: Any, via: dict[int, str] | None
) -> list[DocumentView]:
    fetched: dict[int, datetime] = {}
    for doc_id, at in session.execute(
        select(FetchedRef.document_id, FetchedRef.fetched_at).where(fetched_filter)
    ):
        fetched[doc_id] = min(at, fetched.get(doc_id, at))
    out = []
    for doc, link in session.execute(
        select(Document, DocumentLink)
        .join(DocumentLink, DocumentLink.document_id == Document.id)
        .where(link_filter)
        .order_by(DocumentLink.id)
    ):
        out.append(
            _view(
                DocumentView,
                doc,
                role=link.role.value,
                via=None if via is None else via.get(link.shipment_id or 0),
                filename=doc.original_filename,
                extraction_status=doc.extraction_status.value,
                fields=dict(doc.extracted_fields or {}),
                attached_at=link.created_at,
                fetched_at=fetched.get(doc.id),
            )
        )
    return out


def _documents(session: Session, deduction_id: int) -> list[DocumentView]:
    return _document_views(
        session,
        DocumentLink.deduction_id == deduction_id,
        FetchedRef.deduction_id == deduction_id,
        None,
    )


def _shipments(session: Session, d: Deduction, documents: list[DocumentView]) -> list[ShipmentView]:
    """The shipments the claim names (its PRO or BOL, or one read from its backup)
    or its verdict cites."""
    pros = {d.pro_number} | {
        str(doc.fields.get("pro_number")) for doc in documents if doc.fields.get("pro_number")
    }
    bols = {d.bol_number} | {
        str(doc.fields.get("bol_number")) for doc in documents if doc.fields.get("bol_number")
    }
    pros.discard(None)
    bols.discard(None)
    bols.discard("")
    evidence: list[Any] = (
        session.execute(
            select(Verdict.evidence).where(Verdict.deduction_id == d.id)
        ).scalar_one_or_none()
        or []
    )
    cited: list[int] = [
        e["id"]
        for e in evidence
        if isinstance(e, dict) and e.get("kind") == "shipment" and isinstance(e.get("id"), int)
    ]
    portals = list(session.execute(select(Portal.name)).scalars())
    terms: list[ColumnElement[bool]] = []
    if pros:  # (carrier, pro_number) is the unique key: name every carrier to use it
        terms.append(Shipment.carrier.in_(portals) & Shipment.pro_number.in_(sorted(pros)))
    if bols:
        terms.append(Shipment.bol_number.in_(sorted(bols)))
    if cited:
        terms.append(Shipment.id.in_(cited))
    if not terms:
        return []
    return [
        _view(ShipmentView, s, pod_status=s.pod_status.value, exceptions=list(s.exceptions or []))
        for s in session.execute(
            select(Shipment).where(or_(*terms)).order_by(Shipment.id).limit(20)
        ).scalars()
    ]


def _shipment_documents(session: Session, shipments: list[ShipmentView]) -> list[DocumentView]:
    if not shipments:
        return []
    ids = [s.id for s in shipments]
    via = {s.id: f"shipment {s.carrier}:{s.pro_number}" for s in shipments}
    return _document_views(
        session, DocumentLink.shipment_id.in_(ids), FetchedRef.shipment_id.in_(ids), via
    )


def _verdict(session: Session, deduction_id: int) -> VerdictView | None:
    v = session.execute(
        select(Verdict).where(Verdict.deduction_id == deduction_id)
    ).scalar_one_or_none()
    if v is None:
        return None
    return _view(VerdictView, v)


def _decisions(session: Session, deduction_id: int) -> list[DecisionView]:
    rows = list(
        session.execute(
            select(Decision, ExportBatch.created_at)
            .outerjoin(ExportBatch, ExportBatch.id == Decision.export_batch_id)
            .where(Decision.deduction_id == deduction_id)
            .order_by(Decision.id)
        )
    )
    steps: dict[int, list[StepView]] = {}
    if rows:
        for st in session.execute(
            select(DecisionStep)
            .where(DecisionStep.decision_id.in_([d.id for d, _ in rows]))
            .order_by(DecisionStep.decision_id, DecisionStep.level)
        ).scalars():
            steps.setdefault(st.decision_id, []).append(_view(StepView, st))
    return [
        _view(DecisionView, d, exported_at=exported_at, steps=steps.get(d.id, []))
        for d, exported_at in rows
    ]


def _disputes(session: Session, deduction_id: int) -> list[DisputeView]:
    disputes = list(
        session.execute(
            select(Dispute).where(Dispute.deduction_id == deduction_id).order_by(Dispute.id)
        ).scalars()
    )
    history: dict[int, list[DisputeStatusView]] = {}
    if disputes:
        for h in session.execute(
            select(DisputeStatusHistory)
            .where(DisputeStatusHistory.dispute_id.in_([d.id for d in disputes]))
            .order_by(DisputeStatusHistory.id)
        ).scalars():
            history.setdefault(h.dispute_id, []).append(
                DisputeStatusView(h.observed_at, h.old_status, h.status)
            )
    return [_view(DisputeView, d, history=history.get(d.id, [])) for d in disputes]


# --------------------------------------------------------------------------- timeline


def _timeline(session: Session, detail: DeductionDetail) -> list[TimelineEvent]:
    d = detail.deduction
    events = [TimelineEvent(d.first_seen_at, "first_seen")]
    for h in session.execute(
        select(DeductionHistory)
        .where(DeductionHistory.deduction_id == d.id)
        .order_by(DeductionHistory.id)
    ).scalars():
        events.append(
            TimelineEvent(
                h.observed_at,
                "changed",
                field=h.field,
                before=h.old_value,
                after=h.new_value,
                ref=h.run_id,
            )
        )
    for doc in detail.documents:
        events.append(
            TimelineEvent(
                doc.fetched_at or doc.attached_at,
                "document",
                field=doc.role,
                ref=doc.filename or doc.sha256[:12],
                note=doc.via,
            )
        )
    events.extend(_verdict_events(session, d.id, detail.verdict))
    for dec in detail.decisions:
        events.append(
            TimelineEvent(
                dec.created_at,
                "proposed",
                actor=dec.proposed_by,
                after=dec.kind,
                ref=str(dec.id),
                note=dec.note or None,
            )
        )
        for st in dec.steps:
            if st.status == "pending" or st.decided_at is None:
                continue
            who = (st.actor or "") + (
                f" for {st.on_behalf_of}" if st.on_behalf_of and st.actor else ""
            )
            events.append(
                TimelineEvent(
                    st.decided_at,
                    "approval",
                    actor=who or None,
                    field=st.role,
                    after=st.status,
                    ref=str(dec.id),
                    note=st.note or None,
                )
            )
        if dec.decided_at is not None and dec.status != "pending":
            events.append(
                TimelineEvent(dec.decided_at, "decision", after=dec.status, ref=str(dec.id))
            )
        if dec.exported_at is not None:
            events.append(
                TimelineEvent(
                    dec.exported_at,
                    "credit_exported",
                    after=str(dec.accept_amount),
                    ref=str(dec.id),
                    note=dec.credit_kind or None,
                )
            )
    for c in detail.comments:
        events.append(TimelineEvent(c.created_at, "comment", actor=c.author, note=c.body))
    for disp in detail.disputes:
        events.append(TimelineEvent(disp.created_at, "dispute", after=str(disp.amount)))
        if disp.filed_at is not None:
            events.append(TimelineEvent(disp.filed_at, "dispute_filed", ref=disp.dispute_number))
        for step in disp.history:
            if step.old_status is not None:
                events.append(
                    TimelineEvent(
                        step.at, "dispute_status", before=step.old_status, after=step.status
                    )
                )
            won = step.status.lower() in DISPUTE_WON
            if won and (step.old_status or "").lower() not in DISPUTE_WON:
                events.append(
                    TimelineEvent(step.at, "recovered", after=step.status, ref=disp.dispute_number)
                )
    rank = {k: i for i, k in enumerate(KIND_ORDER)}
    return sorted(events, key=lambda e: (e.at, rank[e.kind]))


def _verdict_events(
    session: Session, deduction_id: int, verdict: VerdictView | None
) -> list[TimelineEvent]:
    """Each verdict the matcher wrote (its audit entries); the current one alone
    when the log has none (a store filled before verdicts were audited)."""
    out: list[TimelineEvent] = []
    for entry in session.scalars(
        select(AuditLog)
        .where(AuditLog.entity == f"deduction:{deduction_id}", AuditLog.action == "verdict")
        .order_by(AuditLog.seq)
    ):
        after = entry.after or {}
        out.append(
            TimelineEvent(
                entry.at,
                "verdict",
                actor=entry.actor,
                before=(entry.before or {}).get("validity"),
                after=after.get("validity"),
                note=None if after.get("valid_amount") is None else str(after["valid_amount"]),
            )
        )
    if not out and verdict is not None:
        out.append(
            TimelineEvent(
                verdict.computed_at,
                "verdict",
                after=verdict.validity,
                note=None if verdict.valid_amount is None else str(verdict.valid_amount),
            )
        )
    return out


__all__ = [
    "KIND_ORDER",
    "AmbiguousRef",
    "CommentView",
    "DecisionView",
    "DeductionDetail",
    "DeductionFields",
    "DisputeStatusView",
    "DisputeView",
    "DocumentView",
    "LineView",
    "ShipmentView",
    "StepView",
    "TimelineEvent",
    "UnknownRef",
    "VerdictView",
    "deduction_detail",
]
