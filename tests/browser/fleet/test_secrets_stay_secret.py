"""No password, TOTP secret, security answer or API key of the scenario appears
in a log line, a failure artifact (screenshot page, HTML, Playwright trace),
the database, the document vault, or the argv of any process the fleet starts.

The megamart job is made to fail after it has typed the password (its
sessions expire faster than a login completes), so the kept trace covers a
login: the password was typed with the trace paused, so it is not even there
to be masked.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import zipfile
from pathlib import Path

import pytest

from bots.jobs import Job
from credentials.registry import MASK
from credentials.scrub import SecretScrubber
from fleet.logging_setup import configure_logging

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _secrets(scenario) -> set[str]:  # type: ignore[no-untyped-def]
    out = set()
    for a in scenario.accounts:
        out |= {v for v in (a.password, a.totp_secret, a.security_answer, a.api_key) if v}
    return out


def _descendants() -> list[int]:
    me, children = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.append((int(entry.name), ppid))
    family, frontier = set(), {me}
    while frontier:
        frontier = {pid for pid, ppid in children if ppid in frontier} - family
        family |= frontier
    return sorted(family)


def _argv_of_children() -> list[bytes]:
    out = []
    for pid in _descendants():
        try:
            out.append(Path(f"/proc/{pid}/cmdline").read_bytes())
        except OSError:
            continue
    return out


def _files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def _readable(path: Path) -> list[bytes]:
    """The file's bytes, and each member's bytes if it is a zip (traces are)."""
    data = path.read_bytes()
    out = [data]
    if data.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            out += [z.read(n) for n in z.namelist()]
    return out


async def test_no_secret_leaves_the_keyring(make_demo, small_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    secrets = _secrets(small_world)
    log_file = tmp_path / "logs" / "fleet.jsonl"
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    configure_logging(level="DEBUG", log_file=log_file, extra=[SecretScrubber()])
    argv_seen: list[bytes] = []
    stop = asyncio.Event()

    async def watch_argv() -> None:
        while not stop.is_set():  # observation, not synchronisation
            argv_seen.extend(_argv_of_children())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.3)

    data_dir = tmp_path / "fleet"
    async with make_demo(faults="megamart:expire_every=3", data_dir=data_dir) as demo:
        watcher = asyncio.create_task(watch_argv())
        try:
            (failed,) = await demo.run_jobs([Job("megamart", "acme-ar", "sync")])
            good = await demo.run_jobs([j for j in demo.retail_jobs if j.portal == "shopright"])
            good += await demo.run_jobs(demo.carrier_jobs)
        finally:
            stop.set()
            await watcher
    for handler in root.handlers:
        if handler not in saved_handlers:
            handler.close()
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    assert failed.status == "failed"
    assert failed.error_class == "SessionExpired"
    assert failed.artifacts is not None
    kept = {p.name for p in _files_under(Path(failed.artifacts))}
    assert {"page.html", "trace.zip", "screenshot.png"} <= kept
    assert all(r.status == "succeeded" for r in good)
    assert argv_seen, "no child process was seen (the browser should be one)"
    places: dict[str, list[bytes]] = {"argv": argv_seen}
    places["log"] = [log_file.read_bytes()]
    assert b"bot.finish" in places["log"][0]
    for name in ("artifacts", "vault", "credentials/sessions"):
        places[name] = [b for p in _files_under(data_dir / name) for b in _readable(p)]
    places["database"] = [p.read_bytes() for p in data_dir.glob("fleet.db*")]
    assert places["vault"], "the vault should hold documents"
    leaks = {
        (where, secret)
        for where, blobs in places.items()
        for secret in secrets
        for blob in blobs
        if secret.encode() in blob
    }
    assert leaks == set()
    # the kept trace recorded the job's actions; the password was typed with it paused
    trace = [
        b
        for p in _files_under(Path(failed.artifacts))
        if p.name == "trace.zip"
        for b in _readable(p)[1:]
    ]
    assert any(b'"type":"before"' in member for member in trace)
    assert not any(MASK.encode() in member for member in trace)
