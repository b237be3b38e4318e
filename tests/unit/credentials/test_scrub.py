from __future__ import annotations

import html
import json
import logging

import structlog
from structlog.testing import capture_logs

import fleet.logging_setup as logging_setup
from credentials.registry import MASK, SecretRegistry
from credentials.scrub import SecretScrubber, register_secret, scrub_bytes, scrub_text
from credentials.secret import Secret

PASSWORD = "Tr0ub4dor&3-scrub"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPSCRUBXYZ"
COOKIE = "sess-7f3a9c0e4b2d41aa"


def test_capture_logs_sees_no_secret_anywhere() -> None:
    pw = Secret(PASSWORD)
    log = structlog.get_logger("t")
    with capture_logs(processors=[SecretScrubber()]) as events:
        log.info(
            f"login as ap with {PASSWORD}",  # a revealed copy in the message itself
            password=pw,
            nested={"form": [{"field": "password", "value": pw}], "totp": Secret(TOTP_SECRET)},
            pair=("x", Secret(COOKIE)),
            note=f"cookie={COOKIE}",
            raw_bytes=PASSWORD.encode(),
        )
        try:
            raise RuntimeError(f"portal echoed {PASSWORD} back")
        except RuntimeError:
            log.exception("login failed")
    text = repr(events)
    for value in (PASSWORD, TOTP_SECRET, COOKIE):
        assert value not in text
    assert events[0]["password"] == MASK
    assert events[0]["nested"]["form"][0]["value"] == MASK
    assert "RuntimeError" in events[1]["exception"]
    assert MASK in events[1]["exception"]


def test_objects_whose_repr_leaks_are_replaced() -> None:
    class Leaky:
        def __repr__(self) -> str:
            return f"Leaky(password={PASSWORD!r})"

    register_secret(PASSWORD)
    with capture_logs(processors=[SecretScrubber()]) as events:
        structlog.get_logger().info("x", obj=Leaky(), n=3, flag=True, none=None)
    assert events[0]["obj"] == f"Leaky(password='{MASK}')"
    assert (events[0]["n"], events[0]["flag"], events[0]["none"]) == (3, True, None)


def test_real_logger_json_file_has_no_secret(tmp_path) -> None:  # type: ignore[no-untyped-def]
    Secret(PASSWORD)
    Secret(TOTP_SECRET)
    register_secret(COOKIE)
    scrubber = SecretScrubber()
    log_file = tmp_path / "fleet.log"
    try:
        logging_setup.configure_logging(level="DEBUG", log_file=log_file, extra=[scrubber])
        slog = structlog.get_logger("fleet.test")
        slog.info("typed password", value=PASSWORD, secret=Secret(PASSWORD))
        slog.warning("totp", secret=TOTP_SECRET, url=f"https://p/?otp={TOTP_SECRET}")
        slog.info("cookies", state={"cookies": [{"name": "sid", "value": COOKIE}]})
        logging.getLogger("stdlib.lib").warning("stdlib says %s and %s", PASSWORD, COOKIE)
        try:
            raise ValueError(f"bad login {PASSWORD} cookie {COOKIE}")
        except ValueError:
            slog.exception("failed")
            logging.getLogger("stdlib.lib").exception("stdlib failed")
        for h in logging.getLogger().handlers:
            h.flush()
    finally:
        logging_setup._extra_processors.remove(scrubber)
    text = log_file.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 6
    for value in (PASSWORD, TOTP_SECRET, COOKIE):
        assert value not in text
    assert MASK in text
    assert "ValueError" in lines[4]["exception"]


def test_scrub_text_and_bytes_cover_common_encodings() -> None:
    tricky = "p@ss w<rd>&'\"+/x"
    Secret(tricky)
    page = f'<input value="{html.escape(tricky)}">'
    form = "password=p%40ss+w%3Crd%3E%26%27%22%2B%2Fx&user=ap"
    assert scrub_text(f"raw {tricky} end") == f"raw {MASK} end"
    assert scrub_text(page) == f'<input value="{MASK}">'
    assert "p%40ss" not in scrub_text(form)
    assert scrub_bytes(f"<p>{tricky}</p>".encode()) == f"<p>{MASK}</p>".encode()


def test_short_values_are_not_registered_and_registry_is_bounded() -> None:
    reg = SecretRegistry(max_entries=8)
    reg.register("abc")
    assert reg.scrub("abc abcd") == "abc abcd"
    for i in range(20):
        reg.register(f"secret-value-{i:02d}")
    assert len(reg) <= 8
    assert reg.scrub("secret-value-19") == MASK
    assert reg.scrub("secret-value-00") == "secret-value-00"  # evicted, oldest first


def test_longest_match_wins() -> None:
    reg = SecretRegistry()
    reg.register("hunter2hunter2")
    reg.register("hunter2h")
    assert reg.scrub("x hunter2hunter2 y") == f"x {MASK} y"
