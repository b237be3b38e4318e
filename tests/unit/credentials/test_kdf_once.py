"""Key derivation happens once per process: every entry of the encrypted file
keyring is written with the file's one salt, so the Argon2id derivation
(~0.3-0.4 s of CPU) done to check the key when the keyring opens serves every
secret after it, in that vault or another one opened on the same file.
Entries written before (a salt each) still open, at one derivation each."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from credentials.backends import open_cryptfile
from credentials.keyring_vault import CredentialVault
from credentials.secret import Secret

MASTER = "another horse battery staple for kdf"
_WRITE = """
import sys
from pathlib import Path
from credentials.backends import open_cryptfile
from credentials.keyring_vault import CredentialVault, SecretKind
from credentials.secret import Secret
path, data, master = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
CredentialVault(open_cryptfile(path, Secret(master)), data).set(
    "megamart", "acme", Secret("pw-1"), SecretKind.PASSWORD
)
"""


def _cpu(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.process_time()
    fn()
    return time.process_time() - t


def test_a_secret_read_again_costs_no_key_derivation(tmp_path: Path) -> None:
    path = tmp_path / "credentials" / "keyring.cfg"
    subprocess.run(  # another process wrote it: this one has derived nothing for it
        [sys.executable, "-c", _WRITE, str(path), str(tmp_path), MASTER], check=True, timeout=120
    )
    opened: list[CredentialVault] = []
    unlock = _cpu(
        lambda: opened.append(CredentialVault(open_cryptfile(path, Secret(MASTER)), tmp_path))
    )
    other = opened[0]
    vault = CredentialVault(open_cryptfile(path, Secret(MASTER)), tmp_path)

    first = _cpu(lambda: other.login("megamart", "acme"))
    again = _cpu(lambda: [other.login("megamart", "acme") for _ in range(5)])
    elsewhere = _cpu(lambda: vault.login("megamart", "acme"))
    assert other.login("megamart", "acme").password.reveal() == "pw-1"
    assert unlock > 0.05  # the one derivation, checking the key (this machine: ~0.3 s)
    assert first < unlock / 2, (unlock, first)  # the entry shares the file's salt: no more
    assert again < unlock / 2, (unlock, again)
    assert elsewhere < unlock / 2, (unlock, elsewhere)


_WRITE_MANY = """
import sys
from pathlib import Path
from credentials.backends import open_cryptfile
from credentials.keyring_vault import CredentialVault, SecretKind
from credentials.secret import Secret
path, data, master = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
vault = CredentialVault(open_cryptfile(path, Secret(master)), data)
for portal, account in (("megamart", "acme"), ("shopright", "ar@acme"), ("freshco", "ACME1")):
    vault.set(portal, account, Secret("pw-" + portal), SecretKind.PASSWORD)
    vault.set(portal, account, Secret("JBSWY3DPEHPK3PXP"), SecretKind.TOTP)
"""


def test_a_process_derives_one_key_for_every_secret(tmp_path: Path) -> None:
    """Every entry is written with the keyring file's one salt, so a process
    that reads six secrets of three accounts derives one key, not six."""
    path = tmp_path / "credentials" / "keyring.cfg"
    one = tmp_path / "one"
    subprocess.run(
        [sys.executable, "-c", _WRITE, str(one / "keyring.cfg"), str(one), MASTER],
        check=True, timeout=120,
    )  # fmt: skip
    subprocess.run(
        [sys.executable, "-c", _WRITE_MANY, str(path), str(tmp_path), MASTER],
        check=True, timeout=120,
    )  # fmt: skip
    salt = path.with_name("keyring.cfg.salt")
    assert len(salt.read_bytes()) == 16
    assert oct(salt.stat().st_mode & 0o777) == "0o600"
    # the cost of one derivation, measured here: open and read one secret
    single = _cpu(
        lambda: CredentialVault(open_cryptfile(one / "keyring.cfg", Secret(MASTER)), one).login(
            "megamart", "acme"
        )
    )
    vault = CredentialVault(open_cryptfile(path, Secret(MASTER)), tmp_path)
    every = _cpu(
        lambda: [
            vault.login(p, a)
            for p, a in (("megamart", "acme"), ("shopright", "ar@acme"), ("freshco", "ACME1"))
        ]
    )
    assert vault.login("freshco", "ACME1").password.reveal() == "pw-freshco"
    assert every < 2 * single, (single, every)  # six secrets: one derivation (opening took it)


def test_entries_written_with_a_salt_each_still_open(tmp_path: Path) -> None:
    """A keyring written by keyrings.cryptfile itself (a salt per entry, as before
    the shared salt) opens and reads as it did."""
    from keyrings.cryptfile.cryptfile import CryptFileKeyring

    path = tmp_path / "credentials" / "keyring.cfg"
    path.parent.mkdir(parents=True)
    legacy = CryptFileKeyring()
    legacy.file_path = str(path)
    legacy.keyring_key = MASTER
    legacy.set_password("fleet:megamart:password", "acme", "pw-legacy")
    reopened = open_cryptfile(path, Secret(MASTER))
    assert reopened.get_password("fleet:megamart:password", "acme") == "pw-legacy"
    reopened.set_password("fleet:megamart:password", "other", "pw-new")
    assert (
        open_cryptfile(path, Secret(MASTER)).get_password("fleet:megamart:password", "other")
        == "pw-new"
    )
