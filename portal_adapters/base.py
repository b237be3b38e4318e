"""The adapter protocol: what every portal adapter offers the bot runtime.

An adapter is stateless; everything about one job (browser context, page,
credentials, base URL) travels in an :class:`AdapterSession`. Adapters never
touch the database: they return validated records (``records.schemas``) and
document bytes, and raise ``PortalError`` subclasses for everything else.

Retailer adapters implement login, list_deductions, fetch_documents,
file_dispute and dispute_status; carrier adapters implement login and
fetch_shipment_documents. Every method is safe to call again after any
failure (it starts from a known page), which is what lets the runtime retry.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar, Literal

from credentials.login import Login
from credentials.secret import Secret
from portal_adapters.errors import DisputeRejected

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

    from portal_adapters.errors import RecordInvalid
    from records.schemas import DeductionRecord, DisputeReason, DisputeStatus, ShipmentRecord

PortalKind = Literal["retailer", "carrier"]

PAGE_LIFE = 200
"""Page loads after which a long job's page is closed and a fresh one opened
between two records (:meth:`AdapterSession.renew_page_if_worn`). A renderer
can keep memory from every document it showed: one FreshCo page grew by
about 1 MB a claim page in a backfill, past 1 GB in six minutes. The
context (cookies, the login) stays; a new page is a new renderer."""


@dataclass
class SignIns:
    """The sign-ins of one login session, shared by every page working it.

    When the portal ends the session, each page at work meets it; one signs
    in again and the others, finding ``count`` moved since their attempt
    began, simply retry: one login, not one per page (two at once would
    spend the same TOTP code twice, and portals lock accounts for less)."""

    count: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class AdapterSession:
    """One job's handle on a portal: a browser context, its page, the login.

    ``requests`` counts the HTTP requests the context made (for the
    requests-per-document figure); ``notes`` is scratch space an adapter may
    use within one job (e.g. a bearer token), never persisted.
    """

    portal: str
    account: str
    base_url: str
    context: BrowserContext
    credentials: Login
    page: Page | None = None
    requests: int = 0
    api_requests: int = 0
    """Requests made through the context's request API (http.request): the
    browser's own request events never see them."""
    logged_in: bool = False
    notes: dict[str, object] = field(default_factory=dict, repr=False)  # may hold tokens
    throttle: Callable[[], Awaitable[object]] | None = field(default=None, repr=False)
    """Awaited before each request-API call (the runtime's per-portal rate limit;
    page traffic is paced by the runtime itself)."""
    restored: bool = False
    """The context started from a saved session (cookies that may still be
    signed in). Only then is it worth a request to ask the portal whether it
    still is; a fresh context is logged in straight away."""
    listed: set[str] = field(default_factory=set, repr=False)
    """Deduction ids this job already stored. A listing called again after a
    failure skips them without reading their detail again, so a long listing
    on a flaky portal resumes instead of starting over."""
    sign_ins: SignIns = field(default_factory=SignIns, repr=False)
    pages: int = 1
    """Pages of this login a job may work at once (the portal's
    ``pages_per_session``): see :meth:`lanes`."""
    page_loads: int = 0
    """Navigations of this lane's current page (``web.pages.goto`` and
    ``submit_form`` count them; ``main_page`` starts a new page at 0)."""
    page_life: int = PAGE_LIFE
    """Loads after which :meth:`renew_page_if_worn` renews the page."""
    _lanes: list[AdapterSession] = field(default_factory=list, init=False, repr=False)

    def lanes(self) -> list[AdapterSession]:
        """This session and ``pages - 1`` more pages of the same login, made
        once per job (their pages close with the job's context).

        A lane shares the context (its cookies, so no second login session
        on the portal), the credentials, the notes, the throttle and the
        sign-ins; its page and its request counts are its own. An adapter's
        calls are page-local (each starts from a known page), which is what
        lets lanes read one account's claims side by side
        (``portal_adapters.web.lanes``)."""
        while len(self._lanes) < self.pages - 1:
            self._lanes.append(replace(self, page=None, requests=0, api_requests=0, pages=1))
        return [self, *self._lanes[: self.pages - 1]]

    def api_requests_of_all_lanes(self) -> int:
        """Request-API calls made on this session and its lanes."""
        return self.api_requests + sum(lane.api_requests for lane in self._lanes)

    async def main_page(self) -> Page:
        if self.page is None or self.page.is_closed():
            self.page = await self.context.new_page()
            self.page_loads = 0
        return self.page

    async def renew_page_if_worn(self) -> bool:
        """Close this lane's page once it has made ``page_life`` loads; the next
        ``main_page`` opens a fresh one in the same context (same cookies, no
        sign-in). Only between two adapter calls, or between two records a
        listing yields: an adapter holds no page there (see
        ``RetailerAdapter.list_deductions``). True when it renewed."""
        if self.page is None or self.page_loads < self.page_life:
            return False
        page, self.page = self.page, None  # main_page counts the new page's loads from 0
        # a page that cannot close (its renderer crashed) is dropped all the same
        with contextlib.suppress(Exception):
            await page.close()
        return True

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")


@dataclass(frozen=True)
class DocumentRef:
    """A document a portal lists for a deduction, before its bytes are fetched.

    ``ref`` is stable on the portal (its document id, or a URL path without
    secrets): the runtime remembers which refs it has stored and never
    downloads one twice. One ref may yield several documents (a ZIP).
    """

    ref: str
    role: str  # records.schemas.LinkRole value: backup, deal_sheet, line_detail, remittance...
    filename: str = ""  # as listed (untrusted)


@dataclass(frozen=True)
class FetchedDocument:
    """Bytes a portal handed over. ``filename`` and ``media_type`` are the
    portal's claims (untrusted); the vault sniffs and sanitises."""

    role: str  # records.schemas.LinkRole value: backup, deal_sheet, line_detail, pod, bol...
    filename: str
    data: bytes
    media_type: str = "application/octet-stream"
    ref: str = ""  # the portal's own id for the document, if it shows one

    def __repr__(self) -> str:
        return f"FetchedDocument({self.role}, {self.filename!r}, {len(self.data)} bytes)"


@dataclass(frozen=True)
class ShipmentDocuments:
    """What a carrier shows for one shipment: the record and its documents.

    ``pod_available`` is False when the carrier has no delivery receipt yet;
    that is a state, not an error (the runtime looks again later).
    """

    shipment: ShipmentRecord
    documents: list[FetchedDocument]
    pod_available: bool


@dataclass(frozen=True)
class Challenge:
    """A check a robot cannot pass by itself, as a person will see it."""

    kind: Literal["captcha", "security_question"]
    prompt: str
    """What to do, in the portal's words where it has some (untrusted text)."""
    image: bytes | None = None
    """The check's picture (PNG), for a CAPTCHA."""
    secret: bool = False
    """The answer is a credential (a security answer): it goes into the
    keyring, never into the store, and stays there for the next log-on."""


@dataclass(frozen=True)
class DisputePacket:
    """Everything needed to file one dispute, decided before the first attempt."""

    deduction_external_id: str
    idempotency_key: str
    reason: DisputeReason  # adapters map it to the portal's list
    amount: Decimal
    explanation: str
    attachments: tuple[tuple[str, bytes], ...] = ()
    case_type: str = ""  # portals that ask for a claim type (freshco)
    portal_reason: str = ""
    """The portal's own reason (its list's words, or a case type), from the
    portal's habits data; empty: the adapter maps ``reason`` itself."""


@dataclass(frozen=True)
class DisputeReceipt:
    dispute_number: str
    status: DisputeStatus  # the portal's words normalised (draft, research, approved, ...)
    already_filed: bool = False  # found on the portal instead of filed now


@dataclass(frozen=True)
class DisputeStatusReport:
    dispute_number: str
    status: DisputeStatus  # normalised, as DisputeReceipt.status
    portal_label: str  # the portal's own words
    approved_amount: Decimal | None = None
    """What the portal says it pays back, once it decided (None: it does not say)."""


class PortalAdapter(ABC):
    """Base of every adapter. Subclasses set ``portal`` and ``kind``."""

    portal: ClassVar[str]
    kind: ClassVar[PortalKind]

    @abstractmethod
    async def login(self, session: AdapterSession) -> None:
        """Log in from scratch (password, then MFA or security question).

        Raises BadCredentials, MfaFailed, CaptchaRequired, LayoutChanged.
        """

    @abstractmethod
    async def is_logged_in(self, session: AdapterSession) -> bool:
        """Whether the context's cookies (e.g. restored session state) are still good."""

    async def challenge(self, session: AdapterSession) -> Challenge | None:
        """The check the page shows now (a CAPTCHA, a security question), as a
        person can answer it; None when the page shows none this adapter can
        hand over."""
        return None

    async def answer_challenge(self, session: AdapterSession, answer: Secret) -> bool:
        """Type a person's answer into the check the page shows; True when the
        portal let it pass (a CAPTCHA: the caller tries its step again; a
        log-on question: the session is logged in)."""
        return False

    async def ensure_logged_in(self, session: AdapterSession) -> None:
        """Log in unless the session is known or found to be logged in.

        The ``is_logged_in`` check costs a page load, and only pays off for a
        restored session (``session.restored``): a fresh context has no
        cookies, so asking would always answer no (one wasted request per
        job, a seventh of a short job's wall time on megamart)."""
        if session.logged_in or (session.restored and await self.is_logged_in(session)):
            session.logged_in = True
            return
        await self.login(session)
        session.logged_in = True


class RetailerAdapter(PortalAdapter):
    kind: ClassVar[PortalKind] = "retailer"

    @abstractmethod
    def list_deductions(
        self, session: AdapterSession, since: date | None = None
    ) -> AsyncIterator[DeductionRecord | RecordInvalid]:
        """Every deduction posted on or after ``since`` (all when None), newest first.

        Yields RecordInvalid for a row that cannot be read (its values, or a
        detail page that is missing or about another deduction) instead of
        stopping.
        Rows whose id is in ``session.listed`` are skipped unread (a resumed call).
        Raises LayoutChanged when the page is not a deduction list (an
        interstitial is never reported as an empty portal).

        While suspended at a ``yield`` it holds no Page: each read after it
        starts from a navigation, so the runtime may renew a worn page there
        (:meth:`AdapterSession.renew_page_if_worn`; a backfill lists thousands).
        """

    @abstractmethod
    async def list_documents(self, session: AdapterSession, external_id: str) -> list[DocumentRef]:
        """The documents the portal shows for the deduction now (empty: none yet).

        Raises RecordInvalid when the deduction's page is missing or about
        another deduction (that one deduction cannot be read)."""

    @abstractmethod
    async def download_document(
        self, session: AdapterSession, external_id: str, doc: DocumentRef
    ) -> list[FetchedDocument]:
        """The bytes behind one ref (a ZIP ref yields the archive itself; the
        runtime unpacks it with the vault's guards).

        Raises RecordInvalid (``kind="document"``, ``external_id`` the ref) when
        this document is missing, over the size cap or not what it claims."""

    @abstractmethod
    async def file_dispute(self, session: AdapterSession, packet: DisputePacket) -> DisputeReceipt:
        """File the dispute, or return the existing one (``already_filed``).

        Looks first, so a retry after a lost answer never files twice.
        Raises DisputeRejected with the portal's reason.
        """

    @abstractmethod
    async def dispute_status(
        self, session: AdapterSession, external_id: str
    ) -> DisputeStatusReport | None:
        """The dispute on this deduction, or None when there is none."""

    async def file_appeal(
        self, session: AdapterSession, packet: DisputePacket, dispute_number: str
    ) -> DisputeReceipt:
        """Appeal the denied dispute ``dispute_number`` once, with ``packet``, or
        return the appeal already there (``already_filed``: looks first).

        Raises DisputeRejected with the portal's reason; a portal without a
        second-level appeal refuses every one."""
        raise DisputeRejected(
            f"{self.portal} offers no second-level appeal", portal=self.portal, step="file_appeal"
        )

    async def appeal_status(
        self, session: AdapterSession, dispute_number: str
    ) -> DisputeStatusReport | None:
        """The appeal of dispute ``dispute_number``, or None when there is none."""
        return None


class CarrierAdapter(PortalAdapter):
    kind: ClassVar[PortalKind] = "carrier"

    @abstractmethod
    async def fetch_shipment_documents(
        self,
        session: AdapterSession,
        *,
        pro_number: str | None = None,
        bol_number: str | None = None,
    ) -> ShipmentDocuments | RecordInvalid | None:
        """The shipment and its POD and BOL by PRO (or BOL) number; None if unknown.

        Returns RecordInvalid (``kind`` "shipment" or "document", ``raw`` the
        portal's values, ``external_id`` the PRO or the document ref, the
        message naming the field) when this one shipment cannot be read: the
        caller quarantines it and goes on with the next number, as with the
        RecordInvalid items of ``list_deductions``. Raises CaptchaRequired when
        a challenge blocks the lookup, RateLimited when the carrier says slow
        down.
        """
