"""The CarrierX `filter` query language: parsing, and compiling to SQL or to a Python predicate.

Grammar (only `and` combines conditions; `or`, `not` and parentheses are refused):

    filter    := condition ("and" condition)*
    condition := path operator value
    path      := name ("." name)*
    value     := 'single' | "double" | bare-word | list        (list only after in / notin)
    list      := "(" value ("," value)* ")" | value ("," value)+
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bulkx.sandbox import assumptions
from bulkx.sandbox.errors import bad_request

Operator = Literal[
    "eq", "ne", "gt", "ge", "lt", "le", "like", "ilike", "in", "notin", "bit", "nearby"
]
OPERATORS: tuple[Operator, ...] = (
    "eq",
    "ne",
    "gt",
    "ge",
    "lt",
    "le",
    "like",
    "ilike",
    "in",
    "notin",
    "bit",
    "nearby",
)

Scalar = str | int | float | bool | None

#: A filter is a request, not a program: bigger ones are refused with a 400 (SQLite's expression
#: depth and variable limits would otherwise turn them into 500s).
MAX_CONDITIONS = 100
MAX_LIST_VALUES = 1000


@dataclass(frozen=True)
class Literal_:
    """A value as written: `quoted` tells `"15"` (a string) from `15` (typed by the field)."""

    text: str
    quoted: bool


@dataclass(frozen=True)
class Condition:
    path: tuple[str, ...]
    op: Operator
    values: tuple[Literal_, ...]

    @property
    def field(self) -> str:
        return self.path[0]

    @property
    def value(self) -> Literal_:
        return self.values[0]


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<dq>"(?:[^"\\]|\\.)*")
      | (?P<sq>'(?:[^'\\]|\\.)*')
      | (?P<punct>[(),])
      | (?P<word>[^\s(),"']+)
    )""",
    re.VERBOSE,
)
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _unquote(raw: str) -> str:
    return re.sub(r"\\(.)", r"\1", raw[1:-1])


def _tokens(text: str) -> tuple[list[tuple[str, str]], list[bool]]:
    """The tokens, and for each whether it touches the one before (no whitespace between)."""
    tokens: list[tuple[str, str]] = []
    glued: list[bool] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise bad_request(
                f"filter: unterminated quote near {text[pos:].strip()[:20]!r}", "filter"
            )
        kind = match.lastgroup or "word"
        raw = match.group(kind)
        tokens.append(("str", _unquote(raw)) if kind in ("dq", "sq") else (kind, raw))
        glued.append(bool(tokens[:-1]) and match.start(kind) == pos)
        pos = match.end()
    return tokens, glued


def parse_filter(text: str) -> list[Condition]:
    """Parse a filter expression; every problem is a 400 with a message saying what to write."""
    tokens, glued = _tokens(text)
    if not tokens:
        return []
    reader = _FilterReader(tokens, glued)
    conditions: list[Condition] = []
    while True:
        conditions.append(reader.condition())
        if len(conditions) > MAX_CONDITIONS:
            raise _too_big()
        if not reader.next_is_and():
            return conditions


def _too_big() -> Exception:
    return bad_request(
        f"filter: at most {MAX_CONDITIONS} conditions of at most {MAX_LIST_VALUES} values",
        "filter",
    )


class _FilterReader:
    """Reads conditions off a filter's tokens, one step of the grammar per method."""

    def __init__(self, tokens: list[tuple[str, str]], glued: list[bool]) -> None:
        self.tokens, self.glued, self.i = tokens, glued, 0

    def _at(self, token: tuple[str, str]) -> bool:
        return self.i < len(self.tokens) and self.tokens[self.i] == token

    def condition(self) -> Condition:
        path = self.path()
        op = self.operator(path)
        values = self.value_list() if op in ("in", "notin") else [self.bare_value()]
        if len(values) > MAX_LIST_VALUES:
            raise _too_big()
        return Condition(tuple(path.split(".")), op, tuple(values))

    def path(self) -> str:
        if self.i >= len(self.tokens):
            raise bad_request("filter: a condition is missing after 'and'", "filter")
        kind, path = self.tokens[self.i]
        if kind == "punct":
            raise bad_request(
                "filter: parentheses are not supported; combine conditions with 'and' only",
                "filter",
            )
        if kind != "word" or not _PATH.match(path):
            raise bad_request(f"filter: {path!r} is not a field name", "filter")
        if path.lower() == "not":
            raise bad_request("filter: 'not' is not supported; use ne or notin", "filter")
        self.i += 1
        return path

    def operator(self, path: str) -> Operator:
        if self.i >= len(self.tokens):
            raise bad_request(f"filter: an operator is missing after {path!r}", "filter")
        written = self.tokens[self.i][1]
        op = next((known for known in OPERATORS if known == written.lower()), None)
        if op is None:
            raise bad_request(
                f"filter: unknown operator {written!r}; use one of {', '.join(OPERATORS)}",
                "filter",
            )
        self.i += 1
        return op

    def value(self) -> Literal_:
        if self.i >= len(self.tokens):
            raise bad_request("filter: a value is missing at the end", "filter")
        kind, raw = self.tokens[self.i]
        if kind == "punct":
            raise bad_request(f"filter: expected a value, found {raw!r}", "filter")
        self.i += 1
        return Literal_(raw, kind == "str")

    def value_list(self) -> list[Literal_]:
        """The values after in / notin: `(a, b)` or `a, b`."""
        parenthesised = self._at(("punct", "("))
        if parenthesised:
            self.i += 1
        values = [self.value()]
        while self._at(("punct", ",")):
            self.i += 1
            values.append(self.value())
        if parenthesised:
            if not self._at(("punct", ")")):
                raise bad_request("filter: the list after 'in' is missing ')'", "filter")
            self.i += 1
        return values

    def bare_value(self) -> Literal_:
        """One value. An unquoted word keeps its commas: the docs write
        `nearby latlng:40.7,-74.0`."""
        value = self.value()
        tokens, glued, i = self.tokens, self.glued, self.i
        while (
            not value.quoted
            and i + 1 < len(tokens)
            and tokens[i] == ("punct", ",")
            and tokens[i + 1][0] == "word"
            and glued[i]
            and glued[i + 1]
        ):
            value = Literal_(f"{value.text},{tokens[i + 1][1]}", False)
            i += 2
        self.i = i
        return value

    def next_is_and(self) -> bool:
        """After a condition: True past an `and`, False at the end; anything else is a 400."""
        if self.i >= len(self.tokens):
            return False
        kind, word = self.tokens[self.i]
        if kind == "word" and word.lower() == "and":
            self.i += 1
            return True
        if kind == "word" and word.lower() == "or":
            raise bad_request(
                "filter: 'or' is not supported by the CarrierX API; only 'and' combines conditions"
                " (run one request per alternative, or use 'in')",
                "filter",
            )
        raise bad_request(
            f"filter: expected 'and' after a condition, found {word!r}"
            + (" (quote values that contain spaces)" if kind == "word" else ""),
            "filter",
        )


# --- typing values ---------------------------------------------------------------------------

#: The JSON type of a stored field's value: how a filter literal compared with it is read.
JsonType = Literal["str", "int", "float", "bool", "object", "array", "any"]


def typed(literal: Literal_, field_type: JsonType | None) -> Scalar:
    """The value a literal stands for, given the type of the field it is compared with."""
    text = literal.text
    if not literal.quoted and text.lower() == "null":
        return None  # `field eq null` on any field, strings included
    if field_type == "str" or (literal.quoted and field_type not in ("int", "float", "bool")):
        return text
    low = text.lower()
    if low == "null":
        return None
    if field_type == "bool" or (field_type in (None, "any") and low in ("true", "false")):
        if low in ("true", "1"):
            return True
        if low in ("false", "0"):
            return False
        raise bad_request(f"filter: {text!r} is not true or false", "filter")
    if field_type in ("int", "float", None, "any"):
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                if field_type in ("int", "float"):
                    raise bad_request(f"filter: {text!r} is not a number", "filter") from None
    return text


def collapse_like(pattern: str) -> str:
    """`%%%x` -> `%x`: runs of `%` mean what one does, and each one more multiplies the work."""
    return _PERCENT_RUN.sub("%", pattern)


_PERCENT_RUN = re.compile(r"%{2,}")


@functools.lru_cache(maxsize=256)
def like_matcher(pattern: str, *, case_sensitive: bool) -> Callable[[str], bool]:
    """A predicate for `value like pattern` that runs in time linear in the pattern's segments.

    A regex with `.*` per `%` backtracks: `%%%%%x` over 1.2 M numbers took 40 s. Here the
    pattern is split on `%` into fixed-width segments (`_` is one character): the first must
    match at the start, the last at the end, and each one between is found leftmost after the
    one before, which is all a `%` can mean.
    """
    flags = re.DOTALL | (0 if case_sensitive else re.IGNORECASE)
    texts = collapse_like(pattern).split("%")
    parts = [
        (re.compile("".join("." if ch == "_" else re.escape(ch) for ch in text), flags), len(text))
        for text in texts
    ]
    if len(parts) == 1:
        only = parts[0][0]
        return lambda value: only.fullmatch(value) is not None
    (head, head_size), *middle, (tail, tail_size) = parts

    def match(value: str) -> bool:
        end = len(value) - tail_size
        if end < head_size or head.match(value) is None or tail.fullmatch(value, end) is None:
            return False
        pos = head_size
        for segment, _size in middle:
            found = segment.search(value, pos, end)
            if found is None:
                return False
            pos = found.end()
        return True

    return match


def like_prefix(pattern: str) -> str | None:
    """`1516%` -> `1516`: a pattern that only constrains a prefix (lets an index do the work)."""
    pattern = collapse_like(pattern)
    if pattern.endswith("%") and not any(ch in "%_" for ch in pattern[:-1]):
        return pattern[:-1]
    return None


# --- SQL ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SqlField:
    """How to reach a filterable value in SQL: a column, or a JSON path into `data`."""

    expr: str
    type: JsonType | None
    #: When set, the path walks into an array of objects: the condition holds if any element
    #: matches.
    array_of: str | None = None
    inner_path: str = ""


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _like_to_glob(pattern: str) -> str:
    return "".join(
        "*" if ch == "%" else "?" if ch == "_" else _glob_escape(ch)
        for ch in collapse_like(pattern)
    )


def _sql_value(value: Scalar) -> Scalar:
    # JSON booleans come out of json_extract as 1/0.
    if isinstance(value, bool):
        return int(value)
    return value


def condition_sql(cond: Condition, expr: str, field_type: JsonType | None) -> tuple[str, list[Any]]:
    """SQL for one condition on a scalar SQL expression."""
    op = cond.op
    if op in ("in", "notin"):
        vals = [_sql_value(typed(v, field_type)) for v in cond.values]
        marks = ",".join("?" * len(vals))
        if op == "in":
            return f"{expr} IN ({marks})", vals
        return f"({expr} IS NULL OR {expr} NOT IN ({marks}))", vals
    value = typed(cond.value, field_type)
    if op in ("like", "ilike"):
        text = str(cond.value.text)
        if op == "like":
            # SQLite's LIKE ignores ASCII case; GLOB does not, which is what `like` means.
            prefix = like_prefix(text) if field_type == "str" else None
            if prefix:
                # The same rows, but a range an index can answer: `1516%` is [1516, 1517).
                upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
                return f"({expr} >= ? AND {expr} < ?)", [prefix, upper]
            return f"{expr} GLOB ?", [_like_to_glob(text)]
        return f"{expr} LIKE ? ESCAPE '\\'", [collapse_like(text).replace("\\", "\\\\")]
    if value is None:
        if op == "eq":
            return f"{expr} IS NULL", []
        if op == "ne":
            return f"{expr} IS NOT NULL", []
        raise bad_request(f"filter: {op} null is meaningless; use eq or ne", "filter")
    if op == "bit":
        if not isinstance(value, int):
            raise bad_request("filter: bit needs an integer mask", "filter")
        return f"(({expr} & ?) = ?)", [value, value]
    if op == "nearby":
        raise bad_request("filter: nearby is only supported on available DIDs", "filter")
    sql_op = {"eq": "=", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}[op]
    if op == "ne" and assumptions.NE_MATCHES_NULL:
        return f"({expr} IS NULL OR {expr} != ?)", [_sql_value(value)]
    return f"{expr} {sql_op} ?", [_sql_value(value)]


def compile_sql(
    conditions: Sequence[Condition], resolve: Callable[[Condition], SqlField]
) -> tuple[str, list[Any]]:
    """A WHERE fragment (joined with AND) and its parameters; `resolve` maps paths to SQL."""
    clauses: list[str] = []
    params: list[Any] = []
    for cond in conditions:
        target = resolve(cond)
        if target.array_of is not None:
            inner = (
                f"json_extract(je.value, '$.{target.inner_path}')"
                if target.inner_path
                else "je.value"
            )
            clause, args = condition_sql(cond, inner, target.type)
            clauses.append(
                f"EXISTS (SELECT 1 FROM json_each(data, '$.{target.array_of}') AS je"
                f" WHERE {clause})"
            )
        else:
            clause, args = condition_sql(cond, target.expr, target.type)
            clauses.append(clause)
        params.extend(args)
    return " AND ".join(clauses), params


# --- Python predicates (for objects that are not stored rows, e.g. available DIDs) -----------


def _get_path(obj: Any, path: Sequence[str]) -> list[Any]:
    values = [obj]
    for part in path:
        nxt: list[Any] = []
        for value in values:
            if isinstance(value, dict):
                if part in value:
                    nxt.append(value[part])
            elif isinstance(value, list):
                nxt.extend(item[part] for item in value if isinstance(item, dict) and part in item)
        values = nxt
    return values


def _compare(op: Operator, actual: Any, cond: Condition, field_type: JsonType | None) -> bool:
    if op in ("in", "notin"):
        members = {typed(v, field_type) for v in cond.values}
        return (actual in members) == (op == "in")
    if op in ("like", "ilike"):
        if not isinstance(actual, str):
            return False
        return like_matcher(cond.value.text, case_sensitive=op == "like")(actual)
    value = typed(cond.value, field_type)
    if op == "eq":
        return bool(actual == value)
    if op == "ne":
        return bool(actual != value)
    if actual is None or value is None:
        return False
    if op == "bit":
        return isinstance(actual, int) and isinstance(value, int) and actual & value == value
    try:
        if op == "gt":
            return bool(actual > value)
        if op == "ge":
            return bool(actual >= value)
        if op == "lt":
            return bool(actual < value)
        if op == "le":
            return bool(actual <= value)
    except TypeError:
        return False
    return False


def matches(
    obj: dict[str, Any],
    conditions: Sequence[Condition],
    field_type: Callable[[Condition], JsonType | None] = lambda _c: None,
) -> bool:
    for cond in conditions:
        if cond.op == "nearby":
            continue  # handled by the caller that knows locations
        values = _get_path(obj, cond.path)
        kind = field_type(cond)
        if not values:
            values = [None]
        if not any(_compare(cond.op, v, cond, kind) for v in values):
            return False
    return True
