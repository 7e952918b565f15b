"""Loading: malformed files, structure errors, each with an exact position."""

from __future__ import annotations

from pathlib import Path

from bulkx.plan.load import load_plan
from tests.plan.conftest import Check, where

GOOD = """\
version: 1
steps:
  - kind: trunk_group
    items:
      - name: acme-sip
"""


def test_yaml_plan_loads_with_positions(check: Check) -> None:
    plan, diagnostics = check(GOOD)
    assert diagnostics == []
    assert plan is not None
    (step,) = plan.steps
    assert step.kind == "trunk_group"
    assert step.name == "trunk_group#1"
    assert step.rows["name"].to_list() == ["acme-sip"]
    assert step.rows["__line"].to_list() == [5]
    assert (step.position.line, step.position.column) == (3, 5)
    assert len(plan.digest) == 64


def test_bare_list_of_steps(check: Check) -> None:
    plan, diagnostics = check("- kind: did_group\n  items: [{name: g1}]\n")
    assert diagnostics == []
    assert plan is not None and plan.steps[0].rows["name"].to_list() == ["g1"]


def test_yaml_syntax_error_position(check: Check) -> None:
    plan, diagnostics = check("version: 1\nsteps:\n  - kind: did\n   items: [\n")
    assert plan is None
    assert len(diagnostics) == 1
    assert diagnostics[0].code == "BX005"
    assert diagnostics[0].position.line == 4


def test_an_unclosed_quote_is_reported_where_it_opens_not_at_the_end(check: Check) -> None:
    # Issue 17: an unclosed quote on line 3 of a 66-line plan read ":67:1: found unexpected
    # end of stream". The quote's start is where to look; the end is a note.
    items = "".join(f"      - name: g{i}\n" for i in range(60))
    text = f'steps:\n  - kind: did_group\n    items:\n      - name: "g\n{items}'
    plan, diagnostics = check(text)
    assert plan is None
    assert where(diagnostics) == [("plan.yaml", 4, 15, "BX005")]
    assert "quoted value that starts here is never closed" in diagnostics[0].message
    assert "reached line 65" in diagnostics[0].message


def test_unknown_keys_and_kind(check: Check) -> None:
    text = """\
version: 1
stepz: []
steps:
  - kind: trunk_grup
    items: [{name: a}]
  - kind: did
    itemz: []
    items:
      - {phonenumber: "5162065575", nmae: x}
"""
    _, diagnostics = check(text)
    assert where(diagnostics) == [
        ("plan.yaml", 2, 1, "BX006"),
        ("plan.yaml", 4, 11, "BX020"),
        ("plan.yaml", 7, 5, "BX007"),
        ("plan.yaml", 9, 37, "BX010"),
    ]
    by_code = {d.code: d for d in diagnostics}
    assert by_code["BX020"].hint == "did you mean 'trunk_group'?"
    assert by_code["BX010"].hint == "did you mean 'name'?"
    assert by_code["BX006"].hint == "did you mean 'steps'?"


def test_wrong_key_and_missing_items(check: Check) -> None:
    _, diagnostics = check("steps:\n  - kind: did\n    key: name\n")
    assert where(diagnostics) == [("plan.yaml", 2, 5, "BX007"), ("plan.yaml", 3, 10, "BX007")]


def test_missing_file_and_directory(tmp_path: Path) -> None:
    plan, diagnostics = load_plan(tmp_path / "nope.yaml")
    assert plan is None and [d.code for d in diagnostics] == ["BX001"]
    plan, diagnostics = load_plan(tmp_path)
    assert plan is None and "directory" in diagnostics[0].message


def test_missing_source_csv_points_at_source_key(check: Check) -> None:
    _, diagnostics = check("steps:\n  - kind: did\n    source: gone.csv\n")
    assert where(diagnostics) == [("plan.yaml", 3, 13, "BX001")]


def test_empty_and_binary_and_bad_utf8(check: Check) -> None:
    assert where(check("  \n")[1]) == [("plan.yaml", 1, 0, "BX003")]
    assert where(check(b"\x89PNG\r\n\x1a\n\x00\x00")[1]) == [("plan.yaml", 3, 0, "BX002")]
    diagnostics = check(b"steps:\n  - kind: did\n    name: caf\xe9\n")[1]
    assert where(diagnostics) == [("plan.yaml", 3, 14, "BX002")]


def test_csv_plan_with_kind_line_and_bom(check: Check) -> None:
    text = "\ufeff# kind: did\nphonenumber,name\n+1 (516) 206-5575,a\n\n516-206-5576,b\n"
    plan, diagnostics = check(text, name="dids.csv")
    assert diagnostics == []
    assert plan is not None
    rows = plan.steps[0].rows
    assert rows["phonenumber"].to_list() == ["15162065575", "15162065576"]
    assert rows["__line"].to_list() == [3, 5]


def test_csv_needs_a_kind(check: Check) -> None:
    _, diagnostics = check("phonenumber\n5162065575\n", name="dids.csv")
    assert where(diagnostics) == [("dids.csv", 1, 0, "BX020")]
    _, diagnostics = check("phonenumber\n5162065575\n", name="dids.csv", kind="dids")
    assert diagnostics[0].hint == "did you mean 'did'?"


def test_csv_ragged_rows(check: Check) -> None:
    text = "phonenumber,name\n5162065575,a\n5162065576\n5162065577,c,extra\nbad,d\n"
    plan, diagnostics = check(text, name="dids.csv", kind="did")
    # The ragged rows are left out and the rest is still checked, all in one pass.
    assert plan is not None and plan.steps[0].rows["__line"].to_list() == [2, 5]
    assert where(diagnostics) == [
        ("dids.csv", 3, 0, "BX004"),
        ("dids.csv", 4, 0, "BX004"),
        ("dids.csv", 5, 1, "BX101"),
    ]
    assert "1 fields, the header has 2" in diagnostics[0].message


def test_csv_ragged_rows_with_quoted_newline(check: Check) -> None:
    text = 'phonenumber,name\n5162065575,"a\nb"\n5162065576\n'
    plan, diagnostics = check(text, name="dids.csv", kind="did")
    assert plan is not None and plan.steps[0].rows["__line"].to_list() == [2]
    assert where(diagnostics) == [("dids.csv", 4, 0, "BX004")]


def test_many_ragged_rows_are_capped(check: Check) -> None:
    _, diagnostics = check("a,b\n" + "1\n" * 60, name="d.csv", kind="did")
    ragged = [d for d in diagnostics if d.code == "BX004"]
    assert len(ragged) == 51 and ragged[-1].message == "... and 10 more ragged rows"


def test_csv_quoted_newline_keeps_physical_lines(check: Check) -> None:
    text = 'phonenumber,name\n5162065575,"two\nlines"\n5162065576,x\nbad,y\n'
    plan, diagnostics = check(text, name="dids.csv", kind="did")
    assert plan is not None
    assert plan.steps[0].rows["__line"].to_list() == [2, 4, 5]
    assert where(diagnostics) == [("dids.csv", 5, 1, "BX101")]


def test_csv_unknown_column_with_hint(check: Check) -> None:
    _, diagnostics = check("phonenumber,nmae\n5162065575,a\n", name="d.csv", kind="did")
    assert where(diagnostics) == [("d.csv", 1, 2, "BX010")]
    assert diagnostics[0].hint == "did you mean 'name'?"


def test_source_defaults_template_and_renames(check: Check) -> None:
    text = """\
steps:
  - kind: did
    source: numbers.csv
    columns: {phonenumber: number}
    defaults:
      name: "{site} line"
      trunk_group: tg
      ensure: adopted
  - kind: trunk_group
    items: [{name: tg}]
"""
    csv = "number,site,ensure\n5162065575,HQ,\n5162065576,Lab,present\n"
    plan, diagnostics = check(text, numbers_csv=csv)
    assert diagnostics == []
    assert plan is not None
    rows = plan.steps[0].rows
    assert rows["name"].to_list() == ["HQ line", "Lab line"]
    assert rows["ensure"].to_list() == ["adopted", "present"]
    assert "site" not in rows.columns
    assert rows["__file"].to_list()[0].endswith("numbers.csv")


def test_template_unknown_column(check: Check) -> None:
    text = 'steps:\n  - kind: did\n    source: n.csv\n    defaults: {name: "{sight}"}\n'
    _, diagnostics = check(text, n_csv="phonenumber,site\n5162065575,HQ\n")
    # `site` is not used by any template, so it is an unknown column too.
    assert where(diagnostics) == [("n.csv", 1, 2, "BX010"), ("plan.yaml", 4, 22, "BX013")]


def test_count_criteria_template(check: Check) -> None:
    text = """\
steps:
  - kind: trunk_group
    items: [{name: tg}]
  - kind: did
    count: 5
    criteria: {state: ny, npa: "516"}
    template: {trunk_group: tg, name: Site}
"""
    plan, diagnostics = check(text)
    assert diagnostics == []
    assert plan is not None
    step = plan.steps[1]
    assert step.count == 5
    assert step.criteria == {"state": "NY", "npa": "516"}
    assert step.template == {"trunk_group": "tg", "name": "Site"}


def test_count_errors(check: Check) -> None:
    text = """\
steps:
  - kind: did
    count: -1
    criteria: {state: XX, npa: 51, zone: 1}
    template: {colour: red}
"""
    _, diagnostics = check(text)
    assert where(diagnostics) == [
        ("plan.yaml", 3, 12, "BX008"),
        ("plan.yaml", 4, 42, "BX008"),
        ("plan.yaml", 5, 24, "BX010"),
    ]
    _, diagnostics = check(text.replace("-1", "3"))
    assert where(diagnostics) == [
        ("plan.yaml", 4, 23, "BX150"),
        ("plan.yaml", 4, 32, "BX150"),
        ("plan.yaml", 4, 42, "BX008"),
        ("plan.yaml", 5, 24, "BX010"),
    ]
