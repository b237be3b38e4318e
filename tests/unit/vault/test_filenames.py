from __future__ import annotations

import pytest

from records.filenames import MAX_FILENAME_BYTES, sanitize_filename

NASTY = [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\system32\\config\\SAM", "SAM"),
    ("/absolute/path/invoice.pdf", "invoice.pdf"),
    ("C:\\Users\\x\\claim.pdf", "claim.pdf"),
    ("claim\x00.pdf.exe", "claim_.pdf.exe"),
    ("in\x1bvoice\r\n.pdf", "in_voice__.pdf"),
    ("CON", "_CON"),
    ("con.txt", "_con.txt"),
    ("LPT1.tar.gz", "_LPT1.tar.gz"),
    ("Nul", "_Nul"),
    ("COM9.pdf", "_COM9.pdf"),
    ("COM10.pdf", "COM10.pdf"),
    (".htaccess", "htaccess"),
    ("...", "document"),
    ("..", "document"),
    ("", "document"),
    ("   ", "document"),
    ("report. . .", "report"),
    ("trailing dot.", "trailing dot"),
    ('a<b>c:d"e|f?g*h.pdf', "a_b_c_d_e_f_g_h.pdf"),
    ("cafe\u0301.pdf", "caf\u00e9.pdf"),  # NFD -> NFC
    ("evil\u202etxt.exe", "eviltxt.exe"),  # right-to-left override removed
    ("multiple    spaces\t.pdf", "multiple spaces .pdf"),
    ("/", "document"),
    ("////", "document"),
]


@pytest.mark.parametrize(("raw", "expected"), NASTY)
def test_nasty_names_become_safe(raw: str, expected: str) -> None:
    assert sanitize_filename(raw) == expected


@pytest.mark.parametrize("raw", [n for n, _ in NASTY] + ["x" * 500 + ".pdf", "é" * 300])
def test_sanitised_names_are_safe_and_stable(raw: str) -> None:
    safe = sanitize_filename(raw)
    assert safe
    assert "/" not in safe
    assert "\\" not in safe
    assert "\x00" not in safe
    assert not safe.startswith(".")
    assert not safe.endswith((".", " "))
    assert len(safe.encode("utf-8")) <= MAX_FILENAME_BYTES
    assert sanitize_filename(safe) == safe  # idempotent


def test_long_names_keep_their_extension() -> None:
    safe = sanitize_filename("backup-" + "a" * 400 + ".pdf")
    assert safe.endswith(".pdf")
    assert len(safe.encode()) <= MAX_FILENAME_BYTES


def test_long_multibyte_names_are_cut_on_character_boundaries() -> None:
    safe = sanitize_filename("日本語" * 100 + ".pdf")
    assert safe.endswith(".pdf")
    safe.encode("utf-8")  # no broken characters
    assert len(safe.encode()) <= MAX_FILENAME_BYTES


def test_custom_default() -> None:
    assert sanitize_filename("../..", default="backup.pdf") == "backup.pdf"
    assert sanitize_filename(None, default="../pod.pdf") == "pod.pdf"
