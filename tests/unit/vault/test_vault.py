from __future__ import annotations

import hashlib
import io
import os
import signal
import stat
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from store.vault import (
    DocumentNotFound,
    DocumentTooLarge,
    DocumentVault,
    InvalidDigest,
)

REPO = Path(__file__).resolve().parents[3]
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _stored(root: Path) -> list[Path]:
    """Documents under their final names (not temp or quarantine)."""
    return [p for p in _files(root) if p.parent.parent.parent == root and len(p.name) == 64]


def test_put_stores_by_content_and_dedupes(tmp_path: Path) -> None:
    vault = DocumentVault(tmp_path / "vault")
    first = vault.put(PDF, "../../Claim 123.pdf", "application/pdf")
    digest = hashlib.sha256(PDF).hexdigest()
    assert first.sha256 == digest
    assert first.created is True
    assert first.size == len(PDF)
    assert first.media_type == "application/pdf"
    assert first.safe_filename == "Claim 123.pdf"
    assert first.original_filename == "../../Claim 123.pdf"
    assert first.path == tmp_path / "vault" / digest[:2] / digest[2:4] / digest
    assert first.path.read_bytes() == PDF

    again = vault.put(io.BytesIO(PDF), "other-name.pdf", None)
    assert again.created is False
    assert again.sha256 == digest
    assert len(_stored(tmp_path / "vault")) == 1
    assert vault.exists(digest)
    with vault.open(digest) as fh:
        assert fh.read() == PDF
    assert vault.verify(digest)


def test_files_are_0600_and_directories_0700(tmp_path: Path) -> None:
    root = tmp_path / "vault"
    old = os.umask(0)  # even a permissive umask must not widen the modes
    try:
        doc = DocumentVault(root).put(PDF, "a.pdf", None)
    finally:
        os.umask(old)
    assert stat.S_IMODE(doc.path.stat().st_mode) == 0o600
    for d in (root, doc.path.parent, doc.path.parent.parent, root / ".tmp"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d


def test_declared_type_is_not_trusted(tmp_path: Path) -> None:
    login = b"<!DOCTYPE html><html><body><form action='/login'></form></body></html>"
    doc = DocumentVault(tmp_path).put(login, "backup.pdf", "application/pdf")
    assert doc.media_type == "text/html"
    assert doc.type_mismatch


def test_hostile_digests_are_refused(tmp_path: Path) -> None:
    vault = DocumentVault(tmp_path)
    for bad in ("../../etc/passwd", "A" * 64, "abc", "0" * 63 + "/"):
        with pytest.raises(InvalidDigest):
            vault.path_for(bad)
    with pytest.raises(DocumentNotFound):
        vault.open("0" * 64)
    assert not vault.exists("0" * 64)


def test_oversized_document_keeps_the_prefix_in_quarantine(tmp_path: Path) -> None:
    vault = DocumentVault(tmp_path, max_bytes=1000)
    consumed = []

    def chunks() -> Iterator[bytes]:
        for i in range(100):  # 100 x 300 bytes, far past the cap
            consumed.append(i)
            yield bytes([i]) * 300

    with pytest.raises(DocumentTooLarge) as info:
        vault.put_stream(chunks(), "huge.pdf", "application/pdf")
    err = info.value
    assert err.kept_bytes == 1000
    expected = b"".join(bytes([i]) * 300 for i in range(4))[:1000]
    assert err.kept_sha256 == hashlib.sha256(expected).hexdigest()
    assert err.kept_path.read_bytes() == expected
    assert stat.S_IMODE(err.kept_path.stat().st_mode) == 0o600
    note = vault.quarantine_note(err.kept_sha256)
    assert note is not None
    assert note["reason"] == "too_large"
    assert note["kept_bytes"] == 1000
    assert note["original_filename"] == "huge.pdf"
    assert len(consumed) == 4  # reading stopped at the cap
    assert _stored(tmp_path) == []  # nothing oversized entered the vault proper
    assert list((tmp_path / ".tmp").iterdir()) == []


def test_put_bytes_over_the_cap_raises_too(tmp_path: Path) -> None:
    vault = DocumentVault(tmp_path, max_bytes=10)
    with pytest.raises(DocumentTooLarge, match="10-byte cap"):
        vault.put(b"x" * 11, None, None)
    assert vault.put(b"x" * 10, None, None).size == 10  # exactly the cap is fine


async def test_async_stream(tmp_path: Path) -> None:
    vault = DocumentVault(tmp_path, max_bytes=200)

    async def body() -> AsyncIterator[bytes]:
        yield PDF[:10]
        yield PDF[10:]

    doc = await vault.aput_stream(body(), "a.pdf", None)
    assert doc.path.read_bytes() == PDF

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"z" * 7

    with pytest.raises(DocumentTooLarge):
        await vault.aput_stream(endless(), "big", None)


def test_a_failing_stream_leaves_nothing_behind(tmp_path: Path) -> None:
    vault = DocumentVault(tmp_path)

    def broken() -> Iterator[bytes]:
        yield b"%PDF-1.4 partial"
        raise ConnectionResetError("download interrupted")

    with pytest.raises(ConnectionResetError):
        vault.put_stream(broken(), "x.pdf", None)
    assert _files(tmp_path) == []


def test_a_crash_mid_write_leaves_no_partial_file_and_the_temp_is_cleaned(
    tmp_path: Path,
) -> None:
    """Kill -9 a writer half-way: no file under the final name; the next vault opened on
    the same root removes the dead writer's temp file."""
    root = tmp_path / "vault"
    script = textwrap.dedent(
        f"""
        import sys
        from store.vault import DocumentVault
        def chunks():
            yield b"%PDF-1.4 first half "
            print("mid-write", flush=True)
            sys.stdin.readline()  # blocks until killed
            yield b"second half"
        DocumentVault({str(root)!r}).put_stream(chunks(), "doc.pdf", None)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=REPO,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "mid-write"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    full = hashlib.sha256(b"%PDF-1.4 first half second half").hexdigest()
    half = hashlib.sha256(b"%PDF-1.4 first half ").hexdigest()
    vault = DocumentVault(root)
    assert vault.removed_stray_temps == 1
    assert not vault.exists(full)
    assert not vault.exists(half)
    assert _files(root) == []
    # and the vault still works
    assert vault.put(PDF, None, None).created


def test_other_live_writers_temps_are_left_alone(tmp_path: Path) -> None:
    vault = DocumentVault(tmp_path)
    mine = tmp_path / ".tmp" / f"{vault._host}.{os.getpid()}.abcd"
    mine.write_bytes(b"in progress")
    again = DocumentVault(tmp_path)
    assert again.removed_stray_temps == 0
    assert mine.exists()


def test_many_writers_of_the_same_bytes_store_one_file(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    vault = DocumentVault(tmp_path)
    data = os.urandom(300_000)
    with ThreadPoolExecutor(8) as ex:
        docs = list(ex.map(lambda _: vault.put(data, "same.pdf", None), range(16)))
    assert {d.sha256 for d in docs} == {hashlib.sha256(data).hexdigest()}
    assert len(_stored(tmp_path)) == 1
    assert vault.verify(docs[0].sha256)
    assert list((tmp_path / ".tmp").iterdir()) == []
