"""PDF text extraction over every real-world PDF in the shared test data and a hostile
set made here: text where it can be read, a clean recorded status otherwise, never an
exception or a hang. One worker process serves the whole module (see conftest)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from store.extraction import ExtractionResult, ExtractionStatus, PdfExtractor

from . import hostile_pdfs as hostile
from .conftest import REAL_PDFS

S = ExtractionStatus
ALL_REAL = sorted(REAL_PDFS.rglob("*.pdf")) if REAL_PDFS.is_dir() else []
NOT_READABLE = {S.failed, S.needs_ocr}


def _rel(path: Path) -> str:
    return path.relative_to(REAL_PDFS).as_posix()


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _assert_well_formed(result: ExtractionResult) -> None:
    assert isinstance(result.status, ExtractionStatus)
    if result.status is not S.ok:
        assert result.reason, "every non-ok outcome says why"
    if result.status in (S.failed, S.encrypted, S.timeout):
        assert not any(p.strip() for p in result.pages)
    if result.page_count is not None:
        assert len(result.pages) <= result.page_count


def _qpdf_expectation(name: str) -> str:
    if name in ("bad6.pdf", "bad12.pdf"):
        return "Sandwiches"
    if name in ("bad8.pdf", "bad11.pdf"):
        return "Salad"
    return "Potato"


PAGE_COUNTS = {}
if REAL_PDFS.is_dir():
    for entry in json.loads((REAL_PDFS / "py-pdf-sample-files" / "files.json").read_text())["data"]:
        PAGE_COUNTS["py-pdf-sample-files/" + entry["path"]] = entry["pages"]


@pytest.mark.parametrize("path", ALL_REAL, ids=[_rel(p) for p in ALL_REAL])
def test_every_real_pdf_reads_or_fails_cleanly(extractor: PdfExtractor, path: Path) -> None:
    rel = _rel(path)
    result = extractor.extract(path.read_bytes())
    _assert_well_formed(result)
    folder, name = rel.split("/", 1)[0], path.name
    text = _norm(result.text)

    if folder == "qpdf-bad":
        # The only text in them is "Potato" (or the README's exceptions); a page that
        # cannot be read is a recorded failure, never a wrong word.
        if result.status is S.ok:
            assert _qpdf_expectation(name) in text
            assert set(re.findall(r"[A-Za-z]+", text)) <= {_qpdf_expectation(name), "new"}
        else:
            assert result.status in NOT_READABLE
        if name == "append-xref-loop.pdf":
            assert result.status is S.ok  # the 30-page xref loop neither hangs nor fails
            assert result.page_count == 30
    elif folder == "pdfjs":
        if name == "tracemonkey.pdf":
            assert result.status is S.ok
            assert result.page_count == 14
            assert result.pages[0].startswith(
                "Trace-based Just-in-Time Type Specialization for Dynamic"
            )
        elif name == "helloworld-bad.pdf":
            assert result.status is S.ok
            assert text == "Hello, world!"
        else:
            assert result.status in NOT_READABLE, result  # fuzzed: fail cleanly
            if name == "Pages-tree-refs.pdf":
                assert result.status is S.failed
    elif folder == "pypdf-resources":
        if name == "crazyones.pdf":
            assert result.pages[0] == (REAL_PDFS / "pypdf-resources/crazyones.txt").read_text()
        elif name == "issue-297.pdf":
            assert text == "test example"
        elif name in (
            "r2-user-password.pdf",
            "r4-aes-user-password.pdf",
            "libreoffice-writer-password.pdf",
        ):
            assert result.status is S.encrypted
            assert result.encrypted
        elif name in ("r6-owner-password.pdf", "r6-user-password.pdf", "unencrypted.pdf"):
            # empty user password: opened without being asked
            assert result.status is S.ok
            assert "pdf encryption test" in text
        elif name == "encrypted_doc_no_id.pdf":
            assert result.encrypted
            assert result.status is S.needs_ocr
        else:
            assert result.status is S.ok
            assert text
    elif folder == "py-pdf-sample-files":
        if "password" in name:
            assert result.status is S.encrypted
        else:
            assert result.status is S.ok
            assert text
        if rel in PAGE_COUNTS and result.status is S.ok:
            assert result.page_count == PAGE_COUNTS[rel]
    elif folder == "invoice2data":
        assert result.status is S.ok
        assert len(text) > 100


@pytest.mark.parametrize(
    ("rel", "password"),
    [
        ("pypdf-resources/encryption/r2-user-password.pdf", "asdfzxcv"),
        ("pypdf-resources/encryption/r4-aes-user-password.pdf", "asdfzxcv"),
        ("pypdf-resources/libreoffice-writer-password.pdf", "openpassword"),
        (
            "py-pdf-sample-files/005-libreoffice-writer-password/libreoffice-writer-password.pdf",
            "openpassword",
        ),
    ],
)
def test_known_passwords_open_encrypted_files(
    extractor: PdfExtractor, real_pdfs: Path, rel: str, password: str
) -> None:
    result = extractor.extract((real_pdfs / rel).read_bytes(), passwords=["wrong", password])
    assert result.status is S.ok
    assert result.encrypted
    assert password not in result.reason


def test_multicolumn_layout_keeps_reading_order(extractor: PdfExtractor, real_pdfs: Path) -> None:
    pdf = real_pdfs / "py-pdf-sample-files/026-latex-multicolumn/multicolumn.pdf"
    expected = (real_pdfs / "pypdf-resources/multicolumn-lorem-ipsum.txt").read_text()
    result = extractor.extract(pdf.read_bytes(), layout=True)
    assert result.layout_pages is not None
    got = [_norm(line) for line in result.layout_pages[0].splitlines()]
    assert got == [_norm(line) for line in expected.splitlines()]


# --------------------------------------------------------------------------- hostile


def test_truncated_pdf(extractor: PdfExtractor, real_pdfs: Path) -> None:
    data = (real_pdfs / "pypdf-resources/crazyones.pdf").read_bytes()
    for cut in (5, len(data) // 3, len(data) // 2, len(data) - 40):
        result = extractor.extract(data[:cut])
        _assert_well_formed(result)
        assert result.status in (S.ok, S.failed, S.needs_ocr)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"%PDF-",
        b"<html><body>Please sign in</body></html>",
        bytes(range(256)) * 40,
        b"%PDF-1.4\n" + b"1 0 obj << /Type /Catalog " * 5000,
    ],
    ids=["empty", "header-only", "login-page", "binary-junk", "unterminated"],
)
def test_not_a_pdf_at_all(extractor: PdfExtractor, data: bytes) -> None:
    result = extractor.extract(data)
    _assert_well_formed(result)
    assert result.status is S.failed


def test_encrypted_pdf_without_and_with_password(extractor: PdfExtractor) -> None:
    data = hostile.encrypted_pdf("Claim Number: C-900", "s3cret")
    locked = extractor.extract(data)
    assert locked.status is S.encrypted
    assert locked.pages == []
    opened = extractor.extract(data, passwords=["s3cret"])
    assert opened.status is S.ok
    assert "Claim Number: C-900" in opened.text


def test_huge_page_count_reads_only_the_page_limit(extractor: PdfExtractor) -> None:
    result = extractor.extract(hostile.many_pages_pdf(5000))
    assert result.status is S.too_many_pages
    assert result.page_count == 5000
    assert len(result.pages) == 200
    assert "5000 pages" in result.reason


@pytest.mark.parametrize(
    "build",
    [hostile.nested_arrays_pdf, hostile.nested_dicts_pdf, hostile.cyclic_pages_pdf],
    ids=["nested-arrays", "nested-dicts", "cyclic-pages"],
)
def test_deep_and_cyclic_structures(extractor: PdfExtractor, build) -> None:  # type: ignore[no-untyped-def]
    result = extractor.extract(build())
    _assert_well_formed(result)
    assert result.status in (S.ok, S.failed)


def test_decompression_bomb_is_bounded(extractor: PdfExtractor) -> None:
    result = extractor.extract(hostile.flate_bomb_pdf(400))
    _assert_well_formed(result)
    assert result.status in (S.failed, S.needs_ocr)


def test_image_only_pdf_needs_ocr(extractor: PdfExtractor) -> None:
    result = extractor.extract(hostile.image_only_pdf())
    assert result.status is S.needs_ocr
    assert "images" in result.reason
    assert result.page_count == 1


def test_endless_content_stream_times_out_and_the_worker_is_replaced() -> None:
    with PdfExtractor() as ex:
        slow = ex.extract(hostile.endless_content_pdf(), timeout_s=2)
        assert slow.status is S.timeout
        assert "killed" in slow.reason
        starts = ex.worker_starts
        after = ex.extract(hostile.text_pdf("PRO Number: 12345678"))
        assert after.status is S.ok
        assert "PRO Number: 12345678" in after.text
        assert ex.worker_starts == starts + 1


def test_the_worker_is_reused_across_documents() -> None:
    with PdfExtractor() as ex:
        results = ex.extract_many([hostile.text_pdf(f"Claim Number: C-{i}") for i in range(5)])
        assert [r.status for r in results] == [S.ok] * 5
        assert ex.worker_starts == 1


def test_a_pool_of_workers_keeps_input_order() -> None:
    docs = [hostile.text_pdf(f"Invoice Number: INV-{i}") for i in range(6)]
    with PdfExtractor(workers=2) as ex:
        results = ex.extract_many(docs)
    assert [_norm(r.text) for r in results] == [f"Invoice Number: INV-{i}" for i in range(6)]


async def test_async_api(extractor: PdfExtractor) -> None:
    result = await extractor.aextract(hostile.text_pdf("BOL Number: B-1"))
    assert result.status is S.ok
