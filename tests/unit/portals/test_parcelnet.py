"""ParcelNet Shipping over plain HTTP: account login, Document search by
tracking / BOL / PRO number, the image-only POD and the BOL, the "Security
check" interstitial a person must solve, session expiry and layout churn."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from fixtures.portals.parcelnet import captcha_code, captcha_ref
from fixtures.scenario import DocumentForm, Scenario, Shipment
from fixtures.server import RunningWorld
from fixtures.world import World

PORTAL = "parcelnet"
USER = "acme-parcel"
PASSWORD = "Pn-pass-8T4^ww"
PRO = "98765432101"
TRACKING = "1PN0000000001"
BOL = "PB-77001"


# --------------------------------------------------------------------- helpers


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._rows: list[list[str]] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._rows = self.tables.setdefault(dict(attrs).get("aria-label") or "", [])
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th") and self._rows is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._rows:
            self._rows[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._rows = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def result(html: str) -> dict[str, str]:
    p = _Tables()
    p.feed(html)
    head, row = p.tables["Shipment"]
    return dict(zip(head, row, strict=True))


def columns(html: str) -> list[str]:
    p = _Tables()
    p.feed(html)
    return p.tables["Shipment"][0]


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def log_in(client: httpx.Client, next_path: str = "/search") -> httpx.Response:
    r = client.post("/login", data={"username": USER, "password": PASSWORD, "next": next_path})
    assert r.status_code == 303, r.text
    return r


def search(client: httpx.Client, by: str, q: str) -> httpx.Response:
    return client.get("/search", params={"search_by": by, "q": q})


def solve(client: httpx.Client, rw: RunningWorld, by: str, q: str) -> httpx.Response:
    """What the person does: tick the box, type the characters shown, press Verify."""
    code = captcha_code(rw.world, captcha_ref(q))
    return client.post(
        "/search/verify", data={"search_by": by, "q": q, "human": "yes", "code": code}
    )


@pytest.fixture
def rw(world_factory: Any) -> RunningWorld:
    return world_factory()


@pytest.fixture
def client(rw: RunningWorld) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=rw.urls[PORTAL], timeout=10) as c:
        log_in(c)
        yield c


# --------------------------------------------------------------------- login


def test_login_returns_to_the_requested_search(rw: RunningWorld) -> None:
    with httpx.Client(base_url=rw.urls[PORTAL], timeout=10) as c:
        r = search(c, "bol", BOL)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login?next=")
        assert "Log in to My ParcelNet" in c.get(r.headers["location"]).text
        target = f"/search?search_by=bol&q={BOL}"
        assert log_in(c, target).headers["location"] == target
        assert result(c.get(target).text)["PRO Number"] == PRO


def test_wrong_password_then_lockout(rw: RunningWorld) -> None:
    with httpx.Client(base_url=rw.urls[PORTAL], timeout=10) as c:
        r = c.post("/login", data={"username": USER, "password": "bad"})
        assert "The user ID or password is incorrect." in r.text
        for _ in range(rw.world.lockout_after - 1):
            r = c.post("/login", data={"username": USER, "password": "bad"})
        assert "This account is locked." in r.text
        r = c.post("/login", data={"username": USER, "password": PASSWORD})
        assert r.status_code == 200
        assert "This account is locked." in r.text


def test_logout(client: httpx.Client) -> None:
    assert client.get("/logout").headers["location"] == "/login?logged_out=1"
    assert search(client, "bol", BOL).status_code == 303


# --------------------------------------------------------------------- search


@pytest.mark.parametrize(
    ("by", "q"),
    [("tracking", TRACKING), ("tracking", "1pn 0000 000001"), ("bol", "pb-77001"), ("pro", PRO)],
)
def test_search_finds_the_shipment(client: httpx.Client, by: str, q: str) -> None:
    r = search(client, by, q)
    assert r.status_code == 200
    assert result(r.text) == {
        "Tracking Number": TRACKING,
        "PRO Number": PRO,
        "BOL Number": BOL,
        "Ship Date": "08/10/2026",
        "Delivered": "08/12/2026",
        "Consignee": "ShopRight DC 0555",
        "Pieces": "12",
        "Status": "Delivered",
    }
    page = text(r.text)
    assert "Proof of Delivery (scanned image)" in page
    assert "Bill of Lading" in page
    assert "Exceptions: 2 CS DAMAGED" in page


def test_no_results(client: httpx.Client) -> None:
    r = search(client, "tracking", "1PN999")
    assert r.status_code == 404
    assert "No results" in text(r.text)
    assert "No results for tracking number 1PN999." in text(r.text)


@pytest.mark.parametrize("q", ["<b>x</b>", "a" * 200, "-lead"])
def test_invalid_input_is_refused(client: httpx.Client, q: str) -> None:
    r = search(client, "bol", q)
    assert r.status_code == 400
    assert "Enter a valid BOL number." in text(r.text)
    assert "<b>x</b>" not in r.text
    assert "a" * 100 not in r.text


def test_image_only_pod_is_served_as_the_world_renders_it(
    client: httpx.Client, rw: RunningWorld
) -> None:
    s = rw.world.shipment_by_pro(PORTAL, PRO)
    assert s is not None
    assert s.pod_form == DocumentForm.image_pdf
    search(client, "tracking", TRACKING)
    r = client.get(f"/shipments/{PRO}/pod")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert 'filename="POD_1PN0000000001.pdf"' in r.headers["content-disposition"]
    assert r.content.startswith(b"%PDF-")
    assert r.content == rw.world.pod_bytes(s)
    reader = PdfReader(io.BytesIO(r.content))
    assert all(not (p.extract_text() or "").strip() for p in reader.pages)  # no text layer
    r = client.get(f"/shipments/{PRO}/bol")
    assert r.content == rw.world.bol_bytes(s)
    assert [(e.account, e.ref) for e in rw.world.record.downloads] == [
        (USER, f"pod:{PRO}"),
        (USER, f"bol:{PRO}"),
    ]


def test_pod_not_yet_available_until_imaged(world_factory: Any, hand_scenario: Scenario) -> None:
    base = hand_scenario.shipments_on(PORTAL)[0]
    fresh = base.model_copy(
        update={
            "pro_number": "11122233344",
            "bol_number": "PB-88002",
            "tracking_number": "1PN0000000002",
            "ship_date": hand_scenario.as_of - timedelta(days=3),
            "delivery_date": hand_scenario.as_of - timedelta(days=1),
            "pod_available_from": hand_scenario.as_of + timedelta(days=2),
            "pod_form": DocumentForm.pdf,
        }
    )
    rw = world_factory(
        hand_scenario.model_copy(update={"shipments": [*hand_scenario.shipments, fresh]})
    )
    with httpx.Client(base_url=rw.urls[PORTAL], timeout=10) as c:
        log_in(c)
        r = search(c, "tracking", "1PN0000000002")
        assert result(r.text)["Status"] == "Delivered"
        assert "Proof of Delivery is not yet available for this shipment." in text(r.text)
        assert c.get("/shipments/11122233344/pod").status_code == 404
        rw.advance_clock(days=2)
        r = search(c, "tracking", "1PN0000000002")
        assert "Proof of Delivery" in text(r.text)
        assert "not yet available" not in text(r.text)
        r = c.get("/shipments/11122233344/pod")
        assert r.content == rw.world.pod_bytes(fresh)
        assert PdfReader(io.BytesIO(r.content)).pages[0].extract_text().strip()


def test_unknown_document_paths(client: httpx.Client) -> None:
    assert client.get("/shipments/11111111111/pod").status_code == 404
    assert client.get(f"/shipments/{PRO}/invoice").status_code == 404
    assert client.get("/shipments/abc/pod").status_code == 404


# --------------------------------------------------------------------- security check


def test_every_search_meets_the_security_check_at_rate_one(
    client: httpx.Client, rw: RunningWorld
) -> None:
    rw.set_faults("parcelnet:captcha_rate=1")
    for by, q in (("tracking", TRACKING), ("bol", BOL), ("tracking", "1PN404")):
        r = search(client, by, q)
        assert r.status_code == 200
        page = text(r.text)
        assert "Security check" in page
        assert "Please verify you are a human" in page
        assert "Search results" not in page
        assert "I'm not a robot" in page
    assert rw.world.record.captchas == [
        (PORTAL, TRACKING),
        (PORTAL, BOL),
        (PORTAL, "1PN404"),
    ]


def test_a_person_solves_the_check_and_sees_the_result(
    client: httpx.Client, rw: RunningWorld
) -> None:
    rw.set_faults("parcelnet:captcha_rate=1")
    r = search(client, "bol", "pb-77001")
    assert "Security check" in r.text
    code = captcha_code(rw.world, "PB-77001")
    # The image's text, read in document order, is not the code.
    assert "".join(re.findall(r">([A-Z0-9])</text>", r.text)) != code
    assert sorted(re.findall(r">([A-Z0-9])</text>", r.text)) == sorted(code)
    # A robot cannot fetch the documents around the check.
    assert client.get(f"/shipments/{PRO}/pod").status_code == 403
    r = solve(client, rw, "bol", "pb-77001")
    assert r.status_code == 303
    r = client.get(r.headers["location"])
    assert result(r.text)["PRO Number"] == PRO
    assert client.get(f"/shipments/{PRO}/pod").content.startswith(b"%PDF-")
    # Solved once for this number in this session; another number meets it again.
    assert "Search results" in search(client, "bol", BOL).text
    assert "Security check" in search(client, "tracking", TRACKING).text
    assert len(rw.world.record.captchas) == 2


def test_wrong_answers_and_missing_tick_are_refused(client: httpx.Client, rw: RunningWorld) -> None:
    rw.set_faults("parcelnet:captcha_rate=1")
    search(client, "bol", BOL)
    good = captcha_code(rw.world, BOL)
    r = client.post("/search/verify", data={"search_by": "bol", "q": BOL, "code": good})
    assert r.status_code == 400
    assert "Tick the box to confirm you are not a robot." in text(r.text)
    for _ in range(4):
        r = client.post(
            "/search/verify",
            data={"search_by": "bol", "q": BOL, "human": "yes", "code": "WRONG1"},
        )
        assert r.status_code == 400
        assert "did not match" in text(r.text)
        assert "Security check" in text(r.text)
    r = client.post(
        "/search/verify", data={"search_by": "bol", "q": BOL, "human": "yes", "code": "WRONG1"}
    )
    assert "Too many failed security checks" in text(r.text)
    assert search(client, "bol", BOL).status_code == 303  # signed out


def test_security_check_is_deterministic_per_number(
    world_factory: Any, hand_scenario: Scenario
) -> None:
    cfg = hand_scenario.portals[PORTAL].model_copy(update={"captcha_rate": 0.5})
    sc = hand_scenario.model_copy(update={"portals": {**hand_scenario.portals, PORTAL: cfg}})
    rw = world_factory(sc)
    numbers = [f"1PN{n:010d}" for n in range(12)]
    with httpx.Client(base_url=rw.urls[PORTAL], timeout=10) as c:
        log_in(c)
        seen = ["Security check" in search(c, "tracking", n).text for n in numbers]
        again = ["Security check" in search(c, "tracking", n).text for n in numbers]
    assert seen == again
    assert seen == [rw.world.captcha_due(PORTAL, n) for n in numbers]
    assert any(seen)
    assert not all(seen)


def test_no_security_check_by_default(client: httpx.Client, rw: RunningWorld) -> None:
    assert "Search results" in search(client, "bol", BOL).text
    assert rw.world.record.captchas == []


# --------------------------------------------------------------------- sessions and layout


def test_expired_session_goes_back_to_login_with_next(
    client: httpx.Client, rw: RunningWorld
) -> None:
    rw.set_faults("parcelnet:expire_every=1")
    r = search(client, "bol", BOL)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fsearch%3Fsearch_by%3Dbol%26q%3DPB-77001"
    rw.set_faults(None)
    target = log_in(client, "/search?search_by=bol&q=PB-77001").headers["location"]
    assert result(client.get(target).text)["BOL Number"] == BOL


def test_obfuscation_changes_ids_classes_and_columns_not_labels(
    client: httpx.Client, rw: RunningWorld
) -> None:
    plain = search(client, "bol", BOL).text
    rw.set_faults("parcelnet:obfuscate=3")
    mangled = search(client, "bol", BOL).text
    assert 'id="q"' in plain
    assert 'id="q"' not in mangled
    assert "pn-ship" in plain
    assert "pn-ship" not in mangled
    for label in ("Document search", "Search by", "Tracking or BOL number", "Proof of Delivery"):
        assert label in text(mangled)
    assert result(mangled) == result(plain)
    assert columns(mangled) != columns(plain)
    target = re.search(r'<label for="([^"]+)">Tracking or BOL number', mangled)
    assert target
    assert f'id="{target.group(1)}" name="q"' in mangled


def test_unknown_page_and_wrong_method(client: httpx.Client) -> None:
    r = client.get("/track")
    assert r.status_code == 404
    assert "Page not found" in r.text
    r = client.post("/search")
    assert r.status_code == 405
    assert client.get("/search/verify").status_code == 405


# --------------------------------------------------------------------- generated world


def pod_served(world: World, s: Shipment) -> bool:
    delivered = s.delivery_date is not None and s.delivery_date <= world.clock.today()
    return delivered and world.pod_available(s)


def test_serves_a_generated_small_world(world_factory: Any) -> None:
    generator = pytest.importorskip("fixtures.generator")
    scenario = generator.generate(7, "small")
    rw = world_factory(scenario)
    world = rw.world
    account = scenario.accounts_on(PORTAL)[0]
    known = [s for s in scenario.shipments_on(PORTAL) if s.ship_date <= scenario.as_of]
    ready = [s for s in known if pod_served(world, s)]
    pending = [s for s in known if not pod_served(world, s)]
    assert ready
    shipments = ready[:4] + pending[:2]
    with httpx.Client(base_url=rw.urls[PORTAL], timeout=10) as c:
        r = c.post("/login", data={"username": account.username, "password": account.password})
        assert r.status_code == 303
        for s in shipments:
            by, q = ("tracking", s.tracking_number) if s.tracking_number else ("pro", s.pro_number)
            r = search(c, by, q)
            if "Security check" in r.text:
                r = c.get(solve(c, rw, by, q).headers["location"])
            assert result(r.text)["PRO Number"] == s.pro_number
            r = c.get(f"/shipments/{s.pro_number}/pod")
            if pod_served(world, s):
                assert r.content == world.pod_bytes(s)
            else:
                assert r.status_code == 404
