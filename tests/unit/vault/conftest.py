"""Shared pieces for the vault and extraction tests: where the real PDFs live and one
extraction worker pool for the whole session (a process start is the slow part)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.extraction import PdfExtractor
from tests.requirements import missing

REPO = Path(__file__).resolve().parents[3]
SHARED = Path(os.environ.get("FLEET_SHARED_DIR", REPO.parent / "shared"))
REAL_PDFS = SHARED / "testdata" / "real-pdfs"


def real_pdfs_or_skip() -> Path:
    if not REAL_PDFS.is_dir():
        missing(f"shared test data not found at {REAL_PDFS} (set FLEET_SHARED_DIR)")
    return REAL_PDFS


@pytest.fixture(scope="session")
def real_pdfs() -> Path:
    return real_pdfs_or_skip()


@pytest.fixture(scope="session")
def extractor() -> Iterator[PdfExtractor]:
    with PdfExtractor(workers=1) as ex:
        yield ex
