"""Fixtures for the credentials tests.

The encrypted file keyring costs one Argon2id derivation (~0.3 s) per unlock and
per read or write, so the suite shares one vault per session and keeps the number
of keyring operations small.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from credentials.backends import open_cryptfile
from credentials.keyring_vault import CredentialVault
from credentials.secret import Secret

MASTER = "correct horse battery staple 4 tests"


@pytest.fixture(autouse=True)
def _isolate_keyring_and_logging(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """No test reads the host's keyring config or leaves logging reconfigured."""
    cfg = tmp_path_factory.getbasetemp() / "xdg-config"
    cfg.mkdir(exist_ok=True)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(cfg))
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    for name in ("FLEET_KEYRING_BACKEND", "FLEET_KEYRING_PASSWORD", "FLEET_KEYRING_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    was_configured = structlog.is_configured()
    old_config = structlog.get_config()
    root = logging.getLogger()
    old_handlers, old_level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        if h not in old_handlers:
            root.removeHandler(h)
            h.close()
    root.setLevel(old_level)
    if was_configured:
        structlog.configure(**old_config)
    else:
        structlog.reset_defaults()


@pytest.fixture(scope="session")
def vault_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("vault-data")


@pytest.fixture(scope="session")
def vault(vault_dir: Path) -> CredentialVault:
    """One cryptfile-backed vault for the whole session (one unlock)."""
    backend = open_cryptfile(vault_dir / "credentials" / "keyring.cfg", Secret(MASTER))
    return CredentialVault(backend, vault_dir)


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data dir and an encrypted file keyring for CLI runs; returns the data dir."""
    data = tmp_path / "data"
    monkeypatch.setenv("FLEET_DATA_DIR", str(data))
    monkeypatch.setenv("FLEET_KEYRING_BACKEND", "file")
    monkeypatch.setenv("FLEET_KEYRING_PASSWORD", MASTER)
    monkeypatch.setenv("FLEET_CONFIG", str(tmp_path / "absent.toml"))
    return data
