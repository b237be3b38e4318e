"""``Secret``: the one type every password, TOTP secret, answer, API key and cookie
value travels in.

Promises:

* ``repr``, ``str``, ``format`` (f-strings), logging ``%s``, exception messages and
  pydantic ``repr``/``model_dump_json`` all show ``**********``, never the value.
* :meth:`Secret.reveal` is the only way to read the value. Making or revealing a
  Secret registers the value with :mod:`credentials.registry`, so the log scrubber
  masks it even after it has been copied into a plain string.
* Equality is constant-time (``hmac.compare_digest``) and only between Secrets.
* Pickling is **refused** (``TypeError``), not silently masked: a masked pickle
  would round-trip into a wrong secret, and a revealing one would carry the value
  into a queue or a cache file. Hand ``(portal, account)`` across process
  boundaries and read the vault on the other side. ``copy``/``deepcopy`` return the
  same (immutable) object.

Pydantic: use ``Secret`` directly as a field type. Input may be a ``str``, a
``Secret`` or a pydantic ``SecretStr``; JSON output is the mask, python-mode
``model_dump`` keeps the ``Secret`` object (so a dump can be validated back), and
the JSON schema says ``format: password, writeOnly``.
"""

from __future__ import annotations

import hmac
from typing import Any, NoReturn

from credentials.registry import MASK, REGISTRY

__all__ = ["MASK", "Secret"]


class Secret:
    """An immutable string whose value is shown to nobody but :meth:`reveal` callers."""

    __slots__ = ("__scrub", "__value")
    __scrub: bool
    __value: str

    def __init__(self, value: str | Secret, *, scrub: bool = True) -> None:
        """Wrap ``value``.

        ``scrub=False`` keeps the value out of the substring registry; use it only
        for short-lived values that would mask harmless text (a 6-digit TOTP code).
        """
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"Secret wraps a str, not {type(value).__name__}")
        object.__setattr__(self, "_Secret__value", value)
        object.__setattr__(self, "_Secret__scrub", scrub)
        if scrub:
            REGISTRY.register(value)

    def reveal(self) -> str:
        """The plain value. Call it at the last moment (filling a field), keep no copy."""
        if self.__scrub:
            REGISTRY.register(self.__value)  # again: the registry may have evicted it
        return self.__value

    # ---------------------------------------------------------------- masking
    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, format_spec: str) -> str:
        return MASK

    def __bool__(self) -> bool:
        return bool(self.__value)

    # ---------------------------------------------------------------- equality
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self.__value.encode("utf-8"), other.__value.encode("utf-8"))

    def __hash__(self) -> int:
        return hash((Secret, self.__value))

    # ---------------------------------------------------------------- immutability
    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self

    # ---------------------------------------------------------------- pickling
    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError(
            "Secret refuses to be pickled: pass (portal, account) across process "
            "boundaries and read the credential vault there"
        )

    def __reduce__(self) -> NoReturn:
        self.__reduce_ex__(None)

    def __getstate__(self) -> NoReturn:
        self.__reduce_ex__(None)

    # ---------------------------------------------------------------- pydantic
    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        def validate(value: Any) -> Secret:
            if isinstance(value, Secret):
                return value
            if isinstance(value, str):
                return cls(value)
            get_secret = getattr(value, "get_secret_value", None)
            if callable(get_secret):
                inner = get_secret()
                if isinstance(inner, str):
                    return cls(inner)
            raise ValueError("expected a string secret")

        def serialize(value: Secret, info: Any) -> Any:
            if info.mode_is_json():
                return MASK
            return value

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                serialize, info_arg=True
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        return {"type": "string", "format": "password", "writeOnly": True}
