"""The server-rendered pages: login, worklist, deduction, documents, my
approvals, disputes. Each route checks its action (``web.auth.require``) and
hands the work to ``web.actions`` or a shared query; none holds a rule."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated
from urllib.parse import quote_plus, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from dispute_filing.deadlines import DEFAULT_DAYS, closing
from matching.approvals import pending
from matching.config import CREDIT_KINDS, DECISION_KINDS
from matching.model import VALIDITIES
from records.schemas import ACTIVE_RETRIEVAL_STATUSES, Category
from store.models import Document
from store.queries.disputes import list_disputes
from store.queries.inbox import escalations_to, mentions_of
from store.queries.worklist import NO_VERDICT, SORT_KEYS, list_deductions
from store.repositories import saved_filters
from web import actions
from web import auth as web_auth
from web.auth import LoginLimiter, LoginRefused, Principal, require
from web.config import WebConfig
from web.documents import csv_rows, document_headers, sniff
from web.forms import FILTER_KEYS, money, worklist_query
from web.problems import Problem, not_found
from web.rendering import render

router = APIRouter(include_in_schema=False)

Viewer = Annotated[Principal, Depends(require("view"))]
Proposer = Annotated[Principal, Depends(require("propose"))]
Approver = Annotated[Principal, Depends(require("approve"))]
Delegator = Annotated[Principal, Depends(require("delegate"))]
Commenter = Annotated[Principal, Depends(require("comment"))]
Fetcher = Annotated[Principal, Depends(require("fetch"))]
Releaser = Annotated[Principal, Depends(require("release"))]
CsrfField = Annotated[str, Form(alias="csrf_token")]


def _config(request: Request) -> WebConfig:
    config: WebConfig = request.app.state.config
    return config


def _back(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


# --------------------------------------------------------------------------- login


PRELOGIN = "fleet_prelogin"


def _login_page(request: Request, error: str = "", status: int = 200) -> HTMLResponse:
    import secrets

    token = request.cookies.get(PRELOGIN) or secrets.token_urlsafe(24)
    nxt = request.query_params.get("next", "/worklist")
    resp = render(
        request, "login.html", None, status, error=error, login_csrf=token, next=_safe_next(nxt)
    )
    resp.set_cookie(
        PRELOGIN,
        token,
        httponly=True,
        samesite="lax",
        secure=_config(request).secure_cookies,
        path="/login",
    )
    return resp


def _safe_next(path: str) -> str:
    """Only a path of this site (no scheme, no //host, no backslash tricks)."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path or len(path) > 2000:
        return "/worklist"
    return path


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return _login_page(request)


@router.post("/login")
def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=2000)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/worklist",
) -> Response:
    import hmac

    config = _config(request)
    limiter: LoginLimiter = request.app.state.limiter
    if not limiter.allow(request.client.host if request.client else "?"):
        return _login_page(request, "too many login attempts: wait a minute", 429)
    expected = request.cookies.get(PRELOGIN, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf_token.encode()):
        return _login_page(request, "the login form expired: try again", 403)
    try:
        token = web_auth.login(config, username, password)
    except LoginRefused as exc:
        return _login_page(request, str(exc), 401)
    resp = _back(_safe_next(next))
    resp.set_cookie(
        web_auth.cookie_name(config),
        token,
        httponly=True,
        samesite="lax",
        secure=config.secure_cookies,
        path="/",
    )
    resp.delete_cookie(PRELOGIN, path="/login")
    return resp


@router.post("/logout")
def logout(request: Request, who: Viewer) -> Response:
    config = _config(request)
    token = request.cookies.get(web_auth.cookie_name(config))
    if token:
        web_auth.logout(config, token)
    resp = _back("/login")
    resp.delete_cookie(web_auth.cookie_name(config), path="/")
    return resp


# --------------------------------------------------------------------------- worklist


@router.get("/")
def home() -> RedirectResponse:
    return _back("/worklist")


@router.get("/worklist", response_class=HTMLResponse)
def worklist(request: Request, who: Viewer) -> HTMLResponse:
    config = _config(request)
    params = request.query_params
    error = ""
    try:
        filters, sort, page_no, size = worklist_query(params, config.today(), config.page_size)
        with config.db() as s:
            page = list_deductions(s, filters, sort, page_no, size)
    except Problem as exc:
        error, page = exc.detail, None
    kept = [(k, v) for k, v in params.multi_items() if k in (*FILTER_KEYS, "sort", "page_size")]
    with config.db() as s:
        saved = saved_filters.list_for(s, who.username)

    def link(**changes: object) -> str:
        items = [(k, v) for k, v in kept if k not in changes]
        items += [(k, str(v)) for k, v in changes.items() if v is not None]
        return "/worklist?" + urlencode(items)

    return render(
        request,
        "worklist.html",
        who,
        200 if page else 400,
        page=page,
        error=error,
        params=params,
        link=link,
        sort_keys=SORT_KEYS,
        categories=list(Category.__members__),
        validities=[*VALIDITIES, NO_VERDICT],
        saved=saved,
        current_query=urlencode(kept),
    )


@router.post("/worklist/filters")
def save_filter(
    request: Request,
    who: Viewer,
    name: Annotated[str, Form(max_length=100)],
    query: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    actions.save_filter(_config(request), who.username, name, query)
    return _back(f"/worklist?{query}" if query else "/worklist")


@router.post("/worklist/filters/{filter_id}/delete")
def remove_filter(request: Request, filter_id: int, who: Viewer) -> Response:
    actions.remove_filter(_config(request), who.username, filter_id)
    return _back("/worklist")


# --------------------------------------------------------------------------- deduction


@router.get("/deductions/{deduction_id}", response_class=HTMLResponse)
def deduction_page(request: Request, deduction_id: int, who: Viewer) -> HTMLResponse:
    config = _config(request)
    d = actions.detail(config, deduction_id)
    tables = {}
    for doc in d.documents:
        named_csv = sniff(b"", doc.filename) == "text/csv" or doc.media_type == "text/csv"
        small = doc.size_bytes <= config.max_inline_csv_bytes
        if named_csv and small and config.vault.exists(doc.sha256):
            data = config.vault.read_bytes(doc.sha256)
            if sniff(data[:2048], doc.filename) in ("text/csv", "text/plain"):
                tables[doc.id] = csv_rows(data)
    return render(
        request,
        "deduction.html",
        who,
        d=d,
        today=config.today(),
        csv_tables=tables,
        kinds=DECISION_KINDS,
        credit_kinds=CREDIT_KINDS,
        flash=request.query_params.get("flash", "")[:200],
    )


@router.get("/documents/{document_id}")
def document(request: Request, document_id: int, who: Viewer, inline: bool = False) -> Response:
    config = _config(request)
    with config.db() as s:
        doc = s.execute(select(Document).where(Document.id == document_id)).scalar_one_or_none()
    if doc is None or not config.vault.exists(doc.sha256):
        raise not_found(f"no document {document_id}")
    path = config.vault.path_for(doc.sha256)
    with path.open("rb") as f:
        head = f.read(2048)
    media = sniff(head, doc.original_filename or "")
    headers = document_headers(
        media,
        doc.original_filename or f"document-{doc.id}",
        inline=inline and media == "application/pdf",
    )
    media_type = headers.pop("Content-Type")
    return FileResponse(path, media_type=media_type, headers=headers)


@router.post("/deductions/{deduction_id}/propose")
def propose(
    request: Request,
    deduction_id: int,
    who: Proposer,
    kind: Annotated[str, Form(max_length=20)],
    accept_amount: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    amount: Decimal | None = (
        money(accept_amount, "accept_amount") if accept_amount.strip() else None
    )
    decision = actions.propose(_config(request), deduction_id, who.username, kind, amount, note)
    return _back(f"/deductions/{deduction_id}?flash=proposed+decision+{decision}")


@router.post("/deductions/{deduction_id}/comment")
def comment(
    request: Request,
    deduction_id: int,
    who: Commenter,
    body: Annotated[str, Form(max_length=20_000)],
) -> Response:
    actions.comment(_config(request), deduction_id, who.username, body)
    return _back(f"/deductions/{deduction_id}#comments")


@router.post("/deductions/{deduction_id}/fetch", response_class=HTMLResponse)
def fetch(request: Request, deduction_id: int, who: Fetcher) -> Response:
    ids = actions.fetch_now(_config(request), deduction_id, who.username)
    if request.headers.get("hx-request"):
        return _retrieval_fragment(request, who, deduction_id, ids)
    return _back(f"/deductions/{deduction_id}?flash=retrieval+queued")


@router.get("/deductions/{deduction_id}/retrievals", response_class=HTMLResponse)
def retrieval_status(request: Request, deduction_id: int, who: Viewer, ids: str = "") -> Response:
    wanted = [int(x) for x in ids.split(",")[:20] if x.isdigit()]
    return _retrieval_fragment(request, who, deduction_id, wanted)


def _retrieval_fragment(
    request: Request, who: Principal, deduction_id: int, ids: list[int]
) -> HTMLResponse:
    rows = actions.retrievals(_config(request), ids)
    active = any(r.status in ACTIVE_RETRIEVAL_STATUSES for r in rows)
    return render(
        request,
        "_retrieval.html",
        who,
        rows=rows,
        active=active,
        deduction_id=deduction_id,
        ids=",".join(str(i) for i in ids),
    )


# --------------------------------------------------------------------------- approvals


@router.get("/approvals", response_class=HTMLResponse)
def my_approvals(request: Request, who: Viewer) -> HTMLResponse:
    config = _config(request)
    with config.db() as s:
        waiting = pending(s, who.username)
        mentions = mentions_of(s, who.username)
        escalated = escalations_to(s, who.username)
    mine = [p for p in waiting if p.can_act]
    return render(
        request,
        "approvals.html",
        who,
        mine=mine,
        others=len(waiting) - len(mine),
        mentions=mentions,
        escalated=escalated,
        flash=request.query_params.get("flash", "")[:200],
    )


def _decide(
    request: Request, who: Principal, decision_id: int, note: str, approve: bool
) -> Response:
    status = actions.decide(_config(request), decision_id, who.username, approve=approve, note=note)
    verb = "approved" if approve else "rejected"
    return _back(f"/approvals?flash=decision+{decision_id}+{verb}:+now+{status}")


@router.post("/approvals/{decision_id}/approve")
def approve(
    request: Request,
    decision_id: int,
    who: Approver,
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    return _decide(request, who, decision_id, note, True)


@router.post("/approvals/{decision_id}/reject")
def reject(
    request: Request,
    decision_id: int,
    who: Approver,
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    return _decide(request, who, decision_id, note, False)


@router.post("/approvals/delegate")
def delegate(
    request: Request,
    who: Delegator,
    to: Annotated[str, Form(max_length=128)],
    until: Annotated[str, Form(max_length=10)],
) -> Response:
    try:
        last_day = date.fromisoformat(until.strip())
    except ValueError:
        raise Problem(400, "Bad request", "until: a day as YYYY-MM-DD") from None
    actions.delegate(_config(request), who.username, to, last_day)
    return _back(f"/approvals?flash={quote_plus(f'{to} stands in for you until {last_day}')}")


# --------------------------------------------------------------------------- disputes


@router.post("/disputes/{dispute_id}/release")
def release_dispute(
    request: Request,
    dispute_id: int,
    who: Releaser,
    override_window: Annotated[bool, Form()] = False,
) -> Response:
    actions.release_dispute(
        _config(request), dispute_id, who.username, override_window=override_window
    )
    return _back(f"/disputes?flash=dispute+{dispute_id}+queued+for+filing")


@router.post("/disputes/{dispute_id}/appeal")
def appeal_dispute(request: Request, dispute_id: int, who: Releaser) -> Response:
    actions.appeal_dispute(_config(request), dispute_id, who.username)
    return _back(f"/disputes?show=all&flash=appeal+of+dispute+{dispute_id}+queued+for+filing")


@router.get("/disputes", response_class=HTMLResponse)
def disputes(
    request: Request,
    who: Viewer,
    show: str = "open",
    days: Annotated[int, Query(ge=1, le=366)] = DEFAULT_DAYS,
) -> HTMLResponse:
    config = _config(request)
    today = config.today()
    with config.db() as s:
        rows = list_disputes(s, open_only=show != "all")
        soon = closing(s, today, days)
    return render(
        request,
        "disputes.html",
        who,
        rows=rows,
        appealable=actions.appealable(
            config, [r.id for r in rows if r.status == "denied" and r.level == 1]
        ),
        closing=soon,
        at_risk=sum((d.amount_at_risk for d in soon), Decimal(0)),
        days=days,
        today=today,
        show=show,
        flash=request.query_params.get("flash", "")[:200],
    )


__all__ = ["router"]
