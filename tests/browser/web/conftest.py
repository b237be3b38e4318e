"""The fixtures of tests/browser/fleet (a small generated world, the demo fleet)
for the web app's browser tests."""

from tests.browser.fleet.conftest import make_demo, shared_keyring, small_world

__all__ = ["make_demo", "shared_keyring", "small_world"]
