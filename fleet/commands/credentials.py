"""``fleet credentials``: store, list, rotate and delete portal secrets.

Secrets are never taken on argv (they would sit in shell history and in
``/proc/<pid>/cmdline``). On a terminal they are prompted with hidden input; with
stdin not a terminal they are read one per line, so automation can pipe them::

    printf '%s\\n' "$PW" | fleet credentials set megamart ap@acme.example
    printf '%s\\n%s\\n' "$PW" "$TOTP" | fleet credentials set megamart ap@acme.example --totp

Lines come in the order password, TOTP secret, security answer, API key (only the
ones asked for). An empty password line keeps the stored password.

Exit codes: 0 done, 1 the vault or the stored state says no (not configured,
nothing stored), 2 bad input.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from credentials.session_state import SessionStore

from credentials.backends import ENV_KEY_FILE, ENV_PASSWORD, KeyringConfigError, read_master_key
from credentials.keyring_vault import (
    AccountEntry,
    CredentialInputError,
    CredentialVault,
    SecretKind,
    VaultError,
    list_accounts,
    validate_account,
    validate_portal,
)
from credentials.scrub import SecretScrubber, scrub_text
from credentials.secret import Secret
from credentials.totp import InvalidTotpSecretError, normalize_totp_secret, totp_code

app = typer.Typer(
    help="Portal credentials, kept in the keyring; never given on the command line.",
    no_args_is_help=True,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

MAX_LINE = 4096

PortalArg = Annotated[str, typer.Argument(help="Portal slug, e.g. megamart.")]
AccountArg = Annotated[str, typer.Argument(help="The login name on that portal.")]

_LABELS = {
    SecretKind.PASSWORD: "Password",
    SecretKind.TOTP: "TOTP secret (base32 or otpauth:// URI)",
    SecretKind.SECURITY_ANSWER: "Security answer",
    SecretKind.API_KEY: "API key",
}


class _Fail(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@contextmanager
def _errors() -> Iterator[None]:
    """Expected errors become one line on stderr and an exit code, no traceback."""
    try:
        yield
    except _Fail as exc:
        _die(str(exc), exc.code)
    except (CredentialInputError, InvalidTotpSecretError) as exc:
        _die(str(exc), 2)
    except (KeyringConfigError, VaultError) as exc:
        _die(str(exc), 1)


def _die(message: str, code: int) -> None:
    err.print(f"[red]error:[/] {escape(scrub_text(message))}", soft_wrap=True)
    raise typer.Exit(code)


@app.callback()
def _group() -> None:
    """Portal credentials, kept in the keyring; never given on the command line."""
    _quiet_logging_if_unconfigured()


def _quiet_logging_if_unconfigured() -> None:
    """Warnings (scrubbed) to stderr when nothing configured logging yet.

    The root command owns logging; this only keeps a bare ``fleet credentials``
    from printing info events on stdout, where the TOTP code goes.
    """
    import structlog

    if structlog.is_configured():
        return
    structlog.configure(
        processors=[
            SecretScrubber(),
            structlog.stdlib.add_log_level,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),  # stdlib's last resort: stderr
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def _data_dir() -> Path:
    """The data dir every other command uses: fleet.toml's, unless FLEET_DATA_DIR."""
    from fleet.config_loader import load_settings

    return load_settings().data_dir


def _vault() -> CredentialVault:
    return CredentialVault.open(_data_dir())


def _sessions(vault: CredentialVault) -> SessionStore:
    from credentials.session_state import SessionStore

    return SessionStore(vault)


def _stdin_is_tty() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _read_secret(label: str, *, confirm: bool = False) -> str:
    """One secret: hidden prompt on a terminal, else one line of stdin ('' at EOF)."""
    if _stdin_is_tty():
        value = typer.prompt(label, hide_input=True, default="", show_default=False)
        if value and confirm:
            again = typer.prompt("Repeat", hide_input=True, default="", show_default=False)
            if Secret(again, scrub=False) != Secret(value, scrub=False):
                raise _Fail("the two entries do not match; nothing stored", 2)
        return value
    line = sys.stdin.readline(MAX_LINE + 2)
    if len(line) > MAX_LINE and not line.endswith("\n"):
        raise _Fail(f"a secret line is longer than {MAX_LINE} characters", 2)
    return line.rstrip("\r\n")


@app.command("set")
def set_cmd(
    portal: PortalArg,
    account: AccountArg,
    totp: Annotated[bool, typer.Option("--totp", help="Also ask for the TOTP secret.")] = False,
    security_answer: Annotated[
        bool, typer.Option("--security-answer", help="Also ask for the security answer.")
    ] = False,
    api_key: Annotated[bool, typer.Option("--api-key", help="Also ask for an API key.")] = False,
) -> None:
    """Store secrets for an account (prompted; or one per line on stdin).

    An empty password keeps the stored one, so ``set P A --totp`` can add a TOTP
    secret to an existing account.
    """
    with _errors():
        portal, account = validate_portal(portal), validate_account(account)
        kinds = [SecretKind.PASSWORD]
        kinds += [SecretKind.TOTP] if totp else []
        kinds += [SecretKind.SECURITY_ANSWER] if security_answer else []
        kinds += [SecretKind.API_KEY] if api_key else []
        values: dict[SecretKind, Secret] = {}
        for kind in kinds:
            raw = _read_secret(
                f"{_LABELS[kind]} for {account} on {portal}",
                confirm=kind is SecretKind.PASSWORD,
            )
            if raw:
                values[kind] = Secret(raw)
            elif kind is not SecretKind.PASSWORD:
                raise _Fail(f"no {kind.value} given; nothing stored", 2)
        if not values:
            raise _Fail("no password given; nothing stored", 2)
        if SecretKind.TOTP in values:  # validate before opening the vault or storing anything
            values[SecretKind.TOTP] = normalize_totp_secret(values[SecretKind.TOTP])
        vault = _vault()
        for kind, value in values.items():
            vault.set(portal, account, value, kind)
        stored = ", ".join(k.value for k in values)
        out.print(f"stored {escape(stored)} for {escape(account)} on {escape(portal)}")


_COLUMNS = ("portal", "account", "password", "totp", "answer", "api key", "session", "updated")


def _row(data_dir: Path, e: AccountEntry) -> list[str]:
    from credentials.session_state import session_file

    def yes(flag: bool) -> str:
        return "yes" if flag else "-"

    return [
        e.portal,
        e.account,
        yes(e.has(SecretKind.PASSWORD)),
        yes(e.has(SecretKind.TOTP)),
        yes(e.has(SecretKind.SECURITY_ANSWER)),
        yes(e.has(SecretKind.API_KEY)),
        "saved" if session_file(data_dir, e.portal, e.account).is_file() else "-",
        e.updated_at.strftime("%Y-%m-%d") if e.updated_at else "-",
    ]


@app.command("list")
def list_cmd(
    portal: Annotated[
        str | None, typer.Argument(help="Only this portal.", show_default=False)
    ] = None,
) -> None:
    """Accounts and which secrets are stored (never the values). Needs no unlocking."""
    with _errors():
        data_dir = _data_dir()
        entries = list_accounts(data_dir, portal)
        if not entries:
            out.print("no credentials stored")
            return
        if not out.is_terminal:  # scripts get tab-separated lines
            typer.echo("\t".join(_COLUMNS))
            for e in entries:
                typer.echo("\t".join(_row(data_dir, e)))
            return
        table = Table()
        table.add_column("portal", no_wrap=True)
        table.add_column("account", overflow="fold", min_width=12)
        for name in _COLUMNS[2:]:
            table.add_column(name, no_wrap=True)
        for e in entries:
            table.add_row(*(escape(cell) for cell in _row(data_dir, e)))
        out.print(table)


@app.command("rotate")
def rotate_cmd(portal: PortalArg, account: AccountArg) -> None:
    """Replace the password, keep the other secrets, drop the saved session."""
    with _errors():
        portal, account = validate_portal(portal), validate_account(account)
        entry = list_accounts(_data_dir(), portal)
        if not any(e.account == account and e.has(SecretKind.PASSWORD) for e in entry):
            raise _Fail(
                f"no password stored for {account} on {portal}; use 'fleet credentials set'", 1
            )
        raw = _read_secret(f"New password for {account} on {portal}", confirm=True)
        if not raw:
            raise _Fail("no password given; nothing changed", 2)
        vault = _vault()
        vault.set(portal, account, Secret(raw), SecretKind.PASSWORD)
        dropped = _sessions(vault).delete(portal, account)
        note = "; saved session dropped" if dropped else ""
        out.print(f"password rotated for {escape(account)} on {escape(portal)}{note}")


@app.command("rotate-key")
def rotate_key_cmd(
    new_key_file: Annotated[
        Path,
        typer.Option(
            "--new-key-file",
            help="The new key: a file of its own, mode 0600 (made with a random key if absent).",
        ),
    ],
) -> None:
    """Re-encrypt the encrypted file keyring under a new key; then point
    FLEET_KEYRING_KEY_FILE at the new file. Stop the fleet's processes first."""
    import secrets

    with _errors():
        if not new_key_file.exists():
            new_key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(new_key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(32) + "\n")
        new_key = read_master_key({ENV_KEY_FILE: str(new_key_file)})
        if new_key is None:  # pragma: no cover - a key file always gives a key or an error
            raise _Fail("no key in the new key file", 2)
        moved = _vault().rotate_file_key(new_key)
        out.print(
            f"keyring re-encrypted: {moved} secret(s) under the key in {escape(str(new_key_file))}."
            f" Now set {ENV_KEY_FILE}={escape(str(new_key_file))} (and unset {ENV_PASSWORD})"
            " for every fleet process, then remove the old key."
        )


@app.command("delete")
def delete_cmd(
    portal: PortalArg,
    account: AccountArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask to confirm.")] = False,
) -> None:
    """Delete every secret and the saved session of an account. Idempotent."""
    with _errors():
        portal, account = validate_portal(portal), validate_account(account)
        if not yes:
            if not _stdin_is_tty():
                raise _Fail("refusing to delete without --yes when stdin is not a terminal", 2)
            if not typer.confirm(f"Delete every secret of {account} on {portal}?"):
                raise _Fail("nothing deleted", 1)
        vault = _vault()
        removed = vault.delete(portal, account)
        dropped = _sessions(vault).delete(portal, account)
        if not removed and not dropped:
            out.print(f"nothing stored for {escape(account)} on {escape(portal)}")
            return
        what = ", ".join(k.value for k in removed) or "nothing"
        note = " and the saved session" if dropped else ""
        out.print(f"deleted {escape(what)}{note} for {escape(account)} on {escape(portal)}")


@app.command("totp")
def totp_cmd(portal: PortalArg, account: AccountArg) -> None:
    """Print the current TOTP code and the seconds it stays valid (for a manual login)."""
    with _errors():
        portal, account = validate_portal(portal), validate_account(account)
        secret = _vault().get(portal, account, SecretKind.TOTP)
        if secret is None:
            raise _Fail(f"no TOTP secret stored for {account} on {portal}", 1)
        code = totp_code(secret, at=datetime.now(UTC), min_valid=0)
        out.print(f"{code.code.reveal()}  (valid for {int(code.valid_for)} s)")
