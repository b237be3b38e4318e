"""The JSON API under /api/v1: the pages' data and actions for scripts.
Bearer tokens (``fleet users token``) or the pages' session (then with the
CSRF header). Money is a string (exact), dates ISO; errors are RFC 9457
problem details. The schema is served at /api/v1/openapi.json."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from dispute_filing.deadlines import DEFAULT_DAYS, closing
from matching.approvals import pending
from store.db import json_default
from store.queries.disputes import list_disputes
from store.queries.worklist import list_deductions, page_dict
from web import actions
from web.auth import Principal, require
from web.config import WebConfig
from web.forms import money, worklist_query
from web.permissions import actions_for
from web.problems import PROBLEM_SCHEMA

ERRORS: dict[int | str, dict[str, Any]] = dict.fromkeys(
    (400, 401, 403, 404, 409, 422), PROBLEM_SCHEMA
)
router = APIRouter(prefix="/api/v1", responses=ERRORS, tags=["api"])

Viewer = Annotated[Principal, Depends(require("view"))]
Proposer = Annotated[Principal, Depends(require("propose"))]
Approver = Annotated[Principal, Depends(require("approve"))]
Delegator = Annotated[Principal, Depends(require("delegate"))]
Commenter = Annotated[Principal, Depends(require("comment"))]
Fetcher = Annotated[Principal, Depends(require("fetch"))]
Releaser = Annotated[Principal, Depends(require("release"))]


def _config(request: Request) -> WebConfig:
    config: WebConfig = request.app.state.config
    return config


def _json(data: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(data, default=json_default), status_code=status, media_type="application/json"
    )


class ProposalIn(BaseModel):
    kind: Literal["accept", "dispute", "split"]
    accept_amount: str | None = Field(None, max_length=40, description="a split's accepted part")
    note: str = Field("", max_length=2000)


class DecisionIn(BaseModel):
    note: str = Field("", max_length=2000)


class DelegationIn(BaseModel):
    to: str = Field(..., min_length=1, max_length=128, description="who approves in my place")
    until: date = Field(..., description="last day (UTC, inclusive)")


class ReleaseIn(BaseModel):
    override_window: bool = Field(False, description="file although the window closed (audited)")


class CommentIn(BaseModel):
    body: str = Field(..., min_length=1, max_length=20_000)


@router.get("/me", summary="Who the credentials are and what they may do")
def me(who: Viewer) -> Response:
    return _json(
        {"username": who.username, "access": who.access, "actions": sorted(actions_for(who.access))}
    )


@router.get(
    "/deductions",
    summary="The worklist",
    description="Query parameters as the worklist page: portal, customer, category, status, "
    "verdict, min_age, max_age, min_amount, max_amount, closes_within, q, sort, page, page_size.",
)
def deductions(request: Request, who: Viewer) -> Response:
    config = _config(request)
    filters, sort, page_no, size = worklist_query(
        request.query_params, config.today(), config.page_size
    )
    with config.db() as s:
        page = list_deductions(s, filters, sort, page_no, size)
    return _json(page_dict(page))


@router.get("/deductions/{deduction_id}", summary="One deduction in full")
def deduction(request: Request, deduction_id: int, who: Viewer) -> Response:
    d = actions.detail(_config(request), deduction_id)
    data = asdict(d)
    data["deduction"]["ref"] = d.deduction.ref
    return _json(data)


@router.post("/deductions/{deduction_id}/proposals", status_code=201, summary="Propose a decision")
def propose(request: Request, deduction_id: int, body: ProposalIn, who: Proposer) -> Response:
    amount: Decimal | None = (
        money(body.accept_amount, "accept_amount") if body.accept_amount else None
    )
    decision = actions.propose(
        _config(request), deduction_id, who.username, body.kind, amount, body.note
    )
    return _json({"decision": decision}, 201)


@router.post("/deductions/{deduction_id}/comments", status_code=201, summary="Comment")
def comment(request: Request, deduction_id: int, body: CommentIn, who: Commenter) -> Response:
    mentions = actions.comment(_config(request), deduction_id, who.username, body.body)
    return _json({"mentions": mentions}, 201)


@router.post(
    "/deductions/{deduction_id}/retrievals",
    status_code=202,
    summary="Fetch the documents now (queues an on-demand retrieval)",
)
def fetch(request: Request, deduction_id: int, who: Fetcher) -> Response:
    ids = actions.fetch_now(_config(request), deduction_id, who.username)
    return _json({"requests": ids}, 202)


@router.get("/retrievals/{request_id}", summary="Where an on-demand retrieval stands")
def retrieval(request: Request, request_id: int, who: Viewer) -> Response:
    rows = actions.retrievals(_config(request), [request_id])
    if not rows:
        from web.problems import not_found

        raise not_found(f"no retrieval request {request_id}")
    r = rows[0]
    return _json(
        {
            "id": r.id,
            "status": str(r.status.value if hasattr(r.status, "value") else r.status),
            "portal": r.portal,
            "target": r.target_value,
            "error_class": r.error_class,
            "finished_at": r.finished_at,
        }
    )


@router.get("/approvals", summary="Pending decisions I may decide now")
def approvals(request: Request, who: Viewer) -> Response:
    with _config(request).db() as s:
        waiting = [asdict(p) for p in pending(s, who.username) if p.can_act]
    return _json({"items": waiting})


@router.post("/decisions/{decision_id}/approve", summary="Approve the decision's next step")
def approve(request: Request, decision_id: int, body: DecisionIn, who: Approver) -> Response:
    status = actions.decide(
        _config(request), decision_id, who.username, approve=True, note=body.note
    )
    return _json({"decision": decision_id, "status": status})


@router.post("/decisions/{decision_id}/reject", summary="Reject the decision")
def reject(request: Request, decision_id: int, body: DecisionIn, who: Approver) -> Response:
    status = actions.decide(
        _config(request), decision_id, who.username, approve=False, note=body.note
    )
    return _json({"decision": decision_id, "status": status})


@router.post("/delegations", status_code=201, summary="Let someone approve in my place")
def delegate(request: Request, body: DelegationIn, who: Delegator) -> Response:
    start, end = actions.delegate(_config(request), who.username, body.to, body.until)
    return _json({"delegate": body.to, "from": start, "until": end}, 201)


@router.get("/disputes", summary="Disputes (open ones unless all=true)")
def disputes(request: Request, who: Viewer, all: bool = False) -> Response:
    with _config(request).db() as s:
        rows = list_disputes(s, open_only=not all)
    return _json({"items": [{"ref": r.ref, "open": r.open, **asdict(r)} for r in rows]})


@router.get("/deadlines", summary="Open claims whose dispute window closes soon")
def deadlines(
    request: Request,
    who: Viewer,
    days: Annotated[int, Query(ge=1, le=366)] = DEFAULT_DAYS,
) -> Response:
    """Open claims not yet disputed on the portal whose window closes within
    ``days``, largest amount at risk first (``fleet disputes deadlines``)."""
    config = _config(request)
    with config.db() as s:
        soon = closing(s, config.today(), days)
    return _json({"days": days, "items": [d.as_dict() for d in soon]})


@router.post("/disputes/{dispute_id}/release", summary="File a dispute that waits for a person")
def release(request: Request, dispute_id: int, body: ReleaseIn, who: Releaser) -> Response:
    actions.release_dispute(
        _config(request), dispute_id, who.username, override_window=body.override_window
    )
    return _json({"dispute": dispute_id, "status": "queued"})


__all__ = ["router"]
