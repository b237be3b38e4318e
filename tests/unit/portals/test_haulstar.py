"""HaulStar Freight over plain HTTP: login with an authenticator code, the
Shipment Documents lookup by PRO or BOL, POD and BOL downloads, the per-account
rate limit, the document API with its expiring tokens, and the faults a robot
must survive."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser
from typing import Any

import httpx
import pyotp
import pytest

from fixtures.portals.haulstar import SlidingWindowLimiter, TokenStore, retry_after_header
from fixtures.scenario import Scenario, Shipment
from fixtures.server import RunningWorld
from fixtures.world import World

PORTAL = "haulstar"
USER = "acme-ship"
PASSWORD = "Hs-pass-5R1%qq"
SECRET = "MFRGGZDFMZTWQ2LKMFRGGZDF"
API_KEY = "hs_live_k3y_0001"
DELIVERED_PRO = "1234567"  # POD imaged since 2026-09-05
PENDING_PRO = "7654321"  # delivered 2026-10-23, POD imaged from 2026-11-05 (world starts 11-01)
POD_NOT_IMAGED = "Delivery receipt not yet available. Images are usually available 2-5 days"


# --------------------------------------------------------------------- helpers


class _Tables(HTMLParser):
    """Tables by aria-label: the header row and the text of each body row."""

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


def summary(html: str) -> dict[str, str]:
    p = _Tables()
    p.feed(html)
    head, row = p.tables["Shipment summary"]
    return dict(zip(head, row, strict=True))


def header_order(html: str) -> list[str]:
    p = _Tables()
    p.feed(html)
    return p.tables["Shipment summary"][0]


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def with_config(scenario: Scenario, **changes: Any) -> Scenario:
    cfg = scenario.portals[PORTAL].model_copy(update=changes)
    return scenario.model_copy(update={"portals": {**scenario.portals, PORTAL: cfg}})


def log_in(client: httpx.Client, *, next_path: str = "/documents") -> httpx.Response:
    r = client.post("/login", data={"username": USER, "password": PASSWORD, "next": next_path})
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/login/verify"
    return client.post("/login/verify", data={"code": pyotp.TOTP(SECRET).now()})


def api_token(client: httpx.Client) -> str:
    r = client.post(
        "/api/v1/auth/token",
        json={"api_key": API_KEY, "username": USER, "password": PASSWORD},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer"
    return body["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
def rw(world_factory: Any) -> RunningWorld:
    return world_factory()


@pytest.fixture
def client(rw: RunningWorld) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=rw.urls[PORTAL], timeout=10) as c:
        assert log_in(c).status_code == 303
        yield c


@pytest.fixture
def api(rw: RunningWorld) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=rw.urls[PORTAL], timeout=10) as c:
        yield c


# --------------------------------------------------------------------- login


def test_login_asks_for_the_authenticator_code_and_returns_to_the_page(
    rw: RunningWorld,
) -> None:
    with httpx.Client(base_url=rw.urls[PORTAL], timeout=10) as c:
        r = c.get("/documents", params={"search_by": "pro", "number": DELIVERED_PRO})
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login?next=")
        r = c.get(r.headers["location"])
        assert "Customer Login" in r.text
        target = f"/documents?search_by=pro&number={DELIVERED_PRO}"
        r = c.post("/login", data={"username": USER, "password": PASSWORD, "next": target})
        assert r.headers["location"] == "/login/verify"
        assert c.get("/documents").status_code == 303  # not signed in before the code
        r = c.post("/login/verify", data={"code": "000000"})
        assert "Two-Step Verification" in r.text
        assert "not valid" in r.text
        r = c.post("/login/verify", data={"code": pyotp.TOTP(SECRET).now()})
        assert r.status_code == 303
        assert r.headers["location"] == target
        r = c.get(target)
        assert summary(r.text)["PRO Number"] == DELIVERED_PRO
    steps = [(e.step, e.ok) for e in rw.world.record.logins if e.portal == PORTAL]
    assert steps == [("password", True), ("totp", False), ("totp", True)]


def test_login_refuses_open_redirects(rw: RunningWorld) -> None:
    with httpx.Client(base_url=rw.urls[PORTAL], timeout=10) as c:
        assert log_in(c, next_path="//evil.example/x").headers["location"] == "/documents"


def test_wrong_password_then_lockout(rw: RunningWorld) -> None:
    with httpx.Client(base_url=rw.urls[PORTAL], timeout=10) as c:
        r = c.post("/login", data={"username": USER, "password": "nope"})
        assert r.status_code == 200
        assert "Invalid username or password." in r.text
        for _ in range(rw.world.lockout_after - 1):
            r = c.post("/login", data={"username": USER, "password": "nope"})
        assert "locked" in r.text
        r = c.post("/login", data={"username": USER, "password": PASSWORD})
        assert r.status_code == 200
        assert "locked" in r.text
        r = c.post(
            "/api/v1/auth/token",
            json={"api_key": API_KEY, "username": USER, "password": PASSWORD},
        )
        assert r.status_code == 403
        assert r.json()["error"] == "account_locked"


def test_account_without_authenticator_skips_the_code(
    world_factory: Any, hand_scenario: Scenario
) -> None:
    accounts = [
        a.model_copy(update={"totp_secret": None}) if a.portal == PORTAL else a
        for a in hand_scenario.accounts
    ]
    rw = world_factory(hand_scenario.model_copy(update={"accounts": accounts}))
    with httpx.Client(base_url=rw.urls[PORTAL], timeout=10) as c:
        r = c.post("/login", data={"username": USER, "password": PASSWORD})
        assert r.headers["location"] == "/documents"
        assert "Shipment Documents" in c.get("/documents").text


def test_logout_ends_the_session(client: httpx.Client) -> None:
    r = client.get("/logout")
    assert r.headers["location"] == "/login?logged_out=1"
    assert client.get("/documents").status_code == 303


def test_oversized_login_form_is_refused(rw: RunningWorld) -> None:
    with httpx.Client(base_url=rw.urls[PORTAL], timeout=10) as c:
        r = c.post("/login", data={"username": USER, "password": "x" * 20_000})
        assert r.status_code == 413


# --------------------------------------------------------------------- lookup


def test_lookup_by_pro_shows_the_shipment_and_its_documents(
    client: httpx.Client, rw: RunningWorld
) -> None:
    r = client.get("/documents", params={"search_by": "pro", "number": "123-4567"})
    assert r.status_code == 200
    row = summary(r.text)
    assert row == {
        "PRO Number": "1234567",
        "BOL Number": "BOL-900001",
        "Ship Date": "09/01/2026",
        "Delivery Date": "09/03/2026",
        "Consignee": "MegaMart DC 6094",
        "Pieces": "40",
        "Status": "Delivered",
    }
    page = text(r.text)
    assert "Delivery exceptions: SHORT 3 CS" in page
    assert "Delivery Receipt (POD)" in page
    assert "Bill of Lading" in page


def test_lookup_by_bol(client: httpx.Client) -> None:
    r = client.get("/documents", params={"search_by": "bol", "number": " BOL-900001 "})
    assert summary(r.text)["PRO Number"] == DELIVERED_PRO


@pytest.mark.parametrize("number", ["12", "123456789012", "12345a7", "<script>1234567"])
def test_invalid_pro_is_rejected(client: httpx.Client, number: str) -> None:
    r = client.get("/documents", params={"search_by": "pro", "number": number})
    assert r.status_code == 400
    assert "Enter a valid PRO number (7 to 11 digits)." in text(r.text)
    assert "<script>" not in r.text


def test_unknown_pro_and_bol(client: httpx.Client) -> None:
    r = client.get("/documents", params={"search_by": "pro", "number": "9999999"})
    assert r.status_code == 404
    assert "No shipment found for PRO 9999999." in text(r.text)
    r = client.get("/documents", params={"search_by": "bol", "number": "BOL-1"})
    assert "No shipment found for BOL BOL-1." in text(r.text)


def test_overlong_input_is_bounded(client: httpx.Client) -> None:
    r = client.get("/documents", params={"search_by": "bol", "number": "A" * 5000})
    assert r.status_code == 400
    assert "A" * 100 not in r.text


def test_shipment_is_unknown_before_pickup(world_factory: Any, hand_scenario: Scenario) -> None:
    base = hand_scenario.shipments_on(PORTAL)[0]
    later = base.model_copy(
        update={
            "pro_number": "5550001",
            "bol_number": "BOL-LATER",
            "ship_date": hand_scenario.as_of + timedelta(days=3),
            "delivery_date": hand_scenario.as_of + timedelta(days=5),
            "pod_available_from": hand_scenario.as_of + timedelta(days=6),
        }
    )
    rw = world_factory(
        hand_scenario.model_copy(update={"shipments": [*hand_scenario.shipments, later]})
    )
    with httpx.Client(base_url=rw.urls[PORTAL], timeout=10) as c:
        log_in(c)
        params = {"search_by": "pro", "number": "5550001"}
        assert c.get("/documents", params=params).status_code == 404
        rw.advance_clock(days=4)
        r = c.get("/documents", params=params)
        assert summary(r.text)["Status"] == "In Transit"
        assert "not been delivered" in text(r.text)
        rw.advance_clock(days=2)
        assert summary(c.get("/documents", params=params).text)["Status"] == "Delivered"


# --------------------------------------------------------------------- documents


def test_pod_and_bol_downloads_are_the_worlds_bytes(client: httpx.Client, rw: RunningWorld) -> None:
    s = rw.world.shipment_by_pro(PORTAL, DELIVERED_PRO)
    assert s is not None
    r = client.get(f"/documents/{DELIVERED_PRO}/pod")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert 'filename="POD_1234567.pdf"' in r.headers["content-disposition"]
    assert r.content.startswith(b"%PDF-")
    assert r.content == rw.world.pod_bytes(s)
    r = client.get(f"/documents/{DELIVERED_PRO}/bol")
    assert r.content.startswith(b"%PDF-")
    assert r.content == rw.world.bol_bytes(s)
    assert 'filename="BOL_900001.pdf"' in r.headers["content-disposition"]
    refs = [(e.account, e.ref) for e in rw.world.record.downloads]
    assert refs == [(USER, "pod:1234567"), (USER, "bol:1234567")]


def test_pod_not_yet_available_until_it_is_imaged(client: httpx.Client, rw: RunningWorld) -> None:
    params = {"search_by": "pro", "number": PENDING_PRO}
    r = client.get("/documents", params=params)
    assert POD_NOT_IMAGED in text(r.text)
    assert "Delivery Receipt (POD)" not in text(r.text)
    r = client.get(f"/documents/{PENDING_PRO}/pod")
    assert r.status_code == 404
    assert POD_NOT_IMAGED in text(r.text)
    assert rw.world.record.downloads == []
    rw.advance_clock(days=4)
    r = client.get("/documents", params=params)
    assert "Delivery Receipt (POD)" in text(r.text)
    s = rw.world.shipment_by_pro(PORTAL, PENDING_PRO)
    assert s is not None
    r = client.get(f"/documents/{PENDING_PRO}/pod")
    assert r.content == rw.world.pod_bytes(s)
    assert 'filename="POD_7654321.pdf"' in r.headers["content-disposition"]


def test_download_of_unknown_shipment_or_document(client: httpx.Client) -> None:
    assert client.get("/documents/9999999/pod").status_code == 404
    assert client.get("/documents/12/pod").status_code == 404
    assert client.get(f"/documents/{DELIVERED_PRO}/invoice").status_code == 404


def test_download_under_the_bandwidth_fault(client: httpx.Client, rw: RunningWorld) -> None:
    rw.set_faults("haulstar:bandwidth_kbps=4096")
    s = rw.world.shipment_by_pro(PORTAL, DELIVERED_PRO)
    assert s is not None
    assert client.get(f"/documents/{DELIVERED_PRO}/pod").content == rw.world.pod_bytes(s)


# --------------------------------------------------------------------- rate limit


def test_lookups_over_the_rate_limit_get_429_with_retry_after(
    world_factory: Any, hand_scenario: Scenario
) -> None:
    rw = world_factory(with_config(hand_scenario, rate_limit_per_minute=3))
    with httpx.Client(base_url=rw.urls[PORTAL], timeout=10) as c:
        log_in(c)
        params = {"search_by": "pro", "number": DELIVERED_PRO}
        # Input errors are not lookups and do not use the allowance.
        assert c.get("/documents", params={"search_by": "pro", "number": "1"}).status_code == 400
        assert c.get("/documents", params=params).status_code == 200
        assert c.get(f"/documents/{DELIVERED_PRO}/bol").status_code == 200
        assert c.get("/documents", params=params).status_code == 200
        r = c.get("/documents", params=params)
        assert r.status_code == 429
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert "Too many requests" in text(r.text)
        assert c.get(f"/documents/{DELIVERED_PRO}/pod").status_code == 429
        # The API shares the account's allowance.
        r = c.get(f"/api/v1/shipments/{DELIVERED_PRO}", headers=bearer(api_token(c)))
        assert r.status_code == 429
        assert r.json()["error"] == "rate_limited"
        assert 1 <= r.json()["retry_after"] <= 60
        assert r.headers["retry-after"] == str(r.json()["retry_after"])


def test_sliding_window_frees_a_slot_when_the_oldest_lookup_ages_out() -> None:
    now = [100.0]
    limiter = SlidingWindowLimiter(2, window=60, clock=lambda: now[0])
    assert limiter.acquire("a") == 0
    now[0] = 130.0
    assert limiter.acquire("a") == 0
    assert limiter.acquire("b") == 0  # per account
    now[0] = 145.0
    assert limiter.acquire("a") == pytest.approx(15.0)
    assert retry_after_header(limiter.acquire("a")) == "15"
    now[0] = 160.0
    assert limiter.acquire("a") == 0
    assert limiter.acquire("a") == pytest.approx(30.0)
    assert SlidingWindowLimiter(None).acquire("a") == 0


def test_tokens_end_after_their_lifetime() -> None:
    now = [0.0]
    store = TokenStore(900, clock=lambda: now[0])
    token = store.issue(USER)
    now[0] = 899.0
    assert store.user_of(token) == USER
    now[0] = 900.0
    assert store.user_of(token) is None


# --------------------------------------------------------------------- API


def test_api_token_flow_and_pod_bytes(api: httpx.Client, rw: RunningWorld) -> None:
    r = api.post(
        "/api/v1/auth/token", json={"api_key": API_KEY, "username": USER, "password": PASSWORD}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == rw.world.scenario.portals[PORTAL].token_ttl_seconds
    headers = bearer(body["access_token"])
    r = api.get(f"/api/v1/shipments/{DELIVERED_PRO}", headers=headers)
    assert r.status_code == 200
    info = r.json()
    assert info["bol_number"] == "BOL-900001"
    assert info["status"] == "Delivered"
    assert info["exceptions"] == ["SHORT 3 CS"]
    docs = {d["type"]: d for d in info["documents"]}
    assert docs["pod"]["available"] is True
    r = api.get(docs["pod"]["url"], headers=headers)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    s = rw.world.shipment_by_pro(PORTAL, DELIVERED_PRO)
    assert s is not None
    assert r.content.startswith(b"%PDF-")
    assert r.content == rw.world.pod_bytes(s)
    r = api.get(docs["bol"]["url"], headers=headers)
    assert r.content == rw.world.bol_bytes(s)
    r = api.get("/api/v1/shipments", params={"bol": "BOL-900001"}, headers=headers)
    assert r.json()["shipments"][0]["pro_number"] == DELIVERED_PRO
    assert [e.ref for e in rw.world.record.downloads] == ["pod:1234567", "bol:1234567"]
    assert ("api_token", True) in [(e.step, e.ok) for e in rw.world.record.logins]


def test_api_pod_not_available_until_imaged(api: httpx.Client, rw: RunningWorld) -> None:
    headers = bearer(api_token(api))
    info = api.get(f"/api/v1/shipments/{PENDING_PRO}", headers=headers).json()
    assert {d["type"]: d["available"] for d in info["documents"]} == {"pod": False, "bol": True}
    r = api.get(f"/api/v1/documents/{PENDING_PRO}/pod", headers=headers)
    assert r.status_code == 404
    assert r.json()["error"] == "pod_not_available"
    rw.advance_clock(days=4)
    r = api.get(f"/api/v1/documents/{PENDING_PRO}/pod", headers=headers)
    assert r.status_code == 200
    assert r.content.startswith(b"%PDF-")


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"api_key": "wrong", "username": USER, "password": PASSWORD}, 401, "invalid_credentials"),
        ({"api_key": API_KEY, "username": USER, "password": "wrong"}, 401, "invalid_credentials"),
        (
            {"api_key": API_KEY, "username": "ghost", "password": PASSWORD},
            401,
            "invalid_credentials",
        ),
        ({"api_key": API_KEY, "username": USER}, 400, "invalid_request"),
        (["not", "an", "object"], 400, "invalid_request"),
    ],
)
def test_api_token_refusals(api: httpx.Client, body: Any, status: int, error: str) -> None:
    r = api.post("/api/v1/auth/token", json=body)
    assert r.status_code == status
    assert r.json()["error"] == error


def test_api_rejects_bad_bodies(api: httpx.Client) -> None:
    r = api.post(
        "/api/v1/auth/token", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    r = api.post("/api/v1/auth/token", content=b"x" * 10_000)
    assert r.status_code == 413


def test_api_without_a_valid_token_gets_401_json(api: httpx.Client) -> None:
    for headers in ({}, bearer("forged"), {"authorization": "Basic abc"}):
        r = api.get(f"/api/v1/shipments/{DELIVERED_PRO}", headers=headers)
        assert r.status_code == 401
        assert r.json()["error"] == "invalid_token"
        assert r.headers["www-authenticate"].startswith("Bearer")
    r = api.get(f"/api/v1/documents/{DELIVERED_PRO}/pod")
    assert r.status_code == 401


def test_api_errors_are_json(api: httpx.Client) -> None:
    headers = bearer(api_token(api))
    r = api.get("/api/v1/shipments/12", headers=headers)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_pro")
    r = api.get("/api/v1/shipments/9999999", headers=headers)
    assert (r.status_code, r.json()["error"]) == (404, "shipment_not_found")
    r = api.get(f"/api/v1/documents/{DELIVERED_PRO}/invoice", headers=headers)
    assert (r.status_code, r.json()["error"]) == (404, "unknown_document_type")
    r = api.get("/api/v1/nothing", headers=headers)
    assert (r.status_code, r.json()["error"]) == (404, "not_found")
    r = api.delete(f"/api/v1/shipments/{DELIVERED_PRO}", headers=headers)
    assert (r.status_code, r.json()["error"]) == (405, "method_not_allowed")
    r = api.get("/api/v1/auth/token")
    assert r.status_code == 405


def test_api_token_expires_in_real_time(world_factory: Any, hand_scenario: Scenario) -> None:
    rw = world_factory(with_config(hand_scenario, token_ttl_seconds=1))
    with httpx.Client(base_url=rw.urls[PORTAL], timeout=10) as c:
        headers = bearer(api_token(c))
        assert c.get(f"/api/v1/shipments/{DELIVERED_PRO}", headers=headers).status_code == 200
        deadline = time.monotonic() + 10
        status = 200
        while status == 200 and time.monotonic() < deadline:
            status = c.get(f"/api/v1/shipments/{DELIVERED_PRO}", headers=headers).status_code
            time.sleep(0.1)
        assert status == 401
        fresh = bearer(api_token(c))
        assert c.get(f"/api/v1/shipments/{DELIVERED_PRO}", headers=fresh).status_code == 200


def test_expire_fault_ends_tokens_and_sessions(client: httpx.Client, rw: RunningWorld) -> None:
    token = api_token(client)
    rw.set_faults("haulstar:expire_every=1")  # every request first ends every session
    r = client.get(f"/api/v1/shipments/{DELIVERED_PRO}", headers=bearer(token))
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_token"
    r = client.get("/documents", params={"search_by": "pro", "number": DELIVERED_PRO})
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=%2Fdocuments%3Fsearch_by%3Dpro")
    assert rw.world.record.faults[(PORTAL, "session_expired")] >= 2
    rw.set_faults(None)
    assert (
        client.get(
            f"/api/v1/shipments/{DELIVERED_PRO}", headers=bearer(api_token(client))
        ).status_code
        == 200
    )


def test_api_is_documented(api: httpx.Client) -> None:
    spec = api.get("/api/v1/openapi.json").json()
    assert spec["info"]["title"] == "HaulStar Document API"
    assert "/api/v1/auth/token" in spec["paths"]
    assert "/api/v1/documents/{pro}/{type}" in spec["paths"]
    page = text(api.get("/developers").text)
    assert "HaulStar for Developers" in page
    assert "Retry-After" in page


# --------------------------------------------------------------------- layout and errors


def test_obfuscation_changes_ids_classes_and_columns_not_labels(
    client: httpx.Client, rw: RunningWorld
) -> None:
    params = {"search_by": "pro", "number": DELIVERED_PRO}
    plain = client.get("/documents", params=params).text
    rw.set_faults("haulstar:obfuscate=3")
    mangled = client.get("/documents", params=params).text
    assert 'id="lookup-number"' in plain
    assert 'id="lookup-number"' not in mangled
    assert 'class="hs-summary"' in plain
    assert "hs-summary" not in mangled
    for label in ("Search by", "PRO or BOL number", "Search", "Delivery Receipt (POD)"):
        assert label in text(mangled)
    assert summary(mangled) == summary(plain)
    assert header_order(mangled) != header_order(plain)
    # The label still names its input.
    target = re.search(r'<label for="([^"]+)">PRO or BOL number', mangled)
    assert target
    assert f'id="{target.group(1)}" name="number"' in mangled


def test_unknown_page_and_wrong_method(client: httpx.Client) -> None:
    r = client.get("/nowhere")
    assert r.status_code == 404
    assert "Page not found" in r.text
    r = client.post("/documents")
    assert r.status_code == 405
    assert "GET" in r.headers["allow"]


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
        if account.totp_secret:
            assert r.headers["location"] == "/login/verify"
            code = pyotp.TOTP(account.totp_secret).now()
            r = c.post("/login/verify", data={"code": code})
        assert r.status_code == 303
        for s in shipments:
            r = c.get("/documents", params={"search_by": "pro", "number": s.pro_number})
            assert summary(r.text)["PRO Number"] == s.pro_number
            r = c.get(f"/documents/{s.pro_number}/pod")
            if pod_served(world, s):
                assert r.content == world.pod_bytes(s)
            else:
                assert r.status_code == 404
