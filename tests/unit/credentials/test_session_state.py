from __future__ import annotations

import shutil
import stat
from datetime import UTC, datetime, timedelta

import pytest
from structlog.testing import capture_logs

from credentials.keyring_vault import CredentialVault
from credentials.session_state import SessionStore

COOKIE = "sid-9c1e77b0d4f24c0fa1"
LOCAL = "jwt.eyJhbGciOiJIUzI1NiJ9.local-storage-value"
STATE = {
    "cookies": [{"name": "sid", "value": COOKIE, "domain": "megamart.test", "path": "/"}],
    "origins": [
        {"origin": "https://megamart.test", "localStorage": [{"name": "t", "value": LOCAL}]}
    ],
}
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def store(vault: CredentialVault) -> SessionStore:
    return SessionStore(vault)


def test_round_trip_encrypted_at_rest(store: SessionStore) -> None:
    path = store.save("megamart", "ap@acme.example", STATE, now=T0)
    data = path.read_bytes()
    assert COOKIE.encode() not in data
    assert LOCAL.encode() not in data
    assert b"megamart.test" not in data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    entry = store.load_entry("megamart", "ap@acme.example")
    assert entry is not None
    assert entry.state == STATE
    assert entry.saved_at == T0
    assert COOKIE not in repr(entry)
    assert store.load("megamart", "ap@acme.example") == STATE


def test_stale_state_is_absent(store: SessionStore) -> None:
    store.save("megamart", "stale", STATE, now=T0)
    later = T0 + timedelta(hours=13)
    assert store.load("megamart", "stale", max_age=timedelta(hours=12), now=later) is None
    assert store.load("megamart", "stale", max_age=timedelta(hours=14), now=later) == STATE


def test_tampered_or_moved_file_is_absent_with_a_warning(store: SessionStore) -> None:
    path = store.save("megamart", "tamper", STATE)
    blob = bytearray(path.read_bytes())
    blob[-5] ^= 0x01
    path.write_bytes(bytes(blob))
    with capture_logs() as events:
        assert store.load("megamart", "tamper") is None
    assert events[0]["log_level"] == "warning"
    assert events[0]["reason"] == "authentication-failed"
    assert COOKIE not in repr(events)

    # a valid file copied to another account's name does not authenticate there
    good = store.save("megamart", "owner", STATE)
    shutil.copyfile(good, store.path_for("megamart", "thief"))
    assert store.load("megamart", "thief") is None

    store.path_for("megamart", "garbage").write_bytes(b"not a session file")
    assert store.load("megamart", "garbage") is None


def test_delete_is_idempotent(store: SessionStore) -> None:
    store.save("megamart", "bye", STATE)
    assert store.exists("megamart", "bye")
    assert store.delete("megamart", "bye") is True
    assert store.delete("megamart", "bye") is False
    assert store.load("megamart", "bye") is None


def test_key_is_created_once_and_shared(vault: CredentialVault, store: SessionStore) -> None:
    store.save("megamart", "shared", STATE)
    other = SessionStore(vault)  # a second store (another worker) reads the same key
    assert other.load("megamart", "shared") == STATE
