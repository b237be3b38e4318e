"""What a test needs from the machine (a server, the shared test data), and
what happens when it is not there.

A developer running one file without the services gets a loud skip; ``make
test`` (and so CI) sets ``FLEET_TEST_REQUIRE_ALL=1``, where a missing service
fails the test instead: a suite that passes because nothing ran is a lie."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

REQUIRE_ALL = "FLEET_TEST_REQUIRE_ALL"


def missing(what: str) -> NoReturn:
    """Skip (or, under ``make test``, fail) because ``what`` is not here."""
    if os.environ.get(REQUIRE_ALL) == "1":
        pytest.fail(f"{what} (make test needs it: this test could not run)", pytrace=False)
    pytest.skip(f"!!! {what}: this test did NOT run")
