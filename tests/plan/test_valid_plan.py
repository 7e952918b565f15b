"""`validate` makes a new plan (a `ValidPlan`) and leaves the loaded one as it was; positions
live in the steps (`Step.source`); template problems point at their own key by their field."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl

from bulkx.plan.load import load_plan
from bulkx.plan.model import Plan, StepSource, ValidPlan
from bulkx.plan.validate import load_valid, normalised, validate
from tests.plan.conftest import where

ROUTED = """\
steps:
  - kind: trunk_group
    items:
      - {name: acme}
  - kind: did
    items:
      - {phonenumber: "+1 (516) 206-5575", trunk_group: acme}
      - {phonenumber: "516.206.5576", trunk_group: elsewhere}
"""


def _loaded(tmp_path: Path, text: str, name: str = "plan.yaml") -> Plan:
    path = tmp_path / name
    path.write_text(text)
    plan, diagnostics = load_plan(path)
    assert plan is not None and diagnostics == [], diagnostics
    return plan


def test_validate_makes_a_new_plan_and_leaves_the_loaded_one(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, ROUTED)
    valid, diagnostics = validate(loaded)
    # An undefined reference is a warning: it does not stop the plan.
    assert [(d.code, d.severity) for d in diagnostics] == [("BX130", "warning")]
    assert isinstance(valid, ValidPlan)
    assert valid.steps[1].rows["phonenumber"].to_list() == ["15162065575", "15162065576"]
    # The loaded plan still holds what the file says.
    assert loaded.steps[1].rows["phonenumber"].to_list() == ["+1 (516) 206-5575", "516.206.5576"]
    assert not isinstance(loaded, ValidPlan)
    assert (valid.path, valid.digest, valid.sources) == (loaded.path, loaded.digest, loaded.sources)


def test_an_error_gives_no_valid_plan_but_the_normalised_values(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, ROUTED.replace("516.206.5576", "not a number"))
    valid, diagnostics = validate(loaded)
    assert valid is None
    assert [d.code for d in diagnostics if d.severity == "error"] == ["BX101"]
    checked, again = normalised(loaded)
    assert again == diagnostics
    assert not isinstance(checked, ValidPlan)
    assert checked.steps[1].rows["phonenumber"].to_list() == ["15162065575", None]


def test_load_valid_weighs_the_loaders_errors_too(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(ROUTED.replace("trunk_group: acme}", "trunk_group: acme, colour: red}"))
    loaded, load_problems = load_plan(path)
    assert loaded is not None and [d.code for d in load_problems] == ["BX010"]
    assert validate(loaded)[0] is not None  # validation alone finds no error
    valid, diagnostics = load_valid(path)
    assert valid is None
    assert [d.code for d in diagnostics] == ["BX010", "BX130"]
    path.write_text(ROUTED)
    assert isinstance(load_valid(path)[0], ValidPlan)


def test_positions_travel_with_the_step(tmp_path: Path) -> None:
    """A step's cell positions are in the step: a copy of it keeps them, and one without
    them points at the item's line."""
    loaded = _loaded(tmp_path, ROUTED.replace("516.206.5576", "not a number"))
    did = loaded.steps[1]
    assert did.source.cells[(1, "phonenumber")] == (8, 23)
    copied = replace(loaded, steps=tuple(replace(s) for s in loaded.steps))
    assert where(validate(copied)[1]) == [
        ("plan.yaml", 8, 23, "BX101"),
        ("plan.yaml", 8, 52, "BX130"),
    ]
    bare = replace(loaded, steps=(loaded.steps[0], replace(did, source=StepSource())))
    assert where(validate(bare)[1]) == [("plan.yaml", 8, 0, "BX101"), ("plan.yaml", 8, 0, "BX130")]


def test_template_problems_point_at_their_own_key_by_field(tmp_path: Path) -> None:
    """The field of a template problem says which key it is at, not the message's text: the
    name below holds the word `ensure`, and its warning is still at `name`."""
    text = (
        "steps:\n  - kind: did\n    count: 2\n    criteria: {state: ny}\n    template:\n"
        '      ensure: present\n      name: "ensure \\e"\n      did_group: "\\a"\n'
    )
    valid, diagnostics = validate(_loaded(tmp_path, text))
    controls = [d for d in diagnostics if d.code == "BX115"]
    # (Matched by message text, the name's warning was put at `ensure`, line 6.)
    assert [(d.position.line, d.position.column, d.field_name) for d in controls] == [
        (7, 13, "name"),
        (8, 18, "did_group"),
    ]
    assert valid is not None
    step = valid.steps[0]
    assert (dict(step.template), dict(step.criteria)) == (
        {"ensure": "present", "name": "ensure \x1b", "did_group": "\x07"},
        {"state": "NY"},
    )


def test_validating_a_valid_plan_again_changes_nothing(tmp_path: Path) -> None:
    valid, _ = validate(_loaded(tmp_path, ROUTED))
    assert valid is not None
    again, diagnostics = validate(valid)
    assert again is not None and [d.code for d in diagnostics] == ["BX130"]
    for before, after in zip(valid.steps, again.steps, strict=True):
        assert after.rows.equals(before.rows)
        assert after.rows.schema == before.rows.schema
    assert again.steps[1].rows.schema["phonenumber"] == pl.String
