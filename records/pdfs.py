"""PDF helpers shared by the layers that send documents (the packet builder, and
an adapter whose portal takes a single file)."""

from __future__ import annotations

import io


def merge_pdfs(parts: list[bytes]) -> bytes:
    """The PDFs one after another in one file, pages in order.

    Raises whatever pypdf raises on a file it cannot read (many types on
    hostile input): callers turn that into their own refusal."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for data in parts:
        writer.append(PdfReader(io.BytesIO(data)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


__all__ = ["merge_pdfs"]
