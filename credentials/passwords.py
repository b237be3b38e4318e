"""Web login passwords: argon2id hashes (argon2-cffi), never the password.

``hash_password`` and ``verify_password`` are the only two things the faces
need; ``verify_password`` spends the same work on an unknown user (a dummy
hash), so a login's timing does not tell which usernames exist.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 1024
"""Longer input is refused before hashing (argon2 would take it, but nobody types it)."""

_hasher = PasswordHasher()
_DUMMY = _hasher.hash("not-a-password-of-anyone")


class WeakPassword(ValueError):
    """The password is refused; the message says why."""


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password has at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"a password has at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    check_strength(password)
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; False otherwise (no hash: a dummy check)."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(stored_hash or _DUMMY, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


__all__ = ["MIN_LENGTH", "WeakPassword", "check_strength", "hash_password", "verify_password"]
