from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pyotp
import pytest
import typer
from typer.testing import CliRunner

from credentials.backends import open_cryptfile
from credentials.keyring_vault import CredentialVault, SecretKind
from credentials.secret import Secret
from credentials.session_state import SessionStore
from fleet.commands.credentials import app

from .conftest import MASTER

PASSWORD = "cli-Pa55word-first"
NEW_PASSWORD = "cli-Pa55word-second"
TOTP = "KRSXG5CTMVRXEZLUKRSXG5CTCLITESTS"
ANSWER = "blue ferret cli"

runner = CliRunner()


def _vault(data: Path) -> CredentialVault:
    return CredentialVault(
        open_cryptfile(data / "credentials" / "keyring.cfg", Secret(MASTER)), data
    )


@pytest.mark.slow
def test_set_list_totp_rotate_delete(cli_env: Path) -> None:
    r = runner.invoke(
        app,
        ["set", "megamart", "ap@acme.example", "--totp", "--security-answer"],
        input=f"{PASSWORD}\n{TOTP}\n{ANSWER}\n",
    )
    assert r.exit_code == 0, r.output
    assert "stored password, totp, security-answer" in r.output
    for value in (PASSWORD, TOTP, ANSWER):
        assert value not in r.output

    r = runner.invoke(app, ["list"])
    assert r.exit_code == 0, r.output
    lines = [line.split("\t") for line in r.output.splitlines()]  # not a TTY: TSV
    assert lines[0][:6] == ["portal", "account", "password", "totp", "answer", "api key"]
    assert lines[1][:7] == ["megamart", "ap@acme.example", "yes", "yes", "yes", "-", "-"]
    for value in (PASSWORD, TOTP, ANSWER):
        assert value not in r.output

    r = runner.invoke(app, ["totp", "megamart", "ap@acme.example"])
    assert r.exit_code == 0, r.output
    code = r.output.split()[0]
    now = time.time()
    assert code in {pyotp.TOTP(TOTP).at(now + d) for d in (-30, 0)}
    assert "valid for" in r.output

    SessionStore(_vault(cli_env)).save("megamart", "ap@acme.example", {"cookies": []})
    r = runner.invoke(app, ["rotate", "megamart", "ap@acme.example"], input=f"{NEW_PASSWORD}\n")
    assert r.exit_code == 0, r.output
    assert "saved session dropped" in r.output
    vault = _vault(cli_env)
    assert vault.get("megamart", "ap@acme.example") == Secret(NEW_PASSWORD)
    entry = vault.entry("megamart", "ap@acme.example")
    assert entry is not None
    assert entry.kinds == {SecretKind.PASSWORD, SecretKind.TOTP, SecretKind.SECURITY_ANSWER}
    assert not SessionStore(vault).exists("megamart", "ap@acme.example")

    r = runner.invoke(app, ["delete", "megamart", "ap@acme.example"])
    assert r.exit_code == 2
    assert "--yes" in r.output
    r = runner.invoke(app, ["delete", "megamart", "ap@acme.example", "--yes"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["list"])
    assert "no credentials stored" in r.output


def test_expected_errors_are_one_line_without_traceback(cli_env: Path) -> None:
    r = runner.invoke(app, ["set", "Mega Mart", "a"], input="x\n")
    assert r.exit_code == 2
    assert r.output.startswith("error: portal must be a slug")
    assert "Traceback" not in r.output

    bad = "NOT-BASE32-!!SECRETISH"
    r = runner.invoke(app, ["set", "megamart", "a", "--totp"], input=f"pw-value-1\n{bad}\n")
    assert r.exit_code == 2
    assert "not base32" in r.output
    assert bad not in r.output

    r = runner.invoke(app, ["rotate", "megamart", "nobody"], input="x\n")
    assert r.exit_code == 1
    assert "no password stored" in r.output

    r = runner.invoke(app, ["set", "megamart", "a"], input="\n")
    assert r.exit_code == 2
    assert "nothing stored" in r.output


def test_unconfigured_keyring_exits_1_with_the_fix(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLEET_KEYRING_PASSWORD")
    r = runner.invoke(app, ["totp", "megamart", "a"])
    assert r.exit_code == 1
    assert "FLEET_KEYRING_KEY_FILE" in r.output
    assert "Traceback" not in r.output


def test_no_command_takes_a_value_option() -> None:
    """Secrets cannot reach argv: every option is a flag (or rotate-key's path to
    the new key's file, never a key), arguments are names."""
    group = typer.main.get_command(app)
    commands = group.commands  # type: ignore[attr-defined]
    assert set(commands) == {"set", "list", "rotate", "rotate-key", "delete", "totp"}
    for name, command in commands.items():
        for param in command.params:
            if (name, param.name) == ("rotate-key", "new_key_file"):
                continue  # a file's path; the key is read from it (test_rotate_key.py)
            if param.param_type_name == "option":
                assert param.is_flag or param.name == "help", (name, param.name)
            else:
                assert param.name in {"portal", "account"}, (name, param.name)


@pytest.mark.slow
def test_real_process_argv_never_carries_the_secret(cli_env: Path) -> None:
    secret = "argv-probe-Pa55word-77"
    env = {**os.environ}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleet.cli", "credentials", "set", "megamart", "probe"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        cmdline = b""
        deadline = time.monotonic() + 30
        while b"megamart" not in cmdline and time.monotonic() < deadline:  # exec() done?
            cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert b"megamart" in cmdline
        out, errs = proc.communicate(f"{secret}\n".encode(), timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, errs.decode()
    assert secret.encode() not in cmdline
    assert secret.encode() not in out + errs
    assert _vault(cli_env).get("megamart", "probe", SecretKind.PASSWORD) == Secret(secret)
