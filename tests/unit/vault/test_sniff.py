from __future__ import annotations

import io
import zipfile

import pytest

from records import sniff

LOGIN_PAGE = b"""
<!DOCTYPE html>
<html><head><title>Supplier Portal - Sign in</title></head>
<body><form action="/login" method="post"><input name="user"></form></body></html>
"""


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.txt", "hello")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", sniff.PDF),
        (b"\r\n\r\ngarbage before %PDF-1.4\n", sniff.PDF),
        (_zip(), sniff.ZIP),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", sniff.PNG),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", sniff.JPEG),
        (b"GIF89a\x01\x00", sniff.GIF),
        (b"II*\x00\x08\x00\x00\x00", sniff.TIFF),
        (b"MM\x00*\x00\x00\x00\x08", sniff.TIFF),
        (LOGIN_PAGE, sniff.HTML),
        (b"\xef\xbb\xbf<html><body>Session expired</body></html>", sniff.HTML),
        (b"  <div>Please log in again</div>", sniff.HTML),
        (b'<?xml version="1.0"?><claims/>', sniff.XML),
        (b'{"claims": []}', sniff.JSON),
        (b'claim,invoice,amount\nC1,I1,10.00\nC2,I2,"1,234.56"\n', sniff.CSV),
        (b"sku;qty;amount\r\nA;1;2,00\r\nB;3;4,00\r\n", sniff.CSV),
        (b"ISA*00*          *00*          *ZZ*SENDER~GS*CD*~ST*812*0001~", sniff.TEXT),
        (b"Just a note to the analyst.\nNothing tabular here.", sniff.TEXT),
        (b"\x00\x01\x02\x03binary\x00junk", sniff.OCTET),
        (b"", sniff.EMPTY),
    ],
)
def test_sniffs_from_bytes(data: bytes, expected: str) -> None:
    assert sniff.sniff_media_type(data) == expected


def test_a_login_page_served_as_pdf_is_html() -> None:
    """The declared Content-Type is never consulted: the bytes decide."""
    assert sniff.sniff_media_type(LOGIN_PAGE) == "text/html"


def test_a_csv_cut_by_the_sniff_window_is_still_csv() -> None:
    rows = b"".join(b"C%06d,I%06d,%d.00\n" % (i, i, i) for i in range(2000))
    assert len(rows) > sniff.SNIFF_BYTES
    assert sniff.sniff_media_type(rows) == sniff.CSV


def test_a_zip_storing_a_pdf_uncompressed_is_a_zip() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("claim.pdf", b"%PDF-1.4\n...")
    assert sniff.sniff_media_type(buf.getvalue()) == sniff.ZIP
