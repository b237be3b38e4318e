from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleet.commands.config import app as config_app
from scheduler.config import ConfigError, crontab_weekdays, load_config, parse_config

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "fleet.example.toml"


def test_example_file_is_valid() -> None:
    config = load_config(EXAMPLE, required=True)
    assert config.portal_urls()["megamart"].startswith("https://")
    assert {a.portal for a in config.scheduled_accounts()} == {"megamart", "haulstar"}


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, Path("fleet.toml"))
    return str(info.value).splitlines()


def test_errors_name_key_file_and_line() -> None:
    text = EXAMPLE.read_text()
    text = text.replace("max_sessions = 1", "max_sesions = 1")
    text = text.replace('"30 6,14 * * mon-fri"', '"61 6 * * *"')
    lines = text.splitlines()
    problems = _problems(text)
    typo_line = next(i for i, ln in enumerate(lines, 1) if "max_sesions" in ln)
    cron_line = next(i for i, ln in enumerate(lines, 1) if '"61 6 * * *"' in ln)
    assert f"fleet.toml:{typo_line}: portals.haulstar.max_sesions: unknown key" in problems[0]
    assert problems[1].startswith(
        f"fleet.toml:{cron_line}: accounts[1].schedule.cron: invalid cron"
    )


def test_cross_reference_errors_point_at_the_account() -> None:
    text = '[portals.megamart]\nbase_url = "http://x"\n\n[[accounts]]\nportal = "nowhere"\nusername = "u"\n'
    (problem,) = _problems(text)
    assert problem.startswith("fleet.toml:5: accounts[0].portal: no [portals.nowhere] table")


def test_time_zone_and_toml_syntax_errors() -> None:
    text = '[portals.p]\nbase_url = "http://x"\n[[accounts]]\nportal = "p"\nusername = "u"\n'
    text += '[accounts.schedule]\ncron = "0 2 * * *"\ntimezone = "Mars/Olympus"\n'
    (problem,) = _problems(text)
    assert problem.startswith("fleet.toml:8: accounts[0].schedule.timezone: unknown time zone")
    (syntax,) = _problems('data_dir = "a"\nbroken = = 1\n')
    assert syntax.startswith("fleet.toml:2: (file): not valid TOML")


def test_crontab_weekdays_mean_what_crontab_says() -> None:
    assert crontab_weekdays("1-5") == "mon-fri"
    assert crontab_weekdays("0") == crontab_weekdays("7") == "sun"
    assert crontab_weekdays("5-7") == "sun,fri-sat"
    assert crontab_weekdays("mon-fri") == "mon-fri"


def test_reserved_capacity_must_leave_room_for_scheduled_work() -> None:
    problems = _problems("[scheduler]\nworkers = 2\nreserved_for_on_demand = 2\n")
    assert "fleet.toml:1: scheduler: reserved_for_on_demand must be smaller" in problems[0]


def test_config_check_command(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(config_app, ["check", str(EXAMPLE)])
    assert ok.exit_code == 0, ok.output
    assert "valid" in ok.output
    bad = tmp_path / "fleet.toml"
    bad.write_text('[portals.megamart]\nbase_url = "ftp://nope"\n')
    res = runner.invoke(config_app, ["check", str(bad)])
    assert res.exit_code == 1
    assert f"{bad}:2: portals.megamart.base_url" in res.output
    missing = runner.invoke(config_app, ["check", str(tmp_path / "absent.toml")])
    assert missing.exit_code == 1


def test_portal_limits_in_fleet_toml_reach_the_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    """max_sessions, requests_per_minute and pages_per_session are promises to
    the portal: the runtime's politeness limits must be the file's, not the
    defaults."""
    from fleet.config_loader import settings_for
    from fleet.runtime_factory import politeness_from

    for var in (
        "FLEET_PORTAL_CONCURRENCY",
        "FLEET_PORTAL_REQUESTS_PER_MINUTE",
        "FLEET_PORTAL_PAGES",
    ):
        monkeypatch.delenv(var, raising=False)
    config = parse_config(
        '[portals.megamart]\nbase_url = "https://m.example"\nmax_sessions = 3\n'
        "requests_per_minute = 30\npages_per_session = 3\n"
        '[portals.haulstar]\nbase_url = "https://h.example"\n',
        Path("fleet.toml"),
    )
    settings = settings_for(config)
    assert settings.portal_concurrency == {"megamart": 3, "haulstar": 2}
    assert settings.portal_requests_per_minute == {"megamart": 30.0, "haulstar": 120.0}
    assert settings.portal_pages == {"megamart": 3, "haulstar": 1}
    limits = politeness_from(settings).limits
    assert (limits["megamart"].concurrent_jobs, limits["megamart"].requests_per_minute) == (3, 30)
    assert (limits["megamart"].pages, limits["haulstar"].pages) == (3, 1)
    monkeypatch.setenv("FLEET_PORTAL_REQUESTS_PER_MINUTE", '{"megamart": 10}')
    assert settings_for(config).portal_requests_per_minute == {"megamart": 10.0}
    monkeypatch.setenv("FLEET_PORTAL_PAGES", '{"megamart": 4}')
    assert settings_for(config).portal_pages == {"megamart": 4}
