"""Each keyring entry's key is derived once per process: the encrypted file
keyring costs one Argon2id derivation (~0.3-0.4 s of CPU) per entry it
decrypts, and a job, a worker or the web app reads the same secrets again and
again. The second and later reads of a secret cost no derivation, in the
vault that read it first or in another one opened on the same file."""

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
    vault = CredentialVault(open_cryptfile(path, Secret(MASTER)), tmp_path)
    other = CredentialVault(open_cryptfile(path, Secret(MASTER)), tmp_path)

    first = _cpu(lambda: other.login("megamart", "acme"))
    again = _cpu(lambda: [other.login("megamart", "acme") for _ in range(5)])
    elsewhere = _cpu(lambda: vault.login("megamart", "acme"))
    assert other.login("megamart", "acme").password.reveal() == "pw-1"
    assert first > 0.05  # one derivation happened (this machine: ~0.3 s)
    assert again < first / 2, (first, again)
    assert elsewhere < first / 2, (first, elsewhere)
