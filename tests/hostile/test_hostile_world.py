"""The hostile world: the fleet syncs every retailer account and fetches every
carrier's PODs on the generated world (its memos carry markup, script and
bidi text) while some documents are replaced by hostile bytes: a ZIP bomb
served as a PDF, a PDF of 5,000 pages, a truncated PDF. No job fails; each
hostile document is one quarantine row with its reason and the rest of the
account's documents arrive; reading documents quarantines what is past its
bounds; the raw bytes are kept; nothing but the 0700 data dir is written."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bots.jobs import CORE, Job
from store.models import Document, Quarantine
from tests.unit.vault.hostile_pdfs import many_pages_pdf

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MIB = 1024 * 1024


def _bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for i in range(200):
            z.writestr(f"m{i}.pdf", b"\0" * MIB)
    return buf.getvalue()


async def test_the_fleet_completes_on_a_hostile_world(
    make_demo, tiny_world, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # The tiny world has every hostile memo and file name the small one has
    # (tests/unit/fixtures/test_generator.py), at a quarter of its claims.
    data_dir = tmp_path / "fleet"
    async with make_demo(data_dir=data_dir, scenario=tiny_world, with_key_file=True) as demo:
        world = demo.world.world
        megamart = [
            (d, s)
            for d in tiny_world.deductions
            if d.portal == "megamart"
            for s in world.available_documents(d)
        ]
        assert len(megamart) >= 3
        huge_pdf = many_pages_pdf(5000)
        hostile = {
            megamart[0][1].doc_id: _bomb(),
            megamart[1][1].doc_id: huge_pdf,
            megamart[2][1].doc_id: megamart_pdf_cut(world.document_bytes(*megamart[2])),
        }
        world.document_overrides.update(hostile)

        results = await demo.run_jobs(demo.retail_jobs)
        results += await demo.run_jobs(demo.carrier_jobs)
        (read,) = await demo.run_jobs([Job(CORE, CORE, "read_documents")])
        with demo.runtime.db() as s:
            rows = s.execute(select(Quarantine.record_kind, Quarantine.reason)).all()
            documents = s.scalar(select(func.count()).select_from(Document))

    statuses = {(r.job.portal, r.job.account, r.job.task): r.status for r in results}
    assert "failed" not in statuses.values(), statuses
    bombed = megamart[0][0].account  # the tiny world has two megamart accounts
    assert statuses[("megamart", bombed, "sync")] == "partial"  # the bomb is a quarantine row
    assert read.status == "partial"
    reasons = [reason for kind, reason in rows if kind == "document"]
    assert any("served as a PDF but is zip" in r for r in reasons), reasons
    assert any("too_many_pages" in r and "5000 pages" in r for r in reasons), reasons
    assert (documents or 0) > 10
    # the 5,000-page PDF's bytes are kept, for a person to look at
    kept = [
        p
        for p in (data_dir / "vault").rglob("*")
        if p.is_file() and p.stat().st_size == len(huge_pdf)
    ]
    assert len(kept) == 1
    assert (data_dir.stat().st_mode & 0o777) == 0o700


def megamart_pdf_cut(data: bytes) -> bytes:
    """A PDF cut in half: readable as far as it goes, or refused cleanly."""
    return data[: len(data) // 2]
