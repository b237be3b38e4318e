"""TOTP codes (RFC 6238: SHA-1, 6 digits, 30 s steps) from a stored secret.

Codes are computed here (RFC 4226 dynamic truncation, a dozen lines) rather than
by pyotp, because pyotp >= 2.10 refuses secrets shorter than 112 bits and real
portals still issue 80-bit (16 base32 character) secrets. The tests check every
code against pyotp for secrets pyotp accepts.

Window boundary: a code typed with a second to spare is often rejected by the time
the form posts. :func:`totp_code` therefore never hands out a code with fewer than
``min_valid`` seconds left: in the last ``min_valid`` seconds of a step it returns
the **next** step's code, which servers with the usual one-step tolerance accept
at once and which becomes the current code within ``min_valid`` seconds. For a
portal that accepts only the current step, :func:`fresh_totp_code` **waits** for
the next step instead (at most ``min_valid`` seconds). Time is injectable in both.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

from credentials.secret import Secret

__all__ = [
    "DIGITS",
    "INTERVAL",
    "MIN_VALID_SECONDS",
    "InvalidTotpSecretError",
    "TotpCode",
    "fresh_totp_code",
    "normalize_totp_secret",
    "totp_code",
]

DIGITS = 6
INTERVAL = 30
MIN_VALID_SECONDS = 3.0
MIN_SECRET_BYTES = 10  # 80 bits: the shortest secret real authenticators issue
MAX_SECRET_CHARS = 256

_SEPARATORS = re.compile(r"[\s-]+")


class InvalidTotpSecretError(ValueError):
    """The text is not a usable base32 TOTP secret; the message says why (not what)."""


def normalize_totp_secret(text: str | Secret) -> Secret:
    """Validate a TOTP secret and return it as unpadded upper-case base32.

    Accepts the forms people paste: spaces or dashes between groups, lower case,
    ``=`` padding, or a whole ``otpauth://totp/...`` URI (only SHA-1, 6 digits,
    30 s, which is what the vault's codes use; anything else is refused clearly).
    """
    raw = text.reveal() if isinstance(text, Secret) else text
    raw = raw.strip()
    if raw.lower().startswith("otpauth://"):
        raw = _secret_from_uri(raw)
    cleaned = _SEPARATORS.sub("", raw).upper().rstrip("=")
    if not cleaned:
        raise InvalidTotpSecretError("the TOTP secret is empty")
    if len(cleaned) > MAX_SECRET_CHARS:
        raise InvalidTotpSecretError("the TOTP secret is too long")
    if not re.fullmatch(r"[A-Z2-7]+", cleaned):
        raise InvalidTotpSecretError(
            "the TOTP secret is not base32 (letters A-Z and digits 2-7 only)"
        )
    try:
        decoded = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (binascii.Error, ValueError):
        raise InvalidTotpSecretError("the TOTP secret is not valid base32") from None
    if len(decoded) < MIN_SECRET_BYTES:
        raise InvalidTotpSecretError(
            f"the TOTP secret is too short (at least {MIN_SECRET_BYTES * 8} bits, "
            f"16 base32 characters)"
        )
    return Secret(cleaned)


def _secret_from_uri(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.netloc.lower() != "totp":
        raise InvalidTotpSecretError("only otpauth://totp/ URIs are supported")
    query = {k.lower(): v[-1] for k, v in parse_qs(parts.query).items()}
    if query.get("algorithm", "SHA1").upper() != "SHA1":
        raise InvalidTotpSecretError("only SHA1 TOTP is supported")
    if query.get("digits", str(DIGITS)) != str(DIGITS):
        raise InvalidTotpSecretError(f"only {DIGITS}-digit TOTP is supported")
    if query.get("period", str(INTERVAL)) != str(INTERVAL):
        raise InvalidTotpSecretError(f"only {INTERVAL}-second TOTP is supported")
    secret = query.get("secret")
    if not secret:
        raise InvalidTotpSecretError("the otpauth URI has no secret")
    return secret


def _key_bytes(secret: Secret) -> bytes:
    cleaned = secret.reveal()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def _hotp(key: bytes, counter: int) -> str:
    """RFC 4226 HOTP value for ``counter``, ``DIGITS`` digits, zero-padded."""
    digest = hmac.new(key, counter.to_bytes(8, "big"), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)


@dataclass(frozen=True, slots=True)
class TotpCode:
    """A code, the Unix time it stops being current, and how long that is from 'now'."""

    code: Secret
    valid_until: float
    valid_for: float
    is_next_step: bool


def _as_timestamp(at: datetime | float | None) -> float:
    if at is None:
        return time.time()
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise ValueError("pass an aware datetime (UTC), not a naive one")
        return at.timestamp()
    return float(at)


def totp_code(
    secret: Secret,
    *,
    at: datetime | float | None = None,
    min_valid: float = MIN_VALID_SECONDS,
) -> TotpCode:
    """The code to type at ``at`` (default now); see the module doc for the boundary.

    ``min_valid=0`` gives plainly the current code. Pure: no waiting, no I/O.
    """
    now = _as_timestamp(at)
    key = _key_bytes(normalize_totp_secret(secret))
    step = int(now // INTERVAL)
    step_end = (step + 1) * INTERVAL
    is_next = step_end - now < min_valid
    if is_next:
        step += 1
        step_end += INTERVAL
    code = _hotp(key, step)
    # scrub=False: a 6-digit code expires in a minute; registering it would mask
    # every matching number (amounts, invoice ids) in the logs for hours.
    return TotpCode(
        code=Secret(code, scrub=False),
        valid_until=float(step_end),
        valid_for=step_end - now,
        is_next_step=is_next,
    )


async def fresh_totp_code(
    secret: Secret,
    *,
    min_valid: float = MIN_VALID_SECONDS,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> TotpCode:
    """The current code with at least ``min_valid`` seconds left, waiting if needed.

    For portals that reject the next step's code. Waits at most ``min_valid``
    seconds (until the next step starts), then returns that step's code.
    """
    now = clock()
    remaining = (int(now // INTERVAL) + 1) * INTERVAL - now
    if remaining < min_valid:
        await sleep(remaining + 0.05)
        now = clock()
    return totp_code(secret, at=now, min_valid=0)
