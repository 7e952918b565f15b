"""Offline validation of the new kinds' plans: lists, access codes, deletes named by key."""

from __future__ import annotations

from pathlib import Path

from bulkx.plan.load import load_plan
from bulkx.plan.model import Diagnostic, Plan
from bulkx.plan.validate import normalised


def check(tmp_path: Path, text: str, **csv: str) -> tuple[Plan, list[Diagnostic]]:
    for name, content in csv.items():
        (tmp_path / f"{name}.csv").write_text(content)
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    loaded, diagnostics = load_plan(path)
    assert loaded is not None, diagnostics
    # Normalised whatever its problems: the tests look at the values of plans with errors.
    plan, found = normalised(loaded)
    return plan, diagnostics + found


def errors(diagnostics: list[Diagnostic]) -> list[tuple[int, str, str]]:
    return [(d.position.line, d.code, d.message) for d in diagnostics if d.severity == "error"]


RULES = """
steps:
  - kind: accesscontrol_rule
    items:
      - {name: a, field: called, operation: prefix, quantifier: any, entries: ["1900", 1976]}
      - {name: b, field: called, operation: prefix, quantifier: any, entries: [{x: 1}]}
  - kind: accesscontrol_rule
    source: rules.csv
"""


def test_lists_from_yaml_and_from_csv_cells(tmp_path: Path) -> None:
    csv = "name,field,operation,quantifier,entries\nc,calling,prefix,any,1800; 1888\n"
    plan, diagnostics = check(tmp_path, RULES, rules=csv)
    assert errors(diagnostics) == [(6, "BX114", "entries is not a list of values")]
    yaml_step, csv_step = plan.steps
    assert [i.values.get("entries") for i in yaml_step.items()] == [["1900", "1976"], None]
    assert [i.values["entries"] for i in csv_step.items()] == [["1800", "1888"]]


def test_an_item_to_delete_needs_only_its_key(tmp_path: Path) -> None:
    _, diagnostics = check(
        tmp_path,
        """
steps:
  - kind: accesscontrol_rule
    items: [{name: a, ensure: absent}]
  - kind: conference.meeting_room
    items: [{endpoint: conf, description: weekly, ensure: absent}, {endpoint: conf,
             description: daily}]
""",
    )
    # Only the step that also creates a room misses the room's required fields.
    assert errors(diagnostics) == [
        (5, "BX111", "step conference.meeting_room#2: required field 'subscriber' is missing"),
        (5, "BX111", "step conference.meeting_room#2: required field 'did_group' is missing"),
    ]


def test_v1_access_codes_are_unique_per_endpoint(tmp_path: Path) -> None:
    _, diagnostics = check(
        tmp_path,
        """
steps:
  - kind: conference.meeting_room
    items:
      - {endpoint: conf, description: a, subscriber: s, did_group: g, host_code: "11"}
      - {endpoint: conf, description: b, subscriber: s, did_group: g, listener_code: "11"}
      - {endpoint: other, description: c, subscriber: s, did_group: g, host_code: "11"}
""",
    )
    (problem,) = errors(diagnostics)
    assert problem[:2] == (6, "BX140")
    assert "access code 11 of room 'b' collides with host_code of room 'a'" in problem[2]


def test_duplicate_keys_are_per_endpoint(tmp_path: Path) -> None:
    _, diagnostics = check(
        tmp_path,
        """
steps:
  - kind: mediator.binding
    items:
      - {endpoint: a, name: support, destination_did: "12125550100"}
      - {endpoint: b, name: support, destination_did: "12125550100"}
      - {endpoint: a, name: support, destination_did: "12125550101"}
""",
    )
    assert [(line, code) for line, code, _ in errors(diagnostics)] == [(7, "BX120")]
