"""What every table module shares: naming, types (UTC datetimes, exact money,
bytewise comparison), the declarative base and column helpers."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import coercions, roles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator

from store.money import ExactMoney

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always UTC and aware in Python, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Bytewise(ColumnElement[str]):
    """A text expression compared and ordered by code point, on every backend.

    SQLite's default (BINARY) collation already does; a PostgreSQL database's
    collation may be linguistic (en_US ignores punctuation at first), under which
    the rows starting with a prefix are not one key range. There it renders
    ``COLLATE "C"``: used alike in an index and in a query, prefix search
    (``>= prefix AND < next``) and claim-number order walk that index, and both
    backends order the same way."""

    __visit_name__ = "bytewise"
    inherit_cache = True
    _traverse_internals = [("element", InternalTraversal.dp_clauseelement)]  # noqa: RUF012

    def __init__(self, element: Any) -> None:
        self.element = coercions.expect(roles.ExpressionElementRole, element)
        self.type = self.element.type


BYTEWISE_PG = 'COLLATE "C"'


@compiles(Bytewise)
def _bytewise(element: Bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.element, **kw)


@compiles(Bytewise, "postgresql")
def _bytewise_pg(element: Bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{compiler.process(element.element, **kw)} {BYTEWISE_PG}"


BigId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER only
Money = ExactMoney(2)
UnitPrice = ExactMoney(4)
Json = JSON(none_as_null=True)


def enum_type(cls: type[StrEnum], name: str) -> Enum:
    # VARCHAR + CHECK on both backends: adding a value is a migration, not a type swap.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {  # noqa: RUF012  (SQLAlchemy reads it as a class attribute)
        datetime: UTCDateTime(),
        date: Date(),
        Decimal: Money,
        dict[str, Any]: Json,
        list[Any]: Json,
        str: String(500),
    }


def table_of(model: type[Base]) -> Table:
    """A mapped class's Core table, typed as one (``__table__`` is typed as any FROM clause)."""
    table = model.__table__
    if not isinstance(table, Table):  # every model here maps one declared table
        raise TypeError(f"{model.__name__} maps no table")
    return table


def id_column() -> Mapped[int]:
    return mapped_column(BigId, primary_key=True, autoincrement=True)


def created_column() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=utcnow, nullable=False)


def portal_fk(nullable: bool = False) -> Mapped[Any]:
    return mapped_column(
        String(64), ForeignKey("portals.name", ondelete="RESTRICT"), nullable=nullable
    )
