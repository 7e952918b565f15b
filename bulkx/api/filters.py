"""Build CarrierX `filter` strings with correct quoting.

    >>> str(Filter.eq("state", "NY") & Filter.like("phonenumber", "1516%"))
    'state eq "NY" and phonenumber like "1516%"'

Strings are always double-quoted (with `"` and `\\` escaped), so a value can never turn into
an operator or a second condition. Numbers, booleans and None are written bare, which is how
the API tells the number 15 from the string "15". Only `and` exists: the API has no `or`,
`not` or parentheses, so `|` raises TypeError instead of building a filter the API refuses.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

__all__ = ["Filter", "FilterValue", "quote"]

FilterValue = str | int | float | bool | None

_FIELD: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def quote(value: FilterValue) -> str:
    """One value as the filter language writes it."""
    if value is None:
        return "null"
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"a filter value must be a finite number, not {value!r}")
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    raise TypeError(f"unsupported filter value type: {type(value).__name__}")


def _field(name: str) -> str:
    if not _FIELD.match(name):
        raise ValueError(f"{name!r} is not a field name (letters, digits, _ and dots)")
    return name


@dataclass(frozen=True)
class Filter:
    """Conditions joined with `and`; combine with `&`, render with `str()`."""

    conditions: tuple[str, ...] = ()

    @classmethod
    def _op(cls, field: str, op: str, value: FilterValue) -> Filter:
        return cls((f"{_field(field)} {op} {quote(value)}",))

    @classmethod
    def eq(cls, field: str, value: FilterValue) -> Filter:
        return cls._op(field, "eq", value)

    @classmethod
    def ne(cls, field: str, value: FilterValue) -> Filter:
        return cls._op(field, "ne", value)

    @classmethod
    def gt(cls, field: str, value: FilterValue) -> Filter:
        return cls._op(field, "gt", value)

    @classmethod
    def ge(cls, field: str, value: FilterValue) -> Filter:
        return cls._op(field, "ge", value)

    @classmethod
    def lt(cls, field: str, value: FilterValue) -> Filter:
        return cls._op(field, "lt", value)

    @classmethod
    def le(cls, field: str, value: FilterValue) -> Filter:
        return cls._op(field, "le", value)

    @classmethod
    def like(cls, field: str, pattern: str) -> Filter:
        """`%` matches any run of characters, as in SQL."""
        return cls._op(field, "like", pattern)

    @classmethod
    def ilike(cls, field: str, pattern: str) -> Filter:
        return cls._op(field, "ilike", pattern)

    @classmethod
    def bit(cls, field: str, mask: int) -> Filter:
        return cls._op(field, "bit", mask)

    @classmethod
    def in_(cls, field: str, values: Iterable[FilterValue]) -> Filter:
        return cls._list(field, "in", values)

    @classmethod
    def notin(cls, field: str, values: Iterable[FilterValue]) -> Filter:
        return cls._list(field, "notin", values)

    @classmethod
    def _list(cls, field: str, op: str, values: Iterable[FilterValue]) -> Filter:
        items = [quote(v) for v in values]
        if not items:
            # `in ()` is a syntax error to the API; an empty set must be handled by the caller.
            raise ValueError(f"{op} needs at least one value")
        return cls((f"{_field(field)} {op} ({','.join(items)})",))

    def __and__(self, other: Filter) -> Filter:
        if not isinstance(other, Filter):
            return NotImplemented
        return Filter(self.conditions + other.conditions)

    def __or__(self, other: object) -> Filter:
        raise TypeError("the CarrierX filter language has no 'or'; make separate requests")

    def __bool__(self) -> bool:
        return bool(self.conditions)

    def __str__(self) -> str:
        return " and ".join(self.conditions)
