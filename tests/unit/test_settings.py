from __future__ import annotations

from pathlib import Path

import pytest

from fleet.settings import get_settings


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "fleet.toml"
    cfg.write_text('data_dir = "from-file"\nlog_level = "DEBUG"\n')
    monkeypatch.setenv("FLEET_CONFIG", str(cfg))
    monkeypatch.setenv("FLEET_DATA_DIR", str(tmp_path / "from-env"))
    s = get_settings()
    assert s.data_dir == tmp_path / "from-env"
    assert s.log_level == "DEBUG"


def test_default_database_is_sqlite_in_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLEET_DATABASE_URL", raising=False)
    monkeypatch.setenv("FLEET_CONFIG", str(tmp_path / "absent.toml"))
    s = get_settings(data_dir=tmp_path)
    assert s.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'fleet.db'}"


def test_browser_path_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "chrome"
    monkeypatch.setenv("FLEET_BROWSER_PATH", str(fake))
    assert get_settings().resolved_browser_path == fake


def test_headless_runs_take_the_headless_shell_and_headed_ones_the_full_browser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The headless shell halves the browser's CPU per document, but it cannot
    show a window: a headed run (debugging a portal) needs the full browser."""
    import fleet.settings as settings_module

    full, shell = tmp_path / "chromium", tmp_path / "chromium-headless-shell"
    full.touch()
    monkeypatch.delenv("FLEET_BROWSER_PATH", raising=False)
    monkeypatch.setenv("FLEET_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setattr(settings_module, "DEBIAN_CHROMIUM", full)
    monkeypatch.setattr(settings_module, "DEBIAN_HEADLESS_SHELL", shell)
    assert get_settings().resolved_browser_path == full  # no shell installed: the full one
    shell.touch()
    assert get_settings().resolved_browser_path == shell
    assert get_settings(headless=False).resolved_browser_path == full
