"""What the web app is given by the composition root (``fleet serve``): plain
values and the already-built store, never settings to read itself."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from store.vault import DocumentVault


@dataclass(frozen=True)
class WebConfig:
    """``idle`` signs a session out after that long without a request;
    ``max_age`` after that long in any case. ``secure_cookies`` when served
    over TLS (cookies then carry ``Secure`` and the ``__Host-`` prefix).
    ``lockout_after`` failed logins lock the account for ``lockout_for``;
    ``login_attempts_per_minute`` bounds logins from one address."""

    db: sessionmaker[Session]
    vault: DocumentVault
    today: Callable[[], date] = date.today
    idle: timedelta = timedelta(minutes=30)
    max_age: timedelta = timedelta(hours=12)
    secure_cookies: bool = False
    lockout_after: int = 5
    lockout_for: timedelta = timedelta(minutes=15)
    login_attempts_per_minute: int = 20
    page_size: int = 50
    max_inline_csv_bytes: int = 1_000_000
    artifacts: Path | None = None
    """Where failed runs left their screenshot, HTML and trace
    (``<data_dir>/artifacts``; bots.artifacts): the ops page shows them."""
    data_dir: Path | None = None
    """The fleet's data dir: its credential vault takes a password ops replace
    (written, never read back) and its keyring index says which are stored;
    None: the app cannot, and says to use ``fleet credentials set``."""


__all__ = ["WebConfig"]
