from __future__ import annotations

import stat
from pathlib import Path

import pytest

from credentials.keyring_vault import (
    CredentialInputError,
    CredentialVault,
    SecretKind,
    list_accounts,
)
from credentials.login import NoPassword
from credentials.secret import Secret
from credentials.totp import InvalidTotpSecretError

PASSWORD = "vault-Pa55word-1"
TOTP = "JBSWY3DPEHPK3PXPJBSWY3DPVAULTABC"
ANSWER = "the name of my first ferret"
API_KEY = "ak_live_0123456789abcdef"


def test_round_trip_on_the_encrypted_file_backend(vault: CredentialVault, vault_dir: Path) -> None:
    vault.set("megamart", "ap@acme.example", Secret(PASSWORD))
    vault.set("megamart", "ap@acme.example", Secret(TOTP.lower()), SecretKind.TOTP)
    vault.set("megamart", "ap@acme.example", Secret(ANSWER), SecretKind.SECURITY_ANSWER)
    vault.set("shipfast", "ops", Secret(API_KEY), SecretKind.API_KEY)

    creds = vault.login("megamart", "ap@acme.example")
    assert creds.password.reveal() == PASSWORD
    assert creds.totp_secret is not None
    assert creds.totp_secret.reveal() == TOTP  # normalised to upper case
    assert creds.security_answer is not None
    assert creds.security_answer.reveal() == ANSWER
    assert creds.api_key is None
    for value in (PASSWORD, TOTP, ANSWER):
        assert value not in repr(creds)

    # At rest: neither the keyring file nor the index holds a value.
    cfg = vault_dir / "credentials" / "keyring.cfg"
    index = vault_dir / "credentials" / "accounts.json"
    for path in (cfg, index):
        data = path.read_bytes()
        for value in (PASSWORD, TOTP, ANSWER, API_KEY):
            assert value.encode() not in data
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    # list shows accounts and kinds, never values, and needs no unlocking.
    entries = list_accounts(vault_dir)
    assert [(e.portal, e.account) for e in entries] == [
        ("megamart", "ap@acme.example"),
        ("shipfast", "ops"),
    ]
    assert entries[0].kinds == {SecretKind.PASSWORD, SecretKind.TOTP, SecretKind.SECURITY_ANSWER}
    assert entries[1].kinds == {SecretKind.API_KEY}
    assert vault.list("shipfast") == entries[1:]
    for value in (PASSWORD, TOTP, ANSWER, API_KEY):
        assert value not in repr(entries)

    # delete one kind, then everything; deleting again is not an error
    assert vault.delete("megamart", "ap@acme.example", SecretKind.SECURITY_ANSWER) == [
        SecretKind.SECURITY_ANSWER
    ]
    assert vault.get("megamart", "ap@acme.example", SecretKind.SECURITY_ANSWER) is None
    assert set(vault.delete("megamart", "ap@acme.example")) == {
        SecretKind.PASSWORD,
        SecretKind.TOTP,
    }
    assert vault.delete("megamart", "ap@acme.example") == []
    assert [e.portal for e in vault.list()] == ["shipfast"]
    assert vault.delete("shipfast", "ops") == [SecretKind.API_KEY]


def test_input_is_validated_before_touching_the_keyring(vault: CredentialVault) -> None:
    with pytest.raises(CredentialInputError, match="slug"):
        vault.set("Mega Mart!", "a", Secret("x" * 8))
    with pytest.raises(CredentialInputError, match="control"):
        vault.set("megamart", "a\nb", Secret("x" * 8))
    with pytest.raises(CredentialInputError, match="empty"):
        vault.set("megamart", "a", Secret(""))
    with pytest.raises(InvalidTotpSecretError):
        vault.set("megamart", "a", Secret("not base32 at all!"), SecretKind.TOTP)
    with pytest.raises(TypeError, match="Secret"):
        vault.set("megamart", "a", "plain str")  # type: ignore[arg-type]
    assert vault.entry("megamart", "a") is None


def test_corrupt_index_reads_as_empty(tmp_path: Path) -> None:
    (tmp_path / "credentials").mkdir()
    (tmp_path / "credentials" / "accounts.json").write_text("{not json", encoding="utf-8")
    assert list_accounts(tmp_path) == []
    assert list_accounts(tmp_path / "nowhere") == []


def test_a_login_needs_a_password_and_shows_no_secret(vault: CredentialVault) -> None:
    vault.set("megamart", "no-pass", Secret(TOTP), SecretKind.TOTP)
    with pytest.raises(NoPassword, match="megamart/no-pass"):
        vault.login("megamart", "no-pass")
    vault.set("megamart", "no-pass", Secret(PASSWORD))
    login = vault.login("megamart", "no-pass")
    assert repr(login) == (
        "Login(portal='megamart', username='no-pass', secrets=masked: password, totp)"
    )
    assert PASSWORD not in repr(login)
