"""What bulkx writes for people and spreadsheets, made safe: one place for both rules.

Terminal text: names, keys and API answers are data, and data may hold ESC, OSC or BEL bytes
that a terminal obeys (clear the screen, retitle the window, hide a line with CR). `printable`
shows every such character as a visible escape (`\\x1b`, `\\u202e`) instead.

CSV cells: a spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (or a tab or CR
before one) as a formula: `=cmd|' /C calc'!A0`, `=HYPERLINK(...)`. Following the OWASP
CSV-injection guidance, `csv_cell` prefixes such a cell with a single quote, which makes it
text. One exception, on purpose: a cell that is only a number or a phone number (`+15551234567`,
`-5`, `+1 (516) 206-5575`) is left alone. It holds no letter, `|` or `!`, so it can name no
function, cell or DDE target; quoting it would change numbers in every report a plan is made
from. A cell that already starts with quotes before one of those characters gets one more, so
that `unquote_cell` (applied when a plan CSV is read) turns every written cell back into
exactly what bulkx meant: export -> plan and report --retry -> apply round-trip.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # the CLI imports this module at start-up; polars only where frames are
    import polars as pl

__all__ = [
    "CONTROL",
    "CONTROL_IN_VALUE",
    "FORMULA_ESCAPED",
    "csv_cell",
    "csv_writer",
    "has_control",
    "neutralised_columns",
    "printable",
    "unquote_cell",
]

#: C0 controls, DEL, C1 controls (CSI and OSC start with one), and the Unicode bidi controls
#: that reorder what a terminal shows ("Trojan source").
_RANGES = ((0x00, 0x1F), (0x7F, 0x9F), (0x200E, 0x200F), (0x202A, 0x202E), (0x2066, 0x2069))


def _class(ranges: Iterable[tuple[int, int]], escape: str) -> str:
    return "[" + "".join(escape.format(a) + "-" + escape.format(b) for a, b in ranges) + "]"


CONTROL = re.compile(_class(_RANGES, "\\u{:04x}"))
#: The same, without LF: for bulkx's own multi-line messages.
_CONTROL_KEEP_NEWLINES = re.compile(_class(((0, 9), (11, 0x1F), *_RANGES[1:]), "\\u{:04x}"))
#: What `validate` warns about in a value, as a polars (Rust) regex: the controls but tab and
#: line feed, which multi-line texts (an SMS body, FlexML instructions) hold on purpose.
CONTROL_IN_VALUE = _class(((0, 8), (11, 0x1F), *_RANGES[1:]), "\\x{{{:x}}}")

#: A cell a spreadsheet would run: quotes (bulkx's own escape), then a formula character.
_FORMULA = re.compile(r"^'*[=+\-@\t\r]")
#: Only a sign and digits, spaces, parentheses, dots and dashes: a number or a phone number.
_NUMBER = re.compile(r"^[+-]?[0-9][0-9 ().\-]*$")
#: What `csv_cell` wrote: one added quote before quotes and a formula character.
FORMULA_ESCAPED = r"^'('*[=+\-@\t\r])"
_ESCAPED = re.compile(FORMULA_ESCAPED)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """`text` with every control character shown as an escape, for a terminal.
    `keep_newlines`: for bulkx's own multi-line messages (a hint with an example)."""
    pattern = _CONTROL_KEEP_NEWLINES if keep_newlines else CONTROL
    return pattern.sub(_visible, text)


def has_control(text: str) -> bool:
    return CONTROL.search(text) is not None


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run as a formula (see the module's docstring)."""
    if isinstance(value, str) and _FORMULA.match(value) and not _NUMBER.match(value):
        return "'" + value
    return value


def neutralised_columns(frame: pl.LazyFrame) -> pl.LazyFrame:
    """`csv_cell` over every string column of `frame`, vectorised (the same two patterns)."""
    import polars as pl

    schema = frame.collect_schema()
    # By position: a column named `*` or `^x$` is a wildcard or a regex to pl.col().
    texts = [(i, name) for i, (name, dtype) in enumerate(schema.items()) if dtype == pl.String]
    return frame.with_columns(
        pl.when(pl.nth(i).str.contains(_FORMULA.pattern) & ~pl.nth(i).str.contains(_NUMBER.pattern))
        .then(pl.lit("'") + pl.nth(i))
        .otherwise(pl.nth(i))
        .alias(name)
        for i, name in texts
    )


def unquote_cell(value: str) -> str:
    """The inverse of `csv_cell`, for a cell read back from a plan CSV."""
    return _ESCAPED.sub(r"\1", value, count=1)


class _SafeWriter:
    """`csv.writer` whose cells pass through `csv_cell` (and `printable` on a terminal)."""

    def __init__(self, out: TextIO, terminal: bool) -> None:
        self._writer = csv.writer(out, lineterminator="\n")
        self._terminal = terminal

    def cell(self, value: Any) -> Any:
        value = csv_cell(value)
        if self._terminal and isinstance(value, str):
            value = printable(value)
        return value

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([self.cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(out: TextIO) -> _SafeWriter:
    """The CSV writer every bulkx CSV output uses. Written to a terminal, cells are also shown
    with `printable` (a person reads them there; a file keeps the data as it is)."""
    try:
        terminal = out.isatty()
    except (AttributeError, ValueError, OSError):
        terminal = False
    return _SafeWriter(out, terminal)
