"""The analyst's worklist: deductions filtered, sorted and paginated.

:func:`list_deductions` is the query behind ``fleet deductions`` and the web
app's worklist: the same filters, the same order, the same page, so both faces
show the same thing. It only reads.

Promises:

* **the filters** (all optional, combined with AND; a list means any of them):
  portal, account, customer, category, portal status, verdict validity, age,
  amount range, dispute deadline, and a text search. See :class:`Filters`.
* **text search** finds a claim by its claim number, invoice, PO, PRO or BOL
  number, exactly or by prefix, as typed or in capitals. It compares
  bytewise with key ranges, never ``LIKE``: ``%``, ``_`` and ``\\`` in the
  text are plain characters.
* **order** is total: every sort ends on the deduction id (ascending, or
  descending for a reversed sort), so pages never overlap or skip a row between
  two requests on unchanged data. Unknown values (no deadline, no date) sort
  last in either direction.
* **speed** on 100,000 deductions: every search column, the sort keys and the
  join to verdicts have indexes (migration 0005); the page is chosen on ids
  first and only its rows are read in full (bench/worklist_bench.py measures).
* bad filter values raise :class:`FilterError` with a message for a person.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    FromClause,
    false,
    func,
    or_,
    select,
    union,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

from records.schemas import Category
from store.db import plain_rows
from store.models import (
    Account,
    Decision,
    Deduction,
    Dispute,
    DocumentLink,
    ErpInvoice,
    Portal,
    Verdict,
    table_of,
)
from store.models.base import Bytewise

D = table_of(Deduction)
V = table_of(Verdict)
I = table_of(ErpInvoice)  # noqa: E741

MAX_PAGE_SIZE = 500
MAX_TEXT = 200
"""Longest search text: claim numbers are at most 128 characters, the others 500,
but nobody types more than this to find one."""
MAX_VALUES = 50
"""Most values one list filter takes (portals, statuses ...)."""
MAX_AGE_DAYS = 36_500
DISTINCT_CAP = 1_000
"""Most distinct statuses (or ERP customers) matched in Python; beyond, the
filter compares lower-cased text in the database (no index)."""
NO_VERDICT = "none"
"""The validity filter's word for "not judged yet"."""

SEARCHED = ("external_id", "invoice_number", "po_number", "pro_number", "bol_number")
"""The columns text search looks in (each has a bytewise index, migration 0005)."""

SORT_KEYS = ("deadline", "amount", "age", "portal", "claim")
"""deadline: the dispute window's last day; amount; age: days since the
deduction date (ascending = newest first); portal: portal then claim number;
claim: claim number (code-point order) then portal."""


class FilterError(ValueError):
    """A filter, sort or page the worklist cannot take; the message says why."""


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class Filters:
    """What to show. Empty tuples and None mean "any".

    * ``portals``: portal slugs; ``accounts``: logins, as stored (any case);
    * ``customer``: part of the retailer's name, any case: the customer on the
      claim's ERP invoice, or the portal's name or display name;
    * ``categories``: the verdict's category (analyst corrections included),
      else the portal's; values of ``records.schemas.Category``;
    * ``statuses``: the portal's status text, any case;
    * ``validities``: the verdict's validity; ``"none"`` for no verdict yet;
    * ``min_age_days`` / ``max_age_days``: days from the deduction date to
      ``today`` (needs ``today``; deductions without a date never match);
    * ``min_amount`` / ``max_amount``: the claim's amount, inclusive;
    * ``closes_from`` / ``closes_by``: the dispute window's last day
      (``verdicts.window_closes``), inclusive; claims without one never match;
    * ``text``: claim, invoice, PO, PRO or BOL number, exact or prefix;
    * ``today``: the day ages and days left are counted to.
    """

    portals: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    customer: str | None = None
    categories: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    validities: tuple[str, ...] = ()
    min_age_days: int | None = None
    max_age_days: int | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    closes_from: date | None = None
    closes_by: date | None = None
    text: str | None = None
    today: date | None = None

    def __post_init__(self) -> None:
        for name in ("portals", "accounts", "categories", "statuses", "validities"):
            values = getattr(self, name)
            if isinstance(values, str):
                raise FilterError(f"{name}: a list of values, not one string")
            if len(values) > MAX_VALUES:
                raise FilterError(f"{name}: at most {MAX_VALUES} values")
            for v in values:
                _check_text(name, v, 500)
        for c in self.categories:
            if c not in Category.__members__:
                raise FilterError(
                    f"category: {c[:40]!r} is not one of {', '.join(Category.__members__)}"
                )
        if self.customer is not None:
            _check_text("customer", self.customer, MAX_TEXT)
        if self.text is not None:
            _check_text("search text", self.text, MAX_TEXT)
        for name in ("min_age_days", "max_age_days"):
            days = getattr(self, name)
            if days is None:
                continue
            if self.today is None:
                raise FilterError("an age filter needs the day to count to (today)")
            if isinstance(days, bool) or not isinstance(days, int):
                raise FilterError(f"{name}: a whole number of days")
            if not 0 <= days <= MAX_AGE_DAYS:
                raise FilterError(f"{name}: between 0 and {MAX_AGE_DAYS} days")
        _ordered("age", self.min_age_days, self.max_age_days)
        for name in ("min_amount", "max_amount"):
            amount = getattr(self, name)
            if amount is not None and (not isinstance(amount, Decimal) or not amount.is_finite()):
                raise FilterError(f"{name}: an exact amount (Decimal), not {amount!r}")
        _ordered("amount", self.min_amount, self.max_amount)
        _ordered("deadline", self.closes_from, self.closes_by)


def _check_text(name: str, value: Any, limit: int) -> None:
    if not isinstance(value, str):
        raise FilterError(f"{name}: text expected")
    if not value.strip():
        raise FilterError(f"{name}: empty")
    if len(value) > limit:
        raise FilterError(f"{name}: longer than {limit} characters")
    if "\x00" in value:
        raise FilterError(f"{name}: contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise FilterError(f"{name}: not valid text (undecodable bytes)") from None


def _ordered(name: str, low: Any, high: Any) -> None:
    if low is not None and high is not None and low > high:
        raise FilterError(f"{name}: the lower bound {low} is above the upper bound {high}")


@dataclass(frozen=True, slots=True)
class Sort:
    """``key`` one of :data:`SORT_KEYS`; ``descending`` reverses it (the id
    tiebreak too); unknown values stay last."""

    key: str = "deadline"
    descending: bool = False

    def __post_init__(self) -> None:
        if self.key not in SORT_KEYS:
            raise FilterError(f"sort: {self.key[:40]!r} is not one of {', '.join(SORT_KEYS)}")

    @classmethod
    def parse(cls, text: str) -> Sort:
        """``"amount"`` ascending, ``"-amount"`` descending."""
        t = text.strip()
        return cls(t[1:], True) if t.startswith("-") else cls(t, False)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class WorklistRow:
    """One deduction as the worklist shows it. Text is the portal's, untrusted:
    escape it for wherever it is shown."""

    id: int
    portal: str
    external_id: str
    account: str | None
    customer: str | None
    invoice_number: str
    po_number: str
    pro_number: str | None
    bol_number: str | None
    amount: Decimal
    currency: str
    category: str | None
    reason_code: str
    status: str
    deduction_date: date | None
    age_days: int | None
    validity: str | None
    window_closes: date | None
    days_left: int | None
    documents: int
    decision: str | None
    """The newest proposal: "dispute pending", "accept approved" ..."""
    dispute_status: str | None

    @property
    def ref(self) -> str:
        return f"{self.portal}:{self.external_id}"


@dataclass(frozen=True, slots=True)
class Page:
    items: list[WorklistRow]
    total: int
    page: int
    page_size: int
    sort: Sort = field(default_factory=Sort)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def page_dict(page: Page) -> dict[str, Any]:
    """A page as plain data for JSON (``fleet deductions --json`` and the API):
    money stays Decimal for the caller's encoder to write exactly."""
    return {
        "total": page.total,
        "page": page.page,
        "pages": page.pages,
        "page_size": page.page_size,
        "sort": ("-" if page.sort.descending else "") + page.sort.key,
        "items": [{"ref": row.ref, **asdict(row)} for row in page.items],
    }


# --------------------------------------------------------------------------- the query


def list_deductions(
    session: Session,
    filters: Filters | None = None,
    sort: Sort | None = None,
    page: int = 1,
    page_size: int = 50,
) -> Page:
    """One page of the deductions ``filters`` select, in ``sort`` order, with the
    total count. A page past the end is empty (the total still says how many)."""
    filters = filters or Filters()
    sort = sort or Sort()
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise FilterError("page: a whole number from 1")
    if (
        isinstance(page_size, bool)
        or not isinstance(page_size, int)
        or not 1 <= page_size <= MAX_PAGE_SIZE
    ):
        raise FilterError(f"page size: between 1 and {MAX_PAGE_SIZE}")

    terms = _Terms.resolve(session, filters)
    conditions = terms.build(walk=False)
    count_source = D.outerjoin(V, V.c.deduction_id == D.c.id) if terms.needs_verdict else D
    total = session.execute(
        select(func.count()).select_from(count_source).where(*conditions)
    ).scalar_one()
    offset = (page - 1) * page_size
    ids: list[int] = []
    if total > offset:
        if conditions and _dense(session, total, offset + page_size):
            conditions = terms.build(walk=True)
        ids = _page_ids(session, conditions, terms.needs_verdict, sort, offset, page_size)
    return Page(_rows(session, ids, filters.today), total, page, page_size, sort)


def _dense(session: Session, total: int, rows_needed: int) -> bool:
    """On SQLite, whether to find the page by walking the sort order's index
    rather than through the filters' indexes.

    SQLite plans without statistics (the fleet does not ANALYZE) and takes an
    equality on an indexed column as selective, even when it matches a third of
    the table; it then sorts all of them. Walking the sort index visits about
    ``rows_needed * table / total`` rows; going through the filters reads
    ``total`` and sorts them: the walk wins when ``rows_needed * table <
    total**2``. ``max(id)`` stands for the table's size (one index probe).
    PostgreSQL has statistics and makes this choice itself."""
    if session.get_bind().dialect.name != "sqlite":
        return False
    size: int = session.execute(select(func.max(D.c.id))).scalar_one() or 0
    return rows_needed * size < total * total


def _page_ids(
    session: Session,
    conditions: list[ColumnElement[bool]],
    needs_verdict: bool,
    sort: Sort,
    offset: int,
    limit: int,
) -> list[int]:
    """The ids of one page. Deadline and age may be unknown (NULL), and those rows
    come last: the rows with a value are read first through the key's index
    (NULLS LAST cannot use an index on every backend in both directions), then,
    if the page is not full, the rows without one in id order."""

    def way(col: Any, descending: bool) -> Any:
        return col.desc() if descending else col.asc()

    d = sort.descending
    joined = D.outerjoin(V, V.c.deduction_id == D.c.id)
    plain: FromClause = joined if needs_verdict else D
    if sort.key == "amount":
        return _ids(session, plain, conditions, [way(D.c.amount, d), way(D.c.id, d)], offset, limit)
    if sort.key == "portal":
        order = [way(D.c.portal, d), way(D.c.external_id, d), way(D.c.id, d)]
        return _ids(session, plain, conditions, order, offset, limit)
    if sort.key == "claim":
        order = [way(Bytewise(D.c.external_id), d), way(D.c.portal, d), way(D.c.id, d)]
        return _ids(session, plain, conditions, order, offset, limit)
    if sort.key == "deadline":
        key: Any = V.c.window_closes
        # A row with a deadline has a verdict: walk (window_closes, deduction_id).
        keyed: FromClause = V.join(D, D.c.id == V.c.deduction_id)
        keyed_order = [way(key, d), way(V.c.deduction_id, d)]
        unkeyed: FromClause = joined
    else:  # age: ascending is newest first
        key = D.c.deduction_date
        keyed = unkeyed = plain
        keyed_order = [way(key, not d), way(D.c.id, d)]
    first = _ids(session, keyed, [*conditions, key.is_not(None)], keyed_order, offset, limit)
    if len(first) == limit:
        return first
    if first:
        skip = 0
    else:
        with_key = session.execute(
            select(func.count()).select_from(keyed).where(*conditions, key.is_not(None))
        ).scalar_one()
        skip = offset - with_key
    rest = _ids(
        session, unkeyed, [*conditions, key.is_(None)], [way(D.c.id, d)], skip, limit - len(first)
    )
    return first + rest


def _ids(
    session: Session,
    source: Any,
    conditions: list[ColumnElement[bool]],
    order: list[Any],
    offset: int,
    limit: int,
) -> list[int]:
    return list(
        session.execute(
            select(D.c.id)
            .select_from(source)
            .where(*conditions)
            .order_by(*order)
            .limit(limit)
            .offset(offset)
        ).scalars()
    )


class _NoIndex(ColumnElement[Any]):
    """A column SQLite must not use an index for (``+column``), so that it walks
    the sort order's index instead (see :func:`_dense`); as is elsewhere."""

    __visit_name__ = "worklist_no_index"
    inherit_cache = True
    _traverse_internals = [("element", InternalTraversal.dp_clauseelement)]  # noqa: RUF012

    def __init__(self, element: ColumnElement[Any]) -> None:
        self.element = element
        self.type = element.type


@compiles(_NoIndex)
def _no_index(element: _NoIndex, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.element, **kw)


@compiles(_NoIndex, "sqlite")
def _no_index_sqlite(element: _NoIndex, compiler: SQLCompiler, **kw: Any) -> str:
    return "+" + compiler.process(element.element, **kw)


@dataclass(frozen=True, slots=True)
class _Terms:
    """The filters with their look-ups done (statuses, accounts and customers as
    stored), ready to become WHERE terms."""

    filters: Filters
    accounts: list[str]
    statuses: list[str] | None
    customer_names: list[str] | None
    customer_portals: list[str]

    @classmethod
    def resolve(cls, session: Session, f: Filters) -> _Terms:
        names: list[str] | None = []
        portals: list[str] = []
        if f.customer is not None:
            names, portals = _customers(session, f.customer)
        return cls(
            f,
            _accounts(session, f.accounts) if f.accounts else [],
            _statuses(session, f.statuses) if f.statuses else [],
            names,
            portals,
        )

    @property
    def needs_verdict(self) -> bool:
        f = self.filters
        return bool(f.categories or f.validities) or (f.closes_from or f.closes_by) is not None

    def build(self, *, walk: bool) -> list[ColumnElement[bool]]:
        """WHERE terms; ``walk``: none of them may use an index (SQLite)."""

        def c(col: Any) -> Any:
            return _NoIndex(col) if walk else col

        f = self.filters
        terms: list[ColumnElement[bool]] = []
        if f.portals:
            terms.append(c(D.c.portal).in_([p.strip().lower() for p in f.portals]))
        if f.accounts:
            terms.append(c(D.c.account).in_(self.accounts))
        if f.customer is not None:
            # The portal first: most of a customer's claims are on its own portal,
            # and those then skip the invoice look-up.
            options: list[ColumnElement[bool]] = []
            if self.customer_portals:
                options.append(c(D.c.portal).in_(self.customer_portals))
            if self.customer_names is None:
                needle = f.customer.strip().lower()
                billed = select(I.c.invoice_number).where(
                    func.lower(I.c.customer).contains(needle, autoescape=True)
                )
                options.append(c(D.c.invoice_number).in_(billed))
            elif self.customer_names:
                billed = select(I.c.invoice_number).where(I.c.customer.in_(self.customer_names))
                options.append(c(D.c.invoice_number).in_(billed))
            terms.append(or_(*options) if options else false())
        if f.categories:
            effective = func.coalesce(V.c.category, D.c.category)
            terms.append(effective.in_(list(f.categories)))
        if f.statuses:
            if self.statuses is None:
                lowered = [x.strip().lower() for x in f.statuses]
                terms.append(func.lower(D.c.status).in_(lowered))
            else:
                terms.append(c(D.c.status).in_(self.statuses))
        if f.validities:
            wanted = [v.strip().lower() for v in f.validities]
            judged = [v for v in wanted if v != NO_VERDICT]
            either: list[ColumnElement[bool]] = []
            if judged:
                either.append(c(V.c.validity).in_(judged))
            if NO_VERDICT in wanted:
                either.append(V.c.id.is_(None))
            terms.append(or_(*either))
        if f.today is not None and f.min_age_days is not None:
            terms.append(c(D.c.deduction_date) <= f.today - timedelta(days=f.min_age_days))
        if f.today is not None and f.max_age_days is not None:
            terms.append(c(D.c.deduction_date) >= f.today - timedelta(days=f.max_age_days))
        if f.min_amount is not None:
            terms.append(c(D.c.amount) >= f.min_amount)
        if f.max_amount is not None:
            terms.append(c(D.c.amount) <= f.max_amount)
        if f.closes_from is not None:
            terms.append(c(V.c.window_closes) >= f.closes_from)
        if f.closes_by is not None:
            terms.append(c(V.c.window_closes) <= f.closes_by)
        if f.text is not None:
            terms.append(c(D.c.id).in_(search_ids(f.text)))
        return terms


def search_ids(text: str) -> CompoundSelect[Any]:
    """Ids of the deductions whose claim, invoice, PO, PRO or BOL number is
    ``text`` or starts with it (as typed, or in capitals): a union of index
    range scans, one per column and spelling."""
    t = text.strip()
    branches = []
    for spelling in dict.fromkeys((t, t.upper())):
        low, high = prefix_range(spelling)
        for name in SEARCHED:
            col = Bytewise(D.c[name])
            cond = col >= low if high is None else (col >= low) & (col < high)
            branches.append(select(D.c.id).where(cond))
    return union(*branches)


def prefix_range(prefix: str) -> tuple[str, str | None]:
    """``(low, high)`` such that, in code-point order, a string starts with
    ``prefix`` exactly when ``low <= s < high`` (``high`` None: no upper bound)."""
    chars = list(prefix)
    while chars:
        code = ord(chars[-1]) + 1
        if 0xD800 <= code <= 0xDFFF:  # surrogates are not text; skip to the next
            code = 0xE000
        if code <= 0x10FFFF:
            chars[-1] = chr(code)
            return prefix, "".join(chars)
        chars.pop()
    return prefix, None


def _accounts(session: Session, wanted: Iterable[str]) -> list[str]:
    """The stored logins equal to ``wanted`` in any case."""
    keys = {w.strip().casefold() for w in wanted}
    return [
        u
        for u in session.execute(select(Account.username).distinct()).scalars()
        if u.casefold() in keys
    ]


def _distinct(session: Session, col: Any) -> list[str] | None:
    """The distinct values of an indexed text column, one index probe each (a
    loose index scan: ``SELECT DISTINCT`` would read the whole table); None when
    there are more than :data:`DISTINCT_CAP`."""
    v = select(func.min(col).label("x")).cte("distinct_values", recursive=True)
    following = select(func.min(col)).where(col > v.c.x).scalar_subquery()
    v = v.union_all(select(following).where(v.c.x.is_not(None)))
    found = session.execute(select(v.c.x).where(v.c.x.is_not(None)).limit(DISTINCT_CAP + 1))
    stored: list[Any] = list(found.scalars())
    values = [str(value) for value in stored]
    return None if len(values) > DISTINCT_CAP else values


def _statuses(session: Session, wanted: Iterable[str]) -> list[str] | None:
    """The portal statuses stored equal to ``wanted`` in any case, so that the
    filter can use the status index; None when the portals use too many
    different ones to list (the filter then compares in lower case)."""
    keys = {w.strip().casefold() for w in wanted}
    stored = _distinct(session, D.c.status)
    return None if stored is None else [s for s in stored if s.casefold() in keys]


def _customers(session: Session, text: str) -> tuple[list[str] | None, list[str]]:
    """(ERP customers, portals) whose name contains ``text`` in any case (the
    portal's slug or its display name); ERP customers None when there are too
    many to list (the filter then compares in lower case)."""
    needle = text.strip().casefold()
    stored = _distinct(session, I.c.customer)
    names = None if stored is None else [c for c in stored if needle in c.casefold()]
    portals = [
        name
        for name, shown in session.execute(select(Portal.name, Portal.display_name))
        if needle in name.casefold() or needle in (shown or "").casefold()
    ]
    return names, portals


def _rows(session: Session, ids: Sequence[int], today: date | None) -> list[WorklistRow]:
    """The page's rows in full, in the order of ``ids``."""
    if not ids:
        return []
    found = {
        r.id: r
        for r in session.execute(
            select(
                D.c.id,
                D.c.portal,
                D.c.external_id,
                D.c.account,
                D.c.invoice_number,
                D.c.po_number,
                D.c.pro_number,
                D.c.bol_number,
                D.c.amount,
                D.c.currency,
                D.c.category,
                D.c.reason_code,
                D.c.status,
                D.c.deduction_date,
                V.c.validity,
                V.c.category.label("verdict_category"),
                V.c.window_closes,
            )
            .select_from(D.outerjoin(V, V.c.deduction_id == D.c.id))
            .where(D.c.id.in_(ids))
        )
    }
    customers = customers_of(session, {(r.invoice_number, r.portal) for r in found.values()})
    documents = dict(
        session.execute(
            select(DocumentLink.deduction_id, func.count())
            .where(DocumentLink.deduction_id.in_(ids))
            .group_by(DocumentLink.deduction_id)
        ).all()
    )
    decisions: dict[int, str] = {}
    for did, kind, status in session.execute(
        select(Decision.deduction_id, Decision.kind, Decision.status)
        .where(Decision.deduction_id.in_(ids))
        .order_by(Decision.id)
    ):
        decisions[did] = f"{kind} {status}"
    disputes: dict[int, str] = {}
    for did, status in session.execute(
        select(Dispute.deduction_id, Dispute.status)
        .where(Dispute.deduction_id.in_(ids))
        .order_by(Dispute.id)
    ):
        disputes[did] = status
    out = []
    for i in ids:
        r = found.get(i)
        if r is None:  # deleted between the two reads
            continue
        category = r.verdict_category or (str(r.category.value) if r.category else None)
        out.append(
            WorklistRow(
                id=r.id,
                portal=r.portal,
                external_id=r.external_id,
                account=r.account,
                customer=customers.get((r.invoice_number, r.portal)),
                invoice_number=r.invoice_number,
                po_number=r.po_number,
                pro_number=r.pro_number,
                bol_number=r.bol_number,
                amount=r.amount,
                currency=r.currency,
                category=category,
                reason_code=r.reason_code,
                status=r.status,
                deduction_date=r.deduction_date,
                age_days=((today - r.deduction_date).days if today and r.deduction_date else None),
                validity=r.validity,
                window_closes=r.window_closes,
                days_left=((r.window_closes - today).days if today and r.window_closes else None),
                documents=int(documents.get(r.id, 0)),
                decision=decisions.get(r.id),
                dispute_status=disputes.get(r.id),
            )
        )
    return out


def customers_of(session: Session, claims: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(invoice number, portal) -> who the customer is: the ERP customer(s)
    billed under that invoice number ("A; B" when the number exists at two),
    else the portal's display name when it has one of its own. Claims with
    neither are left out."""
    claims = set(claims)
    numbers = sorted({n for n, _ in claims if n})
    billed: dict[str, set[str]] = defaultdict(set)
    for i in range(0, len(numbers), 500):
        for number, customer in plain_rows(
            session.execute(
                select(I.c.invoice_number, I.c.customer).where(
                    I.c.invoice_number.in_(numbers[i : i + 500])
                )
            )
        ):
            billed[number].add(customer)
    shown = {
        name: display
        for name, display in session.execute(select(Portal.name, Portal.display_name))
        if display and display != name
    }
    out = {}
    for number, portal in claims:
        if number in billed:
            out[(number, portal)] = "; ".join(sorted(billed[number]))
        elif portal in shown:
            out[(number, portal)] = shown[portal]
    return out


__all__ = [
    "MAX_PAGE_SIZE",
    "NO_VERDICT",
    "SORT_KEYS",
    "FilterError",
    "Filters",
    "Page",
    "Sort",
    "WorklistRow",
    "customers_of",
    "list_deductions",
    "page_dict",
    "prefix_range",
    "search_ids",
]
