"""Money columns stored exactly: a whole number of minor units in a BIGINT.

SQLite has no decimal type: a ``Numeric`` column keeps a binary float (REAL), so
``SUM`` over real amounts printed 458029.97000000003. Storing integers (cents for
amounts, ten-thousandths for unit prices) is exact on both backends, and SQL
``SUM`` over them stays exact: SQLite sums 64-bit integers (and raises on
overflow), PostgreSQL sums ``bigint`` into ``numeric``.

What :class:`ExactMoney` promises:

* a value with more decimal places than the column's scale is **refused**
  (``ValueError``), never rounded; so is a float, NaN or infinity, and a value
  outside the 64-bit range;
* a value reads back as a ``Decimal`` equal to what was written, with at least
  two decimal places (``12.50``, ``7.3445``), so it prints the same way as the
  record it came from;
* ``SUM``, ``MIN``, ``MAX``, ``+``, ``-`` and comparisons in SQL work on the
  units and come back as exact ``Decimal``; ``*``, ``/`` and ``%`` against a
  literal would scale it as money and are refused: do that arithmetic in Python.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Dialect
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

CENT = Decimal("0.01")
MAX_UNITS = 2**63 - 1
"""The largest magnitude a BIGINT holds: 92,233,720,368,547,758.07 at scale 2."""

_SCALING_OPERATORS = (operators.mul, operators.truediv, operators.floordiv, operators.mod)


class MoneyRefused(ValueError):
    """A value the column cannot hold exactly; the message says why."""


def canonical(value: Decimal) -> Decimal:
    """``value`` with two decimal places, or more when it needs them:
    ``7.5`` -> ``7.50``, ``7.34450`` -> ``7.3445``."""
    if value == value.quantize(CENT):
        return value.quantize(CENT)
    return value.normalize()


def to_units(value: Any, scale: int) -> int:
    """``value`` as a whole number of ``10**-scale`` units; refuses what would
    need rounding, a float, a bool, or a magnitude past BIGINT."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise MoneyRefused(
            f"money must be a Decimal or an int, not {type(value).__name__} ({value!r})"
        )
    amount = Decimal(value)
    if not amount.is_finite():
        raise MoneyRefused(f"amount {amount} is not a finite number")
    # Exact integer arithmetic on the digits: Decimal's own operations round to
    # the context's 28 digits, which could hide a 29th decimal place.
    sign, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)
    shift = exponent + scale
    if shift < 0:
        dropped = digits[shift:] if -shift <= len(digits) else digits
        if any(dropped):
            raise MoneyRefused(
                f"amount {amount} has more than {scale} decimal places; refused, not rounded"
            )
        digits, shift = digits[:shift] if -shift <= len(digits) else (), 0
    significant = "".join(map(str, digits)).lstrip("0")
    if len(significant) + shift > 19:  # past 10**19: cannot fit, do not build it
        raise MoneyRefused(f"amount {amount} is larger than a money column holds")
    units = int(significant or "0") * 10**shift
    if units > MAX_UNITS:
        raise MoneyRefused(
            f"amount {amount} is larger than a money column holds "
            f"({Decimal(MAX_UNITS).scaleb(-scale)})"
        )
    return -units if sign else units


def from_units(value: Any, scale: int) -> Decimal:
    """Stored units back to an exact ``Decimal`` (see :func:`canonical`)."""
    if isinstance(value, float):
        # Only SQLite's AVG/TOTAL (or an unmigrated REAL column) yield floats.
        raise MoneyRefused(f"the database returned a float ({value!r}) for an exact money column")
    units = Decimal(value)
    if units != units.to_integral_value():
        raise MoneyRefused(f"the database returned {units} for a whole number of units")
    return canonical(units.scaleb(-scale))


class ExactMoney(TypeDecorator[Decimal]):
    """A ``Decimal`` column stored as BIGINT units of ``10**-scale`` (see module doc)."""

    impl = BigInteger
    cache_ok = True

    def __init__(self, scale: int = 2) -> None:
        super().__init__()
        if not 0 <= scale <= 8:
            raise ValueError(f"scale {scale} is outside 0..8")
        self.scale = scale

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else to_units(value, self.scale)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else from_units(value, self.scale)

    def coerce_compared_value(self, op: Any, value: Any) -> Any:
        if op in _SCALING_OPERATORS:
            raise TypeError(
                "multiplying or dividing a money column in SQL would scale the literal as "
                "money; compute it in Python"
            )
        return self

    def __repr__(self) -> str:
        return f"ExactMoney(scale={self.scale})"


__all__ = ["MAX_UNITS", "ExactMoney", "MoneyRefused", "canonical", "from_units", "to_units"]
