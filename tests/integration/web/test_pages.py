"""The pages as a person uses them: worklist filters and search, the deduction
page with its documents, approvals under limits, disputes; every response
with the security headers; portal text escaped."""

from __future__ import annotations

import html
import re

from store.db import transaction
from tests.integration.web.conftest import HOSTILE_MEMO, TODAY, WebStore, waiting_dispute
from web.rendering import reveal


def test_pages_need_a_session_and_send_security_headers(web: WebStore) -> None:
    c = web.client()
    r = c.get("/worklist?q=CB")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fworklist%3Fq%3DCB"
    login = c.get("/login")
    csp = login.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert login.headers["x-content-type-options"] == "nosniff"
    assert login.headers["x-frame-options"] == "DENY"
    assert '<script src="/static/vendor/htmx.min.js"' in login.text
    assert "<script>" not in login.text  # no inline script anywhere


def test_worklist_filters_searches_and_pages(web: WebStore) -> None:
    ana = web.login("ana")
    page = ana.client.get("/worklist").text
    assert "3 deductions" in page
    for ext in ("CB-1001", "CB-2002", "CB-3003"):
        assert f"megamart:{ext}" in page
    for query, shown, hidden in (
        ("q=INV-7002", "CB-2002", "CB-1001"),  # invoice
        ("q=PO-42", "CB-2002", "CB-3003"),  # PO
        ("q=cb-30", "CB-3003", "CB-2002"),  # claim prefix, any case
        ("min_amount=1000", "CB-2002", "CB-3003"),
        ("max_amount=300", "CB-1001", "CB-2002"),
    ):
        text = ana.client.get(f"/worklist?{query}").text
        assert f"megamart:{shown}" in text, query
        assert f"megamart:{hidden}" not in text, query
    first = ana.client.get("/worklist?sort=-amount&page_size=2").text
    assert first.index("CB-2002") < first.index("CB-3003")
    assert "page 1 of 2" in first
    assert "CB-1001" not in first
    second = ana.client.get("/worklist?sort=-amount&page_size=2&page=2").text
    assert "CB-1001" in second
    assert "CB-2002" not in second
    bad = ana.client.get("/worklist?min_amount=lots")
    assert bad.status_code == 400
    assert "min_amount" in bad.text


def test_deduction_page_escapes_portal_text_and_shows_csv(web: WebStore) -> None:
    ana = web.login("ana")
    page = ana.client.get(f"/deductions/{web.ids['CB-3003']}").text
    assert "<script>window.pwned" not in page
    assert "<img src=x" not in page
    assert "[U+202E]txt.exe" in page  # the right-to-left override shown, not obeyed
    assert html.escape(str(reveal(HOSTILE_MEMO)), quote=False) in page.replace(
        "&#34;", '"'
    ).replace("&#39;", "'")
    assert "<th>sku</th>" in page
    assert "<td>&lt;b&gt;SKU-2&lt;/b&gt;</td>" in page
    assert re.search(r"Documents \(3\)", page)
    assert f'href="/documents/{web.documents["pdf"]}?inline=true"' in page


def test_documents_are_served_as_their_bytes_say(web: WebStore) -> None:
    ana = web.login("ana")
    pdf = ana.client.get(f"/documents/{web.documents['pdf']}")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith('attachment; filename="claim CB-3003.pdf"')
    assert pdf.headers["x-content-type-options"] == "nosniff"
    assert pdf.content.startswith(b"%PDF-")
    inline = ana.client.get(f"/documents/{web.documents['pdf']}?inline=true")
    assert inline.headers["content-disposition"].startswith("inline;")
    evil = ana.client.get(f"/documents/{web.documents['html']}?inline=true")
    assert evil.headers["content-type"].startswith("text/plain")  # never text/html
    assert evil.headers["content-disposition"].startswith('attachment; filename="evil_ x_.pdf"')
    assert "sandbox" in evil.headers["content-security-policy"]
    assert ana.client.get("/documents/999999").status_code == 404


def test_approval_limit_refuses_and_the_next_approver_decides(web: WebStore) -> None:
    ana = web.login("ana")
    big = web.ids["CB-2002"]  # 4000.00: one manager step
    r = ana.post(f"/deductions/{big}/propose", {"kind": "dispute", "note": "POD signed clean"})
    assert r.status_code == 303
    mia = web.login("mia")  # a manager with a limit of 1000.00
    mine = mia.client.get("/approvals").text
    assert "megamart:CB-2002" in mine
    assert "above mia&#39;s approval limit of 1000.00" in mine
    decision = int(re.search(r'id="decision-(\d+)"', mine).group(1))
    refused = mia.post(f"/approvals/{decision}/approve")
    assert refused.status_code == 409
    assert "approval limit" in refused.text
    root = web.login("dora")
    assert "megamart:CB-2002" in root.client.get("/approvals").text
    ok = root.post(f"/approvals/{decision}/approve", {"note": "fine"})
    assert ok.status_code == 303
    assert "approved" in ok.headers["location"]
    page = root.client.get(f"/deductions/{big}").text
    assert "dispute" in page
    assert "<strong>approved</strong>" in page


def test_comments_keep_mentions_and_markup_as_text(web: WebStore) -> None:
    otto = web.login("otto")
    did = web.ids["CB-1001"]
    r = otto.post(f"/deductions/{did}/comment", {"body": "@mia please look <b>now</b>"})
    assert r.status_code == 303
    page = otto.client.get(f"/deductions/{did}").text
    assert "(mentions @mia)" in page
    assert "&lt;b&gt;now&lt;/b&gt;" in page
    inbox = web.login("mia").client.get("/approvals").text
    assert "1 mention of you" in inbox
    assert "otto on" in inbox
    assert "please look &lt;b&gt;now&lt;/b&gt;" in inbox
    assert "Nobody mentioned you." in web.login("dora").client.get("/approvals").text


def test_disputes_page_lists_open_disputes_and_an_approver_files_one(web: WebStore) -> None:
    ana = web.login("ana")
    assert "No disputes." in ana.client.get("/disputes").text
    with transaction(web.db) as s:
        disp = waiting_dispute(s, web.ids["CB-3003"])
    page = ana.client.get("/disputes").text
    assert "megamart:CB-3003" in page
    assert "awaiting_person" in page
    assert "waits for an approver" in page  # an analyst may not release it
    dora = web.login("dora")
    assert f'action="/disputes/{disp}/release"' in dora.client.get("/disputes").text
    r = dora.post(f"/disputes/{disp}/release")
    assert r.status_code == 303
    after = dora.client.get(r.headers["location"]).text
    assert "queued for filing" in after
    assert '<td class="text">queued</td>' in after


def test_an_approver_delegates_and_the_stand_in_sees_the_work(web: WebStore) -> None:
    ana = web.login("ana")
    big = web.ids["CB-2002"]  # 4000.00: one manager step
    ana.post(f"/deductions/{big}/propose", {"kind": "dispute"})
    dora = web.login("dora")
    r = dora.post("/approvals/delegate", {"to": "nobody", "until": "2999-12-31"})
    assert r.status_code == 409
    assert "nobody is not an active user" in r.text
    r = dora.post("/approvals/delegate", {"to": "otto", "until": "2999-12-31"})
    assert r.status_code == 303
    assert "otto+stands+in+for+you" in r.headers["location"]
    otto_pending = web.login("otto").client.get("/approvals").text
    assert "megamart:CB-2002" in otto_pending  # an analyst rank, standing in for a director
    assert "for dora" in otto_pending


def test_saved_filters_are_each_persons_own(web: WebStore) -> None:
    ana = web.login("ana")
    page = ana.client.get("/worklist?min_amount=1000&sort=-amount").text
    assert 'value="min_amount=1000&amp;sort=-amount"' in page
    r = ana.post("/worklist/filters", {"name": "big ones", "query": "min_amount=1000&sort=-amount"})
    assert r.status_code == 303
    page = ana.client.get("/worklist").text
    assert '<a href="/worklist?min_amount=1000&amp;sort=-amount">big ones</a>' in page
    bad = ana.post("/worklist/filters", {"name": "broken", "query": "min_amount=lots"})
    assert bad.status_code == 400
    mia = web.login("mia")
    assert "big ones" not in mia.client.get("/worklist").text
    filter_id = int(re.search(r"/worklist/filters/(\d+)/delete", page).group(1))
    assert mia.post(f"/worklist/filters/{filter_id}/delete").status_code == 404
    assert ana.post(f"/worklist/filters/{filter_id}/delete").status_code == 303
    assert "big ones" not in ana.client.get("/worklist").text


def test_disputes_page_lists_what_closes_soon_by_amount_at_risk(web: WebStore) -> None:
    """The same deadlines as ``fleet disputes deadlines`` (dispute_filing.deadlines):
    open claims not yet disputed on the portal, largest amount at risk first; a
    claim the matcher found valid, or one closing later, is not among them."""
    from datetime import timedelta
    from decimal import Decimal

    from store.models import Verdict
    from tests.integration.web.conftest import TODAY

    def verdict(ref: str, validity: str, closes_in: int, disputable: str) -> Verdict:
        amount = Decimal(disputable)
        return Verdict(
            deduction_id=web.ids[ref], validity=validity, category="pricing",
            claimed_amount=amount, current_amount=amount, disputable_amount=amount,
            window_closes=TODAY + timedelta(days=closes_in), fingerprint=ref,
        )  # fmt: skip

    with transaction(web.db) as s:
        s.add_all(
            [
                verdict("CB-1001", "invalid", 3, "250.00"),
                verdict("CB-2002", "invalid", 10, "4000.00"),
                verdict("CB-3003", "valid", 2, "900.00"),
            ]
        )
    ana = web.login("ana")
    page = ana.client.get("/disputes")
    assert page.status_code == 200
    table = page.text.split('<table class="deadlines">')[1].split("</table>")[0]
    assert table.index("CB-2002") < table.index("CB-1001"), "largest amount at risk first"
    assert "CB-3003" not in table, "a valid claim is not at risk"
    assert "2 claims not yet disputed on the portal, 4,250.00 at risk" in page.text
    narrow = ana.client.get("/disputes?days=5").text
    narrow_table = narrow.split('<table class="deadlines">')[1].split("</table>")[0]
    assert "CB-1001" in narrow_table
    assert "CB-2002" not in narrow_table, "closes in 10 days"
    assert ana.client.get("/disputes?days=0").status_code == 422
    api = ana.client.get("/api/v1/deadlines?days=5").json()
    assert [d["claim"].split(":")[1] for d in api["items"]] == ["CB-1001"]
    assert api["items"][0]["amount_at_risk"] == "250.00"


def test_an_escalated_reminder_reaches_the_next_roles_inbox(web: WebStore) -> None:
    """Within a week of the dispute window's end, a step waiting on a manager
    is escalated to the director: the director's inbox lists it with the days
    left; once decided, it leaves the inbox."""
    from datetime import timedelta
    from decimal import Decimal

    from matching import approvals
    from store.models import Verdict, utcnow

    big = web.ids["CB-2002"]  # 4000.00: one manager step
    ana = web.login("ana")
    assert ana.post(f"/deductions/{big}/propose", {"kind": "dispute"}).status_code == 303
    dora = web.login("dora")
    assert "Escalated to you" not in dora.client.get("/approvals").text
    now = utcnow()
    closes = (now + timedelta(days=5)).date()
    with transaction(web.db) as s:
        s.add(
            Verdict(
                deduction_id=big, validity="invalid", category="pricing",
                claimed_amount=Decimal("4000.00"), current_amount=Decimal("4000.00"),
                window_closes=closes, fingerprint="near",
            )
        )  # fmt: skip
    later = now + timedelta(hours=25)
    with transaction(web.db) as s:
        sent = approvals.send_reminders(s, later)
    assert [(r.role, r.escalated_to) for r in sent] == [("manager", ("director",))]
    inbox = dora.client.get("/approvals").text
    assert "Escalated to you" in inbox
    row = inbox[inbox.index('id="escalated"') :]
    assert "megamart:CB-2002" in row
    assert "<td>manager</td>" in row
    assert f'<td class="num">{(closes - later.date()).days}</td>' in row
    assert "Escalated to you" not in web.login("mia").client.get("/approvals").text  # not above
    decision = int(re.search(r'id="decision-(\d+)"', inbox).group(1))
    assert dora.post(f"/approvals/{decision}/approve").status_code == 303
    assert "Escalated to you" not in dora.client.get("/approvals").text


def test_an_approver_appeals_a_denied_dispute_once_from_the_disputes_page(
    web: WebStore,
) -> None:
    from sqlalchemy import select

    from store.models import Dispute
    from store.repositories import disputes as disputes_repo

    with transaction(web.db) as s:
        dispute_id = waiting_dispute(s, web.ids["CB-3003"])
        row = s.get(Dispute, dispute_id)
        assert row is not None
        disputes_repo.upsert(
            s,
            disputes_repo.as_record(row, "CB-3003").model_copy(
                update={"status": "denied", "dispute_number": "MD0000042", "decided_on": TODAY}
            ),
        )
    ana = web.login("ana")  # an analyst sees it, may not appeal
    assert "/appeal" not in ana.client.get("/disputes?show=all").text
    assert ana.post(f"/disputes/{dispute_id}/appeal").status_code == 403
    dora = web.login("dora")
    page = dora.client.get("/disputes?show=all").text
    assert f'action="/disputes/{dispute_id}/appeal"' in page
    done = dora.post(f"/disputes/{dispute_id}/appeal")
    assert done.status_code == 303
    after = dora.client.get(done.headers["location"]).text
    assert "megamart:CB-3003</a> (appeal)" in after
    assert f'action="/disputes/{dispute_id}/appeal"' not in after, "once"
    again = dora.post(f"/disputes/{dispute_id}/appeal")
    assert again.status_code == 409
    assert "only once" in again.text
    with web.db() as s:
        levels = s.scalars(
            select(Dispute.status)
            .where(Dispute.deduction_id == web.ids["CB-3003"])
            .order_by(Dispute.level)
        ).all()
    assert levels == ["denied", "queued"]
