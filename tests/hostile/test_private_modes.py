"""Least privilege on disk: after a `fleet run` (started with the usual umask
022, on a data dir an older version made 0755), every folder the fleet
created or uses under its data dir is 0700 and every file 0600: the
database, the log, the keyring, the vault, the locks."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path


def test_fleet_run_leaves_the_data_dir_0700_and_its_files_0600(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    key = tmp_path / "keyring.key"
    key.write_text(secrets.token_urlsafe(32))
    key.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
    env.update(
        {
            "FLEET_DATA_DIR": str(data_dir),
            "FLEET_CONFIG": str(tmp_path / "absent.toml"),
            "FLEET_KEYRING_BACKEND": "file",
            "FLEET_KEYRING_KEY_FILE": str(key),
        }
    )
    done = subprocess.run(
        [sys.executable, "-m", "fleet.cli", "run", "--task", "match"],
        env=env,
        capture_output=True,
        umask=0o022,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    modes = {
        str(p.relative_to(tmp_path)): oct(stat.S_IMODE(p.stat().st_mode))
        for p in [data_dir, *data_dir.rglob("*")]
    }
    assert {"data/fleet.db", "data/logs/fleet.jsonl", "data/vault"} <= set(modes)
    wrong = {
        name: mode
        for name, mode in modes.items()
        if mode != ("0o700" if (tmp_path / name).is_dir() else "0o600")
    }
    assert wrong == {}
