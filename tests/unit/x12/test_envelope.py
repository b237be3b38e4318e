"""The X12 envelope as real senders write it: tolerant of layout, strict about
what is missing, and every refusal says where."""

from __future__ import annotations

import pytest

from store.x12.envelope import read_x12
from tests.unit.x12.build import (
    CRLF_PIPES,
    NEWLINE_TERMINATED,
    ONE_LINE,
    PER_LINE,
    Layout,
    interchange,
    render,
    transaction,
)

BODY = ["BPR*C*10.00*C*ACH", "TRN*1*EFT1"]


def _file(layout: Layout = ONE_LINE, controls: tuple[str, ...] = ("000000001",)) -> str:
    return "".join(
        render(
            interchange([transaction("820", f"{n:04d}", BODY)], functional_id="RA", control=c),
            layout,
        )
        for n, c in enumerate(controls, start=1)
    )


@pytest.mark.parametrize("layout", [ONE_LINE, PER_LINE, CRLF_PIPES, NEWLINE_TERMINATED])
def test_every_layout_reads_the_same_segments(layout: Layout) -> None:
    parsed = read_x12(_file(layout))
    assert parsed.errors == []
    (tx,) = parsed.transactions
    assert [s.id for s in tx.segments] == ["ST", "BPR", "TRN", "SE"]
    assert tx.segments[1].el(2) == "10.00"
    assert [s.position for s in tx.segments] == [3, 4, 5, 6]
    one_per_line = layout.between or layout.segment == "\n"
    assert [s.line for s in tx.segments] == ([3, 4, 5, 6] if one_per_line else [1, 1, 1, 1])


def test_leading_whitespace_bom_and_blank_lines_between_segments_are_fine() -> None:
    text = "\ufeff \r\n\n" + _file(Layout(between="\r\n\r\n   "))
    parsed = read_x12(text)
    assert parsed.errors == []
    assert len(parsed.transactions) == 1


def test_unpadded_isa_fields_are_read() -> None:
    text = _file().replace("ZZ*RETAILER       *", "ZZ*RETAILER*")
    parsed = read_x12(text)
    assert parsed.errors == []
    assert parsed.transactions[0].interchange.sender == "RETAILER"


def test_many_interchanges_reusing_isa13_are_read_with_one_warning() -> None:
    parsed = read_x12(_file(controls=("000000007",) * 4))
    assert parsed.errors == []
    assert parsed.interchanges == 4
    assert len(parsed.transactions) == 4
    (notice,) = parsed.notices
    assert "ISA13 control number 000000007 is used by 4 interchanges (#1, #2, #3, #4)" in str(
        notice
    )
    assert [t.interchange.ordinal for t in parsed.transactions] == [1, 2, 3, 4]


def test_each_interchange_brings_its_own_delimiters() -> None:
    text = _file(ONE_LINE) + "\n" + _file(CRLF_PIPES, controls=("000000002",))
    parsed = read_x12(text)
    assert parsed.errors == []
    assert [t.segments[1].el(2) for t in parsed.transactions] == ["10.00", "10.00"]


@pytest.mark.parametrize(
    ("cut", "missing"),
    [
        ("IEA*1*000000001~", "no IEA"),
        ("GE*1*1~IEA*1*000000001~", "no GE"),
        ("SE*4*0001~GE*1*1~IEA*1*000000001~", "no SE"),
    ],
)
def test_a_file_missing_its_closing_segments_is_refused_naming_them(cut: str, missing: str) -> None:
    text = _file()
    assert text.endswith(cut)
    parsed = read_x12(text[: -len(cut)])
    assert parsed.transactions == []
    messages = [str(e) for e in parsed.errors]
    assert any(missing in m for m in messages), messages
    assert any("interchange 000000001 (#1)" in m for m in messages)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "SE*4*0001",
            "SE*5*0001",
            "transaction 0001, segment 6 (SE, line 1), element SE01: SE01 says '5' segments, "
            "the transaction has 4",
        ),
        ("SE*4*0001", "SE*4*0002", "element SE02: SE02 '0002' does not match ST02 '0001'"),
        ("GE*1*1", "GE*2*1", "element GE01: GE01 says '2' transactions, the group has 1"),
        ("IEA*1*000000001", "IEA*1*000000009", "element IEA02: IEA02 '000000009' does not match"),
    ],
)
def test_closing_counts_and_control_numbers_must_agree(old: str, new: str, expected: str) -> None:
    parsed = read_x12(_file().replace(old, new))
    assert parsed.transactions == []
    assert any(expected in str(e) for e in parsed.errors), [str(e) for e in parsed.errors]


def test_a_new_isa_before_iea_refuses_the_open_interchange_and_reads_the_next() -> None:
    broken = _file()[: -len("GE*1*1~IEA*1*000000001~")]
    parsed = read_x12(broken + _file(controls=("000000002",)))
    assert [t.interchange.control for t in parsed.transactions] == ["000000002"]
    assert any("a new ISA starts inside interchange 000000001" in str(e) for e in parsed.errors)


def test_segments_outside_a_transaction_and_garbage_are_refused() -> None:
    parsed = read_x12(_file().replace("GE*1*1~", "BPR*C*1~GE*1*1~"))
    assert parsed.transactions == []
    assert any("BPR segment outside a transaction" in str(e) for e in parsed.errors)
    parsed = read_x12(_file() + "hello")
    assert len(parsed.transactions) == 1
    assert "expected an ISA interchange header, found 'hello'" in str(parsed.errors[0])


def test_errors_name_interchange_transaction_segment_line_and_element() -> None:
    parsed = read_x12(_file(PER_LINE).replace("SE*4*0001", "SE*9*0001"))
    (err,) = parsed.errors
    assert err.where.interchange == "000000001"
    assert err.where.transaction == "0001"
    assert (err.where.segment, err.where.line, err.where.element) == (6, 6, "SE01")
    assert str(err).startswith(
        "interchange 000000001 (#1), group 1, transaction 0001, segment 6 (SE, line 6), "
        "element SE01:"
    )


def test_versions_pyx12_does_not_know_are_read() -> None:
    text = _file().replace("*00501*", "*00801*").replace("*X*005010~", "*X*008010UCS~")
    parsed = read_x12(text)
    assert parsed.errors == []
    assert parsed.transactions[0].group.version == "008010UCS"


def test_a_nul_character_refuses_its_transaction() -> None:
    parsed = read_x12(_file().replace("TRN*1*EFT1", "TRN*1*EF\x00T1"))
    assert parsed.transactions == []
    assert any(
        "segment 5 (TRN, line 1): segment contains a NUL character" in str(e) for e in parsed.errors
    )
