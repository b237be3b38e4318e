"""The approval workflow from the command line (``matching.approvals``).

* ``fleet users add|list|set-role|passwd|token|disable``: the people, the roles the
  chain checks, their web access and approval limit, web passwords, API tokens.
* ``fleet propose REF accept|dispute|split``, ``fleet approve|reject DECISION_ID``,
  ``fleet delegate TO --until DATE``, ``fleet comment REF TEXT``.
* ``fleet approvals [--mine] [--json]``: pending decisions and the step each
  waits for; ``fleet approvals remind``: send the due reminders now (the active
  scheduler does this by itself; this is for cron-less setups).

Identity: ``--as USER``, else ``$FLEET_USER``, else the OS login name. The CLI
trusts the host login: on a shared host, whoever can run ``fleet`` as the
service account can act as anyone. The web app (future) authenticates people.

Wired with ``register(app)``. Exit codes: 0 done, 1 no such deduction (as
``fleet match --explain``), 2 refused or bad input (the message says why).
"""

from __future__ import annotations

import getpass
import json
import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fleet.commands.match import _db, deduction_or_exit
from fleet.settings import get_settings
from matching.config import ROLE_RANK

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from matching.approvals import PendingApproval

users_app = typer.Typer(
    help="People who propose and approve decisions, and their roles.", no_args_is_help=True
)
approvals_app = typer.Typer(
    help="Pending decisions (the step each waits for); `remind` sends due reminders.",
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

ROLES = tuple(ROLE_RANK)
_AMOUNT = re.compile(r"\d{1,12}(?:\.\d{1,2})?")

AsUser = Annotated[
    str | None,
    typer.Option(
        "--as",
        envvar="FLEET_USER",
        show_envvar=False,
        metavar="USER",
        help=(
            "Who acts: default $FLEET_USER, else your login name. The CLI trusts the host "
            "login; on a shared host the web app (future) is what authenticates people."
        ),
    ),
]
Note = Annotated[str, typer.Option("--note", help="Why (kept with the decision).")]


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.command("propose")(propose)
    app.command("approve")(approve)
    app.command("reject")(reject)
    app.command("delegate")(delegate)
    app.command("comment")(comment)
    app.add_typer(approvals_app, name="approvals")


# --------------------------------------------------------------------------- helpers


def _fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def _who(as_user: str | None) -> str:
    if as_user and as_user.strip():
        return as_user.strip()
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers): say what to do
        _fail("cannot tell who you are: pass --as USER or set FLEET_USER")


def _known(session: Session, username: str) -> str:
    """``username``'s role; exit 2 when they are not an active user."""
    from store.repositories import approvals as repo

    role = repo.user_roles(session, [username]).get(username)
    if role is None:
        _fail(
            f"{username} is not an active user: add them with "
            f"`fleet users add {username} --role analyst|manager|director`"
        )
    return role


def _amount(text: str) -> Decimal:
    t = text.strip()
    if not _AMOUNT.fullmatch(t):
        _fail(
            f"not an amount: {t[:40]!r} (digits with up to 2 decimals, e.g. 1250.00; "
            "no currency sign, sign or thousands separator)"
        )
    return Decimal(t).quantize(Decimal("0.01"))


def _when(text: str, option: str, *, end_of_day: bool = False) -> datetime:
    """YYYY-MM-DD (a UTC day: its start, or with ``end_of_day`` its end) or an ISO
    date-time (UTC unless it names a zone)."""
    t = text.strip()
    try:
        if len(t) == 10:
            day = date.fromisoformat(t)
            start = datetime.combine(day, time(0), tzinfo=UTC)
            return start + timedelta(days=1) if end_of_day else start
        moment = datetime.fromisoformat(t)
    except ValueError:
        _fail(f"{option}: not a date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM): {t[:40]!r}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _age(delta: timedelta) -> str:
    hours = max(0, int(delta.total_seconds() // 3600))
    if hours < 1:
        return "<1h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if days else f"{hours}h"


def _ref(portal: str, external_id: str) -> str:
    return f"{portal}:{external_id}"


def _chain(session: Session, decision_id: int) -> str:
    """'manager -> director' with each decided step's outcome."""
    from store.repositories import approvals as repo

    parts = []
    for st in repo.steps(session, decision_id):
        if st.status == "pending":
            parts.append(st.role)
        else:
            who = (st.actor or "?") + (f" for {st.on_behalf_of}" if st.on_behalf_of else "")
            parts.append(f"{st.role} ({st.status} by {who})")
    return " -> ".join(parts)


# --------------------------------------------------------------------------- users


AccessOpt = Annotated[
    str | None,
    typer.Option(
        "--access",
        metavar="analyst|approver|ops|admin",
        help="What they may do in the web app (default: approver for a manager or "
        "director, else analyst).",
    ),
]
LimitOpt = Annotated[
    str | None,
    typer.Option(
        "--limit", metavar="AMOUNT", help="Largest claim they may approve ('none': no limit)."
    ),
]
PasswordOpt = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read their web login password from the first line of stdin (never argv).",
    ),
]


def _password_from_stdin() -> str:
    import sys

    from credentials.passwords import WeakPassword, hash_password

    line = sys.stdin.readline().rstrip("\r\n")
    try:
        return hash_password(line)
    except WeakPassword as exc:
        _fail(str(exc))


def _apply_access(
    s: Session, username: str, actor: str, access: str | None, limit: str | None
) -> None:
    from matching.approvals import set_access

    if limit is not None and limit.strip().lower() == "none":
        set_access(s, username, actor, access=access, clear_limit=True)
    else:
        amount = None if limit is None else _amount(limit)
        set_access(s, username, actor, access=access, approval_limit=amount)


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Login name (what --as and @mentions use).")],
    role: Annotated[
        str,
        typer.Option(
            "--role", metavar="analyst|manager|director", help="Their rank in the approval chain."
        ),
    ],
    name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
    access: AccessOpt = None,
    limit: LimitOpt = None,
    password_stdin: PasswordOpt = False,
    as_user: AsUser = None,
) -> None:
    """Add a user, or change their role or name (and make them active again)."""
    from matching.approvals import ApprovalError, add_user
    from store.db import transaction
    from store.repositories import approvals as repo

    if role not in ROLES:
        _fail(f"--role must be one of {', '.join(ROLES)}")
    actor = _who(as_user)
    hashed = _password_from_stdin() if password_stdin else None
    try:
        with transaction(_db()) as s:
            created = add_user(s, username, role, actor, name)
            if access is None and created:
                access = "analyst" if role == "analyst" else "approver"
            _apply_access(s, username, actor, access, limit)
            if hashed is not None:
                repo.set_password_hash(s, username, hashed)
    except ApprovalError as exc:
        _fail(str(exc))
    out.print(f"{'added' if created else 'updated'} {escape(username)} ({role})")


@users_app.command("set-role")
def users_set_role(
    username: Annotated[str, typer.Argument(help="Whose access changes.")],
    access: AccessOpt = None,
    role: Annotated[
        str | None,
        typer.Option(
            "--role", metavar="analyst|manager|director", help="Their rank in the approval chain."
        ),
    ] = None,
    limit: LimitOpt = None,
    as_user: AsUser = None,
) -> None:
    """Change what a user may do in the web app, their chain rank or their approval limit."""
    from matching.approvals import ApprovalError, add_user
    from store.db import transaction
    from store.repositories import approvals as repo

    if access is None and role is None and limit is None:
        _fail("say what changes: --access, --role or --limit")
    if role is not None and role not in ROLES:
        _fail(f"--role must be one of {', '.join(ROLES)}")
    actor = _who(as_user)
    try:
        with transaction(_db()) as s:
            user = repo.get_user(s, username)
            if user is None:
                _fail(f"no user {username}")
            if role is not None:
                add_user(s, username, role, actor)
            _apply_access(s, username, actor, access, limit)
            user = repo.get_user(s, username)
            assert user is not None
            shown_limit = "none" if user.approval_limit is None else str(user.approval_limit)
    except ApprovalError as exc:
        _fail(str(exc))
    out.print(f"{escape(username)}: access {user.access}, role {user.role}, limit {shown_limit}")


@users_app.command("passwd")
def users_passwd(
    username: Annotated[str, typer.Argument(help="Whose web login password is set.")],
) -> None:
    """Set a web login password, read from the first line of stdin (and unlock the login)."""
    from store.db import transaction
    from store.repositories import approvals as repo

    hashed = _password_from_stdin()
    with transaction(_db()) as s:
        if repo.get_user(s, username) is None:
            _fail(f"no user {username}")
        repo.set_password_hash(s, username, hashed)
    out.print(f"password set for {escape(username)}")


@users_app.command("token")
def users_token(
    username: Annotated[str, typer.Argument(help="Who the script acts as.")],
    name: Annotated[str, typer.Option("--name", help="What the token is for.")] = "",
) -> None:
    """Make an API token for scripts (/api/v1, `Authorization: Bearer ...`).
    Printed once on stdout; only its hash is stored."""
    from store.db import transaction
    from store.repositories import approvals as repo

    with transaction(_db()) as s:
        user = repo.get_user(s, username)
        if user is None or not user.active:
            _fail(f"no active user {username}")
        token = repo.create_api_token(s, username, name[:100])
    print(token)


@users_app.command("list")
def users_list(
    show_all: Annotated[bool, typer.Option("--all", help="Also deactivated users.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Users with their roles, and the delegations in force or to come."""
    from store.models import utcnow
    from store.repositories import approvals as repo

    now = utcnow()
    with _db()() as s:
        users = repo.list_users(s, include_inactive=show_all)
        delegations = repo.delegations_current(s, now)
    data = {
        "users": [
            {
                "username": u.username,
                "name": u.display_name,
                "role": u.role,
                "access": u.access,
                "approval_limit": None if u.approval_limit is None else str(u.approval_limit),
                "web_login": u.password_hash is not None,
                "active": u.active,
            }
            for u in users
        ],
        "delegations": [
            {
                "delegator": d.delegator,
                "delegate": d.delegate,
                "from": d.starts_at.isoformat(),
                "until": d.ends_at.isoformat(),
                "active": d.starts_at <= now,
            }
            for d in delegations
        ],
    }
    if as_json:
        print(json.dumps(data, indent=1))
        return
    t = Table(title=f"Users ({len(users)})")
    for col in ("username", "name", "role", "access", "limit", *(("active",) if show_all else ())):
        t.add_column(col)
    for u in users:
        limit = "-" if u.approval_limit is None else f"{u.approval_limit:,}"
        row = [escape(u.username), escape(u.display_name), u.role, u.access, limit]
        t.add_row(*row, *(("yes" if u.active else "no",) if show_all else ()))
    (out if out.is_terminal else Console(highlight=False, width=160)).print(t)
    for d in delegations:
        state = "now" if d.starts_at <= now else f"from {d.starts_at:%Y-%m-%d %H:%M}"
        out.print(
            f"{escape(d.delegate)} stands in for {escape(d.delegator)} {state} "
            f"until {d.ends_at:%Y-%m-%d %H:%M} UTC"
        )


@users_app.command("disable")
@users_app.command("deactivate")
def users_deactivate(
    username: Annotated[str, typer.Argument(help="Who no longer approves.")],
    as_user: AsUser = None,
) -> None:
    """Stop a user from approving and signing in (a leaver): their web sessions
    and API tokens end; their history stays."""
    from matching.approvals import ApprovalError, deactivate_user
    from store.db import transaction
    from store.repositories import approvals as repo

    actor = _who(as_user)
    try:
        with transaction(_db()) as s:
            deactivate_user(s, username, actor)
            repo.end_sessions(s, username)
    except ApprovalError as exc:
        _fail(str(exc))
    out.print(f"deactivated {escape(username)}")


# --------------------------------------------------------------------------- decisions


def propose(
    ref: Annotated[
        str, typer.Argument(metavar="REF", help="The deduction: portal:external_id (or its id).")
    ],
    kind: Annotated[
        str,
        typer.Argument(
            metavar="accept|dispute|split",
            help="accept (credit it), dispute (file it), split (part of each).",
        ),
    ],
    accept_amount: Annotated[
        str | None,
        typer.Option("--accept-amount", help="split: the part accepted (e.g. 1200.00)."),
    ] = None,
    credit_kind: Annotated[
        str | None,
        typer.Option(
            "--credit-kind",
            metavar="credit_memo|write_off",
            help="How the accepted part is booked: credit_memo (default) or write_off.",
        ),
    ] = None,
    note: Note = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_user: AsUser = None,
) -> None:
    """Propose a decision on a deduction; it then waits for its approval chain."""
    from matching.approvals import ApprovalError
    from matching.approvals import propose as do_propose
    from store.db import transaction

    amount = None if accept_amount is None else _amount(accept_amount)
    actor = _who(as_user)
    try:
        with transaction(_db()) as s:
            _known(s, actor)
            ded = deduction_or_exit(s, ref)
            decision = do_propose(
                s,
                ded.id,
                kind,
                actor,
                accept_amount=amount,
                credit_kind=credit_kind,
                note=note,
            )
            chain = _chain(s, decision.id)
            data: dict[str, Any] = {
                "decision": decision.id,
                "deduction": _ref(ded.portal, ded.external_id),
                "kind": kind,
                "claim": str(ded.amount),
                "accept": str(decision.accept_amount),
                "dispute": str(decision.dispute_amount),
                "credit_kind": decision.credit_kind,
                "currency": ded.currency,
                "chain": chain,
            }
    except ApprovalError as exc:
        _fail(str(exc))
    if as_json:
        print(json.dumps(data, indent=1))
        return
    booked = f" as {data['credit_kind']}" if data["credit_kind"] else ""
    out.print(
        f"decision {data['decision']} on {escape(data['deduction'])}: {kind}, accept "
        f"{data['accept']}{booked}, dispute {data['dispute']} {escape(data['currency'])}",
        soft_wrap=True,
    )
    out.print(f"waits for: {escape(chain)}", soft_wrap=True)


def _act(
    decision_id: int,
    approve_it: bool,
    note: str,
    as_user: str | None,
    override_window: bool = False,
) -> None:
    from matching.approvals import ApprovalError, act
    from store.db import transaction
    from store.models import Deduction
    from store.repositories import approvals as repo

    actor = _who(as_user)
    try:
        with transaction(_db()) as s:
            _known(s, actor)
            decision = act(
                s,
                decision_id,
                actor,
                approve=approve_it,
                note=note,
                today=get_settings().today(),
                override_window=override_window,
            )
            steps = repo.steps(s, decision_id)
            ded = s.get(Deduction, decision.deduction_id)
            chain = _chain(s, decision_id)
    except ApprovalError as exc:
        _fail(str(exc))
    done = [st for st in steps if st.status != "pending" and st.actor == actor]
    step = done[-1]
    who = escape(actor) + (f" for {escape(step.on_behalf_of)}" if step.on_behalf_of else "")
    ref = escape(_ref(ded.portal, ded.external_id)) if ded else str(decision.deduction_id)
    out.print(
        f"decision {decision_id} ({ref}): step {step.level} ({step.role}) {step.status} by {who}",
        soft_wrap=True,
    )
    if decision.status == "pending":
        nxt = next(st for st in steps if st.status == "pending")
        out.print(f"now waits for {nxt.role} (step {nxt.level} of {len(steps)})")
    else:
        out.print(f"decision {decision_id} is {decision.status}: {escape(chain)}", soft_wrap=True)


def approve(
    decision_id: Annotated[
        int, typer.Argument(metavar="DECISION_ID", help="The decision (see fleet approvals).")
    ],
    note: Note = "",
    as_user: AsUser = None,
    override_window: Annotated[
        bool,
        typer.Option(
            "--override-window",
            help="Dispute although the portal's window has closed (needs --note; audited).",
        ),
    ] = False,
) -> None:
    """Approve the step a decision waits for (your role, or as someone's delegate).

    A dispute whose portal window has closed is refused unless --override-window
    (with a --note saying why)."""
    _act(decision_id, True, note, as_user, override_window)


def reject(
    decision_id: Annotated[
        int, typer.Argument(metavar="DECISION_ID", help="The decision (see fleet approvals).")
    ],
    note: Note = "",
    as_user: AsUser = None,
) -> None:
    """Reject a decision at the step it waits for (the deduction can be proposed again)."""
    _act(decision_id, False, note, as_user)


def delegate(
    to: Annotated[str, typer.Argument(help="Who approves in your place.")],
    until: Annotated[
        str, typer.Option("--until", help="Last day (YYYY-MM-DD, UTC, inclusive) or date-time.")
    ],
    starts: Annotated[
        str | None,
        typer.Option("--from", help="First day (YYYY-MM-DD, UTC) or date-time; default now."),
    ] = None,
    as_user: AsUser = None,
) -> None:
    """Let TO approve in your place while you are away.

    TO acts for you on the steps your role may decide, recorded as on behalf of
    you; never on your own proposals (segregation of duties holds through a
    delegation). Dates are UTC days; --until is inclusive.
    """
    from matching.approvals import ApprovalError
    from matching.approvals import delegate as do_delegate
    from store.db import transaction
    from store.models import utcnow

    start = utcnow() if starts is None else _when(starts, "--from")
    end = _when(until, "--until", end_of_day=True)
    actor = _who(as_user)
    try:
        with transaction(_db()) as s:
            _known(s, actor)
            _known(s, to)
            do_delegate(s, actor, to, start, end, actor)
    except ApprovalError as exc:
        _fail(str(exc))
    out.print(
        f"{escape(to)} stands in for {escape(actor)} from {start:%Y-%m-%d %H:%M} "
        f"until {end:%Y-%m-%d %H:%M} UTC",
        soft_wrap=True,
    )


def comment(
    ref: Annotated[
        str, typer.Argument(metavar="REF", help="The deduction: portal:external_id (or its id).")
    ],
    text: Annotated[str, typer.Argument(help="The comment; @username mentions someone.")],
    as_user: AsUser = None,
) -> None:
    """Add an internal comment to a deduction; @mentions are recorded."""
    from matching.approvals import ApprovalError
    from matching.approvals import comment as do_comment
    from store.db import transaction
    from store.repositories import approvals as repo

    actor = _who(as_user)
    try:
        with transaction(_db()) as s:
            _known(s, actor)
            ded = deduction_or_exit(s, ref)
            mentions = do_comment(s, ded.id, actor, text)
            known = set(repo.user_roles(s, mentions))
    except ApprovalError as exc:
        _fail(str(exc))
    ref_text = escape(_ref(ded.portal, ded.external_id))
    line = f"comment on {ref_text} saved"
    if mentions:
        line += "; mentioned " + ", ".join(f"@{escape(m)}" for m in mentions)
    out.print(line, soft_wrap=True)
    unknown = [m for m in mentions if m not in known]
    if unknown:
        err.print(
            "[yellow]warning:[/] not active users: " + ", ".join(f"@{escape(m)}" for m in unknown),
            soft_wrap=True,
        )


# --------------------------------------------------------------------------- approvals


def _pending_dict(p: PendingApproval, now: datetime) -> dict[str, Any]:
    return {
        "decision": p.decision_id,
        "deduction": _ref(p.portal, p.external_id),
        "deduction_id": p.deduction_id,
        "kind": p.kind,
        "claim": str(p.claim_amount),
        "accept": str(p.accept_amount),
        "dispute": str(p.dispute_amount),
        "credit_kind": p.credit_kind,
        "currency": p.currency,
        "proposed_by": p.proposed_by,
        "proposed_at": p.proposed_at.isoformat(),
        "step": p.level,
        "steps": p.levels,
        "role": p.role,
        "waiting_since": p.waiting_since.isoformat(),
        "waiting_hours": round((now - p.waiting_since).total_seconds() / 3600, 1),
        **({} if p.can_act is None else {"on_behalf_of": p.on_behalf_of}),
    }


@approvals_app.callback(invoke_without_command=True)
def approvals(
    ctx: typer.Context,
    mine: Annotated[
        bool,
        typer.Option("--mine", help="Only those you may decide now (yourself or as a delegate)."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_user: AsUser = None,
) -> None:
    """Pending decisions: the step each waits for, since when, and the amounts."""
    if ctx.invoked_subcommand is not None:
        return
    from matching.approvals import pending
    from store.models import utcnow

    now = utcnow()
    actor = _who(as_user) if mine else None
    with _db()() as s:
        if actor is not None:
            _known(s, actor)
        rows = pending(s, actor, now)
    if mine:
        rows = [r for r in rows if r.can_act]
    if as_json:
        print(json.dumps([_pending_dict(r, now) for r in rows], indent=1))
        return
    title = f"Waiting for {escape(actor)}" if actor else "Pending decisions"
    t = Table(title=f"{title} ({len(rows)})")
    t.add_column("id", justify="right")
    t.add_column("deduction", overflow="fold")
    t.add_column("claim", justify="right")
    t.add_column("proposal")
    t.add_column("waits for")
    t.add_column("waiting", justify="right")
    t.add_column("by")
    for r in rows:
        proposal = r.kind
        if r.kind == "split":
            proposal += f" {r.accept_amount}"
        if r.credit_kind:
            proposal += f" ({r.credit_kind.replace('_', ' ')})"
        step = f"{r.role} {r.level}/{r.levels}"
        if r.on_behalf_of:
            step += f" for {escape(r.on_behalf_of)}"
        t.add_row(
            str(r.decision_id),
            escape(_ref(r.portal, r.external_id)),
            f"{r.claim_amount} {escape(r.currency)}",
            proposal,
            step,
            _age(now - r.waiting_since),
            escape(r.proposed_by),
        )
    (out if out.is_terminal else Console(highlight=False, width=160)).print(t)


@approvals_app.command("remind")
def remind(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Send the due approval reminders now and print them.

    A step waiting longer than reminder_after_hours (rules file) is reminded, then
    again only after that much time; as the claim's dispute window nears
    (escalate_within_days, urgent_within_days) daily, then every four hours, and
    to the roles above too. The running scheduler does this by itself; this is
    for setups without it (cron).
    """
    from sqlalchemy import select

    from matching.approvals import send_reminders
    from matching.config import load_config
    from store.db import transaction
    from store.models import Deduction, utcnow

    now = utcnow()
    cfg = load_config()
    with transaction(_db()) as s:
        sent = send_reminders(s, now, cfg)
        refs = {
            i: _ref(p, e)
            for i, p, e in s.execute(
                select(Deduction.id, Deduction.portal, Deduction.external_id).where(
                    Deduction.id.in_([r.deduction_id for r in sent])
                )
            )
        }
    rows: list[dict[str, Any]] = [
        {
            "decision": r.decision_id,
            "deduction": refs.get(r.deduction_id, str(r.deduction_id)),
            "step": r.level,
            "role": r.role,
            "waiting_since": r.waiting_since.isoformat(),
            "waiting_hours": int((now - r.waiting_since).total_seconds() // 3600),
            "days_left": r.days_left,
            "escalated_to": list(r.escalated_to),
        }
        for r in sent
    ]
    if as_json:
        print(json.dumps(rows, indent=1))
        return
    for row in rows:
        louder = (
            f", window closes in {row['days_left']}d: escalated to "
            + ", ".join(f"{r}s" for r in row["escalated_to"])
            if row["escalated_to"]
            else ""
        )
        out.print(
            f"reminded {row['role']}s: decision {row['decision']} "
            f"({escape(str(row['deduction']))}), step {row['step']}, "
            f"waiting {row['waiting_hours']}h{louder}",
            soft_wrap=True,
        )
    out.print(f"{len(rows)} reminder(s) sent (each step at most every {cfg.reminder_after_hours}h)")


__all__ = ["approvals_app", "register", "users_app"]
