"""The cover letter: one PDF page (or more) that names the claim, the facts and
the evidence, so a reviewer on the retailer's side has the case on one sheet.

Built with fpdf2's core fonts (Latin-1: other characters are replaced), and
deterministic: the same dispute gives the same bytes on every attempt (the
letter is dated the day the dispute was queued, and the PDF's creation date
is that day too), so what a preview shows is what the portal receives.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from fpdf import FPDF

from dispute_filing.facts import Facts


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def cover_letter(
    facts: Facts,
    narrative: str,
    evidence: list[tuple[str, int]],
    *,
    portal_name: str,
    dated: date,
) -> bytes:
    """The letter's PDF bytes. ``evidence``: (file name, size in bytes), in packet order."""
    pdf = FPDF(format="Letter")
    pdf.set_creation_date(datetime.combine(dated, time(12), tzinfo=UTC))
    title = f"Dispute of claim {facts.claim['number']}"
    if facts.appeal:
        number = facts.appeal["dispute_number"]
        title = f"Appeal of dispute {number} (claim {facts.claim['number']})"
    pdf.set_title(_latin1(title))
    pdf.set_producer("deductions-fleet")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def para(text: str, size: int = 10, style: str = "", gap: float = 2) -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.multi_cell(width, 5, _latin1(text), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)

    para(dated.isoformat())
    para(f"To: {portal_name}, deductions and disputes")
    para(title, size=14, style="B", gap=4)
    para(narrative)
    para("Facts", size=12, style="B", gap=1)
    pdf.set_font("Helvetica", "", 10)
    for label, value in facts.lines():
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(55, 5, _latin1(label))
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(width - 55, 5, _latin1(str(value)), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    para("Evidence enclosed", size=12, style="B", gap=1)
    if not evidence:
        para("None: this letter states the facts alone.")
    for i, (name, size) in enumerate(evidence, start=1):
        para(f"{i}. {name} ({size:,} bytes)", gap=0)
    return bytes(pdf.output())


__all__ = ["cover_letter"]
