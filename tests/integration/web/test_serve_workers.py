"""``fleet serve --workers 2``: two server processes on one port, and a person
signed in through one is signed in for the other (sessions live in the store)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

PASSWORD = "two workers, one session"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in found.read_text().split()] if found.exists() else []


@pytest.mark.timeout(120)
def test_two_workers_share_sessions(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "FLEET_DATA_DIR": str(tmp_path / "fleet"),
        "FLEET_CONFIG": str(tmp_path / "absent.toml"),
    }
    env.pop("FLEET_DATABASE_URL", None)
    fleet = str(Path(sys.executable).with_name("fleet"))
    added = subprocess.run(
        [fleet, "users", "add", "ana", "--role", "analyst", "--password-stdin"],
        env=env, input=PASSWORD + "\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    port = _port()
    server = subprocess.Popen(
        [fleet, "serve", "--port", str(port), "--workers", "2"], env=env, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, "fleet serve ended"
            try:
                if httpx.get(f"{base}/login", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "fleet serve did not answer"
            time.sleep(0.2)
        # uvicorn's supervisor with its two workers, each a process of its own
        assert len(_children(server.pid)) >= 2, _children(server.pid)
        with httpx.Client(base_url=base, timeout=10) as c:
            token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)
            assert token is not None
            signed = c.post(
                "/login", data={"username": "ana", "password": PASSWORD, "csrf_token": token[1]}
            )
            assert signed.status_code == 303
            # new connections each time, so the kernel hands them to either worker
            for _ in range(20):
                page = httpx.get(f"{base}/worklist", cookies=c.cookies, timeout=10)
                assert page.status_code == 200, page.status_code
                assert "Worklist" in page.text
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
