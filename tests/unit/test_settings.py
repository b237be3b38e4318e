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
