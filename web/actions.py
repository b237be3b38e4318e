"""What a person asks for, handed to the domain (``matching.approvals``,
``scheduler.ondemand``) in one transaction each; the domain's refusals become
409 problems with its reason. Shared by the pages and the API: no rule here."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from sqlalchemy import select
from starlette.datastructures import QueryParams

from dispute_filing.appeals import AppealRefused, open_appeal
from dispute_filing.appeals import refusal as appeal_refusal
from dispute_filing.handoff import NotReleasable, release
from matching import approvals
from scheduler import ondemand
from store.db import transaction
from store.models import Deduction, Dispute, RetrievalRequest, utcnow
from store.queries.detail import DeductionDetail, UnknownRef, deduction_detail
from store.repositories import saved_filters
from web.config import WebConfig
from web.forms import FILTER_KEYS, worklist_query
from web.problems import Problem, not_found

MAX_NOTE = 2_000
MAX_COMMENT = 20_000


def refused(exc: Exception) -> Problem:
    return Problem(409, "Refused", str(exc))


def detail(config: WebConfig, deduction_id: int) -> DeductionDetail:
    with config.db() as s:
        try:
            return deduction_detail(s, deduction_id)
        except UnknownRef:
            raise not_found(f"no deduction {deduction_id}") from None


def propose(
    config: WebConfig,
    deduction_id: int,
    who: str,
    kind: str,
    accept_amount: Decimal | None,
    note: str,
) -> int:
    try:
        with transaction(config.db) as s:
            if s.get(Deduction, deduction_id) is None:
                raise not_found(f"no deduction {deduction_id}")
            decision = approvals.propose(
                s, deduction_id, kind, who, accept_amount=accept_amount, note=note[:MAX_NOTE]
            )
            return decision.id
    except approvals.ApprovalError as exc:
        raise refused(exc) from None


def decide(config: WebConfig, decision_id: int, who: str, *, approve: bool, note: str) -> str:
    """The decision's status afterwards."""
    try:
        with transaction(config.db) as s:
            decision = approvals.act(
                s, decision_id, who, approve=approve, note=note[:MAX_NOTE], today=config.today()
            )
            return decision.status
    except approvals.ApprovalError as exc:
        raise refused(exc) from None


def delegate(config: WebConfig, who: str, to: str, until: date) -> tuple[datetime, datetime]:
    """``to`` approves in ``who``'s place from now to the end of ``until`` (UTC)."""
    start = utcnow()
    end = datetime.combine(until, time(0), tzinfo=UTC) + timedelta(days=1)
    try:
        with transaction(config.db) as s:
            approvals.delegate(s, who, to.strip()[:128], start, end, who)
    except approvals.ApprovalError as exc:
        raise refused(exc) from None
    return start, end


def release_dispute(config: WebConfig, dispute_id: int, who: str, *, override_window: bool) -> None:
    """A person's "file this one" (``dispute_filing.handoff.release`` decides)."""
    with transaction(config.db) as s:
        dispute = s.get(Dispute, dispute_id)
        if dispute is None:
            raise not_found(f"no dispute {dispute_id}")
        try:
            release(s, dispute, who, config.today(), override_window=override_window)
        except NotReleasable as exc:
            raise refused(exc) from None


def appeal_dispute(config: WebConfig, dispute_id: int, who: str) -> None:
    """A person's "appeal this denial" (``dispute_filing.appeals`` decides)."""
    with transaction(config.db) as s:
        dispute = s.get(Dispute, dispute_id)
        if dispute is None:
            raise not_found(f"no dispute {dispute_id}")
        try:
            open_appeal(s, dispute, who, config.today())
        except AppealRefused as exc:
            raise refused(exc) from None


def appealable(config: WebConfig, dispute_ids: list[int]) -> set[int]:
    """Which of these disputes may be appealed today (the page offers Appeal)."""
    with config.db() as s:
        return {
            d.id
            for d in s.scalars(select(Dispute).where(Dispute.id.in_(dispute_ids)))
            if appeal_refusal(s, d, config.today()) is None
        }


def save_filter(config: WebConfig, who: str, name: str, query: str) -> None:
    """Keep a worklist query under a name for ``who`` (only the worklist's own
    parameters, and only a query the worklist accepts)."""
    params = QueryParams(query)
    kept = [(k, v) for k, v in params.multi_items() if k in (*FILTER_KEYS, "sort", "page_size")]
    worklist_query(QueryParams(kept), config.today(), config.page_size)  # 400 when bad
    name = " ".join(name.split())[:100]
    if not name:
        raise Problem(400, "Bad request", "a saved filter needs a name")
    with transaction(config.db) as s:
        existing = {f.name for f in saved_filters.list_for(s, who)}
        if name not in existing and len(existing) >= saved_filters.MAX_PER_USER:
            raise Problem(409, "Refused", f"at most {saved_filters.MAX_PER_USER} saved filters")
        saved_filters.save(s, who, name, urlencode(kept))


def remove_filter(config: WebConfig, who: str, filter_id: int) -> None:
    with transaction(config.db) as s:
        if not saved_filters.remove(s, who, filter_id):
            raise not_found(f"you have no saved filter {filter_id}")


def comment(config: WebConfig, deduction_id: int, who: str, body: str) -> list[str]:
    if len(body) > MAX_COMMENT:
        raise Problem(400, "Bad request", f"a comment has at most {MAX_COMMENT} characters")
    try:
        with transaction(config.db) as s:
            if s.get(Deduction, deduction_id) is None:
                raise not_found(f"no deduction {deduction_id}")
            return approvals.comment(s, deduction_id, who, body)
    except approvals.ApprovalError as exc:
        raise refused(exc) from None


def fetch_now(config: WebConfig, deduction_id: int, who: str) -> list[int]:
    """Queue an on-demand retrieval of the deduction's documents; the request ids."""
    with config.db() as s:
        ded = s.get(Deduction, deduction_id)
        if ded is None:
            raise not_found(f"no deduction {deduction_id}")
        ref = ded.external_id
    try:
        submitted = ondemand.submit(config.db, ref, requester=f"web:{who}")
    except (ondemand.UnknownReference, ValueError) as exc:
        raise refused(exc) from None
    return [x.request_id for x in submitted]


def retrievals(config: WebConfig, ids: list[int]) -> list[RetrievalRequest]:
    with config.db() as s:
        rows = list(s.scalars(select(RetrievalRequest).where(RetrievalRequest.id.in_(ids[:20]))))
        s.expunge_all()
    return rows


__all__ = [
    "appeal_dispute",
    "appealable",
    "comment",
    "decide",
    "delegate",
    "detail",
    "fetch_now",
    "propose",
    "refused",
    "release_dispute",
    "remove_filter",
    "retrievals",
    "save_filter",
]
