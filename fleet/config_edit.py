"""Edits to fleet.toml that keep the person's comments and layout (tomlkit).

``fleet accounts add`` and ``remove`` change one ``[[accounts]]`` table (and
``add --base-url`` one ``[portals.X]`` table); every other byte of the file
stays as it was. The functions here are text in, text out: the caller
validates the result with the one loader (scheduler/config.py) before
:func:`write_config` replaces the file.

Comments belong to what they sit on. tomlkit keeps the comment and blank lines
that follow a table's last key inside that table, so before a table is added
or removed those trailing lines are moved along: a blank line and whatever
comes after it (a section comment, the comment block right above the next
header) stays in front of the next header. A comment block directly above a
removed account (no blank line between) goes with it, unless it is the first
account, where that block may be the section's own comment and is kept.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.container import Container
from tomlkit.items import AoT, Comment, Item, Table, Whitespace
from tomlkit.toml_document import TOMLDocument

from records.filelock import FileLock

NEW_FILE_HEADER = (
    "# fleet.toml: what the fleet runs (started by `fleet accounts add`).\n"
    "# fleet.example.toml documents every key; check this file with `fleet config check`.\n"
)

Trivia = list[tuple[Any, Item]]


class EditError(ValueError):
    """The edit cannot be made safely; the message says what to do instead."""


def parse(text: str) -> TOMLDocument:
    try:
        return tomlkit.parse(text)
    except Exception as exc:  # tomlkit raises several parse error classes
        raise EditError(f"fleet.toml is not valid TOML: {exc}") from None


def add_account(
    text: str,
    portal: str,
    username: str,
    *,
    schedule: Mapping[str, str] | None = None,
    base_url: str | None = None,
) -> str:
    """``text`` with one more ``[[accounts]]`` table after the last one (and a
    ``[portals.<portal>]`` table with ``base_url`` when given and missing)."""
    doc = parse(text) if text.strip() else parse(NEW_FILE_HEADER)
    if base_url is not None:
        _add_portal(doc, portal, base_url)
    table = tomlkit.table()
    table.add("portal", portal)
    table.add("username", username)
    for key, value in (schedule or {}).items():
        table.add(tomlkit.key(["schedule", key]), value)
    aot = _accounts(doc)
    if aot is None or len(aot) == 0:
        _end_with_blank_line(doc)
        new = tomlkit.aot()
        new.append(table)
        if aot is not None:
            del doc["accounts"]
        doc.append("accounts", new)
    else:
        _insert_after(_last_container(aot[-1]), table.value)
        aot.append(table)
    return tomlkit.dumps(doc)


def remove_account(text: str, portal: str, username: str) -> str:
    """``text`` without the ``[[accounts]]`` table of (portal, username).

    Raises :class:`EditError` if the file has no such table, or if removing it
    would lose comments (the accounts tables are the first tables of the file
    and a comment sits between two of them): then edit the file by hand.
    """
    doc = parse(text)
    aot = _accounts(doc)
    index = next(
        (
            i
            for i, t in enumerate(aot or [])
            if t.get("portal") == portal and t.get("username") == username
        ),
        None,
    )
    if aot is None or index is None:
        raise EditError(f"fleet.toml has no [[accounts]] table for {username} on {portal}")
    moved = _split_tail(_last_container(aot[index]))
    if index > 0:
        before: Container | None = _last_container(aot[index - 1])
        assert before is not None
        _pop_lead(before)  # the comment block right above the removed table
    else:
        before = _container_before(doc, "accounts")
    if before is None and any(isinstance(item, Comment) for _, item in moved):
        raise EditError(
            "cannot remove the first [[accounts]] table here without losing the comments "
            "after it; remove it from fleet.toml by hand"
        )
    if len(aot) == 1:
        del doc["accounts"]
    else:
        del aot[index]
    if before is not None:
        _append_trivia(before, moved)
    return tomlkit.dumps(doc)


# --------------------------------------------------------------------------- tables


def _accounts(doc: TOMLDocument) -> AoT | None:
    keyed = [item for key, item in doc.body if key is not None and key.key == "accounts"]
    if not keyed:
        return None
    if len(keyed) > 1 or not isinstance(keyed[0], AoT):
        raise EditError(
            "fleet.toml's [[accounts]] tables are not together in one place (or accounts "
            "is not an array of tables); edit it by hand"
        )
    return keyed[0]


def _add_portal(doc: TOMLDocument, portal: str, base_url: str) -> None:
    table = tomlkit.table()
    table.add("base_url", base_url)
    portals = doc.get("portals")
    if portals is None:
        _end_with_blank_line(doc)
        parent = tomlkit.table(is_super_table=True)
        parent.add(portal, table)
        doc.append("portals", parent)
        return
    if not isinstance(portals, Table):
        raise EditError("fleet.toml's portals is not a table; edit it by hand")
    if portal in portals:
        raise EditError(f"fleet.toml already has [portals.{portal}]")
    subtables = [item for key, item in portals.value.body if isinstance(item, Table) and key]
    if subtables:
        _insert_after(_last_container(subtables[-1]), table.value)
    portals.add(portal, table)


def _last_container(item: Table | Container) -> Container:
    """The container whose end is rendered last inside ``item`` (where its trailing
    comments and blank lines are kept)."""
    container = item.value if isinstance(item, Table) else item
    while container.body:
        key, last = container.body[-1]
        if isinstance(last, AoT) and len(last):
            container = last[-1].value
        elif isinstance(last, Table) and key is not None and not key.is_dotted():
            container = last.value
        else:
            break
    return container


def _container_before(doc: TOMLDocument, name: str) -> Container | None:
    """The table container rendered right before the top-level ``name``, or None
    when only top-level keys and comments precede it."""
    keys = [key.key if key is not None else None for key, _ in doc.body]
    at = keys.index(name)
    if at == 0:
        return None
    key, prev = doc.body[at - 1]
    if key is None or not isinstance(prev, Table | AoT):
        return None
    return _last_container(prev if isinstance(prev, Table) else prev[-1])


# --------------------------------------------------------------------------- trivia


def _trivia_start(container: Container) -> int:
    body = container.body
    i = len(body)
    while i > 0 and body[i - 1][0] is None and isinstance(body[i - 1][1], Whitespace | Comment):
        i -= 1
    return i


def _split_tail(container: Container) -> Trivia:
    """Take the trailing lines from the first blank line on; comment lines directly
    under the last key stay (they are about it)."""
    body = container.body
    i = _trivia_start(container)
    while i < len(body) and isinstance(body[i][1], Comment):
        i += 1
    moved = body[i:]
    del body[i:]  # trivia has no key, so the container's key index is unaffected
    return moved


def _pop_lead(container: Container) -> None:
    """Drop the comment lines at the very end (right above the next header)."""
    body = container.body
    start = _trivia_start(container)
    while len(body) > start and isinstance(body[-1][1], Comment):
        body.pop()


def _append_trivia(container: Container, trivia: Trivia) -> None:
    body = container.body
    for key, item in trivia:
        if isinstance(item, Whitespace) and body and isinstance(body[-1][1], Whitespace):
            continue  # one blank line, not two
        container.append(key, item)


def _insert_after(previous: Container, new: Container) -> None:
    """Make room for a table rendered right after ``previous``: the lines that
    followed it (a blank line, section comments, the next header's comments)
    now follow ``new``; a blank line separates the two."""
    moved = _split_tail(previous)
    if not previous.as_string().endswith("\n"):
        previous.append(None, Whitespace("\n"))
    previous.append(None, Whitespace("\n"))
    _append_trivia(new, moved)


def _end_with_blank_line(doc: TOMLDocument) -> None:
    text = doc.as_string()
    if not text or text.endswith("\n\n"):
        return
    _last_container(doc).append(None, Whitespace("\n" if text.endswith("\n") else "\n\n"))


# --------------------------------------------------------------------------- files


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file's directory, so two ``fleet accounts``
    edits never interleave (a person's editor is not covered)."""
    directory = path.parent if str(path.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    with FileLock(directory):
        yield


def read_config(path: Path) -> str:
    """The file's text ('' when it does not exist)."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def write_config(path: Path, text: str) -> None:
    """Replace the file atomically (a temporary file in its directory, then a
    rename), keeping its mode; a symlink is followed and its target replaced."""
    target = path.resolve()
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


__all__ = [
    "EditError",
    "add_account",
    "locked",
    "parse",
    "read_config",
    "remove_account",
    "write_config",
]
