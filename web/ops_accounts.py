"""Ops' hands on one account (``operate``): run a task now, and let an
account the portal refused run again once its password is replaced.

"Run now" queues the task in the on-demand queue
(``scheduler.ondemand.submit_task``): the scheduler's feeder runs it next,
through the same dispatcher and pipeline as a scheduled run. Re-enabling is
``scheduler.accounts``' rule, the same as ``fleet accounts enable``; a new
password typed here goes into the credential vault and nowhere else (never
shown back, logged, or kept in the store), and the form field is a password
field the browser does not echo.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from credentials.keyring_vault import get_vault
from credentials.secret import Secret
from scheduler.accounts import EnableRefused, enable_account, replace_password_and_enable
from scheduler.ondemand import submit_task
from store.db import transaction
from web.auth import Principal, require
from web.config import WebConfig

router = APIRouter(include_in_schema=False)
Operator = Annotated[Principal, Depends(require("operate"))]
MAX_PASSWORD = 1024


def _config(request: Request) -> WebConfig:
    config: WebConfig = request.app.state.config
    return config


def _back(flash: str) -> Response:
    return RedirectResponse(f"/ops?flash={flash.replace(' ', '+')}", status_code=303)


@router.post("/ops/run-now")
def run_now(
    request: Request,
    who: Operator,
    portal: Annotated[str, Form(max_length=64)],
    account: Annotated[str, Form(max_length=320)],
    task: Annotated[str, Form(max_length=32)],
) -> Response:
    try:
        done = submit_task(_config(request).db, portal, account, task, requester=who.username)
    except (ValueError, LookupError) as exc:
        return _back(f"not queued: {str(exc)[:120]}")
    if done.merged:
        return _back(f"{task} of {account} on {portal} is already waiting or running")
    return _back(f"{task} of {account} on {portal} queued: it runs next")


@router.post("/ops/accounts/enable")
def enable(
    request: Request,
    who: Operator,
    portal: Annotated[str, Form(max_length=64)],
    account: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=MAX_PASSWORD)] = "",
) -> Response:
    config = _config(request)
    actor = f"web:{who.username}"
    if config.data_dir is None:
        return _back("this app has no credential vault: use fleet accounts enable")
    try:
        with transaction(config.db) as s:
            if password:
                vault = get_vault(config.data_dir)
                done = replace_password_and_enable(
                    s, vault, portal, account, Secret(password), actor=actor
                )
            else:
                done = enable_account(s, config.data_dir, portal, account, actor=actor)
    except EnableRefused as exc:
        return _back(f"not enabled: {exc}")
    note = "enabled" if done.changed else "already enabled"
    if done.stale_password:
        note += " (the password is the one the portal refused: replace it if the next run fails)"
    return _back(f"{account} on {portal}: {note}")


__all__ = ["router"]
