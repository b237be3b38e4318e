"""ShopRight Partners Online over plain HTTP: the SPA's JSON API and its pages."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import zipfile
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pyotp
import pytest

from fixtures.scenario import Scenario

PORTAL = "shopright"
EMAIL = "ar@acme-snacks.example"
PASSWORD = "Sr-pass-9W3#yy"
OTHER_EMAIL = "ap@other-vendor.example"
XHR = {"X-Requested-With": "XMLHttpRequest"}
PDF = b"%PDF-1.4\n% a supplier's proof of delivery\n%%EOF\n"
HOSTILE_MEMO = '=HYPERLINK("http://evil.example","x"),\n"quoted";<script>alert(1)</script>'
TYPES = (("CB", "A030"), ("VC", "V110"), ("RTVS", "R090"), ("90SF", "F090"))


# --------------------------------------------------------------------------- worlds


def busy_scenario(hand: Scenario, *, rows: int = 23, **portal: Any) -> Scenario:
    """The hand-written world plus ``rows`` more ShopRight deductions of every type,
    a second vendor account, a late backup, a revision and scripted outcomes.

    ``portal`` overrides ShopRight's configuration (page_size 5 unless given)."""
    data = hand.model_dump(mode="json")
    cfg = data["portals"][PORTAL]
    cfg.update({"page_size": 5, "max_attachment_bytes": 50_000} | portal)
    data["accounts"].append(
        {
            "portal": PORTAL,
            "username": OTHER_EMAIL,
            "password": "Other-pass-1!",
            "vendor_id": "SR-9",
        }
    )
    start = date(2026, 9, 1)
    for i in range(rows):
        prefix, code = TYPES[i % len(TYPES)]
        posted = start + timedelta(days=i // 2)  # two a day: the cursor must break ties
        data["deductions"].append(
            {
                "portal": PORTAL,
                "account": EMAIL,
                "deduction_id": f"{prefix}{3000000 + i}",
                "invoice_number": f"SRI-{5000 + i}",
                "po_number": f"SR-PO-{5000 + i}",
                "location": f"DC {i % 7:04d}",
                "amount": f"{100 + i * 10}.25",
                "reason_code": code,
                "deduction_date": (posted - timedelta(days=1)).isoformat(),
                "invoice_date": (posted - timedelta(days=20)).isoformat(),
                "posted_date": posted.isoformat(),
                "memo": HOSTILE_MEMO if i == 0 else ("+1 call me" if i == 1 else ""),
                "documents": [
                    {
                        "doc_id": f"sr-{i}-notice",
                        "kind": "backup",
                        "filename": f"Notice {prefix}{3000000 + i}.pdf",
                    }
                ],
            }
        )
    data["deductions"] += [
        {  # backup imaged a week after posting
            "portal": PORTAL,
            "account": EMAIL,
            "deduction_id": "CB4000001",
            "invoice_number": "SRI-9001",
            "amount": "75.00",
            "reason_code": "A034",
            "deduction_date": "2026-10-30",
            "invoice_date": "2026-10-10",
            "posted_date": "2026-10-31",
            "changes": [{"effective": "2026-11-01", "amount": "70.00"}],
            "documents": [
                {
                    "doc_id": "sr-late",
                    "kind": "backup",
                    "filename": "Late notice.pdf",
                    "available_from": "2026-11-08",
                }
            ],
        },
        {  # posts next week
            "portal": PORTAL,
            "account": EMAIL,
            "deduction_id": "CB4000002",
            "invoice_number": "SRI-9002",
            "amount": "80.00",
            "reason_code": "A030",
            "deduction_date": "2026-11-05",
            "invoice_date": "2026-10-20",
            "posted_date": "2026-11-06",
        },
        {  # another vendor's deduction
            "portal": PORTAL,
            "account": OTHER_EMAIL,
            "deduction_id": "CB4000003",
            "invoice_number": "SRI-9003",
            "amount": "90.00",
            "reason_code": "A030",
            "deduction_date": "2026-10-05",
            "invoice_date": "2026-09-20",
            "posted_date": "2026-10-06",
        },
    ]
    data["truth"]["deductions"][f"{PORTAL}:VC3000001"] = {
        "category": "compliance_fine",
        "validity": "invalid",
        "valid_amount": "0.00",
        "disputable_amount": "110.25",
        "explanation": "shipped on time",
        "dispute": {"outcome": "expired", "days_to_outcome": 40, "supplier_action_after_days": 5},
    }
    return Scenario.model_validate(data)


@pytest.fixture
def busy(hand_scenario) -> Scenario:  # type: ignore[no-untyped-def]
    return busy_scenario(hand_scenario)


# --------------------------------------------------------------------------- helpers


def code_for(world: Any, email: str = EMAIL) -> str:
    secret = world.account(PORTAL, email).totp_secret
    return pyotp.TOTP(secret).now()


def sign_in(rw: Any, email: str = EMAIL, password: str = PASSWORD) -> httpx.Client:
    """A fresh (unopened) client holding a signed-in session cookie."""
    with httpx.Client(base_url=rw.urls[PORTAL], timeout=10) as client:
        cookies = _sign_in(client, rw, email, password)
    return httpx.Client(base_url=rw.urls[PORTAL], timeout=10, cookies=cookies)


def _sign_in(client: httpx.Client, rw: Any, email: str, password: str) -> httpx.Cookies:
    r = client.post("/api/session", json={"email": email, "password": password}, headers=XHR)
    assert r.status_code == 200, r.text
    if r.json()["status"] == "mfa_required":
        r = client.post(
            "/api/session/mfa",
            json={"challenge": r.json()["challenge"], "code": code_for(rw.world, email)},
            headers=XHR,
        )
        assert r.status_code == 200, r.text
    return client.cookies


def boot_of(html: str) -> dict[str, Any]:
    m = re.search(
        r"<script type=\"application/json\" id=\"[^\"]+\" data-sr-boot>(.*?)</script>", html
    )
    assert m, "boot block missing"
    return json.loads(m.group(1))


def all_pages(client: httpx.Client, **params: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        q = dict(params) | ({"cursor": cursor} if cursor else {})
        body = client.get("/api/deductions", params=q).json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursor never ended")


def file_case(client: httpx.Client, number: str, **extra: Any) -> httpx.Response:
    data = {
        "document_number": number,
        "reason": "received_in_full",
        "amount": "100.00",
        "explanation": "Delivered in full; the signed POD is attached.",
    } | {k: v for k, v in extra.items() if k != "files"}
    files = extra.get("files", [("attachment", ("POD.pdf", PDF, "application/pdf"))])
    return client.post("/api/cases", data=data, files=files, headers=XHR)


# --------------------------------------------------------------------------- sign-in


def test_pages_send_a_signed_out_user_to_the_login_with_next(world_factory) -> None:  # type: ignore[no-untyped-def]
    rw = world_factory()
    with httpx.Client(base_url=rw.urls[PORTAL]) as c:
        r = c.get("/deductions/CB1000001")
        assert r.status_code == 303
        assert r.headers["location"] == "/login?next=%2Fdeductions%2FCB1000001"
        assert c.get("/").headers["location"] == "/deductions"
        page = c.get("/login", params={"next": "//evil.example/x"})
        assert page.status_code == 200
        assert "<title>ShopRight Partners Online</title>" in page.text
        assert boot_of(page.text)["next"] == "/deductions"  # no open redirect
        assert boot_of(c.get("/login?next=/cases").text)["next"] == "/cases"
        assert c.get("/static/app.js").text.startswith("/* ShopRight")


def test_cookie_is_set_only_after_password_and_authenticator_code(world_factory) -> None:  # type: ignore[no-untyped-def]
    rw = world_factory()
    with httpx.Client(base_url=rw.urls[PORTAL]) as c:
        r = c.post("/api/session", json={"email": EMAIL, "password": PASSWORD}, headers=XHR)
        assert r.status_code == 200
        assert r.json()["status"] == "mfa_required"
        assert not c.cookies  # the password alone opens nothing
        assert c.get("/api/me").status_code == 401
        challenge = r.json()["challenge"]
        c.cookies.set("SRPO_SESSION", challenge)  # the challenge is not a session
        assert c.get("/api/me").status_code == 401
        c.cookies.clear()
        bad = c.post(
            "/api/session/mfa", json={"challenge": challenge, "code": "000000"}, headers=XHR
        )
        assert bad.status_code == 401
        assert bad.json()["error"] == "invalid_code"
        assert "6-digit code" in bad.json()["message"]
        ok = c.post(
            "/api/session/mfa",
            json={"challenge": challenge, "code": code_for(rw.world)},
            headers=XHR,
        )
        assert ok.status_code == 200
        assert "SRPO_SESSION" in c.cookies
        me = c.get("/api/me").json()
        assert me == {"email": EMAIL, "vendor_id": "SR-4455", "supplier": "Acme Snacks Co."}
        assert c.get("/login").headers["location"] == "/deductions"
        again = c.post("/api/session/mfa", json={"challenge": challenge, "code": "1"}, headers=XHR)
        assert again.json()["error"] == "challenge_expired"  # a challenge is used once
    steps = [(e.step, e.ok) for e in rw.world.record.logins if e.portal == PORTAL]
    assert steps == [("password", True), ("totp", False), ("totp", True)]


def test_too_many_wrong_codes_end_the_challenge(world_factory) -> None:  # type: ignore[no-untyped-def]
    rw = world_factory()
    with httpx.Client(base_url=rw.urls[PORTAL]) as c:
        r = c.post("/api/session", json={"email": EMAIL, "password": PASSWORD}, headers=XHR)
        challenge = r.json()["challenge"]
        answers = [
            c.post("/api/session/mfa", json={"challenge": challenge, "code": "12345x"}, headers=XHR)
            for _ in range(5)
        ]
        assert [a.json()["error"] for a in answers] == ["invalid_code"] * 4 + ["challenge_expired"]
        late = c.post(
            "/api/session/mfa",
            json={"challenge": challenge, "code": code_for(rw.world)},
            headers=XHR,
        )
        assert late.json()["error"] == "challenge_expired"
        assert not c.cookies


def test_wrong_password_then_lockout(world_factory) -> None:  # type: ignore[no-untyped-def]
    rw = world_factory()
    with httpx.Client(base_url=rw.urls[PORTAL]) as c:
        r = c.post("/api/session", json={"email": EMAIL, "password": "nope"}, headers=XHR)
        assert r.status_code == 401
        assert r.json() == {
            "error": "invalid_credentials",
            "message": "The e-mail address or password is incorrect.",
        }
        for _ in range(rw.world.lockout_after - 1):
            r = c.post("/api/session", json={"email": EMAIL, "password": "nope"}, headers=XHR)
        assert r.status_code == 423
        assert "locked" in r.json()["message"]
        r = c.post("/api/session", json={"email": EMAIL, "password": PASSWORD}, headers=XHR)
        assert r.status_code == 423
        assert r.json()["error"] == "locked"
        empty = c.post("/api/session", json={"email": "", "password": ""}, headers=XHR)
        assert empty.status_code == 422
        huge = c.post("/api/session", content=b"{" + b" " * 70_000 + b"}", headers=XHR)
        assert huge.status_code == 400


def test_mutating_calls_need_the_spa_header(world_factory) -> None:  # type: ignore[no-untyped-def]
    rw = world_factory()
    with httpx.Client(base_url=rw.urls[PORTAL]) as c:
        r = c.post("/api/session", json={"email": EMAIL, "password": PASSWORD})
        assert r.status_code == 403
        assert r.json()["error"] == "csrf"
    client = sign_in(rw)
    with client:
        r = client.post("/api/cases", json={"document_number": "CB1000001"})
        assert r.status_code == 403
        assert client.delete("/api/session").status_code == 403
        assert client.get("/api/me").status_code == 200  # still signed in
        assert rw.world.disputes == {}
        assert client.delete("/api/session", headers=XHR).status_code == 200
        assert client.get("/api/me").status_code == 401


def test_api_without_session_answers_401_json(world_factory) -> None:  # type: ignore[no-untyped-def]
    rw = world_factory()
    with httpx.Client(base_url=rw.urls[PORTAL]) as c:
        for path in (
            "/api/me",
            "/api/deductions",
            "/api/deductions/export.csv",
            "/api/deductions/CB1000001",
            "/api/deductions/CB1000001/documents",
            "/api/deductions/CB1000001/backup.zip",
            "/api/cases",
        ):
            r = c.get(path)
            assert r.status_code == 401, path
            assert r.json()["error"] == "session expired"
        r = c.post("/api/cases", json={}, headers=XHR)
        assert r.status_code == 401


def test_session_request_budget_and_expiry_fault(world_factory, hand_scenario) -> None:  # type: ignore[no-untyped-def]
    rw = world_factory(busy_scenario(hand_scenario, session_max_requests=3))
    with sign_in(rw) as c:
        assert [c.get("/api/me").status_code for _ in range(4)] == [200, 200, 200, 401]
    rw = world_factory()
    with sign_in(rw) as c:
        assert c.get("/api/deductions").status_code == 200
        rw.set_faults(f"{PORTAL}:expire_every=1")
        r = c.get("/api/deductions")
        assert r.status_code == 401
        assert r.json()["error"] == "session expired"
        rw.set_faults(None)
        assert c.get("/deductions").status_code == 303  # page: back to the login


# --------------------------------------------------------------------------- list


def test_cursor_pages_walk_every_visible_deduction_once(world_factory, busy) -> None:  # type: ignore[no-untyped-def]
    rw = world_factory(busy)
    with sign_in(rw) as c:
        first = c.get("/api/deductions").json()
        assert len(first["items"]) == 5  # the API's page size is the portal's
        assert first["total"] == 26
        assert first["page_size"] == 5
        items = all_pages(c)
        expected = [d.deduction_id for d in rw.world.visible_deductions(PORTAL, EMAIL)]
        assert [i["id"] for i in items] == expected
        assert "CB4000002" not in expected  # posts next week
        assert "CB4000003" not in expected  # another vendor's
        assert len(all_pages(c, limit="2")) == 26
        assert len(c.get("/api/deductions", params={"limit": "500"}).json()["items"]) == 5
        assert c.get("/api/deductions", params={"cursor": "!!bad"}).status_code == 400
        assert c.get("/api/deductions", params={"cursor": "x" * 400}).status_code == 400
        assert c.get("/api/deductions", params={"limit": "-1"}).status_code == 400
        rw.advance_clock(days=7)
        assert c.get("/api/deductions").json()["items"][0]["id"] == "CB4000002"


def test_row_fields_types_reasons_amounts_and_dates(world_factory, busy) -> None:  # type: ignore[no-untyped-def]
    rw = world_factory(busy)
    with sign_in(rw) as c:
        rows = {i["id"]: i for i in all_pages(c)}
    assert rows["CB1000001"] == {
        "id": "CB1000001",
        "document_number": "CB1000001",
        "type": "Chargeback",
        "reason_code": "A032",
        "reason_text": "Damaged/defective merchandise",
        "invoice_number": "SRI-1001",
        "po_number": "SR-PO-1001",
        "dc": "DC 0555",
        "amount": "1234.56",
        "currency": "USD",
        "date": "2026-08-20",
        "status": "Open",
    }
    types = {i[:2] if i[0] != "R" and i[0] != "9" else i[:4]: r["type"] for i, r in rows.items()}
    assert types == {
        "CB": "Chargeback",
        "VC": "Vendor compliance",
        "RTVS": "Return to vendor",
        "90SF": "Freight audit",
    }
    assert rows["CB4000001"]["amount"] == "70.00"  # the revision of 11/01 counts


def test_search_and_status_filters(world_factory, busy) -> None:  # type: ignore[no-untyped-def]
    rw = world_factory(busy)
    with sign_in(rw) as c:
        by_doc = all_pages(c, q="cb100")
        assert [i["id"] for i in by_doc] == ["CB1000001"]
        by_invoice = all_pages(c, q="SRI-5003")
        assert [i["id"] for i in by_invoice] == ["90SF3000003"]
        assert c.get("/api/deductions", params={"q": "zzz"}).json()["total"] == 0
        assert c.get("/api/deductions", params={"q": "x" * 65}).status_code == 400
        assert file_case(c, "VC3000001", amount="110.25").status_code == 201
        body = c.get("/api/deductions", params={"status": "Disputed"}).json()
        assert [i["id"] for i in body["items"]] == ["VC3000001"]
        assert body["statuses"] == ["Disputed", "Open"]
        assert len(all_pages(c, status="Open")) == 25


def test_csv_export_quotes_and_defuses_formulas(world_factory, busy) -> None:  # type: ignore[no-untyped-def]
    rw = world_factory(busy)
    with sign_in(rw) as c:
        r = c.get("/api/deductions/export.csv")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == (
        'attachment; filename="shopright_deductions_2026-11-01.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8"), newline="")))
    assert list(rows[0]) == [
        "Document #", "Type", "Reason code", "Reason", "Invoice", "PO", "DC",
        "Amount", "Currency", "Date", "Status", "Memo",
    ]  # fmt: skip
    assert len(rows) == 26
    by_id = {row["Document #"]: row for row in rows}
    assert by_id["CB3000000"]["Memo"] == "'" + HOSTILE_MEMO  # one cell, defused
    assert by_id["VC3000001"]["Memo"] == "'+1 call me"
    assert by_id["VC2000002"]["Memo"] == 'Ünïcödé & <b>bold</b> "quotes"'
    assert by_id["CB1000001"]["Amount"] == "1234.56"
    assert by_id["CB1000001"]["Type"] == "Chargeback"


# --------------------------------------------------------------------------- detail, documents


def test_detail_lists_fields_lines_and_documents(world_factory) -> None:  # type: ignore[no-untyped-def]
    rw = world_factory()
    with sign_in(rw) as c:
        d = c.get("/api/deductions/CB1000001").json()
        assert d["type"] == "Chargeback"
        assert d["dispute_by"] == "2028-02-19"  # A032: 548 days from the deduction date
        assert d["lines"] == [
            {
                "sku": "SKU-1",
                "description": "Chips 12x",
                "quantity": 2,
                "unit_cost": "617.28",
                "amount": "1234.56",
            }
        ]
        assert [x["filename"] for x in d["documents"]] == [
            "Chargeback CB1000001.pdf",
            "Receiving report.pdf",
            "remit.pdf",
        ]
        assert d["backup_available"] is True
        assert d["backup_url"] == "/api/deductions/CB1000001/backup.zip"
        assert d["case"] is None
        listed = c.get("/api/deductions/CB1000001/documents").json()
        assert listed["documents"] == d["documents"]
        memo = c.get("/api/deductions/VC2000002").json()["memo"]
        assert memo == 'Ünïcödé & <b>bold</b> "quotes"'


def test_single_documents_and_backup_zip(world_factory) -> None:  # type: ignore[no-untyped-def]
    rw = world_factory()
    w = rw.world
    ded = w.deduction(PORTAL, EMAIL, "CB1000001")
    with sign_in(rw) as c:
        docs = c.get("/api/deductions/CB1000001/documents").json()["documents"]
        for doc in docs:
            r = c.get(doc["url"])
            assert r.status_code == 200
            spec = next(s for s in ded.documents if s.doc_id == doc["id"])
            assert r.content.startswith(b"%PDF-")
            assert r.content == w.document_bytes(ded, spec)
            assert "attachment" in r.headers["content-disposition"]
        z = c.get("/api/deductions/CB1000001/backup.zip")
    assert z.status_code == 200
    assert z.headers["content-type"] == "application/zip"
    assert 'filename="CB1000001_backup.zip"' in z.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(z.content)) as zf:
        contents = {n: zf.read(n) for n in zf.namelist()}
    assert sorted(contents.values()) == sorted(w.document_bytes(ded, s) for s in ded.documents)
    refs = [e.ref for e in w.record.downloads if e.portal == PORTAL]
    assert refs == ["sr-cb1-notice", "sr-cb1-rcv", "sr-cb1-remit", "zip:CB1000001"]


def test_backup_not_yet_available_until_imaged(world_factory, busy) -> None:  # type: ignore[no-untyped-def]
    rw = world_factory(busy)
    with sign_in(rw) as c:
        d = c.get("/api/deductions/CB4000001").json()
        assert d["documents"] == []
        assert d["backup_available"] is False
        assert d["backup_url"] is None
        r = c.get("/api/deductions/CB4000001/backup.zip")
        assert r.status_code == 404
        assert r.json()["message"] == "Backup not yet available."
        assert c.get("/api/deductions/CB4000001/documents/sr-late").status_code == 404
        rw.advance_clock(days=7)
        d = c.get("/api/deductions/CB4000001").json()
        assert d["backup_available"] is True
        r = c.get("/api/deductions/CB4000001/backup.zip")
        assert r.status_code == 200
        assert 'filename="CB4000001_backup.zip"' in r.headers["content-disposition"]


def test_unknown_or_foreign_ids_are_404_and_wrong_methods_405(world_factory, busy) -> None:  # type: ignore[no-untyped-def]
    rw = world_factory(busy)
    with sign_in(rw) as c:
        for path in (
            "/api/deductions/NOPE1",
            "/api/deductions/CB4000003",  # another vendor's
            "/api/deductions/CB4000002",  # not posted yet
            "/api/deductions/CB1000001/documents/nope",
            "/api/deductions/CB4000003/backup.zip",
            "/api/nothing",
        ):
            r = c.get(path)
            assert r.status_code == 404, path
            assert r.json()["error"] == "not found"
        page = c.get("/deductions/CB4000003")
        assert page.status_code == 404
        assert "Page not found" in page.text
        assert c.get("/deductions/CB1000001").status_code == 200
        assert c.get("/no/such/page").status_code == 404
        r = c.put("/api/cases", headers=XHR)
        assert r.status_code == 405
        assert r.json()["error"] == "method not allowed"
        assert c.post("/deductions", headers=XHR).status_code == 405
        assert c.delete("/api/deductions", headers=XHR).status_code == 405


# --------------------------------------------------------------------------- cases


def test_case_is_created_and_its_status_moves_with_the_clock(world_factory, busy) -> None:  # type: ignore[no-untyped-def]
    rw = world_factory(busy)
    with sign_in(rw) as c:
        r = file_case(c, "CB1000001", amount="617.28", reason="carrier_damage")
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["message"] == "Case SRC0000001 created"
        assert body["status_label"] == "In review"
        disp = rw.world.disputes["SRC0000001"]
        assert disp.reason == "Damage is the carrier's liability"
        assert disp.amount == Decimal("617.28")
        assert [a.filename for a in disp.attachments] == ["POD.pdf"]
        r = c.post(
            "/api/cases",
            json={
                "document_number": "VC3000001",
                "reason": "compliance_met",
                "amount": "110.25",
                "explanation": "Shipped on time.",
                "attachments": [
                    {"filename": "asn.pdf", "content_base64": base64.b64encode(PDF).decode()}
                ],
            },
            headers=XHR,
        )
        assert r.status_code == 201, r.text
        assert r.json()["case_number"] == "SRC0000002"

        def labels() -> dict[str, str]:
            return {
                i["case_number"]: i["status_label"] for i in c.get("/api/cases").json()["items"]
            }

        assert labels() == {"SRC0000001": "In review", "SRC0000002": "In review"}
        assert c.get("/api/deductions/CB1000001").json()["status"] == "Disputed"
        rw.advance_clock(days=5)
        assert labels()["SRC0000002"] == "Vendor response required"
        rw.advance_clock(days=25)
        assert labels() == {
            "SRC0000001": "Partially approved",
            "SRC0000002": "Vendor response required",
        }
        cases = {i["case_number"]: i for i in c.get("/api/cases").json()["items"]}
        assert cases["SRC0000001"]["approved_amount"] == "617.28"
        rw.advance_clock(days=10)
        assert labels()["SRC0000002"] == "Closed - no response"
        detail = c.get("/api/deductions/VC3000001").json()
        assert detail["case"]["status_label"] == "Closed - no response"
    with sign_in(rw, OTHER_EMAIL, "Other-pass-1!") as other:
        assert other.get("/api/cases").json()["items"] == []  # cases are per vendor


def test_case_refusals_come_back_as_409_or_422(world_factory, busy) -> None:  # type: ignore[no-untyped-def]
    rw = world_factory(busy)
    with sign_in(rw) as c:
        assert file_case(c, "CB1000001").status_code == 201
        again = file_case(c, "CB1000001")
        assert again.status_code == 409
        assert again.json()["message"] == "A dispute already exists for this claim."

        def refused(number: str = "CB3000004", **kw: Any) -> str:
            r = file_case(c, number, **kw)
            assert r.status_code == 422, r.text
            return r.json()["message"]

        two = [("attachment", (f"p{i}.pdf", PDF, "application/pdf")) for i in range(2)]
        assert refused(files=two) == "At most 1 attachments are allowed."
        big = PDF + b"0" * 50_000
        assert "limited to 50000 bytes" in refused(
            files=[("attachment", ("big.pdf", big, "application/pdf"))]
        )
        assert "only PDF" in refused(files=[("attachment", ("a.png", b"\x89PNG", "image/png"))])
        assert "one document number" in refused("CB3000004, CB3000008")
        assert "one document number" in refused("CB3000004 CB3000008")
        assert "2,000 characters" in refused(explanation="x" * 2001)
        assert "e.g. 123.45" in refused(amount="ten")
        assert "e.g. 123.45" in refused(amount="1.234")
        assert "at most the claim amount" in refused(amount="9999.00")
        assert "reason" in refused(reason="because")
        assert "Explain" in refused(explanation="   ")
        missing = file_case(c, "CB9999999")
        assert missing.status_code == 404
        huge = file_case(c, "CB3000004", files=[("attachment", ("h.pdf", PDF * 20_000, "x"))])
        assert huge.status_code == 413
        assert set(rw.world.disputes) == {"SRC0000001"}  # nothing half-created
        assert file_case(c, "CB3000004", files=[]).status_code == 201  # attachment optional
        # VC2000002: V100 allows 90 days from 10/15
        rw.advance_clock(days=80)
        late = file_case(c, "VC2000002", amount="250.00")
        assert late.status_code == 409
        assert late.json()["message"] == "The dispute window for this claim closed on 2027-01-13."


# --------------------------------------------------------------------------- faults


def test_obfuscation_renames_ids_classes_and_moves_columns(world_factory) -> None:  # type: ignore[no-untyped-def]
    rw = world_factory()
    with httpx.Client(base_url=rw.urls[PORTAL]) as c:
        plain_html = c.get("/login").text
        plain_css = c.get("/static/app.css").text
        rw.set_faults(f"{PORTAL}:obfuscate=3")
        mangled_html = c.get("/login").text
        mangled_css = c.get("/static/app.css").text
    plain, mangled = boot_of(plain_html), boot_of(mangled_html)
    assert plain["ids"]["email"] == "email"
    assert all(mangled["ids"][k] != k for k in plain["ids"])
    assert all(mangled["classes"][k] != k for k in plain["classes"])
    assert [c["key"] for c in mangled["columns"]] != [c["key"] for c in plain["columns"]]
    assert sorted(c["label"] for c in mangled["columns"]) == sorted(
        c["label"] for c in plain["columns"]
    )
    assert mangled["reasons"] == plain["reasons"]  # labels stay
    assert f'id="{mangled["ids"]["main"]}"' in mangled_html
    assert 'id="main"' not in mangled_html
    assert f".{mangled['classes']['drawer']}{{" in mangled_css
    assert ".drawer{" in plain_css
    assert ".drawer{" not in mangled_css
    for html in (plain_html, mangled_html):  # every id and class attribute comes from ob
        attrs = re.findall(r'(?:id|class)="([^"]+)"', html)
        known = set(boot_of(html)["ids"].values()) | set(boot_of(html)["classes"].values())
        assert set(attrs) <= known


def test_bandwidth_fault_still_delivers_the_same_bytes(world_factory) -> None:  # type: ignore[no-untyped-def]
    rw = world_factory(faults=f"{PORTAL}:bandwidth_kbps=4000")
    w = rw.world
    ded = w.deduction(PORTAL, EMAIL, "CB1000001")
    with sign_in(rw) as c:
        r = c.get("/api/deductions/CB1000001/documents/sr-cb1-notice")
    assert r.content == w.document_bytes(ded, ded.documents[0])


def test_pages_carry_a_strict_content_security_policy(world_factory) -> None:  # type: ignore[no-untyped-def]
    rw = world_factory()
    with httpx.Client(base_url=rw.urls[PORTAL]) as c:
        r = c.get("/login")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in r.text  # only the JSON boot block and the app file


def test_serves_a_generated_small_world(world_factory) -> None:  # type: ignore[no-untyped-def]
    from fixtures.generator import generate

    scenario = generate(7, "small")
    rw = world_factory(scenario)
    w = rw.world
    acct = scenario.accounts_on(PORTAL)[0]
    visible = w.visible_deductions(PORTAL, acct.username)
    assert visible
    with sign_in(rw, acct.username, acct.password) as c:
        items = all_pages(c)
        assert [i["id"] for i in items] == [d.deduction_id for d in visible]
        assert {i["type"] for i in items} <= {
            "Chargeback",
            "Vendor compliance",
            "Return to vendor",
            "Freight audit",
        }
        exported = list(csv.DictReader(io.StringIO(c.get("/api/deductions/export.csv").text)))
        assert [r["Document #"] for r in exported] == [d.deduction_id for d in visible]
        with_docs = []
        for d in visible:
            detail = c.get(f"/api/deductions/{d.deduction_id}").json()
            assert detail["amount"] == f"{w.current_amount(d):.2f}"
            docs = w.available_documents(d)
            assert detail["backup_available"] is bool(docs)
            assert [x["id"] for x in detail["documents"]] == [s.doc_id for s in docs]
            if docs:
                with_docs.append((d, docs[0], detail["documents"][0]["url"]))
        assert with_docs
        for d, spec, url in with_docs[:: max(1, len(with_docs) // 5)]:  # rendering is the cost
            assert c.get(url).content == w.document_bytes(d, spec)
        open_one = next(
            d
            for d in visible
            if (w.window_closes(d) or date.max) >= w.clock.today()
            and w.dispute_for(PORTAL, d.deduction_id) is None
        )
        r = file_case(c, open_one.deduction_id, amount=f"{w.current_amount(open_one):.2f}")
        assert r.status_code == 201, r.text
        assert r.json()["case_number"].startswith("SRC")
