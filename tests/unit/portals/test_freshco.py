"""FreshCo Vendor Claims over plain HTTP: the frameset, log-on with a security
question on a new browser, the paged claims table, pop-up document viewer,
dispute packages from the form to their outcome, session expiry and faults."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from html import unescape
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

import fixtures.portals.kit as kit
from fixtures.scenario import Scenario
from fixtures.server import RunningWorld

PORTAL = "freshco"
USER = "ACMESNACK"
PASSWORD = "Fc-pass-2E8$zz"
ANSWER = "Dayton"
PLAIN_USER = "ACMEDSD"  # no security question
PLAIN_PASSWORD = "Fc-dsd-4U7&aa"
PDF = b"%PDF-1.4\n% test attachment\n%%EOF\n"
EXTRA = 33  # claims added to the hand-written two: 35 in all, three pages of 15
CODES = ("4", "9", "3", "8", "7", "11")


# --------------------------------------------------------------------- scenario


def freshco_scenario(hand: Scenario, **config: Any) -> Scenario:
    """The hand-written world plus enough FreshCo claims for three pages, a claim
    posted later, one whose backup is not on file yet, a scripted dispute outcome,
    and a second login without a security question."""
    data = hand.model_dump(mode="json")
    data["portals"][PORTAL].update(config)
    data["accounts"].append(
        {"portal": PORTAL, "username": PLAIN_USER, "password": PLAIN_PASSWORD, "vendor_id": "77"}
    )
    start = date(2026, 10, 5)
    for i in range(EXTRA):
        claim = f"FC0002{i:04d}"
        day = start - timedelta(days=i)
        data["deductions"].append(
            {
                "portal": PORTAL,
                "account": USER,
                "deduction_id": claim,
                "invoice_number": f"FI-9{i:04d}",
                "location": f"Store {i:04d}",
                "amount": "1234.56" if i == 0 else f"{100 + i}.25",
                "reason_code": CODES[i % len(CODES)],
                "deduction_date": day.isoformat(),
                "invoice_date": (day - timedelta(days=10)).isoformat(),
                "posted_date": day.isoformat(),
                "memo": "<script>alert(1)</script> «reçu»" if i == 1 else "",
                "documents": [
                    {
                        "doc_id": f"fc-{claim}-b",
                        "kind": "backup",
                        "filename": f"{claim}.pdf",
                        "available_from": "2026-11-05" if i == 2 else None,
                    }
                ],
            }
        )
    data["deductions"].append(
        {
            "portal": PORTAL,
            "account": USER,
            "deduction_id": "FC00099999",
            "invoice_number": "FI-99999",
            "amount": "50.00",
            "reason_code": "4",
            "deduction_date": "2026-11-09",
            "invoice_date": "2026-11-01",
            "posted_date": "2026-11-10",
        }
    )
    data["truth"]["deductions"]["freshco:FC00012345"] = {
        "category": "promotion",
        "validity": "partial",
        "valid_amount": "80.00",
        "disputable_amount": "400.00",
        "explanation": "promo paid on fewer units",
        "dispute": {
            "outcome": "partially_approved",
            "days_to_outcome": 12,
            "approved_amount": "400.00",
            "supplier_action_after_days": 4,
        },
    }
    return Scenario.model_validate(data)


@pytest.fixture
def scenario(hand_scenario: Scenario) -> Scenario:
    return freshco_scenario(hand_scenario)


@pytest.fixture
def rw(world_factory: Any, scenario: Scenario) -> RunningWorld:
    return world_factory(scenario)


@pytest.fixture
def client(rw: RunningWorld) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=rw.urls[PORTAL], timeout=10) as c:
        yield c


# --------------------------------------------------------------------- helpers


class _Tables(HTMLParser):
    """Tables by aria-label (nested layout tables are kept apart): the header
    texts and each row's cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, list[Any]]] = {}
        self._stack: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            t: dict[str, Any] = {"headers": [], "rows": [], "row": None, "cell": None}
            self._stack.append(t)
            self.tables[a.get("aria-label") or f"table{len(self.tables)}"] = t
        elif not self._stack:
            return
        elif tag == "tr":
            self._stack[-1]["row"] = []
        elif tag in ("td", "th"):
            self._stack[-1]["cell"] = []

    def handle_endtag(self, tag: str) -> None:
        if not self._stack:
            return
        t = self._stack[-1]
        if tag in ("td", "th") and t["cell"] is not None and t["row"] is not None:
            t["row"].append(" ".join("".join(t["cell"]).split()))
            t["cell"] = None
        elif tag == "tr" and t["row"] is not None:
            if tag == "tr" and not t["headers"] and t.get("has_th"):
                t["headers"] = t["row"]
            else:
                t["rows"].append(t["row"])
            t["row"] = None
        elif tag == "table":
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        if self._stack and self._stack[-1]["cell"] is not None:
            self._stack[-1]["cell"].append(data)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)


class _GridTables(_Tables):
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "th" and self._stack:
            self._stack[-1]["has_th"] = True
        super().handle_starttag(tag, attrs)


def grid(html: str, label: str) -> tuple[list[str], list[dict[str, str]]]:
    p = _GridTables()
    p.feed(html)
    t = p.tables.get(label)
    if t is None:
        return [], []
    return t["headers"], [dict(zip(t["headers"], r, strict=True)) for r in t["rows"]]


def fields(html: str, label: str) -> dict[str, str]:
    """A LABEL | value table (claim detail, package) as a dict."""
    p = _Tables()
    p.feed(html)
    t = p.tables[label]
    return {r[0]: r[1] for r in t["rows"] if len(r) >= 2}


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def log_on(c: httpx.Client, user: str = USER, password: str = PASSWORD, nxt: str = "") -> str:
    """Password (and the security question when asked); returns where it landed."""
    r = c.post("/login", data={"userid": user, "password": password, "next": nxt})
    assert r.status_code == 303, text_of(r.text)
    if r.headers["location"] == "/login/question":
        r = c.post("/login/question", data={"answer": ANSWER})
        assert r.status_code == 303, text_of(r.text)
    return r.headers["location"]


@pytest.fixture
def signed_in(client: httpx.Client) -> httpx.Client:
    log_on(client)
    return client


def file_dispute(c: httpx.Client, claim: str, **overrides: Any) -> httpx.Response:
    data = {"case_type": "OI", "amount": "400.00", "reason": "Promo paid on 200 units only"}
    files = overrides.pop("files", [("attachment1", ("proof.pdf", PDF, "application/pdf"))])
    data.update(overrides)
    return c.post(f"/claims/{claim}/dispute", data=data, files=files)


# --------------------------------------------------------------------- log-on


def test_pages_without_a_session_bounce_to_log_on_with_next(client: httpx.Client) -> None:
    for path in ("/main", "/claims?page=2", "/claims/FC00012345", "/disputes", "/banner"):
        r = client.get(path)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login?next=")
        assert "expired" not in r.headers["location"]
    r = client.get("/login")
    assert "VENDOR LOG ON" in r.text
    assert 'target="_top"' in r.text  # a log-on from inside a frame reloads the frameset


def test_first_log_on_asks_the_security_question_then_remembers_the_browser(
    client: httpx.Client, rw: RunningWorld
) -> None:
    r = client.post("/login", data={"userid": USER, "password": PASSWORD, "next": "/claims"})
    assert r.headers["location"] == "/login/question"
    r = client.get("/claims")  # not in before the answer
    assert r.headers["location"] == "/login/question"
    r = client.get("/login/question")
    assert "SECURITY QUESTION" in r.text
    assert "What city were you born in?" in r.text
    r = client.post("/login/question", data={"answer": "Paris"})
    assert r.status_code == 200
    assert "The answer does not match our records." in r.text
    r = client.post("/login/question", data={"answer": "  dayton "})
    assert r.status_code == 303
    assert r.headers["location"] == "/main?content=%2Fclaims"
    device = r.cookies.get("FC_DEVICE")
    assert device
    (device_header,) = [h for h in r.headers.get_list("set-cookie") if h.startswith("FC_DEVICE=")]
    assert "Max-Age=34560000" in device_header  # long-lived: the browser is remembered
    assert client.get("/claims").status_code == 200
    steps = [(e.step, e.ok) for e in rw.world.record.logins if e.portal == PORTAL]
    assert steps == [
        ("password", True),
        ("security_question", False),
        ("security_question", True),
    ]

    # Same browser: log off and on again, no question.
    r = client.get("/logoff")
    assert r.headers["location"] == "/login?logged_off=1"
    assert client.get("/claims").status_code == 303
    assert log_on(client) == "/main"
    r = client.post("/login", data={"userid": USER, "password": PASSWORD})
    assert r.headers["location"] == "/main"

    # A new browser (no device cookie) is asked again.
    with httpx.Client(base_url=rw.urls[PORTAL]) as other:
        r = other.post("/login", data={"userid": USER, "password": PASSWORD})
        assert r.headers["location"] == "/login/question"
        # A made-up device cookie does not spare the question either.
        other.cookies.set("FC_DEVICE", "0" * 32)
        r = other.post("/login", data={"userid": USER, "password": PASSWORD})
        assert r.headers["location"] == "/login/question"
        # The answered browser's cookie does (it is that browser).
        other.cookies.set("FC_DEVICE", device)
        r = other.post("/login", data={"userid": USER, "password": PASSWORD})
        assert r.headers["location"] == "/main"


def test_three_wrong_answers_send_the_user_back_to_log_on(client: httpx.Client) -> None:
    client.post("/login", data={"userid": USER, "password": PASSWORD})
    for _ in range(2):
        r = client.post("/login/question", data={"answer": "nope"})
        assert "does not match" in r.text
    r = client.post("/login/question", data={"answer": "nope"})
    assert "VENDOR LOG ON" in r.text
    assert "Too many incorrect answers" in r.text
    r = client.post("/login/question", data={"answer": ANSWER})
    assert r.headers["location"] == "/login"  # the pending log-on is gone


def test_account_without_a_question_goes_straight_to_the_frameset(
    client: httpx.Client,
) -> None:
    r = client.post("/login", data={"userid": PLAIN_USER, "password": PLAIN_PASSWORD})
    assert r.status_code == 303
    assert r.headers["location"] == "/main"
    assert "FC_DEVICE" not in r.cookies
    r = client.get("/claims")
    assert "NO CLAIMS FOUND." in r.text  # this login has no claims


def test_wrong_password_then_lockout(client: httpx.Client, rw: RunningWorld) -> None:
    r = client.post("/login", data={"userid": USER, "password": "wrong"})
    assert r.status_code == 200
    assert "Invalid user ID or password." in r.text
    assert 'value="ACMESNACK"' in r.text
    r = client.post("/login", data={"userid": "", "password": ""})
    assert "Enter your user ID and password." in r.text
    for _ in range(rw.world.lockout_after - 1):
        r = client.post("/login", data={"userid": USER, "password": "wrong"})
    assert "Your user ID is locked" in r.text
    r = client.post("/login", data={"userid": USER, "password": PASSWORD})
    assert r.status_code == 200
    assert "Your user ID is locked" in r.text
    assert client.get("/claims").status_code == 303


def test_next_is_local_only(client: httpx.Client) -> None:
    assert log_on(client, nxt="https://evil.example/x") == "/main"
    client.get("/logoff")
    assert log_on(client, nxt="//evil.example") == "/main"
    client.get("/logoff")
    assert log_on(client, nxt="/claims/FC00012345") == "/main?content=%2Fclaims%2FFC00012345"
    r = client.get("/main", params={"content": "https://evil.example/"})
    assert 'src="/claims"' in r.text


# --------------------------------------------------------------------- frames


def test_frameset_banner_and_navigation(signed_in: httpx.Client) -> None:
    r = signed_in.get("/main")
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    for name, src in (("banner", "/banner"), ("nav", "/nav"), ("main", "/claims")):
        assert re.search(rf'<frame name="{name}"[^>]* src="{re.escape(src)}"', r.text)
    r = signed_in.get("/main", params={"content": "/disputes"})
    assert 'name="main" title="Content" src="/disputes"' in r.text
    banner = text_of(signed_in.get("/banner").text)
    assert "FRESHCO VENDOR CLAIMS" in banner
    assert "VENDOR NO: 0099812" in banner or "VENDOR NO: 99812" in banner
    assert "USER: ACMESNACK" in banner
    assert "DATE: 01-NOV-2026" in banner
    nav = signed_in.get("/nav").text
    assert '<a href="/claims" target="main">Claims</a>' in nav
    assert '<a href="/disputes" target="main">Disputes</a>' in nav
    assert '<a href="/logoff" target="_top">Log off</a>' in nav


# --------------------------------------------------------------------- claims


def test_claims_are_paged_fifteen_a_page_with_page_links(signed_in: httpx.Client) -> None:
    r = signed_in.get("/claims")
    head, rows = grid(r.text, "Claims")
    assert head == [
        "Claim No.",
        "Claim Type",
        "Reason",
        "Invoice",
        "Store",
        "Amount",
        "Claim Date",
        "Status",
    ]
    assert len(rows) == 15
    assert "RECORDS 1 - 15 OF 35" in r.text
    assert "PAGE 1 OF 3" in r.text
    assert '<a href="/claims?page=2">2</a>' in r.text
    assert '<a href="/claims?page=3">3</a>' in r.text
    assert rows[0]["Claim No."] == "FC00020000"  # newest first
    by_id = {row["Claim No."]: row for row in rows}
    assert by_id["FC00012346"] == {
        "Claim No.": "FC00012346",
        "Claim Type": "",
        "Reason": "",
        "Invoice": "FI-88002",
        "Store": "",
        "Amount": "95.10",
        "Claim Date": "02-OCT-2026",
        "Status": "Open",
    }
    first = by_id["FC00020000"]
    assert first["Amount"] == "1,234.56"
    assert first["Claim Date"] == "05-OCT-2026"
    assert first["Claim Type"] == "SH"
    assert first["Reason"] == "4 SH - shortage/damage"
    assert by_id["FC00020001"]["Claim Type"] == "PU"
    assert by_id["FC00020002"]["Claim Type"] == "LC"
    assert by_id["FC00020003"]["Claim Type"] == "CV"
    assert by_id["FC00020004"]["Claim Type"] == "OV"
    assert by_id["FC00020005"]["Claim Type"] == "ORAD"

    seen = [row["Claim No."] for row in rows]
    for n in (2, 3):
        _, more = grid(signed_in.get("/claims", params={"page": n}).text, "Claims")
        seen += [row["Claim No."] for row in more]
    assert len(seen) == len(set(seen)) == 35
    assert "FC00099999" not in seen  # posted on 10-NOV-2026, after today
    r = signed_in.get("/claims", params={"page": 99})
    assert "PAGE 3 OF 3" in r.text
    for junk in ("abc", "-1", "9" * 40):
        r = signed_in.get("/claims", params={"page": junk})
        assert r.status_code == 200
        assert "PAGE 1 OF 3" in r.text


def test_claim_filters(signed_in: httpx.Client) -> None:
    r = signed_in.get("/claims", params={"type": "PU"})
    _, rows = grid(r.text, "Claims")
    assert rows
    assert {row["Claim Type"] for row in rows} == {"PU"}
    assert '<option value="PU" selected>' in r.text
    _, rows = grid(signed_in.get("/claims", params={"q": "fi-88001"}).text, "Claims")
    assert [row["Claim No."] for row in rows] == ["FC00012345"]
    _, rows = grid(signed_in.get("/claims", params={"q": "FC0002001"}).text, "Claims")
    assert len(rows) == 10
    r = signed_in.get("/claims", params={"q": "nothing-like-it"})
    assert "NO CLAIMS FOUND." in r.text
    r = signed_in.get("/claims", params={"q": "FC0002", "page": "2"})
    assert "RECORDS 16 - 30 OF 33" in r.text
    assert '<a href="/claims?q=FC0002&amp;page=3">3</a>' in r.text  # filters survive paging
    _, rows = grid(signed_in.get("/claims", params={"type": "SH"}).text, "Claims")
    assert len(rows) == 6
    assert '<option value="" selected>' not in r.text


def test_claim_detail_fields_and_unknown_claims(signed_in: httpx.Client, rw: RunningWorld) -> None:
    r = signed_in.get("/claims/FC00012345")
    assert "CLAIM DETAIL - FC00012345" in r.text
    f = fields(r.text, "Claim detail")
    assert f["CLAIM NO."] == "FC00012345"
    assert f["CLAIM TYPE"] == "OI"
    assert f["REASON"] == "2 OI - promo allowance difference"
    assert f["INVOICE NO."] == "FI-88001"
    assert f["CLAIM AMOUNT"] == "480.00"
    assert f["CLAIM DATE"] == "15-SEP-2026"
    assert f["DISPUTE BY"] == "14-MAR-2027"
    assert f["PROMO NO."] == "PR-2026-07"
    assert "Dispute this claim" in r.text
    r = signed_in.get("/claims/FC00020001")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; «reçu»" in r.text
    assert "<script>" not in r.text
    for missing in ("NOPE", "FC00099999", "FC00012345%2F..%2Fx"):
        r = signed_in.get(f"/claims/{missing}")
        assert r.status_code == 404
        assert "NOT FOUND" in r.text
    rw.advance_clock(days=10)
    assert signed_in.get("/claims/FC00099999").status_code == 200
    r = signed_in.get("/nothing-here")
    assert r.status_code == 404
    assert "PAGE NOT FOUND" in r.text
    r = signed_in.post("/claims")
    assert r.status_code == 405
    assert "GET" in r.headers["allow"]


# --------------------------------------------------------------------- documents


def test_documents_open_in_a_pop_up_viewer(signed_in: httpx.Client, rw: RunningWorld) -> None:
    r = signed_in.get("/claims/FC00012345")
    _, docs = grid(r.text, "Documents")
    assert [d["DOCUMENT TYPE"] for d in docs] == ["CLAIM BACKUP", "LINE DETAIL"]
    link = re.search(
        r'<a href="(/viewer/FC00012345/fc-12345-b)" target="_blank" onclick="([^"]+)"', r.text
    )
    assert link is not None
    assert "window.open(" in unescape(link[2])

    viewer = signed_in.get(link[1])
    assert "DOCUMENT VIEWER" in viewer.text
    pdf_href = re.search(r'<a href="([^"]+)"[^>]*>Open PDF</a>', viewer.text)
    assert pdf_href is not None
    pdf = signed_in.get(pdf_href[1])
    d = rw.world.deduction(PORTAL, USER, "FC00012345")
    assert d is not None
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("inline;")
    assert pdf.content.startswith(b"%PDF-")
    assert pdf.content == rw.world.document_bytes(d, d.documents[0])

    viewer = signed_in.get("/viewer/FC00012345/fc-12345-l")
    csv_href = re.search(r'<a href="([^"]+)"[^>]*>Download CSV</a>', viewer.text)
    assert csv_href is not None
    csv = signed_in.get(csv_href[1])
    assert csv.headers["content-disposition"].startswith("attachment;")
    assert "FC00012345_lines.csv" in csv.headers["content-disposition"]
    assert csv.content == rw.world.document_bytes(d, d.documents[1])
    refs = [e.ref for e in rw.world.record.downloads if e.portal == PORTAL]
    assert refs == ["fc-12345-b", "fc-12345-l"]

    assert signed_in.get("/viewer/FC00012345/nope").status_code == 404
    assert signed_in.get("/viewer/FC00012345/fc-12346-b/file").status_code == 404  # not its doc


def test_backup_not_yet_on_file(signed_in: httpx.Client, rw: RunningWorld) -> None:
    r = signed_in.get("/claims/FC00020002")
    assert "No documents on file" in r.text
    assert signed_in.get("/viewer/FC00020002/fc-FC00020002-b/file").status_code == 404
    rw.advance_clock(days=4)
    r = signed_in.get("/claims/FC00020002")
    assert "No documents on file" not in r.text
    assert "FC00020002.pdf" in r.text


def test_malformed_backup_is_served_as_the_portal_has_it(
    signed_in: httpx.Client, rw: RunningWorld
) -> None:
    d = rw.world.deduction(PORTAL, USER, "FC00012346")
    assert d is not None
    r = signed_in.get("/viewer/FC00012346/fc-12346-b/file")
    assert r.status_code == 200
    assert r.content == rw.world.document_bytes(d, d.documents[0])
    assert "CON.pdf" in r.headers["content-disposition"]


# --------------------------------------------------------------------- disputes


def test_dispute_form_files_a_package_once(signed_in: httpx.Client, rw: RunningWorld) -> None:
    r = signed_in.get("/claims/FC00012345/dispute")
    assert "DISPUTE CLAIM - FC00012345" in r.text
    for code in ("SH", "PU", "LC", "OI", "CV", "OV", "ORAD"):
        assert f'<option value="{code}"' in r.text
    assert r.text.count('type="file"') == 3

    r = file_dispute(signed_in, "FC00012345", case_type="")
    assert r.status_code == 400
    assert "CASE TYPE is required" in r.text
    assert "Promo paid on 200 units only" in r.text  # what was typed stays
    assert not rw.world.disputes

    r = file_dispute(signed_in, "FC00012345", amount="12x")
    assert "Enter the dispute amount" in r.text
    r = file_dispute(signed_in, "FC00012345", reason="  ")
    assert "Enter the reason for the dispute." in r.text
    r = file_dispute(signed_in, "FC00012345", amount="1,480.00")
    assert r.status_code == 409
    assert "at most the claim amount" in r.text
    assert not rw.world.disputes

    r = file_dispute(signed_in, "FC00012345", amount="1,400.00".replace("1,", ""))
    assert r.status_code == 303
    assert r.headers["location"] == "/disputes/FCP0000001/received"
    r = signed_in.get(r.headers["location"])
    assert "Package FCP0000001 received" in text_of(r.text)
    package = fields(r.text, "Package")
    assert package["CASE TYPE"] == "OI - OFF-INVOICE"
    assert package["DISPUTE AMOUNT"] == "400.00"
    assert package["STATUS"] == "Under review"
    assert package["ATTACHMENTS"] == f"proof.pdf ({len(PDF)} BYTES)"
    disp = rw.world.disputes["FCP0000001"]
    assert disp.submitted_at is not None
    assert disp.fields == {"case_type": "OI"}
    assert disp.amount == Decimal("400.00")
    assert disp.comment == "Promo paid on 200 units only"

    # No second package, no edits.
    r = file_dispute(signed_in, "FC00012345")
    assert r.status_code == 409
    assert "A dispute already exists for this claim." in r.text
    r = signed_in.get("/claims/FC00012345/dispute")
    assert "Package FCP0000001 was filed for this claim" in r.text
    assert "SUBMIT DISPUTE" not in r.text
    r = signed_in.get("/claims/FC00012345")
    assert "PACKAGE FCP0000001 - Under review" in text_of(r.text)
    assert fields(r.text, "Claim detail")["STATUS"] == "Disputed"
    assert len(rw.world.disputes) == 1


def test_dispute_window_closed(signed_in: httpx.Client, rw: RunningWorld) -> None:
    rw.advance_clock(days=140)  # FC00012345 closes 14-MAR-2027
    r = file_dispute(signed_in, "FC00012345")
    assert r.status_code == 409
    assert "The dispute window for this claim closed on 14-MAR-2027." in r.text
    assert not rw.world.disputes


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            [(f"attachment{i}", (f"p{i}.pdf", PDF, "application/pdf")) for i in range(1, 5)],
            "At most 3 attachments are allowed.",
        ),
        (
            [("attachment1", ("notes.txt", b"plain text", "text/plain"))],
            "notes.txt: only PDF attachments are accepted.",
        ),
        (
            [("attachment1", ("big.pdf", PDF + b"0" * 5242880, "application/pdf"))],
            "big.pdf: attachments are limited to 5242880 bytes.",
        ),
    ],
)
def test_attachment_problems_are_refused_on_the_form(
    signed_in: httpx.Client, rw: RunningWorld, files: list[Any], message: str
) -> None:
    r = file_dispute(signed_in, "FC00012345", files=files)
    assert r.status_code == 409
    assert message in r.text
    assert "DISPUTE CLAIM - FC00012345" in r.text
    assert not rw.world.disputes


def test_an_oversized_upload_is_refused_before_it_is_read(
    signed_in: httpx.Client, rw: RunningWorld
) -> None:
    big = PDF + b"0" * (3 * 5242880)
    files = [(f"attachment{i}", (f"p{i}.pdf", big, "application/pdf")) for i in (1, 2)]
    r = file_dispute(signed_in, "FC00012345", files=files)
    assert r.status_code == 413
    assert "Attach at most 3 PDF files of 5,120 KB each." in r.text
    assert not rw.world.disputes


def test_package_status_moves_with_the_world_clock(
    signed_in: httpx.Client, rw: RunningWorld
) -> None:
    assert "NO DISPUTE PACKAGES ON FILE." in signed_in.get("/disputes").text
    assert file_dispute(signed_in, "FC00012345").status_code == 303
    assert file_dispute(signed_in, "FC00020000", case_type="SH", amount="34.56").status_code == 303

    def statuses() -> dict[str, str]:
        head, rows = grid(signed_in.get("/disputes").text, "Dispute packages")
        assert head == ["Package No.", "Claim No.", "Case Type", "Amount", "Filed", "Status"]
        return {row["Package No."]: row["Status"] for row in rows}

    assert statuses() == {"FCP0000001": "Under review", "FCP0000002": "Under review"}
    rw.advance_clock(days=5)
    assert statuses() == {"FCP0000001": "Information requested", "FCP0000002": "Under review"}
    rw.advance_clock(days=10)
    assert statuses() == {"FCP0000001": "Closed - partial", "FCP0000002": "Under review"}
    package = fields(signed_in.get("/disputes/FCP0000001").text, "Package")
    assert package["AMOUNT PAID"] == "400.00"
    rw.advance_clock(days=20)
    assert statuses()["FCP0000002"] == "Closed - denied"
    _, rows = grid(signed_in.get("/disputes").text, "Dispute packages")
    assert rows[0]["Filed"] == "01-NOV-2026"
    assert rows[0]["Case Type"] == "SH"
    assert signed_in.get("/disputes/FCP0009999").status_code == 404


# --------------------------------------------------------------------- sessions


class _FakeTime:
    """Stands in for the kit's ``time`` module: monotonic time we can move."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        import time

        return time.monotonic() + self.offset


def test_idle_session_expires_to_the_log_on_page(
    signed_in: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _FakeTime()
    monkeypatch.setattr(kit, "time", fake)
    assert signed_in.get("/claims").status_code == 200
    fake.offset += 601  # the scenario's session_idle_seconds is 600
    r = signed_in.get("/claims?page=2")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fclaims%3Fpage%3D2&expired=1"
    r = signed_in.get(r.headers["location"])
    assert "Your session has expired. Please log in again." in r.text
    assert 'name="next" value="/claims?page=2"' in r.text
    # Logging on again (from the frame) restores that page in the main frame.
    assert log_on(signed_in, nxt="/claims?page=2") == "/main?content=%2Fclaims%3Fpage%3D2"


def test_request_budget_ends_the_session(world_factory: Any, hand_scenario: Scenario) -> None:
    rw = world_factory(freshco_scenario(hand_scenario, session_max_requests=4))
    with httpx.Client(base_url=rw.urls[PORTAL]) as c:
        log_on(c)
        for _ in range(4):
            assert c.get("/claims").status_code == 200
        r = c.get("/claims/FC00012345")
        assert r.status_code == 303
        assert "expired=1" in r.headers["location"]


def test_expire_every_fault_bounces_mid_run(rw: RunningWorld, signed_in: httpx.Client) -> None:
    rw.set_faults("freshco:expire_every=3")
    codes = [signed_in.get("/claims").status_code for _ in range(3)]
    assert 303 in codes
    assert rw.world.record.faults[(PORTAL, "session_expired")] >= 1


# --------------------------------------------------------------------- generated world


def test_serves_a_generated_small_world(world_factory: Any) -> None:
    from fixtures.generator import generate

    scenario = generate(7, "small")
    rw = world_factory(scenario)
    world = rw.world
    (account,) = scenario.accounts_on(PORTAL)
    visible = world.visible_deductions(PORTAL, account.username)
    assert visible
    with httpx.Client(base_url=rw.urls[PORTAL], timeout=10) as c:
        r = c.post("/login", data={"userid": account.username, "password": account.password})
        if account.security_question is not None:
            assert r.headers["location"] == "/login/question"
            assert account.security_question in c.get("/login/question").text
            r = c.post("/login/question", data={"answer": account.security_answer or ""})
        assert r.headers["location"] == "/main"

        seen: dict[str, dict[str, str]] = {}
        pages = -(-len(visible) // scenario.portals[PORTAL].page_size)
        for n in range(1, pages + 1):
            html = c.get("/claims", params={"page": n}).text
            assert f"PAGE {n} OF {pages}" in html
            seen.update({row["Claim No."]: row for row in grid(html, "Claims")[1]})
        assert list(seen) == [d.deduction_id for d in visible]
        for d in visible:
            row = seen[d.deduction_id]
            assert row["Amount"] == f"{world.current_amount(d):,.2f}"
            assert re.fullmatch(r"\d{2}-[A-Z]{3}-\d{4}", row["Claim Date"])
            assert row["Claim Type"] in ("", "SH", "PU", "LC", "OI", "CV", "OV", "ORAD")

        # A claim with its backup and line detail on file, still inside its window.
        today = world.clock.today()
        d = next(
            x
            for x in visible
            if {s.kind for s in world.available_documents(x)} >= {"backup", "line_detail"}
            and (world.window_closes(x) or today) >= today
        )
        for spec in world.available_documents(d):
            viewer = c.get(f"/viewer/{d.deduction_id}/{spec.doc_id}")
            href = re.search(r'<a href="([^"]+/file)"', viewer.text)
            assert href is not None
            body = c.get(unescape(href[1])).content
            assert body == world.document_bytes(d, spec)
            if spec.form == "pdf":
                assert body.startswith(b"%PDF-")
        amount = f"{world.current_amount(d):,.2f}"
        r = file_dispute(c, d.deduction_id, case_type="ORAD", amount=amount)
        assert r.status_code == 303, text_of(r.text)
        number = r.headers["location"].split("/")[2]
        assert f"Package {number} received" in text_of(c.get(r.headers["location"]).text)


# --------------------------------------------------------------------- faults


def test_obfuscation_changes_ids_classes_and_columns_not_labels(
    signed_in: httpx.Client, rw: RunningWorld
) -> None:
    plain = signed_in.get("/claims").text
    head_plain, rows_plain = grid(plain, "Claims")
    rw.set_faults("freshco:obfuscate=3")
    mangled = signed_in.get("/claims").text
    head_mangled, rows_mangled = grid(mangled, "Claims")
    assert head_mangled != head_plain
    assert sorted(head_mangled) == sorted(head_plain)
    assert rows_mangled == rows_plain  # same cells under the same labels
    ids_plain = set(re.findall(r'id="([^"]+)"', plain))
    ids_mangled = set(re.findall(r'id="([^"]+)"', mangled))
    assert ids_plain
    assert not ids_plain & ids_mangled
    classes_plain = set(re.findall(r'class="([^"]+)"', plain))
    assert not classes_plain & set(re.findall(r'class="([^"]+)"', mangled))
    for label in ("CLAIM/INVOICE NO.", "CLAIM TYPE", "SEARCH", "PAGE 1 OF 3"):
        assert label in mangled
    # <label for> still points at its field.
    for_ids = re.findall(r'<label for="([^"]+)">', mangled)
    assert for_ids
    assert all(f'id="{i}"' in mangled for i in for_ids)
    frames = signed_in.get("/main").text
    assert 'name="main" title="Content"' in frames


def test_slow_downloads_still_deliver_the_same_bytes(
    signed_in: httpx.Client, rw: RunningWorld
) -> None:
    rw.set_faults("freshco:bandwidth_kbps=512")
    d = rw.world.deduction(PORTAL, USER, "FC00012345")
    assert d is not None
    r = signed_in.get("/viewer/FC00012345/fc-12345-b/file")
    assert r.content == rw.world.document_bytes(d, d.documents[0])


def test_server_errors_change_nothing_and_a_retry_succeeds(
    signed_in: httpx.Client, rw: RunningWorld
) -> None:
    rw.set_faults("freshco:error_rate=0.5")
    codes = [signed_in.get("/claims").status_code for _ in range(12)]
    assert {c for c in codes if c != 200} <= {500, 502, 503}
    assert 200 in codes
    assert any(c >= 500 for c in codes)


def test_oversized_log_on_form_is_refused(client: httpx.Client) -> None:
    r = client.post(
        "/login",
        content=b"userid=" + b"A" * 20000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 413
