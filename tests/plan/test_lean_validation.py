"""Loading and validating a large plan without copies: the same values and diagnostics.

The reader parses a CSV from its bytes (polars skips the lines before the header), text
checks share one stripped column, numbers are normalised a slice at a time, and duplicate keys
are found through sorted hashes (issues 14 and 18). Each test holds one of those to the
answer of the plain way.
"""

from __future__ import annotations

import polars as pl
import pytest

from bulkx.plan import numbers
from bulkx.plan.csv_source import row_numbers
from bulkx.plan.model import SOURCE_LINE
from tests.plan.conftest import Check

BOM = "\ufeff"
NUMBERS = ("12013140000", "12013140001", "12013140002")


def _rows(check: Check, content: str | bytes, kind: str | None = "did") -> list[tuple[object, ...]]:
    plan, diagnostics = check(content, name="plan.csv", kind=kind)
    assert plan is not None, diagnostics
    return plan.steps[0].rows.rows()


def test_an_empty_text_cell_is_no_value_under_its_own_name(check: Check) -> None:
    plan, _ = check('phonenumber,name\n12013140000,""\n12013140001," b "\n', "plan.csv", "did")
    assert plan is not None
    rows = plan.steps[0].rows
    assert [c for c in rows.columns if not c.startswith("__")] == ["phonenumber", "name"]
    assert rows["name"].to_list() == [None, "b"]


@pytest.mark.parametrize(
    "preamble",
    [BOM, BOM + BOM, "# kind: did\n", BOM + "# kind: did\n\n", "\n# kind: did\r\n" + BOM],
)
def test_lines_and_byte_order_marks_before_the_header(check: Check, preamble: str) -> None:
    body = "phonenumber,name\n" + "".join(f"{n},n{i}\n" for i, n in enumerate(NUMBERS))
    plain = _rows(check, body)
    rows = _rows(check, (preamble + body).encode())
    header_line = 1 + preamble.count("\n")
    # The same cells, one line further down per line before the header.
    assert [r[:3] for r in rows] == [r[:3] for r in plain]
    assert [r[-1] for r in rows] == [header_line + 1 + i for i in range(len(NUMBERS))]


def test_a_ragged_and_a_blank_row_are_left_out_at_their_lines(check: Check) -> None:
    text = "# kind: did\nphonenumber,name\n12013140000,a\n12013140001\n,\n12013140002,c\n"
    plan, diagnostics = check(text, name="plan.csv")
    assert plan is not None
    assert plan.steps[0].rows.select("phonenumber", SOURCE_LINE).rows() == [
        ("12013140000", 3),
        ("12013140002", 6),
    ]
    assert [(d.position.line, d.code) for d in diagnostics] == [(4, "BX004")]


@pytest.mark.parametrize("chunked", [False, True])
def test_numbers_normalised_a_slice_at_a_time(
    chunked: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = pl.Series(
        ["+1 (201) 314-0000", " 2013140001", "", None, "12011111111", "+442071838750", "x1"] * 5
    )
    whole = numbers.normalise_e164(values)
    if chunked:  # slices follow the column's chunks
        values = pl.concat([values.slice(0, 9), values.slice(9, 4), values.slice(13)])
    monkeypatch.setattr(numbers, "E164_SLICE", 3)
    sliced = numbers.normalise_e164(values)
    assert sliced.rows() == whole.rows()
    if chunked:
        assert sliced["number"].chunk_lengths() == values.chunk_lengths()


def test_duplicates_found_by_hash_are_the_duplicates(check: Check) -> None:
    body = "".join(f"{n},x\n" for n in (*NUMBERS, NUMBERS[1], "", NUMBERS[1], "", NUMBERS[2]))
    _, diagnostics = check("phonenumber,name\n" + body, name="plan.csv", kind="did")
    duplicates = [
        (d.position.line, d.message.split("'")[1], d.message.rsplit(":", 2)[1])
        for d in diagnostics
        if d.code == "BX120"
    ]
    # Each later row of a key, named with the line of its first row; empty keys are none.
    assert duplicates == [(5, NUMBERS[1], "3"), (7, NUMBERS[1], "3"), (9, NUMBERS[2], "4")]


def test_row_numbers_follow_the_chunks_of_the_frame() -> None:
    frame = pl.concat([pl.DataFrame({"a": ["x", "y"]}), pl.DataFrame({"a": ["z"]})], rechunk=False)
    numbered = row_numbers(frame, "n", 5, pl.Int64())
    assert numbered.to_list() == [5, 6, 7]
    assert numbered.chunk_lengths() == [2, 1]
    assert row_numbers(frame.clear(), "n").to_list() == []
    assert row_numbers(frame, "i").dtype == pl.get_index_type()
