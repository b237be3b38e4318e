from __future__ import annotations

import io
import stat
import zipfile

import pytest

from store.archives import (
    ArchiveCorrupt,
    ArchiveTooLarge,
    CompressionRatioExceeded,
    EncryptedMember,
    NestingTooDeep,
    SymlinkMember,
    TooManyMembers,
    UnsafeMemberName,
    safe_unzip,
)

PDF = b"%PDF-1.4\n% claim backup\n%%EOF\n"


def make_zip(entries: list[tuple[str | zipfile.ZipInfo, bytes]], *, level: int = 6) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


def test_ordinary_archive_unpacks_with_sanitised_names() -> None:
    data = make_zip([("backup/claim 1.pdf", PDF), ("backup/", b""), ("notes.txt", b"hi")])
    members = safe_unzip(data)
    assert [(m.name, m.original_name, m.data) for m in members] == [
        ("backup__claim 1.pdf", "backup/claim 1.pdf", PDF),
        ("notes.txt", "notes.txt", b"hi"),
    ]


def test_duplicate_names_after_sanitising_stay_unique() -> None:
    members = safe_unzip(make_zip([("a?b.pdf", b"1"), ("a_b.pdf", b"2")]))
    assert len({m.name for m in members}) == 2


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "ok/../../../escape.pdf",
        "/etc/shadow",
        "\\windows\\evil.dll",
        "C:/Windows/evil.dll",
        "..\\..\\boot.ini",
    ],
)
def test_traversal_and_absolute_names_are_refused(name: str) -> None:
    with pytest.raises(UnsafeMemberName):
        safe_unzip(make_zip([("fine.pdf", PDF), (name, b"pwned")]))


def test_symlinks_are_refused() -> None:
    info = zipfile.ZipInfo("link-to-passwd")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with pytest.raises(SymlinkMember):
        safe_unzip(make_zip([(info, b"/etc/passwd")]))


def test_zip_bomb_is_stopped_by_ratio_while_streaming() -> None:
    bomb = make_zip([("bomb.pdf", b"\0" * (64 * 1024 * 1024))], level=9)
    assert len(bomb) < 200_000  # a real bomb: ~1000:1
    with pytest.raises(CompressionRatioExceeded):
        safe_unzip(bomb)


def test_header_sizes_are_not_trusted() -> None:
    """A bomb whose headers claim a tiny uncompressed size is still caught: the bytes
    actually produced are counted."""
    bomb = bytearray(make_zip([("small.pdf", b"\0" * (16 * 1024 * 1024))], level=9))
    # Patch the claimed uncompressed size (local header offset 22, central offset 24).
    local = bomb.find(b"PK\x03\x04")
    central = bomb.find(b"PK\x01\x02")
    bomb[local + 22 : local + 26] = (100).to_bytes(4, "little")
    bomb[central + 24 : central + 28] = (100).to_bytes(4, "little")
    with pytest.raises((CompressionRatioExceeded, ArchiveCorrupt)):
        safe_unzip(bytes(bomb))


def test_total_size_cap() -> None:
    members = [(f"f{i}.bin", bytes(range(256)) * 4096) for i in range(5)]  # 1 MiB each
    with pytest.raises(ArchiveTooLarge):
        safe_unzip(make_zip(members, level=0), max_total_bytes=3 * 1024 * 1024)


def test_too_many_members() -> None:
    with pytest.raises(TooManyMembers):
        safe_unzip(make_zip([(f"{i}.pdf", PDF) for i in range(201)]))
    assert len(safe_unzip(make_zip([(f"{i}.pdf", PDF) for i in range(200)]))) == 200


def test_nested_archives_expand_to_the_depth_limit_only() -> None:
    inner = make_zip([("pod.pdf", PDF)])
    middle = make_zip([("inner.zip", inner)])
    members = safe_unzip(middle)  # depth 2: fine
    assert [(m.name, m.original_name, m.depth) for m in members] == [
        ("inner.zip__pod.pdf", "inner.zip!pod.pdf", 2)
    ]
    outer = make_zip([("middle.zip", middle)])
    with pytest.raises(NestingTooDeep):
        safe_unzip(outer)
    # without expansion the nested zip is just bytes
    assert safe_unzip(outer, expand_nested=False)[0].data == middle


def test_member_limit_counts_nested_members() -> None:
    inner = make_zip([(f"{i}.pdf", PDF) for i in range(150)])
    with pytest.raises(TooManyMembers):
        safe_unzip(make_zip([("a.zip", inner), ("b.zip", inner)]))


def test_encrypted_members_are_refused() -> None:
    data = bytearray(make_zip([("secret.pdf", PDF)]))
    # Set the "encrypted" flag bit in the local and central headers.
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    data[local + 6] |= 0x1
    data[central + 8] |= 0x1
    with pytest.raises(EncryptedMember):
        safe_unzip(bytes(data))


@pytest.mark.parametrize("junk", [b"", b"PK\x03\x04 truncated", b"%PDF-1.4 not a zip"])
def test_garbage_is_a_clean_refusal(junk: bytes) -> None:
    with pytest.raises(ArchiveCorrupt):
        safe_unzip(junk)


def test_corrupt_member_data_is_a_clean_refusal() -> None:
    data = bytearray(make_zip([("a.pdf", PDF * 50)]))
    start = data.find(b"a.pdf") + len("a.pdf")
    for i in range(start + 2, start + 20):
        data[i] ^= 0xFF
    with pytest.raises(ArchiveCorrupt):
        safe_unzip(bytes(data))
