from __future__ import annotations

from datetime import UTC, datetime

import pyotp
import pytest

from credentials.secret import Secret
from credentials.totp import (
    InvalidTotpSecretError,
    fresh_totp_code,
    normalize_totp_secret,
    totp_code,
)

# RFC 6238 appendix B secret (ASCII "12345678901234567890"), SHA-1.
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


@pytest.mark.parametrize(
    ("at", "expected"),
    [(59, "287082"), (1111111109, "081804"), (1234567890, "005924"), (2000000000, "279037")],
)
def test_rfc6238_vectors(at: int, expected: str) -> None:
    assert totp_code(Secret(RFC_SECRET), at=at, min_valid=0).code.reveal() == expected


# a fixed random secret: each test process must collect the same ids (pytest-xdist)
@pytest.mark.parametrize(
    "secret", [RFC_SECRET, "JBSWY3DPEHPK3PXPJBSWY3DP", "WVYXG26M4I2552MZXXECM254MRNQ7LHO"]
)
def test_equals_pyotp_at_fixed_times(secret: str) -> None:
    for at in (0, 29, 30, 1_700_000_000, 1_700_000_017, 4_102_444_800):
        assert totp_code(Secret(secret), at=at, min_valid=0).code.reveal() == pyotp.TOTP(secret).at(
            at
        )


def test_accepts_aware_datetime_and_refuses_naive() -> None:
    when = datetime(2024, 5, 1, 12, 0, 10, tzinfo=UTC)
    code = totp_code(Secret(RFC_SECRET), at=when)
    assert code.code.reveal() == pyotp.TOTP(RFC_SECRET).at(when)
    assert code.valid_for == 20
    with pytest.raises(ValueError, match="aware"):
        totp_code(Secret(RFC_SECRET), at=datetime(2024, 5, 1))


def test_boundary_returns_next_step_code() -> None:
    secret = Secret(RFC_SECRET)
    late = totp_code(secret, at=1_700_000_008.5, min_valid=3)  # 1.5 s left in the step
    assert late.is_next_step
    assert late.code.reveal() == pyotp.TOTP(RFC_SECRET).at(1_700_000_010)
    assert late.valid_for == pytest.approx(31.5)
    early = totp_code(secret, at=1_700_000_005, min_valid=3)  # 5 s left
    assert not early.is_next_step
    assert early.code.reveal() == pyotp.TOTP(RFC_SECRET).at(1_700_000_005)


async def test_fresh_code_waits_for_next_step_with_injected_clock() -> None:
    now = [1_700_000_008.5]
    waited: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waited.append(seconds)
        now[0] += seconds

    code = await fresh_totp_code(Secret(RFC_SECRET), clock=lambda: now[0], sleep=fake_sleep)
    assert waited == [pytest.approx(1.55)]
    assert not code.is_next_step
    assert code.code.reveal() == pyotp.TOTP(RFC_SECRET).at(1_700_000_010)
    now[0] = 1_700_000_000.0
    waited.clear()
    await fresh_totp_code(Secret(RFC_SECRET), clock=lambda: now[0], sleep=fake_sleep)
    assert waited == []


def test_normalize_accepts_what_people_paste() -> None:
    assert normalize_totp_secret(" jbsw y3dp-ehpk 3pxp ").reveal() == "JBSWY3DPEHPK3PXP"
    assert normalize_totp_secret("JBSWY3DPEHPK3PXP====").reveal() == "JBSWY3DPEHPK3PXP"
    uri = "otpauth://totp/MegaMart:ap?secret=JBSWY3DPEHPK3PXP&issuer=MegaMart&digits=6"
    assert normalize_totp_secret(uri).reveal() == "JBSWY3DPEHPK3PXP"
    # 80-bit secrets (which pyotp >= 2.10 refuses) still give codes
    assert len(totp_code(Secret("JBSWY3DPEHPK3PXP"), at=0).code.reveal()) == 6


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("JBSWY3DP!HPK3PXP", "not base32"),
        ("JBSWY3DP", "too short"),
        ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&algorithm=SHA256", "SHA1"),
        ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=8", "6-digit"),
        ("otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP", "totp"),
    ],
)
def test_normalize_refuses_clearly_without_echoing(text: str, why: str) -> None:
    with pytest.raises(InvalidTotpSecretError, match=why) as info:
        normalize_totp_secret(text)
    assert "JBSWY3DP" not in str(info.value)
