"""Plans that used to run without bounds or end in a traceback (issue 15 items 4, 5, 7, 9):
each is now a positioned diagnostic, found in well under a second."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bulkx.plan.csv_source import MAX_CSV_COLUMNS, MAX_HEADER_CHARS, MAX_ROW_DIAGNOSTICS
from bulkx.plan.load import MAX_RENT_COUNT, MAX_STEPS
from bulkx.plan.yaml_guard import MAX_DEPTH
from tests.plan.conftest import Check, where

# --- item 4: bounds -----------------------------------------------------------------------


def test_an_absurd_count_is_refused_at_the_count(check: Check) -> None:
    plan, diagnostics = check("version: 1\nsteps:\n  - kind: did\n    count: 1000000000000\n")
    assert where(diagnostics) == [("plan.yaml", 4, 12, "BX008")]
    assert "1,000,000,000,000" in diagnostics[0].message
    assert diagnostics[0].hint is not None and f"{MAX_RENT_COUNT:,}" in diagnostics[0].hint
    assert plan is None or not plan.steps


def test_counts_add_up_to_the_ceiling_across_steps(check: Check) -> None:
    half = MAX_RENT_COUNT // 2 + 1
    text = f"steps:\n  - kind: did\n    count: {half}\n  - kind: did\n    count: {half}\n"
    _, diagnostics = check(text)
    assert where(diagnostics) == [("plan.yaml", 5, 12, "BX008")]
    assert "in all" in diagnostics[0].message
    _, fine = check(f"steps:\n  - kind: did\n    count: {MAX_RENT_COUNT}\n")
    assert [d for d in fine if d.severity == "error"] == []


@pytest.mark.timeout(20)
def test_a_device_as_source_is_refused_without_reading_it(check: Check) -> None:
    _, diagnostics = check("steps:\n  - kind: did\n    source: /dev/zero\n")
    assert where(diagnostics) == [("plan.yaml", 3, 13, "BX001")]
    assert "not a regular file" in diagnostics[0].message


@pytest.mark.timeout(20)
def test_a_fifo_as_source_or_plan_does_not_block(check: Check, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.csv")
    _, diagnostics = check("steps:\n  - kind: did\n    source: pipe.csv\n")
    assert where(diagnostics) == [("plan.yaml", 3, 13, "BX001")]
    assert "is a FIFO" in diagnostics[0].message
    from bulkx.plan.load import load_plan

    plan, as_plan = load_plan(tmp_path / "pipe.csv", kind="did")
    assert plan is None and "is a FIFO" in as_plan[0].message


def test_a_file_over_the_size_cap_is_refused(check: Check, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BULKX_MAX_PLAN_BYTES", "100")
    big = "phonenumber\n" + "15162065575\n" * 20
    _, diagnostics = check("steps:\n  - kind: did\n    source: a.csv\n", a_csv=big)
    assert where(diagnostics) == [("plan.yaml", 3, 13, "BX001")]
    assert "larger than 100 bytes" in diagnostics[0].message
    assert "BULKX_MAX_PLAN_BYTES" in (diagnostics[0].hint or "")


def test_a_huge_header_line_is_refused_before_parsing(check: Check) -> None:
    header = "phonenumber," + "x" * (MAX_HEADER_CHARS + 1)
    started = time.perf_counter()
    _, diagnostics = check(f"# kind: did\n{header}\n15162065575,y\n", name="plan.csv")
    assert time.perf_counter() - started < 5
    assert where(diagnostics) == [("plan.csv", 2, 0, "BX003")]
    assert "header line" in diagnostics[0].message


def test_too_many_columns_are_refused(check: Check) -> None:
    header = ",".join(f"c{i}" for i in range(MAX_CSV_COLUMNS + 1))
    _, diagnostics = check(f"{header}\n{',' * MAX_CSV_COLUMNS}\n", name="p.csv", kind="did")
    assert where(diagnostics) == [("p.csv", 1, 0, "BX003")]


def test_unknown_columns_are_capped_like_rows(check: Check) -> None:
    unknown = 900
    header = "phonenumber," + ",".join(f"c{i}" for i in range(unknown))
    _, diagnostics = check(f"{header}\n15162065575{',' * unknown}\n", name="p.csv", kind="did")
    assert len(diagnostics) == MAX_ROW_DIAGNOSTICS + 1
    assert diagnostics[-1].message == (
        f"... and {unknown - MAX_ROW_DIAGNOSTICS} more unknown columns for kind did"
    )
    assert diagnostics[-1].position.column == MAX_ROW_DIAGNOSTICS + 2


def test_unknown_item_keys_are_capped_too(check: Check) -> None:
    items = "".join(f"      - {{nmae: n{i}}}\n" for i in range(300))
    _, diagnostics = check(f"steps:\n  - kind: trunk_group\n    items:\n{items}")
    unknown = [d for d in diagnostics if d.code == "BX010"]
    assert len(unknown) == MAX_ROW_DIAGNOSTICS + 1
    assert "250 more unknown fields" in unknown[-1].message


def test_too_many_steps_are_refused_at_the_first_one_too_many(check: Check) -> None:
    steps = "".join("  - {kind: trunk_group, items: [{name: t}]}\n" for _ in range(MAX_STEPS + 1))
    plan, diagnostics = check("steps:\n" + steps)
    assert plan is None
    assert where(diagnostics) == [("plan.yaml", MAX_STEPS + 2, 5, "BX006")]


def test_step_level_problems_are_capped(check: Check) -> None:
    many = 200
    steps = "".join(f"  - {{kind: trunk, items: [{{trunk_group: g{i}}}]}}\n" for i in range(many))
    steps += "".join("  - {kind: did}\n" for _ in range(many))
    _, diagnostics = check("steps:\n" + steps)
    codes = [d.code for d in diagnostics]
    # Each repeated check: MAX_ROW_DIAGNOSTICS, then one line that counts the rest.
    for code, what in (
        ("BX007", "steps with no items, source or count"),
        ("BX111", "steps missing a field"),
        ("BX130", "references no step defines"),
    ):
        assert codes.count(code) == MAX_ROW_DIAGNOSTICS + 1, code
        assert any(
            d.message == f"... and {many - MAX_ROW_DIAGNOSTICS} more {what}" for d in diagnostics
        )


BOMB = """\
version: 1
steps:
  - kind: did
    items:
      - phonenumber: "15162065575"
        name: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
      - phonenumber: "15162065576"
        name: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
      - phonenumber: "15162065577"
        name: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
      - phonenumber: "15162065578"
        name: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
      - phonenumber: "15162065579"
        name: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
      - phonenumber: "15162065580"
        name: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
      - phonenumber: "15162065581"
        name: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
      - phonenumber: "15162065582"
        name: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
      - phonenumber: "15162065583"
        name: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


@pytest.mark.timeout(30)
def test_an_alias_bomb_in_an_item_value_is_refused_at_once(check: Check) -> None:
    started = time.perf_counter()
    plan, diagnostics = check(BOMB)
    assert time.perf_counter() - started < 5
    assert plan is None
    # The item value whose aliases multiply: the last one.
    assert where(diagnostics) == [("plan.yaml", 22, 15, "BX005")]
    assert "aliases expand the plan" in diagnostics[0].message


def test_aliases_of_a_plan_s_own_size_are_fine(check: Check) -> None:
    text = (
        "steps:\n  - kind: trunk_group\n    defaults: &d {name: x}\n    items:\n"
        "      - {name: a}\n  - kind: did_group\n    defaults: *d\n    items: [{name: g}]\n"
    )
    _, diagnostics = check(text)
    assert [d for d in diagnostics if d.severity == "error"] == []


def test_nesting_deeper_than_any_plan_is_refused(check: Check) -> None:
    value = "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)
    _, diagnostics = check(f"steps:\n  - kind: did\n    items:\n      - {{name: {value}}}\n")
    assert [d.code for d in diagnostics] == ["BX005"]
    assert "nested deeper" in diagnostics[0].message


# --- item 5: ordinary mistakes ----------------------------------------------------------


def test_a_typo_in_an_item_s_only_key(check: Check) -> None:
    _, diagnostics = check("version: 1\nsteps:\n  - kind: trunk_group\n    items: [{nam: tg1}]\n")
    assert ("plan.yaml", 4, 14, "BX010") in where(diagnostics)
    assert any(d.hint == "did you mean 'name'?" for d in diagnostics)


def test_a_rename_onto_a_column_the_csv_has(check: Check) -> None:
    text = "steps:\n  - kind: did\n    source: a.csv\n    columns: {name: x}\n"
    _, diagnostics = check(text, a_csv="phonenumber,name,x\n15162065575,a,b\n")
    assert where(diagnostics) == [("plan.yaml", 4, 21, "BX012")]
    assert "two columns of" in diagnostics[0].message


def test_one_column_renamed_twice(check: Check) -> None:
    text = "steps:\n  - kind: did\n    source: a.csv\n    columns: {name: x, trunk_group: x}\n"
    _, diagnostics = check(text, a_csv="phonenumber,x\n15162065575,b\n")
    assert where(diagnostics) == [("plan.yaml", 4, 37, "BX012")]
    assert "already renamed to 'name'" in diagnostics[0].message


@pytest.mark.parametrize(
    ("text", "at"),
    [
        ("version: 1\nsteps: !foo\n  - kind: did\n    count: 2\n", (2, 8)),
        ("!foo\n- kind: did\n  count: 2\n", (1, 1)),
        ("steps:\n  - kind: did\n    items:\n      - {name: !bar x}\n", (4, 16)),
        ("steps:\n  - !baz {kind: did, count: 2}\n", (2, 5)),
    ],
)
def test_a_custom_tag_is_refused_where_it_is(check: Check, text: str, at: tuple[int, int]) -> None:
    plan, diagnostics = check(text)
    assert plan is None
    assert where(diagnostics) == [("plan.yaml", *at, "BX005")]
    assert "custom YAML tag" in diagnostics[0].message


def test_yaml_s_own_tags_still_load(check: Check) -> None:
    _, diagnostics = check("steps:\n  - kind: trunk_group\n    items: [{name: !!str 5}]\n")
    assert diagnostics == []


# --- item 9: a NUL late in a CSV, an unterminated quote ---------------------------------


def test_a_nul_byte_after_the_first_8_kb(check: Check) -> None:
    rows = "".join(f"1516206{i:04d},n{i}\n" for i in range(1000))
    data = f"phonenumber,name\n{rows}15162069999,a\x00b\n".encode()
    assert data.index(b"\x00") > 8192
    _, diagnostics = check(data, name="p.csv", kind="did")
    assert where(diagnostics) == [("p.csv", 1002, 0, "BX002")]


@pytest.mark.parametrize(
    ("text", "at"),
    [
        ('phonenumber,name\n15162065575,"abc', (2, 2)),  # at the end of the file
        ('phonenumber,name\n15162065575,"abc\n15162065576,x\n', (2, 2)),  # swallowing rows
        ('"phonenumber\n15162065575\n', (1, 1)),  # in the header
    ],
)
def test_an_unterminated_quote(check: Check, text: str, at: tuple[int, int]) -> None:
    _, diagnostics = check(text, name="p.csv", kind="did")
    assert where(diagnostics) == [("p.csv", *at, "BX004")]
    assert "unterminated quote" in diagnostics[0].message


def test_a_quote_inside_an_unquoted_cell_is_a_character(check: Check) -> None:
    plan, diagnostics = check('phonenumber,name\n15162065575,5" screen\n', name="p.csv", kind="did")
    assert diagnostics == []
    assert plan is not None and plan.steps[0].rows["name"].to_list() == ['5" screen']


# --- item 7: control characters and spreadsheet quotes -----------------------------------


def test_control_characters_in_values_are_warnings(check: Check) -> None:
    text = (
        'steps:\n  - kind: trunk_group\n    name: "evil\\e[2J"\n    items:\n'
        '      - name: "tg\\e]0;pwned\\a"\n      - name: ok\n'
    )
    plan, diagnostics = check(text)
    assert plan is not None
    assert where(diagnostics) == [("plan.yaml", 3, 11, "BX115"), ("plan.yaml", 5, 15, "BX115")]
    assert all(d.severity == "warning" for d in diagnostics)
    assert "tg\\x1b]0;pwned\\x07" in diagnostics[1].message  # shown escaped


def test_multi_line_text_is_not_a_control_character(check: Check) -> None:
    text = 'phonenumber,name\n15162065575,"two\r\nlines\tand a tab"\n'
    _, diagnostics = check(text, name="p.csv", kind="did")
    assert diagnostics == []


def test_bulkx_s_spreadsheet_quote_is_removed_when_a_plan_csv_is_read(check: Check) -> None:
    text = "phonenumber,name\n15162065575,'=HYPERLINK(1)\n15162065576,''-x\n15162065577,'plain\n"
    plan, diagnostics = check(text, name="p.csv", kind="did")
    assert diagnostics == []
    assert plan is not None
    assert plan.steps[0].rows["name"].to_list() == ["=HYPERLINK(1)", "'-x", "'plain"]
