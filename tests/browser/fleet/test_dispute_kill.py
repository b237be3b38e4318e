"""A `fleet run --task file_dispute` process killed with SIGKILL after the portal
recorded the dispute and before the fleet recorded the answer, then started
again: exactly one dispute on the portal, and the local record reconciled to
it (its number and status), on each of the three retailers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dispute_filing.habits import habits
from dispute_filing.packets import dispute_key, queue_dispute
from fixtures.server import start_world
from fleet.demo import demo_keyring
from store.db import init_db, session_factory
from store.models import Deduction
from store.repositories import accounts as accounts_repo
from store.repositories import disputes as disputes_repo

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]


def _fleet(env: dict[str, str], portal: str, task: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "fleet.cli", "run", "--portal", portal, "--task", task],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize("portal", ["megamart", "shopright", "freshco"])
def test_a_kill_between_submit_and_record_files_once(
    small_world, tmp_path: Path, portal: str
) -> None:  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "fleet"
    demo_keyring(data_dir, small_world)
    db = session_factory(init_db(f"sqlite:///{(data_dir / 'fleet.db').resolve()}"))
    with db() as s, s.begin():
        for a in small_world.accounts:
            accounts_repo.upsert_account(s, a.portal, a.username)
    with start_world(small_world) as running:
        world = running.world
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
        env |= {
            "FLEET_DATA_DIR": str(data_dir),
            "FLEET_PORTAL_URLS": json.dumps(running.urls),
            "FLEET_KEYRING_BACKEND": "file",
            "FLEET_KEYRING_KEY_FILE": str(data_dir / "demo-keyring.key"),
            "FLEET_CONFIG": str(data_dir / "absent.toml"),
            "FLEET_BUSINESS_DAY": world.clock.today().isoformat(),
        }
        sync = _fleet(env, portal, "sync")
        assert sync.wait(timeout=300) == 0, sync.stderr.read().decode()[-3000:]  # type: ignore[union-attr]
        with db() as s, s.begin():
            claim = None
            for d in s.scalars(select(Deduction).where(Deduction.portal == portal)):
                wd = world.deduction(portal, d.account, d.external_id)
                closes = world.window_closes(wd) if wd else None
                by_email = str(getattr(d.category, "value", d.category)) in habits(portal).email
                if closes and closes > world.clock.today() and d.amount > 0 and not by_email:
                    claim = d.external_id
                    break
            assert claim is not None
            queue_dispute(s, portal, claim)

        # The portal records the dispute, and the fleet dies before it hears back.
        proc: dict[str, subprocess.Popen[bytes]] = {}
        submit, open_dispute = world.submit_dispute, world.open_dispute

        def die_after(call: Any) -> Any:
            def wrapped(*args: Any, **kwargs: Any) -> Any:
                disp = call(*args, **kwargs)
                if disp.submitted_at is not None and disp.deduction_id == claim:
                    proc["run"].send_signal(signal.SIGKILL)
                    proc["run"].wait(timeout=30)
                return disp

            return wrapped

        world.submit_dispute = die_after(submit)  # type: ignore[method-assign]
        world.open_dispute = die_after(open_dispute)  # type: ignore[method-assign]
        proc["run"] = _fleet(env, portal, "file_dispute")
        assert proc["run"].wait(timeout=300) == -signal.SIGKILL
        world.submit_dispute, world.open_dispute = submit, open_dispute  # type: ignore[method-assign]
        on_portal = world.dispute_for(portal, claim)
        assert on_portal is not None
        assert on_portal.submitted_at is not None
        with db() as s:
            row = disputes_repo.by_key(s, dispute_key(portal, claim))
            assert row is not None
            assert (row.status, row.dispute_number) == ("filing", None), "killed before record"

        again = _fleet(env, portal, "file_dispute")
        assert again.wait(timeout=300) == 0, again.stderr.read().decode()[-3000:]  # type: ignore[union-attr]
        assert [d.number for d in world.disputes.values() if d.deduction_id == claim] == [
            on_portal.number
        ], "exactly one dispute on the portal"
        with db() as s:
            row = disputes_repo.by_key(s, dispute_key(portal, claim))
            assert row is not None
            assert row.dispute_number == on_portal.number
            assert row.status == "research"
            assert row.attempts == 2
            assert row.packet is not None
            assert [a["sha256"] for a in row.packet["attachments"]] == [
                a.sha256 for a in on_portal.attachments
            ]
