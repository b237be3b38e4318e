"""A fleet killed with SIGKILL in the middle of a portal login leaves no
password or security answer in clear on disk: not in the system temp dir (the
browser's live trace, downloads and profile live under the data dir, mode
0700), not in the data dir (secret fills are never recorded in the trace), and
the next start sweeps the dead process's browser folder.

The freshco login types a password, then answers a security question; the
process group (fleet, Playwright's driver, Chromium) is killed right after
the portal received the answer, while the login is still going on."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.faults import FaultPlan
from fixtures.generator import generate
from fixtures.server import start_world
from fleet.demo import demo_keyring
from store.db import init_db, session_factory
from store.repositories import accounts as accounts_repo

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _blobs(root: Path) -> list[tuple[Path, bytes]]:
    """Every file's bytes under root, and each member of a zip (traces are zips)."""
    out = []
    for p in root.rglob("*"):
        if not p.is_file() or p.is_symlink():
            continue
        try:
            data = p.read_bytes()
        except OSError:
            continue
        out.append((p, data))
        if data.startswith(b"PK\x03\x04"):
            try:
                with zipfile.ZipFile(io.BytesIO(data)) as z:
                    out += [(p / n, z.read(n)) for n in z.namelist()]
            except zipfile.BadZipFile:
                pass
    return out


def _leaks(roots: list[Path], secrets: set[str]) -> list[tuple[str, str]]:
    return sorted(
        {
            (str(path), secret[:3] + "...")
            for root in roots
            for path, blob in _blobs(root)
            for secret in secrets
            if secret.encode() in blob
        }
    )


def _fleet(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "fleet.cli", "run", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the kill takes the browser too
    )


@pytest.fixture
def system_tmp() -> Iterator[Path]:
    """The fleet's whole system temp dir, private to this test. Short: Chromium puts
    its singleton socket there and a socket path may not pass 107 bytes."""
    d = Path(tempfile.mkdtemp(prefix="h17-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _chromium_only(system_tmp: Path) -> list[str]:
    """What is in the system temp dir besides Chromium's singleton-socket folders."""
    return sorted(p.name for p in system_tmp.iterdir() if not p.name.startswith("org.chromium."))


def test_a_login_killed_midway_leaves_no_secret_in_temp_or_data_dir(
    tmp_path: Path, system_tmp: Path
) -> None:
    scenario = generate(7, "small")
    account = next(a for a in scenario.accounts if a.portal == "freshco" and a.security_answer)
    secrets = {account.password, account.security_answer}
    data_dir = tmp_path / "fleet"
    demo_keyring(data_dir, scenario)
    db = session_factory(init_db(f"sqlite:///{(data_dir / 'fleet.db').resolve()}"))
    with db() as s, s.begin():
        for a in scenario.accounts:
            accounts_repo.upsert_account(s, a.portal, a.username)
    with start_world(scenario, "freshco:latency_ms=1500") as running:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
        env.update(
            {
                "TMPDIR": str(system_tmp),
                "FLEET_DATA_DIR": str(data_dir),
                "FLEET_PORTAL_URLS": json.dumps(running.urls),
                "FLEET_KEYRING_BACKEND": "file",
                "FLEET_KEYRING_KEY_FILE": str(data_dir / "demo-keyring.key"),
                "FLEET_CONFIG": str(data_dir / "absent.toml"),
            }
        )
        args = ("--portal", "freshco", "--account", account.username, "--task", "sync")
        first = _fleet(env, *args)
        deadline = time.monotonic() + 120
        while not any(
            e.step == "security_question" and e.username == account.username
            for e in running.world.record.logins
        ):
            assert first.poll() is None, first.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the login never reached its security question"
            time.sleep(0.05)  # polling the portal's record, not synchronising threads
        time.sleep(0.3)  # the login goes on: the frameset is loading (1.5 s latency)
        assert first.poll() is None
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        time.sleep(1)  # let the killed group's last processes go

        leftovers = sorted(p.name for p in (data_dir / "tmp").glob("browser-*"))
        assert leftovers == [f"browser-{first.pid}"], (
            "the live browser files belong in the data dir"
        )
        assert _chromium_only(system_tmp) == []
        assert _leaks([system_tmp, data_dir], secrets) == []
        assert [oct(p.stat().st_mode & 0o777) for p in (data_dir / "tmp").glob("browser-*")] == [
            "0o700"
        ]

        # the next start sweeps the dead process's folder
        running.world.faults = FaultPlan.parse(None)
        second = _fleet(env, *args)
        assert second.wait(timeout=300) == 0, second.stderr.read().decode()[-3000:]  # type: ignore[union-attr]
    assert not (data_dir / "tmp" / f"browser-{first.pid}").exists()
    assert list((data_dir / "tmp").glob("browser-*")) == []
    assert _chromium_only(system_tmp) == []
    assert _leaks([system_tmp, data_dir], secrets) == []
