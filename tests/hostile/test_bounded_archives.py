"""Bounded work on archives a portal sends: a ZIP expands to at most its share
of bytes (per archive, and per job across archives), at most so many
members, nested so deep; a refused archive is kept raw in the vault, is one
quarantine row naming why, and the job is ``partial`` (never a plain
``succeeded`` with a log line as the only trace).

The bomb is the review's: many members of 1 MiB of zeros each (every one
under the per-member ratio grace), 226 KB that expanded to 209 MB."""

from __future__ import annotations

import io
import os
import zipfile
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from bots.context import CoreContext, JobContext, Services
from bots.jobs import Job
from bots.retry import RetryPolicy
from bots.tasks import documents
from bots.tasks.core import read_documents
from bots.tasks.documents import store_fetched
from dispute_filing.policy import FilingPolicy
from portal_adapters.base import FetchedDocument
from records.schemas import DocumentRecord
from store.archives import CompressionRatioExceeded, safe_unzip
from store.db import init_db, session_factory
from store.models import Document, Quarantine
from store.repositories import documents as documents_repo
from store.vault import DocumentVault
from tests.unit.vault.hostile_pdfs import many_pages_pdf

MIB = 1024 * 1024


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, data in members:
            z.writestr(name, data)
    return buf.getvalue()


def _bomb(members: int = 200) -> bytes:
    return _zip([(f"m{i}.pdf", b"\0" * MIB) for i in range(members)])


@pytest.fixture
def jc(tmp_path: Path) -> JobContext:
    services = Services(
        db=session_factory(init_db(f"sqlite:///{tmp_path / 'fleet.db'}")),
        vault=DocumentVault(tmp_path / "vault"),
        policy=RetryPolicy(),
        filing=FilingPolicy(),
        today=date.today,
    )
    return JobContext(services, Job("shopright", "ar@acme", "sync"), "run-1", None, None)  # type: ignore[arg-type]


def _quarantined(jc: JobContext) -> list[tuple[str, str | None, str]]:
    with jc.db() as s:
        return [
            (q.record_kind, q.external_id, q.reason)
            for q in s.scalars(select(Quarantine).order_by(Quarantine.id))
        ]


def test_many_small_members_that_each_pass_the_grace_are_a_bomb_for_the_archive() -> None:
    bomb = _bomb()
    assert len(bomb) < 250_000
    with pytest.raises(CompressionRatioExceeded, match="archive"):
        safe_unzip(bomb)


def test_a_refused_archive_is_kept_raw_and_quarantined_and_the_job_needs_a_person(
    jc: JobContext,
) -> None:
    bomb = _bomb()
    doc = FetchedDocument(
        role="backup", filename="backup.zip", data=bomb, media_type="application/zip"
    )
    linked = store_fetched(jc, doc, source_ref="zip:D1")
    ((kind, ref, reason),) = _quarantined(jc)
    assert (kind, ref) == ("document", "zip:D1")
    assert "inflates" in reason
    assert "backup.zip" in reason
    assert jc.counts["quarantined"] == 1
    assert linked == 1  # the archive itself, for a person to look at
    with jc.db() as s:
        sizes = s.scalars(select(Document.size_bytes)).all()
    assert sizes == [len(bomb)]  # no member of it reached the vault
    assert sum(f.stat().st_size for f in jc.vault.root.rglob("*") if f.is_file()) < 2 * MIB


def test_one_job_expands_at_most_its_budget_across_archives(
    jc: JobContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(documents, "JOB_MAX_EXPANDED_BYTES", 3 * 8 * MIB)  # 1 GiB: slow
    each = _zip([(f"r{i}.bin", os.urandom(MIB)) for i in range(8)])  # 8 MiB, incompressible
    per_job = documents.JOB_MAX_EXPANDED_BYTES // (8 * MIB)
    for n in range(per_job + 1):
        doc = FetchedDocument(
            role="backup", filename=f"b{n}.zip", data=each, media_type="application/zip"
        )
        store_fetched(jc, doc, source_ref=f"zip:D{n}")
    ((kind, ref, reason),) = _quarantined(jc)
    assert (kind, ref) == ("document", f"zip:D{per_job}")
    assert "this job" in reason
    assert jc.counts["documents.expanded_bytes"] <= documents.JOB_MAX_EXPANDED_BYTES


def test_too_many_members_and_nesting_are_quarantined_with_their_reason(jc: JobContext) -> None:
    many = _zip([(f"f{i}.txt", b"x") for i in range(500)])
    nested = _zip([("a.zip", _zip([("b.zip", _zip([("c.zip", _zip([("d.pdf", b"%PDF-")]))]))]))])
    for name, data in (("many.zip", many), ("nested.zip", nested)):
        store_fetched(
            jc,
            FetchedDocument(role="backup", filename=name, data=data, media_type="application/zip"),
            source_ref=name,
        )
    reasons = [r for _, _, r in _quarantined(jc)]
    assert len(reasons) == 2
    assert "exceed the limit" in reasons[0]
    assert "nested deeper" in reasons[1]


def _register(jc: JobContext, data: bytes, name: str) -> None:
    stored = jc.vault.put(data, name, "application/octet-stream")
    with jc.db() as s, s.begin():
        documents_repo.register(
            s,
            DocumentRecord(
                sha256=stored.sha256,
                size_bytes=stored.size,
                media_type=stored.media_type,
                original_filename=name,
                vault_path=str(Path(stored.path).relative_to(jc.vault.root)),
            ),
        )


async def test_reading_documents_quarantines_a_pdf_over_the_page_limit_and_a_bomb(
    jc: JobContext,
) -> None:
    _register(jc, many_pages_pdf(5000), "huge.pdf")
    _register(jc, _bomb(), "backup.zip")
    cc = CoreContext(jc.services, Job("core", "core", "read_documents"), "run-2")
    await read_documents(cc)
    reasons = sorted(r for _, _, r in _quarantined(jc))
    assert len(reasons) == 2
    assert "archive refused: CompressionRatioExceeded" in reasons[0]
    assert "too_many_pages" in reasons[1]
    assert "5000 pages" in reasons[1]
    assert cc.counts["quarantined"] == 2  # the run is partial (bots.runtime.ATTENTION_COUNTS)
