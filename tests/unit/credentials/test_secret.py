from __future__ import annotations

import copy
import logging
import pickle

import pytest
from pydantic import BaseModel, SecretStr

from credentials.secret import MASK, Secret

RAW = "s3cr3t-Pa55word!"


class Login(BaseModel):
    user: str
    password: Secret


def test_every_text_form_is_masked() -> None:
    s = Secret(RAW)
    assert repr(s) == "Secret('**********')"
    assert str(s) == MASK
    assert f"{s}" == MASK
    assert f"{s!r:>40}".strip() == "Secret('**********')"
    assert "{:>30}".format(s) == MASK  # noqa: UP032 - str.format on purpose
    assert "%s %r" % (s, s) == f"{MASK} Secret('{MASK}')"  # noqa: UP031 - %-format on purpose
    assert RAW not in repr([s, {"k": s}, (s,)])
    assert s.reveal() == RAW


def test_logging_and_exceptions_show_the_mask(caplog: pytest.LogCaptureFixture) -> None:
    s = Secret(RAW)
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("logging in with %s", s)
        with pytest.raises(ValueError, match="login refused") as info:
            raise ValueError(f"login refused for password {s}", s)
        logging.getLogger("t").error("failed: %r", info.value, exc_info=info.value)
    assert RAW not in str(info.value)
    assert RAW not in repr(info.value)
    assert MASK in caplog.text
    assert RAW not in caplog.text


def test_pydantic_model_repr_and_json_are_masked() -> None:
    m = Login(user="ap", password=RAW)
    assert isinstance(m.password, Secret)
    assert RAW not in repr(m)
    assert RAW not in str(m)
    assert m.model_dump_json() == '{"user":"ap","password":"**********"}'
    dumped = m.model_dump()
    assert RAW not in repr(dumped)
    assert Login.model_validate(dumped).password.reveal() == RAW  # python mode round-trips
    assert Login(user="ap", password=SecretStr(RAW)).password.reveal() == RAW
    schema = Login.model_json_schema()["properties"]["password"]
    assert schema["format"] == "password"
    assert schema["writeOnly"] is True
    assert m.model_copy(deep=True).password.reveal() == RAW
    with pytest.raises(ValueError, match="expected a string secret"):
        Login(user="ap", password=12345)  # type: ignore[arg-type]


def test_equality_is_between_secrets_only() -> None:
    assert Secret(RAW) == Secret(RAW)
    assert Secret(RAW) != Secret(RAW + "x")
    assert Secret(RAW) != RAW
    assert hash(Secret(RAW)) == hash(Secret(RAW))
    assert Secret(Secret(RAW)).reveal() == RAW


def test_pickle_is_refused_and_copies_are_the_same_object() -> None:
    s = Secret(RAW)
    with pytest.raises(TypeError, match="refuses to be pickled"):
        pickle.dumps(s)
    with pytest.raises(TypeError):
        pickle.dumps(Login(user="ap", password=s))
    assert copy.copy(s) is s
    assert copy.deepcopy({"p": s})["p"] is s


def test_immutable_and_typed() -> None:
    s = Secret(RAW)
    with pytest.raises(AttributeError):
        s.value = "x"  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        Secret(b"bytes")  # type: ignore[arg-type]
    assert not hasattr(s, "__dict__")
    assert bool(Secret("")) is False
