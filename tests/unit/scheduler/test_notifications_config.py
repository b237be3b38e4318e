"""``[notifications]`` in fleet.toml: what is refused (with the key and line), and
how the composition root turns it and the environment into channels."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fleet.notifications import NotificationSetupError, channels_for, notifier_for
from fleet.settings import get_settings
from scheduler.config import ConfigError, FleetConfig, parse_config

EXAMPLE = Path(__file__).resolve().parents[3] / "fleet.example.toml"


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, Path("fleet.toml"))
    return str(info.value).splitlines()


def test_the_examples_commented_table_is_valid() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    block = re.search(r"^# \[notifications\]\n((?:# .*\n)+)", text, re.M)
    assert block is not None
    table = "[notifications]\n" + re.sub(r"^# ", "", block.group(1), flags=re.M)
    config = parse_config(table, Path("fleet.toml"))
    assert config.notifications is not None
    assert config.notifications.email_to == ["ar-ops@supplier.example"]


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('webhook_url = "https://h.example/x?token=abc"', "FLEET_NOTIFY_WEBHOOK_TOKEN"),
        ('webhook_url = "https://me:pw@h.example/x"', "the URL carries a secret"),
        ('webhook_url = "ftp://h.example/x"', "should match pattern"),
        ('email_to = ["not an address"]', "not an e-mail address"),
        ('smtp_url = "smtp://u:pw@mail.example:25"', "FLEET_NOTIFY_SMTP_URL"),
        ('smtp_url = "http://mail.example"', "must look like smtp://host:port"),
        ('kinds = ["anomly"]', "unknown kind 'anomly'"),
        ("timeout_seconds = 600", "less than or equal to 60"),
        ("web_hook = 1", "unknown key"),
    ],
)
def test_mistakes_are_refused_with_their_line(line: str, says: str) -> None:
    problems = _problems(f'data_dir = "d"\n\n[notifications]\n{line}\n')
    assert len(problems) == 1
    assert problems[0].startswith("fleet.toml:4: notifications.")
    assert says in problems[0]
    assert "pw@" not in problems[0]


def _config(text: str) -> FleetConfig:
    return parse_config(text, Path("fleet.toml"))


def test_channels_from_the_file_and_the_environment() -> None:
    settings = get_settings(smtp_url="smtp://fleet-mail.example:25", mail_from="f@x.example")
    assert channels_for(_config(""), settings, {}) == []
    assert notifier_for(_config(""), settings, {}) is None

    secret_url = "https://chat.example/hooks/T0K3N"
    only_env = channels_for(_config(""), settings, {"FLEET_NOTIFY_WEBHOOK_URL": secret_url})
    assert [c.describe() for c in only_env] == ["https://chat.example"]

    config = _config('[notifications]\nemail_to = ["a@x.example"]\nkinds = ["anomaly"]\n')
    notifier = notifier_for(config, settings, {})
    assert notifier is not None
    assert notifier.kinds == frozenset({"anomaly"})
    (mail,) = notifier.channels
    assert mail.describe() == "smtp://fleet-mail.example:25 to a@x.example", "FLEET_SMTP_URL"

    with pytest.raises(NotificationSetupError, match="needs an SMTP server"):
        channels_for(config, get_settings(smtp_url=None), {})
    with pytest.raises(NotificationSetupError, match="needs webhook_url or email_to"):
        channels_for(_config('[notifications]\nkinds = ["anomaly"]\n'), settings, {})
    with pytest.raises(NotificationSetupError, match="no webhook"):
        channels_for(_config(""), settings, {"FLEET_NOTIFY_WEBHOOK_TOKEN": "t0k3n-value"})
    with pytest.raises(NotificationSetupError) as info:
        channels_for(config, settings, {"FLEET_NOTIFY_SMTP_URL": "mail.example:25"})
    assert "smtp://host:port" in str(info.value)
