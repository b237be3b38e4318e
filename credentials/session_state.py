"""Saved browser session state (Playwright ``storage_state``), encrypted at rest.

One file per (portal, account) at
``<data_dir>/credentials/sessions/<portal>/<sha256(account)[:32]>.state``, mode
0600, written atomically. Contents: ``FLSS1`` magic, a 96-bit nonce and the
AES-256-GCM ciphertext of ``{"saved_at": ..., "state": {...}}``. The associated
data binds the file to its (portal, account), so a file copied to another
account's name fails authentication like a tampered one.

The 256-bit key lives in the keyring (vault-internal entry ``session-state-key``),
created on first use. A file that is missing, too big, tampered with, written
under another key or older than ``max_age`` loads as ``None``: the caller logs in
again. Unreadable files are reported as a warning with the path and the reason's
class, never content, and left for the next save to overwrite.

Cookie and localStorage values are registered with the log scrubber when state is
saved or loaded, so a session token that turns up in a log line is masked.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from credentials.keyring_vault import CredentialVault, validate_account, validate_portal
from credentials.registry import REGISTRY
from credentials.secret import Secret

__all__ = ["MAX_STATE_BYTES", "SavedSession", "SessionStore", "session_file"]

log = structlog.get_logger(__name__)

MAGIC = b"FLSS1"
NONCE_BYTES = 12
KEY_NAME = "session-state-key"
MAX_STATE_BYTES = 20 * 1024 * 1024  # storage_state with big localStorage stays far below
MIN_COOKIE_REGISTER = 8  # shorter cookie values are flags ("1", "en"), not tokens
MIN_STORAGE_REGISTER = 16


@dataclass(frozen=True, slots=True)
class SavedSession:
    """A loaded storage_state and when it was saved (UTC)."""

    state: dict[str, Any]
    saved_at: datetime

    def age(self, now: datetime | None = None) -> timedelta:
        return max((now or datetime.now(UTC)) - self.saved_at, timedelta(0))

    def __repr__(self) -> str:  # the state holds session cookies
        return f"SavedSession(saved_at={self.saved_at.isoformat()}, state=<{len(self.state)} keys>)"


def _register_state_values(state: Mapping[str, Any]) -> None:
    cookies = state.get("cookies")
    if isinstance(cookies, list):
        for c in cookies:
            value = c.get("value") if isinstance(c, dict) else None
            if isinstance(value, str) and len(value) >= MIN_COOKIE_REGISTER:
                REGISTRY.register(value)
    origins = state.get("origins")
    if isinstance(origins, list):
        for o in origins:
            items = o.get("localStorage") if isinstance(o, dict) else None
            for item in items if isinstance(items, list) else []:
                value = item.get("value") if isinstance(item, dict) else None
                if isinstance(value, str) and len(value) >= MIN_STORAGE_REGISTER:
                    REGISTRY.register(value)


def _path_in(directory: Path, portal: str, account: str) -> Path:
    portal, account = validate_portal(portal), validate_account(account)
    digest = hashlib.sha256(f"{portal}\0{account}".encode()).hexdigest()[:32]
    return directory / portal / f"{digest}.state"


def session_file(data_dir: Path, portal: str, account: str) -> Path:
    """Where the default store keeps (portal, account)'s session; no keyring needed."""
    return _path_in(Path(data_dir) / "credentials" / "sessions", portal, account)


class SessionStore:
    """save / load / delete encrypted storage_state per (portal, account).

    Thread-safe; safe across processes (atomic replace: a reader sees the old file
    or the new one, never half of one). ``save`` and ``delete`` are idempotent.
    """

    def __init__(self, vault: CredentialVault, directory: Path | None = None) -> None:
        self.vault = vault
        self.dir = directory if directory is not None else vault.dir / "sessions"
        self._aead: AESGCM | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<SessionStore dir={self.dir}>"

    # ---------------------------------------------------------------- internals
    def _cipher(self) -> AESGCM:
        with self._lock:
            if self._aead is None:
                key = self.vault.get_or_create_internal(
                    KEY_NAME,
                    lambda: Secret(base64.urlsafe_b64encode(AESGCM.generate_key(256)).decode()),
                )
                raw = base64.urlsafe_b64decode(key.reveal())
                if len(raw) != 32:
                    raise ValueError("the session-state key in the keyring is malformed")
                self._aead = AESGCM(raw)
            return self._aead

    def path_for(self, portal: str, account: str) -> Path:
        return _path_in(self.dir, portal, account)

    @staticmethod
    def _aad(portal: str, account: str) -> bytes:
        return MAGIC + f"{portal}\0{account}".encode()

    # ---------------------------------------------------------------- public API
    def save(
        self, portal: str, account: str, state: Mapping[str, Any], *, now: datetime | None = None
    ) -> Path:
        """Encrypt and store ``state`` (a Playwright storage_state dict), replacing any."""
        portal, account = validate_portal(portal), validate_account(account)
        if not isinstance(state, Mapping):
            raise TypeError("state must be a storage_state mapping")
        saved_at = (now or datetime.now(UTC)).astimezone(UTC)
        plain = json.dumps(
            {"v": 1, "saved_at": saved_at.isoformat(), "state": dict(state)},
            separators=(",", ":"),
        ).encode("utf-8")
        if len(plain) > MAX_STATE_BYTES:
            raise ValueError(f"session state is larger than {MAX_STATE_BYTES} bytes")
        _register_state_values(state)
        nonce = os.urandom(NONCE_BYTES)
        blob = MAGIC + nonce + self._cipher().encrypt(nonce, plain, self._aad(portal, account))
        path = self.path_for(portal, account)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return path

    def load_entry(
        self,
        portal: str,
        account: str,
        *,
        max_age: timedelta | None = None,
        now: datetime | None = None,
    ) -> SavedSession | None:
        """The saved session, or None if absent, unreadable or older than ``max_age``."""
        path = self.path_for(portal, account)
        portal, account = validate_portal(portal), validate_account(account)
        try:
            with path.open("rb") as fh:
                blob = fh.read(MAX_STATE_BYTES + 1024)
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._unreadable(path, portal, account, type(exc).__name__)
            return None
        header = len(MAGIC) + NONCE_BYTES
        if len(blob) <= header or not blob.startswith(MAGIC) or len(blob) > MAX_STATE_BYTES + 64:
            self._unreadable(path, portal, account, "bad-format")
            return None
        nonce, body = blob[len(MAGIC) : header], blob[header:]
        try:
            plain = self._cipher().decrypt(nonce, body, self._aad(portal, account))
        except InvalidTag:
            self._unreadable(path, portal, account, "authentication-failed")
            return None
        try:
            payload = json.loads(plain)
            state = payload["state"]
            saved_at = datetime.fromisoformat(payload["saved_at"])
            if not isinstance(state, dict) or saved_at.tzinfo is None:
                raise TypeError("unexpected payload shape")
        except (ValueError, KeyError, TypeError) as exc:
            self._unreadable(path, portal, account, type(exc).__name__)
            return None
        _register_state_values(state)
        entry = SavedSession(state=state, saved_at=saved_at)
        if max_age is not None and entry.age(now) > max_age:
            log.info(
                "saved session is stale",
                portal=portal,
                account=account,
                age_s=int(entry.age(now).total_seconds()),
            )
            return None
        return entry

    def load(
        self,
        portal: str,
        account: str,
        *,
        max_age: timedelta | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any] | None:
        """The storage_state dict for ``browser.new_context(storage_state=...)``, or None."""
        entry = self.load_entry(portal, account, max_age=max_age, now=now)
        return None if entry is None else entry.state

    def exists(self, portal: str, account: str) -> bool:
        """Whether a file is there (it may still fail to load)."""
        return self.path_for(portal, account).is_file()

    def delete(self, portal: str, account: str) -> bool:
        """Drop the saved session (logout, bad credentials, rotation). Idempotent."""
        path = self.path_for(portal, account)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        log.info("saved session deleted", portal=validate_portal(portal), account=account)
        return True

    @staticmethod
    def _unreadable(path: Path, portal: str, account: str, reason: str) -> None:
        log.warning(
            "saved session unreadable; treating it as absent",
            portal=portal,
            account=account,
            path=str(path),
            reason=reason,
        )
