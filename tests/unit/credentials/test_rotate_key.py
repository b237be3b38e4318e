"""`fleet credentials rotate-key`: the encrypted file keyring is re-encrypted
under a new key (a key file made 0600 for it); afterwards the old key no
longer opens it, the new one reads every secret and the session-state key,
and a saved browser session still loads."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from credentials.backends import VaultLockedError, open_cryptfile
from credentials.keyring_vault import CredentialVault, SecretKind
from credentials.secret import Secret
from credentials.session_state import SessionStore
from fleet.commands.credentials import app

from .conftest import MASTER

runner = CliRunner()


@pytest.mark.slow
def test_rotate_key_moves_every_secret_under_the_new_key(cli_env: Path, tmp_path: Path) -> None:
    keyring = cli_env / "credentials" / "keyring.cfg"
    vault = CredentialVault(open_cryptfile(keyring, Secret(MASTER)), cli_env)
    vault.set("megamart", "ap@acme", Secret("pw-rotate-1"), SecretKind.PASSWORD)
    vault.set("freshco", "ACME1", Secret("pw-rotate-2"), SecretKind.PASSWORD)
    vault.set("freshco", "ACME1", Secret("answer rotate"), SecretKind.SECURITY_ANSWER)
    SessionStore(vault).save("megamart", "ap@acme", {"cookies": [], "origins": []})

    new_key = tmp_path / "keys" / "keyring.key"
    r = runner.invoke(app, ["rotate-key", "--new-key-file", str(new_key)])
    assert r.exit_code == 0, r.output
    assert "4 secret(s)" in r.output  # three secrets and the session-state key
    assert stat.S_IMODE(new_key.stat().st_mode) == 0o600
    assert not keyring.with_name("keyring.cfg.new").exists()

    with pytest.raises(VaultLockedError):
        open_cryptfile(keyring, Secret(MASTER))
    rotated = CredentialVault(open_cryptfile(keyring, Secret(new_key.read_text().strip())), cli_env)
    login = rotated.login("freshco", "ACME1")
    assert login.password.reveal() == "pw-rotate-2"
    assert login.security_answer is not None
    assert login.security_answer.reveal() == "answer rotate"
    assert rotated.login("megamart", "ap@acme").password.reveal() == "pw-rotate-1"
    assert SessionStore(rotated).load("megamart", "ap@acme") is not None


def test_rotate_key_refuses_a_key_file_others_can_read(cli_env: Path, tmp_path: Path) -> None:
    loose = tmp_path / "loose.key"
    loose.write_text("a-key-that-is-long-enough-0123456789")
    loose.chmod(0o644)
    before = (cli_env / "credentials" / "keyring.cfg").exists()
    r = runner.invoke(app, ["rotate-key", "--new-key-file", str(loose)])
    assert r.exit_code == 1  # a keyring configuration error, as for every command
    assert "refusing a key others can read" in r.output
    assert (cli_env / "credentials" / "keyring.cfg").exists() == before
