"""The fleet fixtures of tests/browser/fleet (a generated world, a shared demo
keyring, ``make_demo``), for the hostile-world suite."""

from __future__ import annotations

from tests.browser.fleet.conftest import make_demo, shared_keyring, small_world

__all__ = ["make_demo", "shared_keyring", "small_world"]
