"""Unpacking ZIP files from portals without trusting them.

Some portals hand out backup as a ZIP of PDFs. A ZIP is attacker-shaped input: member
names can climb out of a directory (``../../etc/passwd``) or be absolute, members can
be symlinks, headers can lie about sizes, a few kilobytes can inflate to gigabytes,
and ZIPs can nest. (A review's bomb was 200 members of 1 MiB of zeros, each
too small for a per-member ratio check: 226 KB became 209 MB; the ratio is
judged for each member and for the whole archive.) :func:`safe_unzip` never
writes to disk (members come back as bytes for the vault), decompresses while
counting the bytes actually produced, and refuses with one exception class per
reason so the caller can record *why*.
Refusals are all-or-nothing: a refused archive yields no members.
"""

from __future__ import annotations

import io
import stat
import zipfile
import zlib
from dataclasses import dataclass

from records.filenames import sanitize_filename

DEFAULT_MAX_MEMBERS = 200
DEFAULT_MAX_TOTAL_BYTES = 200 * 1024 * 1024
DEFAULT_MAX_RATIO = 100
DEFAULT_MAX_DEPTH = 2
_READ_CHUNK = 64 * 1024
_RATIO_GRACE_BYTES = 1024 * 1024  # tiny members compress absurdly well; judge ratio past this


class ArchiveError(Exception):
    """Base class: the archive was refused (or is unreadable)."""


class ArchiveCorrupt(ArchiveError):
    """Not a readable ZIP, or a member failed its CRC / decompression."""


class UnsafeMemberName(ArchiveError):
    """A member name that is absolute, climbs out (``..``) or carries a drive letter."""


class SymlinkMember(ArchiveError):
    """A member that is a symbolic link (or another non-regular file)."""


class EncryptedMember(ArchiveError):
    """A password-protected member: we have no password and do not guess."""


class TooManyMembers(ArchiveError):
    """More members than ``max_members`` (counted across nested archives)."""


class ArchiveTooLarge(ArchiveError):
    """The members decompress to more than ``max_total_bytes``."""


class CompressionRatioExceeded(ArchiveError):
    """A member inflates more than ``max_ratio`` times its compressed size (a zip bomb)."""


class NestingTooDeep(ArchiveError):
    """ZIPs inside ZIPs deeper than ``max_depth``."""


class UnsupportedCompression(ArchiveError):
    """A compression method this Python cannot decompress."""


@dataclass(frozen=True)
class ArchiveMember:
    """One regular file from an archive. ``name`` is sanitised (a bare file name, nested
    members joined with ``__``); ``original_name`` is the name as the archive spelled it
    (nested: ``outer.zip!inner/name``), kept as metadata only."""

    name: str
    original_name: str
    data: bytes
    depth: int = 1


@dataclass
class _Budget:
    max_members: int
    max_total_bytes: int
    max_ratio: float
    max_depth: int
    archive_bytes: int = 1
    members: int = 0
    total_bytes: int = 0


def safe_unzip(
    data: bytes,
    *,
    max_members: int = DEFAULT_MAX_MEMBERS,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    max_ratio: float = DEFAULT_MAX_RATIO,
    max_depth: int = DEFAULT_MAX_DEPTH,
    expand_nested: bool = True,
) -> list[ArchiveMember]:
    """Return the regular-file members of the ZIP in ``data``.

    Nested ZIP members are expanded (up to ``max_depth`` levels, the outer archive
    being level 1) when ``expand_nested``; otherwise they are returned as bytes. Limits
    on members, total bytes and ratio apply across all levels. Directory entries are
    skipped. Raises a subclass of :class:`ArchiveError` on any refusal.
    """
    budget = _Budget(max_members, max_total_bytes, max_ratio, max_depth, max(len(data), 1))
    members = _unzip(data, budget, depth=1, prefix="", expand_nested=expand_nested)
    return _dedupe_names(members)


def _unzip(
    data: bytes, budget: _Budget, *, depth: int, prefix: str, expand_nested: bool
) -> list[ArchiveMember]:
    if depth > budget.max_depth:
        raise NestingTooDeep(f"archive nested deeper than {budget.max_depth} levels at {prefix!r}")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise ArchiveCorrupt(f"not a readable zip{_where(prefix)}: {exc}") from exc
    out: list[ArchiveMember] = []
    with zf:
        infos = zf.infolist()
        if budget.members + len(infos) > budget.max_members:
            raise TooManyMembers(
                f"{len(infos)} entries{_where(prefix)} exceed the limit of {budget.max_members}"
            )
        for info in infos:
            _check_name(info.filename)
            _check_kind(info)
            if info.is_dir():
                continue
            budget.members += 1
            if budget.members > budget.max_members:
                raise TooManyMembers(f"more than {budget.max_members} members")
            if info.flag_bits & 0x1:
                raise EncryptedMember(f"member {info.filename!r}{_where(prefix)} is encrypted")
            payload = _read_member(zf, info, budget, prefix)
            original = prefix + info.filename
            if expand_nested and _is_zip(payload):
                out.extend(
                    _unzip(
                        payload,
                        budget,
                        depth=depth + 1,
                        prefix=original + "!",
                        expand_nested=expand_nested,
                    )
                )
                continue
            out.append(
                ArchiveMember(
                    name=_flat_name(original),
                    original_name=original,
                    data=payload,
                    depth=depth,
                )
            )
    return out


def _where(prefix: str) -> str:
    return f" in {prefix[:-1]!r}" if prefix else ""


def _is_zip(payload: bytes) -> bool:
    return payload[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def _check_name(name: str) -> None:
    if "\x00" in name:
        raise UnsafeMemberName(f"member name contains NUL: {name[:120]!r}")
    unified = name.replace("\\", "/")
    if unified.startswith("/") or (len(unified) > 1 and unified[1] == ":"):
        raise UnsafeMemberName(f"absolute member path: {name[:120]!r}")
    if any(part == ".." for part in unified.split("/")):
        raise UnsafeMemberName(f"member path climbs out of the archive: {name[:120]!r}")


def _check_kind(info: zipfile.ZipInfo) -> None:
    mode = info.external_attr >> 16
    if info.create_system == 3 and mode:  # made on Unix: the high bits are st_mode
        if stat.S_ISLNK(mode):
            raise SymlinkMember(f"member {info.filename!r} is a symbolic link")
        if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise SymlinkMember(f"member {info.filename!r} is not a regular file")


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: _Budget, prefix: str) -> bytes:
    """Decompress one member, counting real output bytes (header sizes are not trusted)."""
    compressed = max(info.compress_size, 1)
    buf = bytearray()
    try:
        with zf.open(info) as fh:
            while True:
                chunk = fh.read(_READ_CHUNK)
                if not chunk:
                    break
                buf += chunk
                budget.total_bytes += len(chunk)
                if budget.total_bytes > budget.max_total_bytes:
                    raise ArchiveTooLarge(
                        f"archive expands past {budget.max_total_bytes} bytes "
                        f"(at {info.filename!r}{_where(prefix)})"
                    )
                if len(buf) > _RATIO_GRACE_BYTES and len(buf) / compressed > budget.max_ratio:
                    raise CompressionRatioExceeded(
                        f"member {info.filename!r}{_where(prefix)} inflates more than "
                        f"{budget.max_ratio:g}x ({compressed} compressed bytes)"
                    )
                # many members each under the grace are a bomb too: judge the whole archive
                if (
                    budget.total_bytes > _RATIO_GRACE_BYTES
                    and budget.total_bytes / budget.archive_bytes > budget.max_ratio
                ):
                    raise CompressionRatioExceeded(
                        f"the archive inflates more than {budget.max_ratio:g}x: "
                        f"{budget.total_bytes} bytes from {budget.archive_bytes} "
                        f"(at {info.filename!r}{_where(prefix)})"
                    )
    except ArchiveError:
        raise
    except RuntimeError as exc:  # zipfile raises RuntimeError for encrypted members
        if "encrypted" in str(exc) or "password" in str(exc):
            raise EncryptedMember(f"member {info.filename!r} is encrypted") from exc
        raise ArchiveCorrupt(f"member {info.filename!r} unreadable: {exc}") from exc
    except NotImplementedError as exc:
        raise UnsupportedCompression(f"member {info.filename!r}: {exc}") from exc
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
        raise ArchiveCorrupt(f"member {info.filename!r}{_where(prefix)} corrupt: {exc}") from exc
    return bytes(buf)


def _flat_name(original: str) -> str:
    parts = [p for p in original.replace("\\", "/").replace("!", "/").split("/") if p]
    joined = "__".join(parts[-3:]) if len(parts) > 1 else (parts[0] if parts else "")
    return sanitize_filename(joined, default="member")


def _dedupe_names(members: list[ArchiveMember]) -> list[ArchiveMember]:
    """Two members may sanitise to one name; suffix later ones so names stay unique."""
    seen: dict[str, int] = {}
    out = []
    for m in members:
        name = m.name
        if name in seen:
            seen[name] += 1
            stem, dot, ext = name.rpartition(".")
            name = f"{stem}-{seen[m.name]}.{ext}" if dot and stem else f"{name}-{seen[m.name]}"
            name = sanitize_filename(name, default="member")
        else:
            seen[name] = 1
        out.append(
            ArchiveMember(name=name, original_name=m.original_name, data=m.data, depth=m.depth)
        )
    return out
