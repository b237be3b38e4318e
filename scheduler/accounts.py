"""Letting an account run again: the rule ``fleet accounts enable`` and the
web app's ops page share.

An account the portal refused (BadCredentials) was disabled so the fleet
would not lock it by trying again; it runs again once a person says so, and
only if the keyring holds a password for it. When the password is the same
one the portal refused (stored before the refusal), enabling still goes
through (a person may know the portal unlocked it) but says so
(``stale_password``). An account fleet.toml declares ``enabled = false`` or no
longer lists is the file's to change. The web app replaces the password in
the credential vault first (:func:`replace_password_and_enable`); the value
is never shown back, logged or stored anywhere but the keyring.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy.orm import Session

from credentials.keyring_vault import CredentialVault, SecretKind, list_accounts
from credentials.secret import Secret
from store.models import Account
from store.repositories.accounts import FILE_DISABLED_REASON, change_state, get, state_of

Refusal = Literal["unknown", "removed", "file_disabled", "no_password"]


class EnableRefused(ValueError):
    """The account may not be enabled; ``why`` says which rule refused."""

    def __init__(self, why: Refusal, message: str) -> None:
        super().__init__(message)
        self.why = why


@dataclass(frozen=True)
class Enabled:
    changed: bool
    """False: it was enabled already."""
    stale_password: bool
    """The portal refused this login and the stored password predates the refusal."""


def _account(session: Session, portal: str, username: str) -> Account:
    acct = get(session, portal, username)
    if acct is None:
        raise EnableRefused("unknown", f"no account {username} on {portal}")
    if state_of(acct) == "removed":
        raise EnableRefused("removed", f"{username} on {portal} is not in fleet.toml")
    if acct.disabled_reason == FILE_DISABLED_REASON:
        raise EnableRefused("file_disabled", "fleet.toml says enabled = false for it")
    return acct


def enable_account(
    session: Session, data_dir: Path, portal: str, username: str, *, actor: str
) -> Enabled:
    """Enable the account (audited, a health event), or raise EnableRefused."""
    acct = _account(session, portal, username)
    entry = next((e for e in list_accounts(data_dir, portal) if e.account == username), None)
    if not acct.enabled and (entry is None or not entry.has(SecretKind.PASSWORD)):
        raise EnableRefused("no_password", f"no password stored for {username} on {portal}")
    stale = False
    if not acct.enabled and "BadCredentials" in (acct.disabled_reason or "") and entry:
        refused = acct.updated_at.replace(microsecond=0)  # the index keeps whole seconds
        stale = entry.updated_at is None or entry.updated_at < refused
    changed = change_state(session, portal, username, True, None, actor=actor)
    return Enabled(changed, stale)


def replace_password_and_enable(
    session: Session,
    vault: CredentialVault,
    portal: str,
    username: str,
    password: Secret,
    *,
    actor: str,
) -> Enabled:
    """Store the new password in the keyring, then enable the account."""
    _account(session, portal, username)  # refuse before touching the keyring
    vault.set(portal, username, password)
    return enable_account(session, vault.dir.parent, portal, username, actor=actor)


__all__ = ["EnableRefused", "Enabled", "enable_account", "replace_password_and_enable"]
