"""``fleet deductions`` and ``fleet show`` as an analyst uses them, through the
real CLI (typer's CliRunner on the parametrised database): filters, order and
pages, JSON for scripts, the errors, and hostile portal text printed as text."""

from __future__ import annotations

import json
from decimal import Decimal

from click.testing import Result

from matching import approvals
from store.repositories import approvals as approvals_repo
from store.repositories import deductions
from tests.integration.matching.test_approvals_cli import _refused
from tests.integration.store import factories
from tests.integration.store.conftest import Db
from tests.integration.worklist.conftest import Fleet
from tests.integration.worklist.store import fill

TODAY = ("--today", "2025-03-10")


def _json(r: Result) -> dict:
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def _refs(r: Result) -> list[str]:
    return [row["ref"] for row in _json(r)["items"]]


def test_the_worklist_as_json(db: Db, fleet: Fleet) -> None:
    fill(db)
    data = _json(fleet("deductions", "--json", *TODAY))
    assert (data["total"], data["page"], data["pages"], data["sort"]) == (6, 1, 1, "deadline")
    first = data["items"][0]
    assert first["ref"] == "shopright:CB-1001"
    assert first["amount"] == "300.00"  # exact, as a string
    assert first["deduction_date"] == "2025-03-01"
    assert (first["window_closes"], first["days_left"], first["age_days"]) == ("2025-03-20", 10, 9)
    assert [row["ref"] for row in data["items"]][-2:] == [
        "shopright:SR-2001",
        "freshco:FC-3001",
    ]  # no deadline: last


FILTERS: list[tuple[tuple[str, ...], list[str]]] = [
        (("--portal", "megamart", "--status", "OPEN", "--min-amount", "60"), ["megamart:CB-1001"]),
        (("--portal", "freshco", "--portal", "shopright", "--sort", "claim"),
         ["shopright:CB-1001", "freshco:FC-3001", "shopright:SR-2001"]),
        (("--account", "sr@supplier.example", "--sort=-amount"),
         ["shopright:SR-2001", "shopright:CB-1001"]),
        (("--customer", "grocers"), ["freshco:FC-3001"]),
        (("--category", "damage"), ["shopright:CB-1001", "megamart:CB-1002"]),
        (("--verdict", "valid", "--verdict", "none", "--sort", "claim"),
         ["megamart:CB-1002", "megamart:CB-1003", "freshco:FC-3001"]),
        (("--min-age", "30", "--sort", "claim"), ["megamart:CB-1002", "megamart:CB-1003"]),
        (("--max-age", "9", "--sort", "age"), ["megamart:CB-1001", "shopright:CB-1001"]),
        (("--max-amount", "-0.01"), ["freshco:FC-3001"]),
        (("--closes-by", "2025-04-15"), ["shopright:CB-1001", "megamart:CB-1001"]),
        (("--closes-within", "30"), ["shopright:CB-1001"]),
        (("-q", "inv-600", "--sort", "claim"), ["shopright:CB-1001", "shopright:SR-2001"]),
        (("--search", "BOL-9_1%"), ["megamart:CB-1002"]),
        (("--search", "%"), []),
]  # fmt: skip


def test_filters_on_the_command_line(db: Db, fleet: Fleet) -> None:
    fill(db)
    got = {args: _refs(fleet("deductions", *args, "--json", *TODAY)) for args, _ in FILTERS}
    assert got == dict(FILTERS)


def test_the_worklist_as_a_table_and_its_pages(db: Db, fleet: Fleet) -> None:
    fill(db)
    r = fleet("deductions", "--page-size", "2", "--page", "2", *TODAY)
    assert r.exit_code == 0, r.output
    assert "Deductions 3-4 of 6 (page 2 of 3, by deadline)" in r.stdout
    assert "megamart:CB-1002" in r.stdout
    assert "megamart:CB-1003" in r.stdout
    assert "50.00 USD" in r.stdout
    assert "2025-06-01 (83d)" in r.stdout
    assert "more: --page 3 (of 3)" in r.stdout
    r = fleet("deductions", "--sort=-amount", "--page-size", "1", *TODAY)
    assert "shopright:SR-2001" in r.stdout
    assert "9,000.00 USD" in r.stdout
    assert "ShopRight Corporation" in r.stdout
    r = fleet("deductions", "--page", "9", *TODAY)
    assert r.exit_code == 0, r.output
    assert "6 deductions; page 9 is past the last (1)" in r.stdout
    r = fleet("deductions", "--portal", "nowhere", *TODAY)
    assert r.exit_code == 0, r.output
    assert "No deductions match." in r.stdout


BAD: list[tuple[tuple[str, ...], str]] = [
    (("--min-amount", "1,000"), "--min-amount: not an amount"),
    (("--max-amount", "12.345"), "--max-amount: not an amount"),
    (("--min-amount", "5", "--max-amount", "1"), "lower bound"),
    (("--category", "bogus"), "category"),
    (("--verdict", "maybe"), "--verdict"),
    (("--sort", "colour"), "sort"),
    (("--search", "   "), "search text: empty"),
    (("--search", "x" * 300), "longer than"),
    (("--today", "2025-13-01"), "not a date"),
    (("--closes-by", "soon"), "not a date"),
    (("--page", "0"), "--page"),
    (("--page-size", "501"), "--page-size"),
    (("--min-age", "-3"), "--min-age"),
    (("--min-age", "ten"), "--min-age"),
]


def test_bad_filter_values_say_why(db: Db, fleet: Fleet) -> None:
    """Exit 2 with the reason on stderr, never a traceback (a failure names the case)."""
    got = {}
    for args, message in BAD:
        r = fleet("deductions", *args)
        got[args] = (r.exit_code, message in r.stderr, "Traceback" in r.output, r.stdout)
    assert got == {args: (2, True, False, "") for args, _ in BAD}


def test_show_one_deduction(db: Db, fleet: Fleet) -> None:
    ids = fill(db)
    with db.sessions() as s, s.begin():
        approvals_repo.ensure_user(s, "ana", "analyst")
        approvals.propose(s, ids["mm1"], "dispute", "ana", note="POD says 40 of 40")
        approvals.comment(s, ids["mm1"], "ana", "asked @mia to look")
    r = fleet("show", "megamart:CB-1001", *TODAY)
    assert r.exit_code == 0, r.output
    out = r.stdout
    for expected in (
        "megamart:CB-1001",
        "MegaMart Stores, Inc.",
        "1,234.56 USD",
        "24 Carton shortage / freight bill signed short",
        "invalid (shortage, from reason_code; rule test)",
        "dispute window closes 2025-04-15 (36 days left)",
        "invalid because the test says so",
        "waits for manager (step 1 of 1)",
        "asked @mia to look",
        "(mentions @mia)",
        "Timeline (UTC)",
        "first seen on the portal",
        "proposed dispute",
        "SKU-1",
    ):
        assert expected in out, expected
    data = _json(fleet("show", "CB-1002", "--json", *TODAY))  # unique on one portal
    assert data["deduction"]["ref"] == "megamart:CB-1002"
    assert data["deduction"]["amount"] == "50.00"
    assert data["verdict"]["days_left"] == 83
    assert [e["kind"] for e in data["timeline"]] == ["first_seen", "verdict"]
    assert data["as_of"] == "2025-03-10"


def test_show_unknown_and_ambiguous_refs(db: Db, fleet: Fleet) -> None:
    fill(db)
    r = fleet("show", "NOPE")
    _refused(r, "error: no single deduction NOPE", 1)
    assert len(r.stderr.strip().splitlines()) == 1
    r = fleet("show", "CB-1001")
    _refused(r, "CB-1001 is on several portals", 2)
    assert "megamart:CB-1001" in r.stderr
    assert "shopright:CB-1001" in r.stderr
    # the same resolution for every command that takes a REF
    _refused(fleet("match", "--explain", "CB-1001"), "is on several portals", 2)


def test_hostile_portal_text_is_printed_as_text(db: Db, fleet: Fleet) -> None:
    """Markup, terminal escapes, bidi overrides and a 5,000-character memo from a
    portal come out literally: nothing styled, nothing hidden, nothing cut."""
    long_memo = "".join(f"[{i:04d}]" for i in range(834)) + "[bold]END"  # 5,013 characters
    assert len(long_memo) > 5000
    with db.sessions() as s, s.begin():
        deductions.upsert(
            s,
            factories.deduction(
                "EVIL-1",
                memo="[bold]not bold[/bold] \x1b[31mred\x1b[0m \u202eFDP.exe\u202c <b>x</b>",
                status="[red]Open[/red]",
                reason_text="[link=http://evil.example]click[/link]",
                raw={"detail": {"MEMO": "[bold]x[/bold]", "Amount": "1.00"}},
            ),
        )
        deductions.upsert(s, factories.deduction("LONG-1", memo=long_memo, amount=Decimal("1")))
    r = fleet("show", "megamart:EVIL-1")
    assert r.exit_code == 0, r.output
    assert "[bold]not bold[/bold]" in r.stdout
    assert "[link=http://evil.example]click[/link]" in r.stdout
    assert "[red]Open[/red]" in r.stdout
    assert "<b>x</b>" in r.stdout
    assert '{"Amount": "1.00", "MEMO": "[bold]x[/bold]"}' in r.stdout  # the payload, as JSON
    assert "\x1b" not in r.stdout  # no terminal escape reaches the screen
    assert "\u202e" not in r.stdout
    assert "\\u001b[31mred\\u001b[0m" in r.stdout  # shown, as an escape
    assert "\\u202eFDP.exe\\u202c" in r.stdout
    listing = fleet("deductions", "-q", "EVIL")
    assert "[red]Open[/red]" in listing.stdout
    r = fleet("show", "LONG-1")
    assert r.exit_code == 0, r.output
    assert long_memo in "".join(r.stdout.split())  # all of it, in order (wrapped)
    data = _json(fleet("show", "EVIL-1", "--json"))
    assert data["deduction"]["memo"].startswith("[bold]not bold[/bold] \x1b[31mred")
    assert data["deduction"]["status"] == "[red]Open[/red]"
