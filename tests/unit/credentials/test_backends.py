from __future__ import annotations

import os
from pathlib import Path

import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail, null
from keyrings.cryptfile.file import PlaintextKeyring as CryptfilePlaintext

from credentials.backends import (
    ENV_KEY_FILE,
    ENV_PASSWORD,
    InsecureBackendError,
    KeyringConfigError,
    KeyringNotConfiguredError,
    VaultLockedError,
    ensure_secure,
    open_cryptfile,
    read_master_key,
    select_backend,
)
from credentials.secret import Secret


class PlaintextKeyring(KeyringBackend):
    """Stands in for keyrings.alt's plaintext file backend (not installed here)."""

    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise NotImplementedError

    def delete_password(self, service: str, username: str) -> None:
        raise NotImplementedError


PlaintextKeyring.__module__ = "keyrings.alt.file"


class HostKeyring(KeyringBackend):
    """An in-memory stand-in for a real host keyring (Secret Service, Keychain)."""

    priority = 5  # type: ignore[assignment]

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.data.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.data[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.data.pop((service, username))


@pytest.mark.parametrize(
    "backend", [fail.Keyring(), null.Keyring(), CryptfilePlaintext(), PlaintextKeyring()]
)
def test_insecure_backends_are_refused_with_the_fix(backend: KeyringBackend) -> None:
    with pytest.raises(InsecureBackendError) as info:
        ensure_secure(backend)
    message = str(info.value)
    assert "refusing keyring backend" in message
    assert ENV_KEY_FILE in message
    assert ENV_PASSWORD in message


def test_explicitly_configured_null_backend_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    with pytest.raises(InsecureBackendError, match=r"null\.Keyring"):
        select_backend(tmp_path, env={ENV_PASSWORD: "would otherwise work"})


def test_no_real_keyring_and_no_key_refuses_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(KeyringNotConfiguredError) as info:
        select_backend(tmp_path, env={}, host=fail.Keyring())
    assert "no secure keyring" in str(info.value)
    assert ENV_KEY_FILE in str(info.value)
    with pytest.raises(InsecureBackendError, match="system"):
        select_backend(tmp_path, env={"FLEET_KEYRING_BACKEND": "system"}, host=fail.Keyring())
    with pytest.raises(KeyringConfigError, match="auto, system or file"):
        select_backend(tmp_path, env={"FLEET_KEYRING_BACKEND": "plaintext"}, host=fail.Keyring())


def test_a_real_host_keyring_is_preferred(tmp_path: Path) -> None:
    host = HostKeyring()
    assert select_backend(tmp_path, env={ENV_PASSWORD: "x" * 20}, host=host) is host
    assert not (tmp_path / "credentials").exists()  # no file keyring made


def test_key_file_must_be_private(tmp_path: Path) -> None:
    key = tmp_path / "keyring.key"
    key.write_text("a long random passphrase\n", encoding="utf-8")
    os.chmod(key, 0o644)
    with pytest.raises(KeyringConfigError, match="chmod 600"):
        read_master_key({ENV_KEY_FILE: str(key)})
    os.chmod(key, 0o600)
    assert read_master_key({ENV_KEY_FILE: str(key)}) == Secret("a long random passphrase")
    with pytest.raises(KeyringConfigError, match="not both"):
        read_master_key({ENV_KEY_FILE: str(key), ENV_PASSWORD: "x"})
    with pytest.raises(KeyringConfigError, match="cannot read"):
        read_master_key({ENV_KEY_FILE: str(tmp_path / "missing")})
    key.write_text("\n", encoding="utf-8")
    with pytest.raises(KeyringConfigError, match="empty"):
        read_master_key({ENV_KEY_FILE: str(key)})
    assert read_master_key({}) is None


def test_file_backend_never_prompts_and_wrong_key_is_a_clear_error(
    vault_dir: Path, vault: object
) -> None:
    # The session vault created the file; opening it with another key must fail
    # with a message, not a getpass prompt (stdin is not a terminal under pytest).
    with pytest.raises(VaultLockedError, match="is not the one it was created with"):
        open_cryptfile(vault_dir / "credentials" / "keyring.cfg", Secret("wrong key entirely"))
