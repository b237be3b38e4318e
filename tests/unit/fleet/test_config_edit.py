"""fleet.toml edits keep every comment and blank line a person wrote: only the
added or removed table changes, and the comments around it stay where they
belong."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.config_edit import EditError, add_account, remove_account, write_config
from scheduler.config import parse_config

REPO = Path(__file__).resolve().parents[3]

FILE = """\
# our fleet
data_dir = "data"   # next to the service

[portals.megamart]
base_url = "https://vendors.megamart.example"

# ------------------------------------------------------------ accounts

# the AR team; ask Dana before changing
[[accounts]]
portal = "megamart"
username = "ar-team"
schedule.cron = "0 2 * * *"   # nightly
# (its TOTP is on the team phone)

# East: ask Bob
[[accounts]]
portal = "megamart"
username = "ar-east"

# ------------------------------------------------------------ scheduler
[scheduler]
workers = 2
"""


def _accounts(text: str) -> list[str]:
    return [a.key for a in parse_config(text, Path("fleet.toml")).accounts]


def test_add_goes_after_the_last_account_before_the_next_section() -> None:
    out = add_account(FILE, "megamart", "new@x.example", schedule={"cron": "30 6 * * 1-5"})
    assert out == FILE.replace(
        'username = "ar-east"\n',
        'username = "ar-east"\n\n[[accounts]]\nportal = "megamart"\n'
        'username = "new@x.example"\nschedule.cron = "30 6 * * 1-5"\n',
    )
    assert _accounts(out) == ["megamart/ar-team", "megamart/ar-east", "megamart/new@x.example"]


def test_remove_takes_the_comment_above_the_table_and_keeps_the_rest() -> None:
    out = remove_account(FILE, "megamart", "ar-east")
    assert out == FILE.replace(
        '\n# East: ask Bob\n[[accounts]]\nportal = "megamart"\nusername = "ar-east"\n', ""
    )
    assert _accounts(out) == ["megamart/ar-team"]


def test_removing_the_first_account_keeps_the_comments_under_it_out_and_around_it() -> None:
    out = remove_account(FILE, "megamart", "ar-team")
    assert "ask Dana" in out  # the first table's block may be the section's: kept
    assert "nightly" not in out
    assert "team phone" not in out  # directly under its keys: it was about that table
    assert "# East: ask Bob\n[[accounts]]" in out
    assert _accounts(out) == ["megamart/ar-east"]


def test_removing_every_account_and_adding_one_back() -> None:
    out = remove_account(remove_account(FILE, "megamart", "ar-east"), "megamart", "ar-team")
    assert "[[accounts]]" not in out
    assert "accounts = []" not in out
    assert out.endswith(f"# {'-' * 60} scheduler\n[scheduler]\nworkers = 2\n")
    assert _accounts(out) == []
    back = add_account(out, "megamart", "ar-east")
    assert _accounts(back) == ["megamart/ar-east"]
    assert back.startswith(out)  # appended at the end, nothing above it touched


def test_a_new_file_gets_the_portal_and_the_account() -> None:
    out = add_account("", "megamart", "acme-ar", base_url="http://127.0.0.2:8000")
    config = parse_config(out, Path("fleet.toml"))
    assert config.portal_urls() == {"megamart": "http://127.0.0.2:8000"}
    assert _accounts(out) == ["megamart/acme-ar"]
    assert out.startswith("# fleet.toml")


def test_a_new_portal_goes_after_the_last_portal_before_the_accounts_section() -> None:
    out = add_account(FILE, "shopright", "ap@acme.example", base_url="https://s.example")
    assert (
        '[portals.megamart]\nbase_url = "https://vendors.megamart.example"\n\n'
        '[portals.shopright]\nbase_url = "https://s.example"\n\n# ----' in out
    )
    assert parse_config(out, Path("f")).portal_urls()["shopright"] == "https://s.example"
    with pytest.raises(EditError, match=r"already has \[portals.megamart\]"):
        add_account(FILE, "megamart", "x", base_url="https://other.example")


def test_the_example_file_round_trips() -> None:
    example = (REPO / "fleet.example.toml").read_text()
    keys = _accounts(example)
    out = example
    for key in keys:
        portal, _, username = key.partition("/")
        out = remove_account(out, portal, username)
    for key in keys:
        portal, _, username = key.partition("/")
        out = add_account(out, portal, username)
    assert _accounts(out) == keys
    lines = set(example.splitlines())
    assert [line for line in out.splitlines() if line not in lines] == []  # nothing new...
    assert (
        "# ---------------------------------------------------------------------- scheduler" in out
    )


def test_odd_layouts() -> None:
    no_newline = '[portals.megamart]\nbase_url = "http://h"\n\n[[accounts]]\nportal = "megamart"\nusername = "a"'
    out = add_account(no_newline, "megamart", "b")
    assert _accounts(out) == ["megamart/a", "megamart/b"]
    sub_table = (
        '[portals.megamart]\nbase_url = "http://h"\n\n[[accounts]]\nportal = "megamart"\n'
        'username = "a"\n[accounts.schedule]\ncron = "0 2 * * *"\n\n# after\n[scheduler]\nworkers = 2\n'
    )
    out = add_account(sub_table, "megamart", "b")
    assert _accounts(out) == ["megamart/a", "megamart/b"]
    assert out.index('username = "b"') < out.index("# after") < out.index("[scheduler]")
    assert remove_account(out, "megamart", "b") == sub_table
    weird = 'x" ] [[accounts]] # \\'
    assert _accounts(add_account(no_newline, "megamart", weird))[1] == f"megamart/{weird}"


def test_refusals() -> None:
    with pytest.raises(EditError, match="no \\[\\[accounts\\]\\] table for nobody"):
        remove_account(FILE, "megamart", "nobody")
    first = (
        '[[accounts]]\nportal = "megamart"\nusername = "a"\n\n# about b\n[[accounts]]\n'
        'portal = "megamart"\nusername = "b"\n\n[portals.megamart]\nbase_url = "http://h"\n'
    )
    with pytest.raises(EditError, match="by hand"):
        remove_account(first, "megamart", "a")
    assert _accounts(remove_account(first, "megamart", "b")) == ["megamart/a"]
    with pytest.raises(EditError, match="not valid TOML"):
        add_account("[[accounts]\n", "megamart", "a")


def test_write_config_replaces_atomically_and_keeps_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text("a = 1\n")
    path.chmod(0o640)
    link = tmp_path / "link.toml"
    link.symlink_to(path)
    write_config(link, "a = 2\n")
    assert link.is_symlink()
    assert path.read_text() == "a = 2\n"
    assert path.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fleet.toml", "link.toml"]
