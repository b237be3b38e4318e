"""The human hand-off: checks a robot met (a CAPTCHA, a log-on's security
question) and waits on, answered by an ops person in the app (``operate``).

A robot that meets a CAPTCHA it cannot pass opens a challenge with the image
the portal showed (``bots.context.JobContext.ask_human``) and waits for up to
``FLEET_HUMAN_WAIT_SECONDS``. ``/ops/challenges`` lists those still in time,
each with its image, what the robot was after and how long it waits; the
answer typed here is what the robot types on the portal, and the challenge
then closes itself with the portal's verdict (passed or failed). A security
answer is a credential: typed in a password field, it goes into the
credential vault (where the next log-ons find it too), never into the store.
The ops page
polls ``/ops/challenges/_count`` so a new one shows without a reload. The
image is portal content: served as a PNG from the store, never as markup.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from credentials.keyring_vault import SecretKind, get_vault
from credentials.secret import Secret
from store.db import transaction
from store.models import HumanChallenge, utcnow
from store.repositories import challenges as challenges_repo
from web.auth import Principal, require
from web.config import WebConfig
from web.documents import document_headers
from web.problems import not_found
from web.rendering import render

router = APIRouter(include_in_schema=False)
Operator = Annotated[Principal, Depends(require("operate"))]
RECENT = timedelta(hours=1)
"""How long a closed challenge stays listed with its outcome."""


def _config(request: Request) -> WebConfig:
    config: WebConfig = request.app.state.config
    return config


@router.get("/ops/challenges", response_class=HTMLResponse)
def challenges_page(request: Request, who: Operator) -> HTMLResponse:
    now = utcnow()
    with _config(request).db() as s:
        waiting = challenges_repo.waiting(s)
        closed = list(
            s.scalars(
                select(HumanChallenge)
                .where(HumanChallenge.closed_at >= now - RECENT)
                .order_by(HumanChallenge.closed_at.desc())
                .limit(20)
            )
        )
    return render(
        request,
        "challenges.html",
        who,
        waiting=[(c, max(0, int((c.expires_at - now).total_seconds()))) for c in waiting],
        closed=closed,
        keyring_kinds=challenges_repo.KEYRING_KINDS,
        flash=request.query_params.get("flash", "")[:200],
    )


@router.get("/ops/challenges/_count", response_class=HTMLResponse)
def challenges_count(request: Request, who: Operator) -> HTMLResponse:
    with _config(request).db() as s:
        n = len(challenges_repo.waiting(s))
    return render(request, "_challenge_count.html", who, n=n)


@router.get("/ops/challenges/{challenge_id}/image")
def challenge_image(request: Request, challenge_id: int, who: Operator) -> Response:
    with _config(request).db() as s:
        data = challenges_repo.image_of(s, challenge_id)
    if not data:
        raise not_found("this check has no image")
    headers = document_headers("image/png", f"check-{challenge_id}.png", inline=True)
    return Response(data, headers=headers)


@router.post("/ops/challenges/{challenge_id}/answer")
def answer(
    request: Request,
    challenge_id: int,
    who: Operator,
    text: Annotated[str, Form(alias="answer", min_length=1, max_length=256)],
) -> Response:
    config = _config(request)
    with transaction(config.db) as s:
        row = s.get(HumanChallenge, challenge_id)
        if row is None:
            raise not_found("no such check")
        if row.kind in challenges_repo.KEYRING_KINDS:
            # a credential: into the keyring (for this log-on and the next ones), never the store
            if config.data_dir is None:
                flash = "this+app+has+no+credential+vault:+use+fleet+credentials+set"
                return RedirectResponse(f"/ops/challenges?flash={flash}", status_code=303)
            if row.status != challenges_repo.OPEN:
                taken = False
            else:
                get_vault(config.data_dir).set(
                    row.portal, row.account, Secret(text), SecretKind.SECURITY_ANSWER
                )
                taken = challenges_repo.answer(s, challenge_id, None, who.username)
        else:
            taken = challenges_repo.answer(s, challenge_id, " ".join(text.split()), who.username)
    flash = "answer+sent:+the+robot+types+it+now" if taken else "too+late:+the+robot+moved+on"
    return RedirectResponse(f"/ops/challenges?flash={flash}", status_code=303)


__all__ = ["router"]
