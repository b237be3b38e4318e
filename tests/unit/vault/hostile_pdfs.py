"""Hostile PDFs made in-test: small to build, expensive or dangerous to parse."""

from __future__ import annotations

import io
import zlib


def raw_pdf(objects: list[bytes]) -> bytes:
    """A syntactically valid PDF from object bodies (object 1 must be the catalog)."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def _stream(data: bytes, *, compress: bool = False) -> bytes:
    if compress:
        data = zlib.compress(data, 9)
        return (
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream"
        )
    return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def _one_page(page_extra: bytes, content: bytes) -> list[bytes]:
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> " + page_extra + b">>",
        content,
        _FONT,
    ]


def text_pdf(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    ops = [b"BT /F1 11 Tf 50 750 Td 14 TL"]
    for line in escaped.splitlines():
        ops.append(b"(" + line.encode("latin-1") + b") '")
    ops.append(b"ET")
    return raw_pdf(_one_page(b"", _stream(b"\n".join(ops))))


def nested_arrays_pdf(depth: int = 100_000) -> bytes:
    deep = b"[" * depth + b"]" * depth
    return raw_pdf(_one_page(b"/Deep " + deep + b" ", _stream(b"BT /F1 12 Tf 72 720 Td (x) Tj ET")))


def nested_dicts_pdf(depth: int = 50_000) -> bytes:
    deep = b"<< /A " * depth + b"1" + b" >>" * depth
    return raw_pdf(_one_page(b"/Deep " + deep + b" ", _stream(b"BT /F1 12 Tf 72 720 Td (x) Tj ET")))


def endless_content_pdf(repeats: int = 3_000_000) -> bytes:
    """A tiny file whose content stream inflates to millions of text operators."""
    body = b"BT /F1 12 Tf 72 720 Td " + b"(ab) Tj 1 0 Td " * repeats + b"ET"
    return raw_pdf(_one_page(b"", _stream(body, compress=True)))


def flate_bomb_pdf(megabytes: int = 400) -> bytes:
    """A content stream that inflates to ``megabytes`` of zeros from a few hundred KB."""
    comp = zlib.compressobj(9)
    chunk = b"\0" * (1024 * 1024)
    parts = [comp.compress(chunk) for _ in range(megabytes)]
    parts.append(comp.flush())
    data = b"".join(parts)
    stream = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream"
    return raw_pdf(_one_page(b"", stream))


def cyclic_pages_pdf() -> bytes:
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 1 /Parent 2 0 R >>",
        ]
    )


def many_pages_pdf(pages: int = 5000) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(612, 792)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def encrypted_pdf(text: str, password: str, algorithm: str = "AES-256") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf(text))))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm=algorithm)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def image_only_pdf() -> bytes:
    """A page whose only content is an image: a scanned POD."""
    pixels = zlib.compress(b"\x80" * (20 * 20))
    image = (
        b"<< /Type /XObject /Subtype /Image /Width 20 /Height 20 /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n"
        % len(pixels)
        + pixels
        + b"\nendstream"
    )
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /XObject << /Im1 5 0 R >> >> >>",
            _stream(b"q 500 0 0 700 50 50 cm /Im1 Do Q"),
            image,
        ]
    )
