"""The credential vault: per (portal, account) secrets in the keyring.

Layout in the keyring (service, username):

* password: ``("deductions-fleet/<portal>", "<account>")`` - what a person sees in
  a desktop keyring;
* other kinds: ``("deductions-fleet/<portal>#<kind>", "<account>")`` with kind
  ``totp``, ``security-answer`` or ``api-key``;
* vault-internal keys (the session-state key): ``("deductions-fleet/_internal",
  "<name>")``. Portal slugs cannot start with ``_``, so no portal collides.

Many keyrings cannot enumerate their entries, so the vault keeps an index of
accounts and *which* kinds are stored (never values) in
``<data_dir>/credentials/accounts.json`` (mode 0600). :meth:`CredentialVault.list`
reads only the index, so it needs no unlocking.

Every operation takes a file lock (shared for reads, exclusive for writes) so a
CLI rotation and a bot login in other processes never see a half-written
encrypted keyring file or a stale index. All operations are idempotent.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import structlog
from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, PasswordDeleteError

from credentials.backends import SALT_SUFFIX, backend_name, open_cryptfile, select_backend
from credentials.login import Login, NoPassword
from credentials.registry import REGISTRY
from credentials.secret import Secret
from credentials.totp import normalize_totp_secret
from records.filelock import locked

__all__ = [
    "SERVICE_PREFIX",
    "AccountEntry",
    "CredentialInputError",
    "CredentialVault",
    "SecretKind",
    "VaultError",
    "get_vault",
    "list_accounts",
    "validate_account",
    "validate_portal",
]

log = structlog.get_logger(__name__)

SERVICE_PREFIX = "deductions-fleet"
INTERNAL_SERVICE = f"{SERVICE_PREFIX}/_internal"
INTERNAL_NAMES = ("session-state-key",)
"""The vault-internal keys (credentials/session_state.py), moved by rotate-key."""
INDEX_NAME = "accounts.json"
LOCK_NAME = ".lock"
MAX_SECRET_CHARS = 4096

_PORTAL_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


class SecretKind(StrEnum):
    PASSWORD = "password"
    TOTP = "totp"
    SECURITY_ANSWER = "security-answer"
    API_KEY = "api-key"


class CredentialInputError(ValueError):
    """A portal, account or secret the vault will not store; the message says why."""


class VaultError(RuntimeError):
    """The keyring backend failed; the message names the backend, never a value."""


def validate_portal(portal: str) -> str:
    """The portal slug, lower-cased; raises :class:`CredentialInputError`."""
    slug = portal.strip().lower()
    if not _PORTAL_RE.fullmatch(slug):
        raise CredentialInputError(
            f"portal must be a slug (a-z, 0-9, '-', '_'; up to 63 characters), not {portal[:80]!r}"
        )
    return slug


def validate_account(account: str) -> str:
    """The account name as given; raises :class:`CredentialInputError`."""
    if not account or not account.strip():
        raise CredentialInputError("account is empty")
    if account != account.strip():
        raise CredentialInputError("account has leading or trailing spaces")
    if len(account) > 256:
        raise CredentialInputError("account is longer than 256 characters")
    if _CONTROL_RE.search(account):
        raise CredentialInputError("account contains control characters")
    return account


def _service(portal: str, kind: SecretKind) -> str:
    base = f"{SERVICE_PREFIX}/{portal}"
    return base if kind is SecretKind.PASSWORD else f"{base}#{kind.value}"


@dataclass(frozen=True, slots=True)
class AccountEntry:
    """One account as :meth:`CredentialVault.list` shows it: names, no values."""

    portal: str
    account: str
    kinds: frozenset[SecretKind]
    updated_at: datetime | None = None

    def has(self, kind: SecretKind) -> bool:
        return kind in self.kinds


class CredentialVault:
    """get / set / delete / list secrets per (portal, account) in one keyring backend."""

    def __init__(self, backend: KeyringBackend, data_dir: Path) -> None:
        self.backend = backend
        self.dir = Path(data_dir) / "credentials"
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._index_path = self.dir / INDEX_NAME

    def __repr__(self) -> str:
        return f"<CredentialVault backend={backend_name(self.backend)} dir={self.dir}>"

    @classmethod
    def open(cls, data_dir: Path) -> CredentialVault:
        """A vault on the backend :func:`select_backend` picks for ``data_dir``.

        The data dir is handed down by the composition root (fleet/), which read
        the settings. Opening the encrypted file backend costs one Argon2id
        derivation; prefer :func:`get_vault`, which opens once per process.
        """
        return cls(select_backend(Path(data_dir)), Path(data_dir))

    def _locked(self, exclusive: bool) -> contextlib.AbstractContextManager[None]:
        return _dir_lock(self.dir, exclusive)

    # ------------------------------------------------------------------ keyring calls
    def _kr_get(self, service: str, account: str) -> str | None:
        try:
            return self.backend.get_password(service, account)
        except (KeyringError, ValueError, OSError) as exc:
            raise self._backend_error("read", exc) from None

    def _kr_set(self, service: str, account: str, value: str) -> None:
        try:
            self.backend.set_password(service, account, value)
        except (KeyringError, ValueError, OSError) as exc:
            raise self._backend_error("write", exc) from None

    def _kr_delete(self, service: str, account: str) -> bool:
        try:
            self.backend.delete_password(service, account)
        except PasswordDeleteError:
            return False
        except (KeyringError, ValueError, OSError) as exc:
            raise self._backend_error("delete", exc) from None
        return True

    def _backend_error(self, what: str, exc: BaseException) -> VaultError:
        detail = REGISTRY.scrub(str(exc))[:200]
        return VaultError(
            f"keyring backend {backend_name(self.backend)} failed to {what}: "
            f"{type(exc).__name__}: {detail}"
        )

    # ------------------------------------------------------------------ index
    def _read_index(self) -> dict[str, dict[str, dict[str, object]]]:
        return _read_index(self._index_path)

    def _write_index(self, accounts: dict[str, dict[str, dict[str, object]]]) -> None:
        body = json.dumps({"version": 1, "accounts": accounts}, indent=2, sort_keys=True)
        tmp = self._index_path.with_name(f".{INDEX_NAME}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self._index_path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    def _index_update(
        self, portal: str, account: str, add: set[SecretKind], remove: set[SecretKind]
    ) -> None:
        accounts = self._read_index()
        per_portal = accounts.get(portal)
        if not isinstance(per_portal, dict):
            per_portal = accounts[portal] = {}
        entry = per_portal.get(account)
        old = _kinds(entry.get("kinds")) if isinstance(entry, dict) else frozenset()
        kinds = (set(old) | add) - remove
        if kinds:
            per_portal[account] = {
                "kinds": sorted(k.value for k in kinds),
                "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        else:
            per_portal.pop(account, None)
        if not per_portal:
            accounts.pop(portal, None)
        self._write_index(accounts)

    # ------------------------------------------------------------------ public API
    def get(
        self, portal: str, account: str, kind: SecretKind = SecretKind.PASSWORD
    ) -> Secret | None:
        """The stored secret, or None. Costs one key derivation on the file backend."""
        portal, account = validate_portal(portal), validate_account(account)
        with self._locked(exclusive=False):
            value = self._kr_get(_service(portal, kind), account)
        return None if value is None else Secret(value)

    def set(
        self, portal: str, account: str, secret: Secret, kind: SecretKind = SecretKind.PASSWORD
    ) -> None:
        """Store (or replace) one secret. TOTP secrets are validated and normalised."""
        portal, account = validate_portal(portal), validate_account(account)
        if not isinstance(secret, Secret):
            raise TypeError("pass the value as a Secret")
        if kind is SecretKind.TOTP:
            secret = normalize_totp_secret(secret)
        value = secret.reveal()
        if not value:
            raise CredentialInputError(f"the {kind.value} is empty")
        if len(value) > MAX_SECRET_CHARS:
            raise CredentialInputError(f"the {kind.value} is longer than {MAX_SECRET_CHARS}")
        with self._locked(exclusive=True):
            self._kr_set(_service(portal, kind), account, value)
            self._index_update(portal, account, add={kind}, remove=set())
        log.info("credential stored", portal=portal, account=account, kind=kind.value)

    def delete(self, portal: str, account: str, kind: SecretKind | None = None) -> list[SecretKind]:
        """Remove one kind, or every kind when ``kind`` is None; returns what was removed.

        Idempotent: deleting what is not there removes nothing and is not an error.
        """
        portal, account = validate_portal(portal), validate_account(account)
        kinds = list(SecretKind) if kind is None else [kind]
        removed: list[SecretKind] = []
        with self._locked(exclusive=True):
            for k in kinds:
                if self._kr_delete(_service(portal, k), account):
                    removed.append(k)
            self._index_update(portal, account, add=set(), remove=set(kinds))
        if removed:
            log.info(
                "credential deleted",
                portal=portal,
                account=account,
                kinds=[k.value for k in removed],
            )
        return removed

    def list(self, portal: str | None = None) -> list[AccountEntry]:
        """Accounts and which kinds they have, from the index (no values, no unlock)."""
        return list_accounts(self.dir.parent, portal)

    def entry(self, portal: str, account: str) -> AccountEntry | None:
        """The index entry for one account, or None."""
        portal, account = validate_portal(portal), validate_account(account)
        for e in self.list(portal):
            if e.account == account:
                return e
        return None

    def login(self, portal: str, account: str) -> Login:
        """Every stored secret of one account, for an adapter's login; raises
        NoPassword when no password is stored.

        Reads only the kinds the index lists (one key derivation each on the file
        backend); falls back to trying every kind when the index does not know the
        account (entries written by another tool).
        """
        portal, account = validate_portal(portal), validate_account(account)
        known = self.entry(portal, account)
        kinds = known.kinds if known is not None else frozenset(SecretKind)
        values: dict[SecretKind, Secret] = {}
        with self._locked(exclusive=False):
            for k in kinds:
                value = self._kr_get(_service(portal, k), account)
                if value is not None:
                    values[k] = Secret(value)
        password = values.get(SecretKind.PASSWORD)
        if password is None:
            raise NoPassword(f"no password stored for {portal}/{account}")
        return Login(
            portal=portal,
            username=account,
            password=password,
            totp_secret=values.get(SecretKind.TOTP),
            security_answer=values.get(SecretKind.SECURITY_ANSWER),
            api_key=values.get(SecretKind.API_KEY),
        )

    def get_or_create_internal(self, name: str, make: Callable[[], Secret]) -> Secret:
        """A vault-internal key (e.g. the session-state key), made once under the lock.

        Two processes racing on first use get the same key: the loser reads what
        the winner wrote.
        """
        with self._locked(exclusive=False):
            value = self._kr_get(INTERNAL_SERVICE, name)
        if value is None:
            with self._locked(exclusive=True):
                value = self._kr_get(INTERNAL_SERVICE, name)
                if value is None:
                    value = make().reveal()
                    self._kr_set(INTERNAL_SERVICE, name, value)
        return Secret(value)

    def rotate_file_key(self, new_key: Secret) -> int:
        """Re-encrypt the encrypted file keyring under ``new_key``; returns how
        many secrets moved. Every secret (each account's, and the internal
        session-state key) is written to a new file under the new key, read
        back, and the new file replaces the old one in one rename: a failure
        midway leaves the old file as it was. Only for the file backend: a
        host keyring rotates its own key."""
        path = getattr(self.backend, "file_path", None)
        if not path or not hasattr(self.backend, "keyring_key"):
            raise VaultError(
                f"rotate-key applies to the encrypted file keyring; {backend_name(self.backend)} "
                "keeps its own key (rotate it with the host's tools)"
            )
        old_file = Path(path)
        new_file = old_file.with_name(old_file.name + ".new")
        old_salt, new_salt = (f.with_name(f.name + SALT_SUFFIX) for f in (old_file, new_file))
        with self._locked(exclusive=True):
            entries: list[tuple[str, str]] = [(INTERNAL_SERVICE, n) for n in INTERNAL_NAMES]
            for portal, accounts in self._read_index().items():
                for account, entry in accounts.items():
                    kinds = _kinds(entry.get("kinds")) if isinstance(entry, dict) else ()
                    entries += [(_service(portal, k), account) for k in kinds]
            values = {e: v for e in entries if (v := self._kr_get(*e)) is not None}
            new_file.unlink(missing_ok=True)
            new_salt.unlink(missing_ok=True)  # a fresh salt for the new key
            fresh = open_cryptfile(new_file, new_key)
            for (service, account), value in values.items():
                fresh.set_password(service, account, value)
            reread = open_cryptfile(new_file, new_key)
            if any(reread.get_password(*e) != v for e, v in values.items()):
                new_file.unlink(missing_ok=True)
                raise VaultError("the re-encrypted keyring did not read back; nothing changed")
            os.replace(new_file, old_file)
            if new_salt.exists():  # entries carry their salt: either order reads
                os.replace(new_salt, old_salt)
            self.backend = open_cryptfile(old_file, new_key)
        return len(values)


@contextlib.contextmanager
def _dir_lock(directory: Path, exclusive: bool) -> Iterator[None]:
    """An flock on ``<directory>/.lock``: shared for reads, exclusive for writes.

    Not re-entrant: never nest two of these in one thread.
    """
    with locked(directory / LOCK_NAME, shared=not exclusive):
        yield


def _read_index(path: Path) -> dict[str, dict[str, dict[str, object]]]:
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        data = json.loads(raw)
        accounts = data["accounts"]
        if not isinstance(accounts, dict):
            raise TypeError("accounts is not an object")
    except (ValueError, KeyError, TypeError) as exc:
        log.warning(
            "credential index unreadable; treating as empty",
            path=str(path),
            error=type(exc).__name__,
        )
        return {}
    return accounts


def list_accounts(data_dir: Path, portal: str | None = None) -> list[AccountEntry]:
    """The index of ``data_dir``: accounts and which kinds they have. Needs no keyring."""
    wanted = None if portal is None else validate_portal(portal)
    directory = Path(data_dir) / "credentials"
    if not directory.is_dir():
        return []
    with _dir_lock(directory, exclusive=False):
        accounts = _read_index(directory / INDEX_NAME)
    out: list[AccountEntry] = []
    for p, per_portal in accounts.items():
        if (wanted is not None and p != wanted) or not isinstance(per_portal, dict):
            continue
        for acct, entry in per_portal.items():
            if not isinstance(entry, dict):
                continue
            out.append(
                AccountEntry(
                    p, acct, _kinds(entry.get("kinds")), _parse_time(entry.get("updated_at"))
                )
            )
    out.sort(key=lambda e: (e.portal, e.account))
    return out


def _kinds(value: object) -> frozenset[SecretKind]:
    if not isinstance(value, list):
        return frozenset()
    return frozenset(SecretKind(k) for k in value if k in SecretKind._value2member_map_)


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


_VAULTS: dict[Path, CredentialVault] = {}
_VAULTS_LOCK = threading.Lock()


def get_vault(data_dir: Path) -> CredentialVault:
    """The process's vault for ``data_dir``, opened once."""
    key = Path(data_dir).resolve()
    with _VAULTS_LOCK:
        vault = _VAULTS.get(key)
        if vault is None:
            vault = _VAULTS[key] = CredentialVault.open(key)
        return vault
