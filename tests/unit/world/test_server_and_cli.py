"""The served world: its control API, the bandwidth fault end to end, and the
command line refusing a bad scenario before anything listens."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pyotp

from fixtures.scenario_io import dump_scenario


def _login_megamart(client: httpx.Client, running) -> None:  # type: ignore[no-untyped-def]
    acct = running.world.account("megamart", "acme-ar")
    client.post("/login", data={"username": acct.username, "password": acct.password})
    client.post("/login/verify", data={"code": pyotp.TOTP(acct.totp_secret).now()})


def test_control_api_moves_the_clock_changes_faults_and_reports(world_factory) -> None:  # type: ignore[no-untyped-def]
    running = world_factory()
    with httpx.Client(base_url=running.control_url, timeout=10) as c:
        state = c.get("/_world/state").json()
        assert state["portals"] == running.urls
        assert state["clock"].startswith("2026-11-01")
        assert (
            c.post("/_world/clock", json={"advance_days": 9})
            .json()["clock"]
            .startswith("2026-11-10")
        )
        assert running.world.clock.today().isoformat() == "2026-11-10"
        assert c.post("/_world/clock", json={"advance_days": -1}).status_code == 400
        assert c.post("/_world/faults", json={"spec": "megamart:error_rate=1"}).status_code == 200
        assert running.world.faults.for_portal("megamart").error_rate == 1
        assert c.post("/_world/faults", json={"spec": "bogus=1"}).status_code == 400
        truth = c.get("/_world/truth").json()
        assert "shopright:CB1000001" in truth["deductions"]
    with httpx.Client(base_url=running.urls["megamart"], timeout=10) as portal:
        assert portal.get("/login").status_code >= 500
    record = httpx.get(running.control_url + "/_world/record", timeout=10).json()
    assert record["requests"]["megamart"] == 1
    assert record["faults"]["megamart:5xx"] == 1
    [answered] = record["request_times"]["megamart"]  # when, for per-minute limits
    assert answered <= time.time()
    assert running.world.busiest("megamart", 60) == 1


def test_each_portal_has_its_own_host(world_factory) -> None:  # type: ignore[no-untyped-def]
    running = world_factory()
    hosts = {httpx.URL(u).host for u in running.urls.values()}
    assert len(hosts) == 5  # cookies are per host: five hosts, five cookie jars


def test_bandwidth_fault_slows_downloads_but_keeps_the_bytes(world_factory) -> None:  # type: ignore[no-untyped-def]
    running = world_factory(faults="megamart:bandwidth_kbps=16")
    world = running.world
    d = world.deduction("megamart", "acme-ar", "4023344501")
    spec = world.available_documents(d)[0]
    expected = world.document_bytes(d, spec)
    with httpx.Client(base_url=running.urls["megamart"], timeout=30, follow_redirects=True) as c:
        _login_megamart(c, running)
        started = time.monotonic()
        got = c.get(f"/deductions/{d.deduction_id}/documents/{spec.doc_id}")
        elapsed = time.monotonic() - started
    assert hashlib.sha256(got.content).digest() == hashlib.sha256(expected).digest()
    # 16 KiB/s: the file cannot arrive faster than its size allows (a lower bound)
    assert elapsed >= (len(expected) // 8192) * (8192 / (16 * 1024)) * 0.9


def test_portal_connections_send_without_waiting_for_acks(world_factory) -> None:  # type: ignore[no-untyped-def]
    """Nagle's algorithm is off on the portals' connections, as on real web
    servers: with it on, every keep-alive answer written as head then body
    waited about 40 ms for the client's delayed ACK, a cost the fleet's
    back-to-back downloads paid and a hand-written script mostly did not."""
    running = world_factory()
    with httpx.Client(base_url=running.urls["megamart"], timeout=10) as client:
        client.get("/login")  # one keep-alive connection, still open
        [conn] = [c for srv in running._servers for c in srv.server_state.connections]
        sock = conn.transport.get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_serve_refuses_a_bad_scenario_before_listening(tmp_path: Path, hand_scenario) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "good.json"
    dump_scenario(hand_scenario, good)
    bad = tmp_path / "bad.json"
    bad.write_text(good.read_text().replace('"as_of": "2026-11-01"', '"as_of": "soon"'))
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fleet.cli",
            "fixtures",
            "serve",
            "--scenario",
            str(bad),
            "--single-host",
            "--port-base",
            str(port),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "as_of" in proc.stderr
    line = next(i for i, t in enumerate(bad.read_text().splitlines(), 1) if '"as_of"' in t)
    assert f"line {line}:" in proc.stderr
    with socket.socket() as s:  # nothing was left listening
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_generate_is_byte_stable_across_processes(tmp_path: Path) -> None:
    outs = []
    for name in ("a.json", "b.json"):
        out = tmp_path / name
        subprocess.run(
            [
                sys.executable,
                "-m",
                "fleet.cli",
                "fixtures",
                "generate",
                "--seed",
                "11",
                "--size",
                "small",
                "-o",
                str(out),
            ],
            check=True,
            timeout=120,
            capture_output=True,
        )
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    assert b'"seed": 11' in outs[0]
