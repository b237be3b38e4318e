"""X12 as real senders send it: a tolerant tokenizer and a strict envelope.

Tolerant where the standard does not carry meaning: a BOM, whitespace and
newlines before and between segments, many ISA..IEA interchanges in one file
(each with its own delimiters), an ISA whose fields are not padded to width,
any version (004010, 005010, 005010UCS ...), and an ISA13 control number that
repeats across interchanges (a warning: senders reuse them). Strict where a
mistake would change what the file says: an interchange, group or transaction
that is not closed (no IEA, GE or SE), a closing segment whose count or control
number disagrees with what it closes, and segments outside a transaction are
refused, naming what is missing. Only transactions inside intact envelopes are
returned; nothing here knows what an 812 or 820 means.

Every refusal and warning carries a :class:`Where`: the interchange (ISA13 and
its ordinal in the file, since ISA13 repeats), the group (GS06), the transaction
(ST02), the segment's position in the file (1-based, as X12 validators count)
and its line, and the element (``BCD04``) when one is to blame.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_SEGMENTS = 2_000_000
MAX_SEGMENT_CHARS = 100_000
MAX_ELEMENTS = 200
_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{1,2}$")
_WHITESPACE = " \t\r\n\f\v"
_ISA_ELEMENTS = 16


@dataclass(frozen=True, slots=True)
class Where:
    """Where in a file something was found; ``str()`` reads as a sentence part."""

    interchange: str | None = None
    interchange_no: int | None = None
    group: str | None = None
    transaction: str | None = None
    segment: int | None = None
    segment_id: str | None = None
    line: int | None = None
    element: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.interchange is not None:
            parts.append(f"interchange {self.interchange} (#{self.interchange_no})")
        if self.group is not None:
            parts.append(f"group {self.group}")
        if self.transaction is not None:
            parts.append(f"transaction {self.transaction}")
        if self.segment is not None:
            seg = f"segment {self.segment}"
            detail = [x for x in (self.segment_id, f"line {self.line}" if self.line else "") if x]
            parts.append(f"{seg} ({', '.join(detail)})" if detail else seg)
        if self.element is not None:
            parts.append(f"element {self.element}")
        return ", ".join(parts) or "file"


class X12Error(ValueError):
    """A refusal: what is wrong, exactly where, and the segment's text (kept
    with the rejected record, bounded)."""

    def __init__(self, where: Where, message: str, text: str = "") -> None:
        self.where = where
        self.message = message
        self.text = text[:1000]
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True, slots=True)
class Notice:
    """A warning: read anyway, but worth a line in the import report."""

    where: Where
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment: ``elements[0]`` is its id, element n is ``elements[n]``."""

    elements: tuple[str, ...]
    position: int
    line: int
    text: str
    component: str

    @property
    def id(self) -> str:
        return self.elements[0]

    def el(self, n: int) -> str:
        """Element n (1-based), stripped; ``""`` when absent."""
        return self.elements[n].strip() if n < len(self.elements) else ""

    def component_of(self, n: int, k: int = 1) -> str:
        """Component k (1-based) of composite element n."""
        parts = self.el(n).split(self.component) if self.component else [self.el(n)]
        return parts[k - 1].strip() if k <= len(parts) else ""

    def name(self, n: int) -> str:
        return f"{self.id}{n:02d}"


@dataclass(frozen=True, slots=True)
class Interchange:
    control: str  # ISA13
    ordinal: int  # 1 for the first ISA in the file
    position: int
    sender_qualifier: str
    sender: str  # ISA06, trimmed
    receiver_qualifier: str
    receiver: str
    date: str  # ISA09 (YYMMDD)
    version: str  # ISA12
    usage: str  # ISA15: P production, T test

    def summary(self) -> dict[str, object]:
        return {
            "control": self.control,
            "ordinal": self.ordinal,
            "sender": f"{self.sender_qualifier}:{self.sender}",
            "receiver": f"{self.receiver_qualifier}:{self.receiver}",
            "date": self.date,
            "version": self.version,
            "usage": self.usage,
        }


@dataclass(frozen=True, slots=True)
class Group:
    functional_id: str  # GS01: CD (812), RA (820)
    sender: str  # GS02
    receiver: str  # GS03
    control: str  # GS06
    version: str  # GS08
    position: int

    def summary(self) -> dict[str, object]:
        return {
            "functional_id": self.functional_id,
            "sender": self.sender,
            "receiver": self.receiver,
            "control": self.control,
            "version": self.version,
        }


@dataclass(frozen=True, slots=True)
class Transaction:
    """One ST..SE transaction set (both included) and its envelope."""

    interchange: Interchange
    group: Group
    segments: tuple[Segment, ...]

    @property
    def set_id(self) -> str:
        return self.segments[0].el(1)

    @property
    def control(self) -> str:
        return self.segments[0].el(2)

    @property
    def body(self) -> tuple[Segment, ...]:
        """The segments between ST and SE."""
        return self.segments[1:-1]

    def where(self, seg: Segment | None = None, n: int | None = None) -> Where:
        seg = seg or self.segments[0]
        return Where(
            interchange=self.interchange.control,
            interchange_no=self.interchange.ordinal,
            group=self.group.control,
            transaction=self.control,
            segment=seg.position,
            segment_id=seg.id,
            line=seg.line,
            element=None if n is None else seg.name(n),
        )

    def error(self, seg: Segment | None, n: int | None, message: str) -> X12Error:
        return X12Error(self.where(seg, n), message, (seg or self.segments[0]).text)

    def envelope(self) -> dict[str, object]:
        """What the raw payload keeps about where this transaction came from."""
        return {
            "interchange": self.interchange.summary(),
            "group": self.group.summary(),
            "transaction": {"set": self.set_id, "control": self.control},
            "segment": self.segments[0].position,
            "line": self.segments[0].line,
        }


@dataclass
class Parsed:
    """What a file held: transactions in intact envelopes, refusals, warnings."""

    transactions: list[Transaction] = field(default_factory=list)
    errors: list[X12Error] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    interchanges: int = 0
    segments: int = 0


# --------------------------------------------------------------------- tokenizer


@dataclass
class _Delimiters:
    element: str
    component: str
    segment: str


class _Cursor:
    """Walks the text segment by segment, counting positions and lines."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.count = 0
        self._last = (0, 1)

    def rewind(self) -> None:
        """Back to the start of the segment just read (read it again)."""
        self.pos, self.line = self._last
        self.count -= 1

    def skip_space(self) -> None:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _WHITESPACE:
            self.pos += 1
        self.line += self.text.count("\n", start, self.pos)

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def read_isa(self) -> tuple[_Delimiters, str] | None:
        """The ISA's delimiters and text (without terminator), tolerating
        unpadded fields: the 16th element separator is found, not assumed at 103."""
        text, start = self.text, self.pos
        if not text.startswith("ISA", start) or start + 4 > len(text):
            return None
        sep = text[start + 3]
        if sep.isalnum() or sep in _WHITESPACE:
            return None
        i, found = start + 3, 1
        while found < _ISA_ELEMENTS:
            i = text.find(sep, i + 1)
            if i < 0 or i - start > 400:
                return None
            found += 1
        if i + 2 >= len(text):
            return None
        component, terminator = text[i + 1], text[i + 2]
        if terminator in (sep, component) or terminator.isalnum():
            return None
        isa = text[start : i + 2]
        self.pos = i + 3
        self.line += isa.count("\n") + (terminator == "\n")
        return _Delimiters(sep, component, terminator), isa

    def next_segment(self, d: _Delimiters) -> tuple[str, int] | None:
        """The next segment's text (terminator and surrounding whitespace off)
        and the line it starts on; None at the end of the text."""
        self.skip_space()
        if self.at_end():
            return None
        line = self.line
        self._last = (self.pos, self.line)
        end = self.text.find(d.segment, self.pos)
        if end < 0:
            end = len(self.text)
        raw = self.text[self.pos : end]
        self.line += raw.count("\n") + (d.segment == "\n")
        self.pos = end + 1
        return raw.rstrip("\r\n"), line


def _split(raw: str, d: _Delimiters, position: int, line: int) -> Segment:
    return Segment(
        tuple(raw.split(d.element, MAX_ELEMENTS)),
        position,
        line,
        raw[:MAX_SEGMENT_CHARS],
        d.component,
    )


# --------------------------------------------------------------------- envelope


@dataclass
class _OpenTransaction:
    segments: list[Segment]
    broken: bool = False


@dataclass
class _OpenGroup:
    group: Group
    transactions: list[Transaction] = field(default_factory=list)
    started: int = 0
    broken: bool = False


@dataclass
class _OpenInterchange:
    info: Interchange
    groups: int = 0
    transactions: list[Transaction] = field(default_factory=list)
    broken: bool = False


class _Reader:
    def __init__(self, text: str) -> None:
        self.cur = _Cursor(text)
        self.out = Parsed()
        self.controls: dict[str, tuple[Where, list[int]]] = {}
        self.ic: _OpenInterchange | None = None
        self.gr: _OpenGroup | None = None
        self.tx: _OpenTransaction | None = None

    # -- locations
    def where(self, seg: Segment | None = None, element: str | None = None) -> Where:
        ic = self.ic.info if self.ic else None
        tx = self.tx.segments[0].el(2) if self.tx else None
        return Where(
            interchange=ic.control if ic else None,
            interchange_no=ic.ordinal if ic else None,
            group=self.gr.group.control if self.gr else None,
            transaction=tx,
            segment=seg.position if seg else None,
            segment_id=seg.id if seg else None,
            line=seg.line if seg else None,
            element=element,
        )

    def refuse(self, seg: Segment | None, message: str, element: str | None = None) -> None:
        self.out.errors.append(X12Error(self.where(seg, element), message, seg.text if seg else ""))

    # -- the loop
    def run(self) -> Parsed:
        cur = self.cur
        while True:
            cur.skip_space()
            if cur.at_end():
                break
            if len(self.out.errors) > 1000:
                break
            line, start = cur.line, cur.pos
            isa = cur.read_isa()
            if isa is None:
                snippet = cur.text[start : start + 30]
                self.out.errors.append(
                    X12Error(
                        Where(segment=cur.count + 1, line=line),
                        f"expected an ISA interchange header, found {snippet!r}",
                    )
                )
                break
            d, isa_text = isa
            cur.count += 1
            self.open_interchange(_split(isa_text, d, cur.count, line))
            if not self.read_interchange(d):
                break
        self.out.segments = cur.count
        for control, (where, ordinals) in self.controls.items():
            if len(ordinals) > 1:
                shown = ", ".join(f"#{n}" for n in ordinals[:10])
                more = f" and {len(ordinals) - 10} more" if len(ordinals) > 10 else ""
                self.out.notices.append(
                    Notice(
                        where,
                        f"ISA13 control number {control} is used by {len(ordinals)} "
                        f"interchanges ({shown}{more}); read anyway: senders reuse them",
                    )
                )
        return self.out

    def read_interchange(self, d: _Delimiters) -> bool:
        """Segments up to this interchange's IEA; False when the text ran out
        or the file is too large to go on."""
        cur = self.cur
        while self.ic is not None:
            nxt = cur.next_segment(d)
            if nxt is None:
                self.close_all_at_end()
                return False
            cur.count += 1
            if cur.count > MAX_SEGMENTS:
                self.refuse(None, f"more than {MAX_SEGMENTS} segments; the file is refused")
                self.ic = self.gr = self.tx = None
                return False
            raw, line = nxt
            seg = _split(raw, d, cur.count, line)
            if not _SEGMENT_ID.match(seg.id):
                self.refuse(seg, f"not a segment: {raw[:40]!r}")
                self.mark_broken()
                continue
            if "\x00" in raw:
                self.refuse(seg, "segment contains a NUL character")
                self.mark_broken()
                continue
            if len(raw) > MAX_SEGMENT_CHARS:
                self.refuse(seg, f"segment longer than {MAX_SEGMENT_CHARS} characters")
                self.mark_broken()
                continue
            self.dispatch(seg)
        return True

    def dispatch(self, seg: Segment) -> None:
        handler = {
            "ISA": self.nested_isa,
            "GS": self.open_group,
            "ST": self.open_transaction,
            "SE": self.close_transaction,
            "GE": self.close_group,
            "IEA": self.close_interchange,
        }.get(seg.id)
        if handler is not None:
            handler(seg)
        elif self.tx is not None:
            self.tx.segments.append(seg)
        else:
            self.refuse(seg, f"{seg.id} segment outside a transaction (no ST before it)")
            self.mark_broken()

    def mark_broken(self) -> None:
        if self.tx is not None:
            self.tx.broken = True
        elif self.gr is not None:
            self.gr.broken = True
        elif self.ic is not None:
            self.ic.broken = True

    # -- interchange
    def open_interchange(self, seg: Segment) -> None:
        self.out.interchanges += 1
        info = Interchange(
            control=seg.el(13),
            ordinal=self.out.interchanges,
            position=seg.position,
            sender_qualifier=seg.el(5),
            sender=seg.el(6),
            receiver_qualifier=seg.el(7),
            receiver=seg.el(8),
            date=seg.el(9),
            version=seg.el(12),
            usage=seg.el(15),
        )
        self.ic = _OpenInterchange(info)
        if len(seg.elements) != _ISA_ELEMENTS + 1:
            self.refuse(seg, f"ISA has {len(seg.elements) - 1} elements, not {_ISA_ELEMENTS}")
            self.ic.broken = True
        first = self.controls.setdefault(info.control, (self.where(seg, "ISA13"), []))
        first[1].append(info.ordinal)

    def nested_isa(self, seg: Segment) -> None:
        """An ISA before the IEA: refuse the open interchange, then read the
        new one from its own ISA (its delimiters may differ)."""
        self.unclosed_interchange(seg, "a new ISA starts")
        self.cur.rewind()

    def unclosed_interchange(self, seg: Segment | None, what: str) -> None:
        """Name every envelope left open when ``what`` happened, innermost first."""
        where = self.where(seg)
        if self.tx is not None:
            st = self.tx.segments[0]
            self.out.errors.append(
                X12Error(
                    where,
                    f"{what} inside transaction {st.el(2)} (ST at segment {st.position}): no SE",
                )
            )
        if self.gr is not None:
            g = self.gr.group
            self.out.errors.append(
                X12Error(
                    where, f"{what} inside group {g.control} (GS at segment {g.position}): no GE"
                )
            )
        if self.ic is not None:
            i = self.ic.info
            self.out.errors.append(
                X12Error(
                    where,
                    f"{what} inside interchange {i.control} (ISA at segment {i.position}): "
                    "no IEA; its transactions are refused",
                )
            )
        self.ic = self.gr = self.tx = None

    def close_interchange(self, seg: Segment) -> None:
        ic = self.ic
        assert ic is not None
        if self.gr is not None:
            self.unclosed_group(seg)
        ok = not ic.broken
        if seg.el(2) != ic.info.control:
            self.refuse(
                seg, f"IEA02 {seg.el(2)!r} does not match ISA13 {ic.info.control!r}", "IEA02"
            )
            ok = False
        if seg.el(1) != str(ic.groups):
            self.refuse(
                seg, f"IEA01 says {seg.el(1)!r} groups, the interchange has {ic.groups}", "IEA01"
            )
            ok = False
        if ok:
            self.out.transactions.extend(ic.transactions)
        self.ic = None

    # -- group
    def open_group(self, seg: Segment) -> None:
        assert self.ic is not None
        if self.gr is not None:
            self.unclosed_group(seg)
        self.ic.groups += 1
        self.gr = _OpenGroup(
            Group(seg.el(1), seg.el(2), seg.el(3), seg.el(6), seg.el(8), seg.position)
        )

    def unclosed_group(self, seg: Segment) -> None:
        """A GS, IEA or the end of the text met while a group was open."""
        if self.tx is not None:
            self.unclosed_transaction(seg)
        assert self.gr is not None
        self.refuse(
            seg,
            f"group {self.gr.group.control} (GS at segment {self.gr.group.position}) "
            "has no GE; its transactions are refused",
        )
        if self.ic is not None:
            self.ic.broken = True
        self.gr = None

    def close_group(self, seg: Segment) -> None:
        gr = self.gr
        if gr is None:
            self.refuse(seg, "GE without a GS")
            self.mark_broken()
            return
        if self.tx is not None:
            self.unclosed_transaction(seg)
        ok = not gr.broken
        if seg.el(2) != gr.group.control:
            self.refuse(seg, f"GE02 {seg.el(2)!r} does not match GS06 {gr.group.control!r}", "GE02")
            ok = False
        if seg.el(1) != str(gr.started):
            self.refuse(
                seg,
                f"GE01 says {seg.el(1)!r} transactions, the group has {gr.started}",
                "GE01",
            )
            ok = False
        assert self.ic is not None
        if ok:
            self.ic.transactions.extend(gr.transactions)
        else:
            self.ic.broken = True
        self.gr = None

    # -- transaction
    def open_transaction(self, seg: Segment) -> None:
        if self.tx is not None:
            self.unclosed_transaction(seg)
        if self.gr is None:
            self.refuse(seg, "ST outside a functional group (no GS before it)")
            if self.ic is not None:
                self.ic.broken = True
            self.tx = _OpenTransaction([seg], broken=True)
            return
        self.gr.started += 1
        self.tx = _OpenTransaction([seg])

    def unclosed_transaction(self, seg: Segment) -> None:
        assert self.tx is not None
        st = self.tx.segments[0]
        self.refuse(seg, f"transaction {st.el(2)} (ST at segment {st.position}) has no SE")
        if self.gr is not None:
            self.gr.broken = True
        self.tx = None

    def close_transaction(self, seg: Segment) -> None:
        tx = self.tx
        if tx is None:
            self.refuse(seg, "SE without an ST")
            self.mark_broken()
            return
        tx.segments.append(seg)
        st = tx.segments[0]
        ok = not tx.broken
        if seg.el(2) != st.el(2):
            self.refuse(seg, f"SE02 {seg.el(2)!r} does not match ST02 {st.el(2)!r}", "SE02")
            ok = False
        if seg.el(1) != str(len(tx.segments)):
            self.refuse(
                seg,
                f"SE01 says {seg.el(1)!r} segments, the transaction has {len(tx.segments)}",
                "SE01",
            )
            ok = False
        if ok and self.gr is not None and self.ic is not None:
            self.gr.transactions.append(
                Transaction(self.ic.info, self.gr.group, tuple(tx.segments))
            )
        elif self.gr is not None:
            self.gr.broken = True
        self.tx = None

    def close_all_at_end(self) -> None:
        """The text ended inside an interchange: name each missing closing segment."""
        self.unclosed_interchange(None, "the file ends")


def decode_x12(data: bytes) -> tuple[str, str | None]:
    """File bytes as text: UTF-8 (a BOM is fine), else ISO-8859-1, which X12's
    extended character set is usually written in; the second value says so."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        return data.decode("latin-1"), "not UTF-8: read as ISO-8859-1 (Latin-1)"


def read_x12(text: str) -> Parsed:
    """Every transaction in intact envelopes, with the refusals and warnings met.
    Never raises for what the text contains; bounded by :data:`MAX_SEGMENTS`."""
    if text.startswith("\ufeff"):
        text = text[1:]
    return _Reader(text).run()


__all__ = [
    "MAX_SEGMENTS",
    "Group",
    "Interchange",
    "Notice",
    "Parsed",
    "Segment",
    "Transaction",
    "Where",
    "X12Error",
    "decode_x12",
    "read_x12",
]
