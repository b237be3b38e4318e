"""Notifications from the scheduler's housekeeping, against real local servers: an
HTTP server (http.server in a thread) takes the webhook, an SMTP server
(aiosmtpd) the e-mail. Each health event of the configured kinds reaches each
channel exactly once across passes; a failing or silent endpoint is retried on
the next pass without holding housekeeping up; two schedulers do not both
send; nothing secret lands in a log line or the database. On SQLite and
PostgreSQL (the store's ``db`` fixture)."""

from __future__ import annotations

import email
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from structlog.testing import capture_logs

from credentials.secret import Secret
from scheduler.config import NOTIFY_DEFAULT_KINDS
from scheduler.housekeeping import tidy
from scheduler.notify import EmailChannel, Notifier, WebhookChannel, deliver
from store.db import transaction
from store.models import utcnow
from store.repositories import notifications as cursors
from store.repositories import runs
from tests.integration.store.conftest import Db

STALE = timedelta(minutes=10)
SECRET_PATH = "hooks/T0K3N-in-the-path-9f8e7d"
TOKEN = "bearer-SECRET-5c4b3a"


# ------------------------------------------------------------------ the servers


@dataclass
class Hook:
    """A webhook receiver: what it was sent, and what it answers next."""

    url: str
    posts: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  # status codes to answer first
    delay: float = 0.0

    @property
    def ids(self) -> list[int]:
        return [e["id"] for p in self.posts for e in p["events"]]


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(state.delay)
            status = state.answers.pop(0) if state.answers else 200
            if status == 200:
                state.posts.append(json.loads(body))
                state.headers.append(dict(self.headers))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/{SECRET_PATH}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@dataclass
class Mailbox:
    url: str
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def ids(self) -> list[int]:
        """The event ids each message listed (one line an event, in order)."""
        return [n for m in self.messages for n in _listed(m)]


def _listed(message: Message) -> list[int]:
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    return [
        int(line.split("#")[1].split(" ")[0]) for line in body.decode().splitlines() if "#" in line
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    port = _free_port()
    box = Mailbox(url=f"smtp://127.0.0.1:{port}")
    chatter = logging.getLogger("mail.log")  # aiosmtpd's own log of every session
    chatter.propagate = False
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box
    controller.stop()
    chatter.propagate = True


def _notifier(hook: Hook, mailbox: Mailbox, timeout: float = 5.0) -> Notifier:
    return Notifier(
        channels=(
            WebhookChannel(Secret(hook.url), Secret(TOKEN), timeout),
            EmailChannel(
                Secret(mailbox.url), ["ar-ops@supplier.example"], "fleet@x.example", timeout
            ),
        ),
        kinds=frozenset(NOTIFY_DEFAULT_KINDS),
    )


def _events(db: Db, *kinds: str) -> list[int]:
    """Write one health event of each kind; their ids."""
    ids = []
    with transaction(db.sessions) as s:
        for kind in kinds:
            ids.append(
                runs.health_event(
                    s,
                    kind,
                    portal="megamart",
                    account="ar-team",
                    severity="warning",
                    error_class="CaptchaRequired" if kind == "needs_human" else None,
                    detail={"ref": "CB-1", "message": "megamart ar-team: the sync listed 1 claims"},
                )
            )
    return ids


# ------------------------------------------------------------------ the tests


def test_each_event_reaches_each_channel_once_across_passes(
    db: Db, hook: Hook, mailbox: Mailbox
) -> None:
    notifier = _notifier(hook, mailbox)
    first = _events(db, "anomaly", "needs_human", "job_failed", "dispute_deadlines")
    wanted = [first[0], first[1], first[3]]  # job_failed is not a configured kind

    done = tidy(db.sessions, STALE, notifier=notifier)
    assert done.notified == {"webhook": 3, "email": 3}
    assert hook.ids == wanted
    assert mailbox.ids() == wanted
    assert hook.headers[0]["Authorization"] == f"Bearer {TOKEN}"
    assert "needs_human" in hook.posts[0]["text"]
    assert hook.posts[0]["events"][1]["summary"].startswith("megamart ar-team: a person is needed")

    later = _events(db, "dispute_needs_person", "run_reaped")
    assert tidy(db.sessions, STALE, notifier=notifier).notified == {"webhook": 1, "email": 1}
    assert tidy(db.sessions, STALE, notifier=notifier).notified == {"webhook": 0, "email": 0}
    assert hook.ids == [*wanted, later[0]], "each event once, in order"
    assert mailbox.ids() == [*wanted, later[0]]
    assert len(hook.posts) == 2
    assert len(mailbox.messages) == 2
    assert mailbox.messages[0]["To"] == "ar-ops@supplier.example"


def test_a_failing_endpoint_is_retried_next_pass_and_the_other_channel_goes_on(
    db: Db, hook: Hook, mailbox: Mailbox
) -> None:
    notifier = _notifier(hook, mailbox)
    ids = _events(db, "anomaly", "needs_human")
    hook.answers = [500]
    assert tidy(db.sessions, STALE, notifier=notifier).notified == {"webhook": 0, "email": 2}
    with db.sessions() as s:
        state = {c.channel: c for c in cursors.cursors(s)}
    assert state["webhook"].last_event_id == 0
    assert state["webhook"].failures == 1
    assert state["webhook"].last_error == "HTTP 500"
    assert state["webhook"].lease_token is None, "a failed pass lets go"

    assert tidy(db.sessions, STALE, notifier=notifier).notified == {"webhook": 2, "email": 0}
    assert hook.ids == ids
    assert mailbox.ids() == ids
    with db.sessions() as s:
        webhook = next(c for c in cursors.cursors(s) if c.channel == "webhook")
    assert (webhook.last_event_id, webhook.failures, webhook.last_error) == (ids[-1], 0, None)


def test_a_silent_endpoint_costs_one_timeout_then_is_retried(
    db: Db, hook: Hook, mailbox: Mailbox
) -> None:
    notifier = _notifier(hook, mailbox, timeout=1.0)
    ids = _events(db, "anomaly")
    hook.delay = 3.0
    started = time.monotonic()
    done = tidy(db.sessions, STALE, notifier=notifier)
    took = time.monotonic() - started
    assert done.notified == {"webhook": 0, "email": 1}
    assert took < 2.5, f"housekeeping waited {took:.1f}s on a silent webhook"
    hook.delay = 0.0
    assert tidy(db.sessions, STALE, notifier=notifier).notified["webhook"] == 1
    assert hook.ids == ids


def test_two_schedulers_do_not_both_send(db: Db, hook: Hook, mailbox: Mailbox) -> None:
    """The second pass finds the channel's lease held by the first (still sending)
    and sends nothing; when the first is done, nothing is left to send."""
    _events(db, "anomaly", "dispute_deadlines")
    webhook = WebhookChannel(Secret(hook.url), None, 5.0)
    hook.delay = 0.5
    kinds = frozenset(NOTIFY_DEFAULT_KINDS)
    sent: list[int] = []
    first = threading.Thread(
        target=lambda: sent.append(deliver(db.sessions, webhook, kinds, timedelta(hours=24)))
    )
    first.start()
    time.sleep(0.2)  # the first holds the lease and waits on the server
    assert deliver(db.sessions, webhook, kinds, timedelta(hours=24)) == 0
    first.join()
    assert sent == [2]
    assert deliver(db.sessions, webhook, kinds, timedelta(hours=24)) == 0
    assert len(hook.posts) == 1
    # a holder that died lets go when its lease ends
    with transaction(db.sessions) as s:
        assert cursors.claim(s, "webhook", "dead", utcnow(), utcnow() + timedelta(seconds=1))
    _events(db, "anomaly")
    assert deliver(db.sessions, webhook, kinds, timedelta(hours=24)) == 0
    later = utcnow() + timedelta(seconds=2)
    assert deliver(db.sessions, webhook, kinds, timedelta(hours=24), now=later) == 1


def test_old_events_are_history_not_news(db: Db, hook: Hook, mailbox: Mailbox) -> None:
    _events(db, "anomaly")
    notifier = _notifier(hook, mailbox)
    a_week_later = utcnow() + timedelta(days=7)
    assert tidy(db.sessions, STALE, now=a_week_later, notifier=notifier).notified == {
        "webhook": 0,
        "email": 0,
    }
    assert hook.posts == []


def test_nothing_secret_in_logs_or_the_database(db: Db, hook: Hook, mailbox: Mailbox) -> None:
    """The webhook's URL path and its token are the secrets: our own log events
    (captured raw, before the scrubber) and the cursor rows never carry them."""
    notifier = _notifier(hook, mailbox)
    _events(db, "anomaly")
    with capture_logs() as logs:
        hook.answers = [503]
        tidy(db.sessions, STALE, notifier=notifier)
        tidy(db.sessions, STALE, notifier=notifier)
    events = [e["event"] for e in logs]
    assert "notify.failed" in events
    assert "notify.sent" in events
    failed = next(e for e in logs if e["event"] == "notify.failed")
    assert failed["endpoint"] == hook.url.split("/hooks")[0]
    assert failed["error"] == "HTTP 503"
    text = repr(logs)
    for secret in (SECRET_PATH, TOKEN):
        assert secret not in text
    with db.sessions() as s:
        rows = repr([vars(c) for c in cursors.cursors(s)])
    for secret in (SECRET_PATH, TOKEN):
        assert secret not in rows
    assert SECRET_PATH not in repr(notifier), "a channel's repr names the host only"


def test_fleet_notify_test_reports_each_channel(
    tmp_path: Path, hook: Hook, mailbox: Mailbox
) -> None:
    """``fleet notify test``: one test notice per channel, the outcome per channel,
    exit 1 when one failed; the secret URL and token come from the environment
    and appear in neither output."""
    (tmp_path / "fleet.toml").write_text(
        f'[notifications]\nemail_to = ["ar-ops@supplier.example"]\nsmtp_url = "{mailbox.url}"\n',
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "FLEET_CONFIG": str(tmp_path / "fleet.toml"),
        "FLEET_DATA_DIR": str(tmp_path / "data"),
        "FLEET_NOTIFY_WEBHOOK_URL": hook.url,
        "FLEET_NOTIFY_WEBHOOK_TOKEN": TOKEN,
        "FLEET_LOG_LEVEL": "DEBUG",
    }
    env.pop("FLEET_DATABASE_URL", None)

    def fleet(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "fleet.cli", *args],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    done = fleet("notify", "test")
    assert done.returncode == 0, done.stderr
    assert "webhook http://127.0.0.1" in done.stdout
    assert done.stdout.count("delivered") == 2
    assert hook.posts[0]["events"][0]["kind"] == "test"
    assert "test notification" in str(mailbox.messages[0].get_payload())

    hook.answers = [500]
    done = fleet("notify", "test")
    assert done.returncode == 1
    assert "webhook http://127.0.0.1" in done.stdout
    assert "failed (HTTP 500)" in done.stdout
    assert "email smtp://127.0.0.1" in done.stdout
    for secret in (SECRET_PATH, TOKEN):
        assert secret not in done.stdout + done.stderr
    done = fleet("notify", "status")
    assert done.returncode == 0, done.stderr
    assert "nothing sent yet" in done.stdout, "a test notice moves no cursor"

    (tmp_path / "fleet.toml").write_text('[notifications]\nkinds = ["anomaly"]\n', "utf-8")
    del env["FLEET_NOTIFY_WEBHOOK_URL"], env["FLEET_NOTIFY_WEBHOOK_TOKEN"]
    done = fleet("notify", "test")
    assert done.returncode == 2
    assert "needs webhook_url or email_to" in done.stderr
