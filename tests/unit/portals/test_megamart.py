"""MegaMart Supplier Payables over plain HTTP: sign-in with an authenticator
code, the deductions search, claim detail and documents, disputes from draft
to outcome, session expiry, and the faults a robot must survive."""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from html import unescape
from html.parser import HTMLParser
from typing import Any

import httpx
import pyotp
import pytest

from fixtures.scenario import Scenario
from fixtures.server import RunningWorld

PORTAL = "megamart"
USER = "acme-ar"
PASSWORD = "Mm-pass-7Q2!xz"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DP"
PDF = b"%PDF-1.4\n% test attachment\n%%EOF\n"


# --------------------------------------------------------------------- helpers


class _Tables(HTMLParser):
    """Tables by aria-label: header texts and the text of each body cell."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, list[Any]]] = {}
        self._current: dict[str, list[Any]] | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._current = {"headers": [], "rows": []}
            self.tables[a.get("aria-label") or f"table{len(self.tables)}"] = self._current
        elif tag == "tr" and self._current is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._current is not None:
            if not self._current["headers"]:
                self._current["headers"] = self._row
            else:
                self._current["rows"].append(self._row)
            self._row = None
        elif tag == "table":
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table(html: str, label: str) -> list[dict[str, str]]:
    p = _Tables()
    p.feed(html)
    t = p.tables.get(label)
    if t is None:
        return []
    return [dict(zip(t["headers"], row, strict=True)) for row in t["rows"]]


def headers(html: str, label: str) -> list[str]:
    p = _Tables()
    p.feed(html)
    return p.tables[label]["headers"]


def text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


def totp() -> str:
    return pyotp.TOTP(SECRET).now()


def sign_in(client: httpx.Client, *, next_path: str = "/deductions") -> httpx.Response:
    r = client.post("/login", data={"username": USER, "password": PASSWORD, "next": next_path})
    assert r.status_code == 303
    assert r.headers["location"] == "/login/verify"
    return client.post("/login/verify", data={"code": totp()})


@pytest.fixture
def rw(world_factory: Any) -> RunningWorld:
    return world_factory()


@pytest.fixture
def client(rw: RunningWorld) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=rw.urls[PORTAL], timeout=10) as c:
        r = sign_in(c)
        assert r.status_code == 303
        yield c


def create_draft(client: httpx.Client, claim: str) -> str:
    r = client.post(f"/deductions/{claim}/dispute")
    assert r.status_code == 303, r.text
    match = re.fullmatch(r"/disputes/(MD\d{7})", r.headers["location"])
    assert match
    return match.group(1)


def post_draft(
    client: httpx.Client,
    number: str,
    *,
    action: str = "submit",
    reason: str = "Proof of delivery attached",
    comment: str = "POD shows all 40 cases delivered.",
    files: list[tuple[str, bytes, str]] = (),  # type: ignore[assignment]
) -> httpx.Response:
    upload = [("attachments", f) for f in files] or [("attachments", ("", b"", "application/pdf"))]
    return client.post(
        f"/disputes/{number}",
        data={"reason": reason, "comment": comment, "action": action},
        files=upload,
    )


# --------------------------------------------------------------------- sign-in


def test_sign_in_takes_password_then_authenticator_code(rw: RunningWorld) -> None:
    with httpx.Client(base_url=rw.urls[PORTAL]) as c:
        r = c.get("/deductions/4023344500")
        assert r.status_code == 303
        assert r.headers["location"] == "/login?next=%2Fdeductions%2F4023344500"
        page = c.get(r.headers["location"]).text
        assert "Sign in to MegaMart Supplier Payables" in page
        assert 'value="/deductions/4023344500"' in page

        r = c.post(
            "/login",
            data={"username": USER, "password": PASSWORD, "next": "/deductions/4023344500"},
        )
        assert r.status_code == 303
        assert "MMSSO" not in c.cookies  # no session before the second step
        assert c.get("/deductions").status_code == 303
        mfa = c.get("/login/verify")
        assert "Two-step verification" in mfa.text
        assert "Authenticator code" in mfa.text

        bad = c.post("/login/verify", data={"code": "000000" if totp() != "000000" else "111111"})
        assert "The code you entered is incorrect or has expired" in bad.text
        assert "MMSSO" not in c.cookies

        r = c.post("/login/verify", data={"code": totp()})
        assert r.status_code == 303
        assert r.headers["location"] == "/deductions/4023344500"
        assert "MMSSO" in c.cookies
        page = c.get("/deductions/4023344500").text
        assert "Claim 4023344500" in page
        assert "Vendor number: 123456" in page
        assert "Log out" in page
    steps = [(e.step, e.ok) for e in rw.world.record.logins if e.portal == PORTAL]
    assert steps == [("password", True), ("totp", False), ("totp", True)]


def test_wrong_password_shows_the_login_page_with_an_error(rw: RunningWorld) -> None:
    with httpx.Client(base_url=rw.urls[PORTAL]) as c:
        r = c.post("/login", data={"username": USER, "password": "nope"})
        assert r.status_code == 200
        assert "Invalid user ID or password." in r.text
        assert "Sign in to MegaMart" in r.text
        assert not c.cookies


def test_repeated_failures_lock_the_account(rw: RunningWorld) -> None:
    with httpx.Client(base_url=rw.urls[PORTAL]) as c:
        for _ in range(rw.world.lockout_after):
            c.post("/login", data={"username": USER, "password": "wrong"})
        r = c.post("/login", data={"username": USER, "password": PASSWORD})
        assert "Your account is locked. Contact your administrator." in r.text
        assert "MMPREAUTH" not in c.cookies
    assert rw.world.is_locked(PORTAL, USER)


def test_too_many_wrong_codes_send_the_user_back_to_sign_in(rw: RunningWorld) -> None:
    with httpx.Client(base_url=rw.urls[PORTAL]) as c:
        c.post("/login", data={"username": USER, "password": PASSWORD})
        for _ in range(5):
            r = c.post("/login/verify", data={"code": "abc"})
        assert "Too many incorrect codes. Sign in again." in r.text
        r = c.post("/login/verify", data={"code": totp()})
        assert r.headers["location"] == "/login?expired=1"
        assert "MMSSO" not in c.cookies


def test_verify_page_without_a_password_step_goes_to_login(rw: RunningWorld) -> None:
    with httpx.Client(base_url=rw.urls[PORTAL]) as c:
        r = c.post("/login/verify", data={"code": totp()})
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login")


def test_next_cannot_leave_the_portal(rw: RunningWorld) -> None:
    with httpx.Client(base_url=rw.urls[PORTAL]) as c:
        r = sign_in(c, next_path="//evil.example/steal")
        assert r.headers["location"] == "/deductions"


def test_logout_ends_the_session(client: httpx.Client) -> None:
    r = client.get("/logout")
    assert r.status_code == 303
    assert client.get("/deductions").status_code == 303
    assert "You have signed out." in client.get("/login?signed_out=1").text


# --------------------------------------------------------------------- search


def test_deductions_list_pages_by_twenty(client: httpx.Client) -> None:
    first = client.get("/deductions").text
    rows = table(first, "Deductions")
    assert len(rows) == 20
    assert list(rows[0]) == [
        "Claim Number",
        "Invoice Number",
        "PO Number",
        "Store/DC",
        "Reason Code",
        "Amount",
        "Deduction Date",
        "Status",
    ]
    assert rows[0]["Claim Number"] == "4023344523"  # newest posted first
    assert rows[0]["Amount"] == "$962.50"
    assert rows[0]["Deduction Date"] == "10/24/2026"
    assert "Page 1 of 2" in first
    assert "Showing 1-20 of 24 deductions" in first
    assert ">Next</a>" in first
    assert ">Previous</a>" not in first
    second = client.get("/deductions?page=2").text
    assert "Page 2 of 2" in second
    assert [r["Claim Number"] for r in table(second, "Deductions")] == [
        "4023344503",
        "4023344502",
        "4023344501",
        "4023344500",
    ]
    assert ">Previous</a>" in second
    assert ">Next</a>" not in second
    # Out-of-range and junk page numbers are bounded.
    assert "Page 2 of 2" in client.get("/deductions?page=999999999999").text
    assert "Page 1 of 2" in client.get("/deductions?page=-3").text


def test_claims_appear_once_posted(rw: RunningWorld, client: httpx.Client) -> None:
    assert client.get("/deductions/4023344524").status_code == 404
    rw.advance_clock(days=9)
    page = client.get("/deductions").text
    assert "Showing 1-20 of 25 deductions" in page
    assert table(page, "Deductions")[0]["Claim Number"] == "4023344524"
    assert client.get("/deductions/4023344524").status_code == 200


def test_filters_by_date_reason_number_and_status(client: httpx.Client) -> None:
    def claims(query: str) -> list[str]:
        r = client.get(f"/deductions?{query}")
        assert r.status_code == 200
        return [row["Claim Number"] for row in table(r.text, "Deductions")]

    assert claims("date_from=10/05/2026&date_to=10/07/2026") == [
        "4023344506",
        "4023344505",
        "4023344504",
    ]
    assert claims("date_from=2026-10-22") == ["4023344523", "4023344522", "4023344521"]
    assert claims("reason=99") == [
        "4023344523",
        "4023344518",
        "4023344513",
        "4023344508",
        "4023344503",
    ]
    assert claims("q=INV-70012") == ["4023344512"]
    assert claims("q=4023344507") == ["4023344507"]
    assert claims("status=Disputed") == []
    page = client.get("/deductions?date_from=13/45/2026").text
    assert "Enter dates as MM/DD/YYYY." in page
    page = client.get("/deductions?q=nothing-like-this").text
    assert "No deductions match your search." in page
    # Filters survive paging.
    page = client.get("/deductions?reason=99&page=1").text
    assert "Page 1 of 1" in page


def test_filter_by_status_after_a_dispute(client: httpx.Client) -> None:
    number = create_draft(client, "4023344510")
    post_draft(client, number)
    rows = table(client.get("/deductions?status=Disputed").text, "Deductions")
    assert [(r["Claim Number"], r["Status"]) for r in rows] == [("4023344510", "Disputed")]


# --------------------------------------------------------------------- detail


def test_detail_shows_every_field_and_escapes_hostile_text(client: httpx.Client) -> None:
    r = client.get("/deductions/4023344501")
    assert r.status_code == 200
    page = text(r.text)
    for expected in (
        "Claim 4023344501",
        "INV-70001",
        "09/02/2026",
        "PO-55001",
        "DC 6001",
        "$137.50",
        "Goods billed not shipped",
        "10/02/2026",
        "10/03/2026",
        "Open",
        "HaulStar Freight",
        "1234567",
        "BOL-900001",
        "Shortage of 3 cases — «reçu» 🚚",
        "Create dispute",
        "Download backup",
    ):
        assert expected in page, expected
    assert "<script>alert" not in r.text
    assert "&lt;script&gt;alert" in r.text


def test_detail_shows_the_revised_amount(rw: RunningWorld, client: httpx.Client) -> None:
    assert "$175.00" in client.get("/deductions/4023344502").text
    rw.advance_clock(days=2)
    page = client.get("/deductions/4023344502").text
    assert "$150.00" in page
    assert "Original Amount" in page
    rows = table(client.get("/deductions?q=4023344502").text, "Deductions")
    assert rows[0]["Amount"] == "$150.00"


def test_unknown_claims_and_pages_are_404(client: httpx.Client) -> None:
    r = client.get("/deductions/9999999999")
    assert r.status_code == 404
    assert "Claim not found" in r.text
    assert client.get("/deductions/9999999999/backup").status_code == 404
    assert client.get("/deductions/4023344500/documents/nope").status_code == 404
    assert client.get("/disputes/MD9999999").status_code == 404
    assert client.get("/no/such/page").status_code == 404


def test_wrong_methods_are_405(client: httpx.Client) -> None:
    assert client.get("/deductions/4023344500/dispute").status_code == 405
    assert client.post("/deductions").status_code == 405
    assert client.delete("/disputes").status_code == 405


def test_oversized_form_is_refused(rw: RunningWorld) -> None:
    with httpx.Client(base_url=rw.urls[PORTAL]) as c:
        r = c.post("/login", data={"username": "x" * 100_000, "password": "y"})
        assert r.status_code == 413


# --------------------------------------------------------------------- documents


def test_backup_and_documents_download_as_attachments(
    rw: RunningWorld, client: httpx.Client
) -> None:
    world = rw.world
    d = world.deduction(PORTAL, USER, "4023344500")
    assert d is not None
    page = client.get("/deductions/4023344500").text
    docs = table(page, "Documents")
    assert [(x["Document Type"], x["File Name"]) for x in docs] == [
        ("Claim backup", "Claim_4023344500.pdf"),
        ("Deal sheet", "../../etc/passwd.pdf"),
    ]
    r = client.get("/deductions/4023344500/backup")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith(
        'attachment; filename="Claim_4023344500.pdf"'
    )
    assert r.content.startswith(b"%PDF-")
    assert r.content == world.document_bytes(d, d.documents[0])

    href = re.findall(r'href="(/deductions/4023344500/documents/[^"]+)"', page)
    assert href == [
        "/deductions/4023344500/documents/mm-4023344500-b",
        "/deductions/4023344500/documents/mm-dealsheet-1",
    ]
    deal = client.get(href[1])
    assert deal.status_code == 200
    assert deal.content == world.document_bytes(d, d.documents[1])
    assert "filename*=UTF-8''..%2F..%2Fetc%2Fpasswd.pdf" in deal.headers["content-disposition"]
    refs = [e.ref for e in world.record.downloads if e.portal == PORTAL]
    assert refs == ["mm-4023344500-b", "mm-dealsheet-1"]


def test_late_backup_is_not_available_until_its_date(
    rw: RunningWorld, client: httpx.Client
) -> None:
    page = client.get("/deductions/4023344503").text
    assert "Backup not yet available" in page
    assert "Download backup" not in page
    assert client.get("/deductions/4023344503/backup").status_code == 404
    assert client.get("/deductions/4023344503/documents/mm-late-backup").status_code == 404
    rw.advance_clock(days=7)
    page = client.get("/deductions/4023344503").text
    assert "Backup not yet available" not in page
    r = client.get("/deductions/4023344503/backup")
    assert r.status_code == 200
    assert r.content.startswith(b"%PDF-")
    assert 'filename="Claim late.pdf"' in r.headers["content-disposition"]


def test_download_survives_the_bandwidth_fault(rw: RunningWorld, client: httpx.Client) -> None:
    d = rw.world.deduction(PORTAL, USER, "4023344505")
    assert d is not None
    expected = rw.world.document_bytes(d, d.documents[0])
    rw.set_faults(f"{PORTAL}:bandwidth_kbps=2000")
    r = client.get("/deductions/4023344505/backup")
    assert r.status_code == 200
    assert r.content == expected


# --------------------------------------------------------------------- disputes


def test_dispute_from_draft_to_submitted(rw: RunningWorld, client: httpx.Client) -> None:
    number = create_draft(client, "4023344501")
    assert number == "MD0000001"
    draft = client.get(f"/disputes/{number}").text
    assert f"Dispute {number}" in draft
    assert "Draft" in draft
    for label in ("Dispute reason", "Comments", "Attachments", "Submit dispute", "Save draft"):
        assert label in draft
    for reason in (
        "Proof of delivery attached",
        "Allowance not owed",
        "Pricing per agreement",
        "Duplicate deduction",
        "Other",
    ):
        assert f">{reason}</option>" in draft
    # The claim page now points at the draft instead of offering a new one.
    detail = text(client.get("/deductions/4023344501").text)
    assert f"Dispute {number} : Draft" in re.sub(r"\s+", " ", detail)
    assert "Create dispute" not in detail

    r = post_draft(client, number, reason="")
    assert r.status_code == 400
    assert "Select a dispute reason." in r.text

    saved = post_draft(client, number, action="save", files=[("pod.pdf", PDF, "application/pdf")])
    assert "Draft saved." in saved.text
    assert "pod.pdf" in saved.text
    assert rw.world.disputes[number].submitted_at is None

    r = post_draft(client, number, files=[("bol.pdf", PDF, "application/pdf")])
    assert r.status_code == 303
    assert r.headers["location"] == f"/disputes/{number}/confirmation"
    done = client.get(r.headers["location"]).text
    assert f"Dispute {number} submitted" in done
    assert "MegaMart research" in done
    disp = rw.world.disputes[number]
    assert disp.submitted_at is not None
    assert disp.reason == "Proof of delivery attached"
    assert disp.comment == "POD shows all 40 cases delivered."
    assert [a.filename for a in disp.attachments] == ["pod.pdf", "bol.pdf"]
    assert disp.amount == Decimal("137.50")
    # A submitted dispute is not a form any more, and cannot be changed.
    page = client.get(f"/disputes/{number}").text
    assert "Submit dispute" not in page
    post_draft(client, number, comment="changed")
    assert rw.world.disputes[number].comment == "POD shows all 40 cases delivered."
    assert "Disputed" in client.get("/deductions/4023344501").text


def test_second_dispute_on_a_claim_is_refused(client: httpx.Client) -> None:
    number = create_draft(client, "4023344505")
    post_draft(client, number)
    r = client.post("/deductions/4023344505/dispute")
    assert r.status_code == 409
    assert "A dispute already exists for this claim." in r.text


def test_dispute_after_the_window_is_refused(rw: RunningWorld, client: httpx.Client) -> None:
    # Reason 99 (OTIF fine): 90 days from the deduction date 10/04/2026.
    assert "01/02/2027" in client.get("/deductions/4023344503").text
    rw.advance_clock(days=63)
    r = client.post("/deductions/4023344503/dispute")
    assert r.status_code == 409
    assert "The dispute window for this claim closed on 01/02/2027." in r.text
    assert rw.world.dispute_for(PORTAL, "4023344503") is None


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([(f"f{i}.pdf", PDF, "application/pdf") for i in range(6)], "At most 5 attachments"),
        (
            [("big.pdf", PDF + b"0" * (10 * 1024 * 1024), "application/pdf")],
            "attachments are limited to 10485760 bytes",
        ),
        ([("notes.txt", b"hello", "text/plain")], "only PDF attachments are accepted"),
    ],
    ids=["too-many", "oversized", "not-pdf"],
)
def test_bad_attachments_are_refused(
    rw: RunningWorld, client: httpx.Client, files: list[tuple[str, bytes, str]], message: str
) -> None:
    number = create_draft(client, "4023344506")
    r = post_draft(client, number, files=files)
    assert r.status_code == 400
    assert message in r.text
    disp = rw.world.disputes[number]
    assert disp.submitted_at is None
    assert disp.attachments == []


def test_attachments_are_counted_across_saves(rw: RunningWorld, client: httpx.Client) -> None:
    number = create_draft(client, "4023344507")
    three = [(f"a{i}.pdf", PDF, "application/pdf") for i in range(3)]
    assert post_draft(client, number, action="save", files=three).status_code == 200
    r = post_draft(client, number, files=three)
    assert r.status_code == 400
    assert "At most 2 attachments are allowed." in r.text


def test_long_comment_is_refused(client: httpx.Client) -> None:
    number = create_draft(client, "4023344508")
    r = post_draft(client, number, comment="x" * 2001)
    assert r.status_code == 400
    assert "Comments are limited to 2,000 characters." in r.text
    assert post_draft(client, number, comment="x" * 2000).status_code == 303


def test_dispute_status_moves_with_the_world_clock(rw: RunningWorld, client: httpx.Client) -> None:
    # Truth for 4023344501: supplier action after 7 days, denied after 20.
    number = create_draft(client, "4023344501")
    post_draft(client, number)

    def status() -> str:
        rows = table(client.get("/disputes").text, "My disputes")
        return next(r["Status"] for r in rows if r["Dispute Number"] == number)

    assert status() == "MegaMart research"
    rw.advance_clock(days=8)
    assert status() == "Supplier action"
    rw.advance_clock(days=13)
    assert status() == "Denied"
    assert "Denied" in client.get("/deductions/4023344501").text


def test_my_disputes_pages_by_twenty(rw: RunningWorld, client: httpx.Client) -> None:
    claims = [d.deduction_id for d in rw.world.visible_deductions(PORTAL, USER)][:21]
    for claim in claims:
        rw.world.open_dispute(PORTAL, USER, claim, reason="Other", comment="c")
    first = client.get("/disputes").text
    rows = table(first, "My disputes")
    assert len(rows) == 20
    assert rows[0]["Dispute Number"] == "MD0000021"
    assert rows[0]["Claim Number"] == claims[-1]
    assert rows[0]["Status"] == "MegaMart research"
    assert rows[0]["Amount"].startswith("$")
    assert "Page 1 of 2" in first
    second = client.get("/disputes?page=2").text
    assert [r["Dispute Number"] for r in table(second, "My disputes")] == ["MD0000001"]


def test_oversized_upload_body_is_refused(rw: RunningWorld, client: httpx.Client) -> None:
    """A declared body over five full attachments is refused before it is read."""
    number = create_draft(client, "4023344509")
    url = httpx.URL(rw.urls[PORTAL])
    conn = http.client.HTTPConnection(url.host, url.port, timeout=10)
    try:
        conn.putrequest("POST", f"/disputes/{number}")
        conn.putheader("Cookie", f"MMSSO={client.cookies['MMSSO']}")
        conn.putheader("Content-Type", "multipart/form-data; boundary=x")
        conn.putheader("Content-Length", str(60 * 1024 * 1024))
        conn.endheaders(b"--x\r\n")
        assert conn.getresponse().status == 413
    finally:
        conn.close()
    assert rw.world.disputes[number].attachments == []


# --------------------------------------------------------------------- sessions and faults


def test_expired_session_redirects_to_login_with_next(
    rw: RunningWorld, client: httpx.Client
) -> None:
    rw.set_faults(f"{PORTAL}:expire_every=1")
    r = client.get("/deductions?page=2")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fdeductions%3Fpage%3D2"
    rw.set_faults(None)
    r = sign_in(client, next_path="/deductions?page=2")
    assert r.headers["location"] == "/deductions?page=2"
    assert rw.world.record.faults[(PORTAL, "session_expired")] >= 1


def test_session_request_budget(world_factory: Any, hand_scenario: Scenario) -> None:
    cfg = hand_scenario.portals[PORTAL].model_copy(update={"session_max_requests": 3})
    scenario = hand_scenario.model_copy(update={"portals": {**hand_scenario.portals, PORTAL: cfg}})
    running = world_factory(scenario)
    with httpx.Client(base_url=running.urls[PORTAL]) as c:
        sign_in(c)
        statuses = [c.get("/deductions").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 303]


def test_obfuscation_changes_ids_classes_and_column_order_not_labels(
    rw: RunningWorld, client: httpx.Client
) -> None:
    plain = client.get("/deductions").text
    rw.set_faults(f"{PORTAL}:obfuscate=3")
    mangled = client.get("/deductions").text
    ids = set(re.findall(r'id="([^"]+)"', plain))
    assert ids
    assert ids.isdisjoint(re.findall(r'id="([^"]+)"', mangled))
    classes = set(re.findall(r'class="([^"]+)"', plain))
    assert classes.isdisjoint(re.findall(r'class="([^"]+)"', mangled))
    before, after = headers(plain, "Deductions"), headers(mangled, "Deductions")
    assert before != after
    assert sorted(before) == sorted(after)
    # Rows still line up with their headers, and labels still point at their fields.
    assert table(mangled, "Deductions")[0]["Claim Number"] == "4023344523"
    for label in ("Deduction date from", "Status", "Reason code", "Claim or invoice number"):
        assert f">{label}</label>" in mangled
    for match in re.finditer(r'<label for="([^"]+)">', mangled):
        assert f'id="{match.group(1)}"' in mangled
    detail = client.get("/deductions/4023344500").text
    assert "Download backup" in detail
    assert 'id="claim-fields"' not in detail


def test_server_errors_and_rate_limits_come_from_the_fault_layer(
    rw: RunningWorld, client: httpx.Client
) -> None:
    rw.set_faults(f"{PORTAL}:error_rate=1")
    assert client.get("/deductions").status_code in (500, 502, 503)
    rw.set_faults(f"{PORTAL}:burst_429_every=1,burst_429_length=1,retry_after=7")
    r = client.get("/deductions")
    assert r.status_code == 429
    assert r.headers["retry-after"] == "7"
    rw.set_faults(None)
    assert client.get("/deductions").status_code == 200
    # Faults strike before the portal acts: nothing changed on the world.
    assert rw.world.disputes == {}


def test_money_and_date_formats() -> None:
    from fixtures.portals.megamart import money, parse_us_date, us_date

    assert money(Decimal("1234.56")) == "$1,234.56"
    assert money(Decimal("-1234.5")) == "($1,234.50)"
    assert money(Decimal("0")) == "$0.00"
    assert us_date(date(2026, 1, 2)) == "01/02/2026"
    assert parse_us_date("01/02/2026") == date(2026, 1, 2)
    assert parse_us_date("2026-01-02") == date(2026, 1, 2)
    assert parse_us_date(" ") is None
    with pytest.raises(ValueError, match="13/01/2026"):
        parse_us_date("13/01/2026")


# --------------------------------------------------------------------- a generated world


def test_serves_a_generated_small_world(world_factory: Any) -> None:
    from fixtures.generator import generate
    from fixtures.portals.megamart import money

    scenario = generate(7, "small")
    running = world_factory(scenario)
    world = running.world
    account = scenario.accounts_on(PORTAL)[0]
    assert account.totp_secret
    expected = world.visible_deductions(PORTAL, account.username)
    assert len(expected) > scenario.portals[PORTAL].page_size
    with httpx.Client(base_url=running.urls[PORTAL], timeout=10) as c:
        c.post("/login", data={"username": account.username, "password": account.password})
        r = c.post("/login/verify", data={"code": pyotp.TOTP(account.totp_secret).now()})
        assert r.status_code == 303
        seen: list[dict[str, str]] = []
        url: str | None = "/deductions"
        while url:
            page = c.get(url).text
            seen.extend(table(page, "Deductions"))
            nxt = re.search(r'<a href="([^"]+)" rel="next">Next</a>', page)
            url = unescape(nxt.group(1)) if nxt else None
        assert [row["Claim Number"] for row in seen] == [d.deduction_id for d in expected]
        assert [row["Amount"] for row in seen] == [money(world.current_amount(d)) for d in expected]
        with_lines = next(d for d in expected if d.lines and world.available_documents(d))
        detail = c.get(f"/deductions/{with_lines.deduction_id}").text
        assert len(table(detail, "Line items")) == len(with_lines.lines)
        spec = world.available_documents(with_lines)[0]
        doc = c.get(f"/deductions/{with_lines.deduction_id}/documents/{spec.doc_id}")
        assert doc.status_code == 200
        assert doc.content == world.document_bytes(with_lines, spec)
