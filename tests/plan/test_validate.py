"""Validation: each check, exact positions, normalised values written back."""

from __future__ import annotations

import polars as pl
import pytest

from bulkx.kinds import registry
from bulkx.kinds.model import Kind, PlanField
from bulkx.plan import numbers
from bulkx.plan.validate import step_order, validate
from tests.plan.conftest import Check, where


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+1 (516) 206-5575", "15162065575"),
        ("516-206-5575", "15162065575"),
        ("15162065575", "15162065575"),
        ("+15162065575", "15162065575"),
        ("516.206.5575", "15162065575"),
        (" (516) 206 5575 ", "15162065575"),
        ("+44 20 7183 8750", "442071838750"),
    ],
)
def test_normalise_accepts(raw: str, expected: str) -> None:
    frame = numbers.normalise_e164(pl.Series([raw]))
    assert frame.row(0) == (expected, None)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("516-206-557", numbers.NEEDS_PLUS),
        ("442071838750", numbers.NEEDS_PLUS),
        ("+1 516 206 557", numbers.BAD_LENGTH),
        ("+12", numbers.BAD_LENGTH),
        ("0162065575", numbers.BAD_NANP),
        ("5161065575", numbers.BAD_NANP),
        ("516-CALL-NOW", numbers.BAD_CHARS),
        ("tel:5162065575", numbers.BAD_CHARS),
        ("2112065575", numbers.INVALID),
        ("+999 1234 5678", numbers.INVALID),
    ],
)
def test_normalise_rejects(raw: str, problem: str) -> None:
    assert numbers.normalise_e164(pl.Series([raw]))["problem"][0] == problem


def test_normalise_keeps_nulls_and_empties() -> None:
    frame = numbers.normalise_e164(pl.Series([None, "", "5162065575"], dtype=pl.String))
    assert frame.rows() == [(None, None), (None, None), ("15162065575", None)]


def test_typed_values_written_back(check: Check) -> None:
    text = """\
steps:
  - kind: trunk
    items:
      - {trunk_group: tg, name: t, priority: "7", weight: 3}
  - kind: trunk_group
    items: [{name: tg, hard_failure_cooldown: 10}]
  - kind: did_emergency
    items:
      - phonenumber: 5162065575
        enabled: "Yes"
        address_1: 1 Main St
        city: Hempstead
        state: ny
        zip: 11550
        country_code: usa
"""
    plan, diagnostics = check(text)
    assert diagnostics == []
    assert plan is not None
    trunk = plan.steps[0].rows.row(0, named=True)
    assert (trunk["priority"], trunk["weight"]) == (7, 3)
    e911 = plan.steps[2].rows.row(0, named=True)
    assert e911["phonenumber"] == "15162065575"
    assert e911["enabled"] is True
    assert (e911["state"], e911["zip"], e911["country_code"]) == ("NY", "11550", "USA")
    valid, again = validate(plan)
    assert valid is not None and again == []
    assert next(s.name for s in step_order(valid)) == "trunk_group#2"


def test_each_value_error_with_yaml_position(check: Check) -> None:
    text = """\
steps:
  - kind: trunk
    items:
      - trunk_group: tg
        name: t
        priority: high
        codec: ULAW
  - kind: trunk_group
    items: [{name: tg}]
  - kind: did
    items:
      - phonenumber: 516-206-557
        callback_url: ftp://example.com
        attributes: "[1]"
  - kind: did_emergency
    items:
      - phonenumber: "5162065575"
        enabled: maybe
        address_1: ""
        city: X
        state: XX
        zip: "1234"
        country_code: US
        caller_name: A name longer than thirty-two characters
"""
    _, diagnostics = check(text)
    assert where(diagnostics) == [
        ("plan.yaml", 6, 19, "BX103"),
        ("plan.yaml", 7, 16, "BX102"),
        ("plan.yaml", 12, 22, "BX101"),
        ("plan.yaml", 13, 23, "BX108"),
        ("plan.yaml", 14, 21, "BX113"),
        ("plan.yaml", 18, 18, "BX104"),
        ("plan.yaml", 19, 20, "BX112"),
        ("plan.yaml", 21, 16, "BX105"),
        ("plan.yaml", 22, 14, "BX106"),
        ("plan.yaml", 23, 23, "BX107"),
        ("plan.yaml", 24, 22, "BX110"),
    ]
    codec = next(d for d in diagnostics if d.code == "BX102")
    codecs = ", ".join(registry.KINDS["trunk"].by_name["codec"].choices)
    assert codec.hint == f"did you mean 'ulaw'? (one of: {codecs})"
    assert all(d.hint for d in diagnostics)


def test_csv_value_errors_positioned_by_row_and_field(check: Check) -> None:
    csv = (
        "phonenumber,address_1,city,state,zip\n"
        "5162065575,1 Main,Hempstead,NY,11550\n"
        "5162065576,,Hempstead,NY,11550\n"
        "5162065577,2 Main,Hempstead,New York,11550-12\n"
    )
    _, diagnostics = check(csv, name="e911.csv", kind="did_emergency")
    assert where(diagnostics) == [
        ("e911.csv", 3, 2, "BX112"),
        ("e911.csv", 4, 4, "BX105"),
        ("e911.csv", 4, 5, "BX106"),
    ]


def test_required_column_missing(check: Check) -> None:
    _, diagnostics = check("phonenumber,city\n5162065575,X\n", name="e.csv", kind="did_emergency")
    assert [d.message.split(": ", 1)[1] for d in diagnostics] == [
        "required field 'address_1' is missing",
        "required field 'state' is missing",
        "required field 'zip' is missing",
    ]


def test_duplicates_within_and_across_steps(check: Check) -> None:
    text = """\
steps:
  - kind: did
    items:
      - phonenumber: "+1 (516) 206-5575"
      - phonenumber: 516-206-5575
  - kind: did
    source: more.csv
"""
    _, diagnostics = check(text, more_csv="phonenumber\n15162065575\n15162065576\n")
    assert where(diagnostics) == [("more.csv", 2, 1, "BX120"), ("plan.yaml", 5, 22, "BX120")]
    assert all("also at " in d.message and "plan.yaml:4:22" in d.message for d in diagnostics)


def test_trunks_with_same_name_in_different_groups_are_fine(check: Check) -> None:
    text = """\
steps:
  - kind: trunk_group
    items: [{name: a}, {name: b}]
  - kind: trunk
    items: [{trunk_group: a, name: t}, {trunk_group: b, name: t}, {trunk_group: b, name: t}]
"""
    _, diagnostics = check(text)
    assert where(diagnostics) == [("plan.yaml", 5, 90, "BX120")]


def test_references(check: Check) -> None:
    text = """\
steps:
  - kind: did
    items:
      - {phonenumber: "5162065575", trunk_group: acme-sp}
      - {phonenumber: "5162065576", trunk_group: acme-sp}
  - kind: trunk_group
    items: [{name: acme-sip}]
  - kind: trunk
    items: [{trunk_group: acme-sip, name: t, endpoint: pbx}]
"""
    _, diagnostics = check(text)
    assert where(diagnostics) == [("plan.yaml", 4, 50, "BX130"), ("plan.yaml", 9, 56, "BX130")]
    assert {d.severity for d in diagnostics} == {"warning"}
    assert "did you mean 'acme-sip'?" in (diagnostics[0].hint or "")


def test_parent_reference_without_any_parent_step_must_already_exist(check: Check) -> None:
    # A plan of trunks alone (`bulkx export trunk`) names trunk groups that exist live.
    _, diagnostics = check("steps:\n  - kind: trunk\n    items: [{trunk_group: tg, name: t}]\n")
    assert [(d.code, d.severity) for d in diagnostics] == [("BX130", "warning")]
    assert "(it must already exist)" in diagnostics[0].message
    assert where(diagnostics) == [("plan.yaml", 3, 27, "BX130")]


def test_template_reference_is_checked(check: Check) -> None:
    text = "steps:\n  - kind: did\n    count: 2\n    template: {trunk_group: tg}\n"
    _, diagnostics = check(text)
    assert [(d.position.line, d.position.column, d.severity) for d in diagnostics] == [
        (4, 29, "warning")
    ]


def test_dependency_cycle(check: Check, monkeypatch: pytest.MonkeyPatch) -> None:
    # No shipped kinds can form a cycle, so two test kinds reference each other.
    ping = Kind(
        "ping",
        "core",
        "/ping",
        "sid",
        "name",
        (PlanField("name"), PlanField("pong", reference="pong")),
        "test",
    )
    pong = Kind(
        "pong",
        "core",
        "/pong",
        "sid",
        "name",
        (PlanField("name"), PlanField("ping", reference="ping")),
        "test",
    )
    monkeypatch.setitem(registry.KINDS, "ping", ping)
    monkeypatch.setitem(registry.KINDS, "pong", pong)
    text = """\
steps:
  - kind: ping
    name: first
    items: [{name: a, pong: b}]
  - kind: pong
    name: second
    items: [{name: b, ping: a}]
"""
    _, diagnostics = check(text)
    assert [d.code for d in diagnostics] == ["BX131"]
    assert "first" in diagnostics[0].message and "second" in diagnostics[0].message


def test_access_code_collisions(check: Check) -> None:
    text = """\
steps:
  - kind: endpoint
    items: [{name: conf, type: conference_v2}, {name: other, type: conference_v2}]
  - kind: conference_v2.meeting_room
    source: rooms.csv
  - kind: conference_v2.meeting_room
    items:
      - {endpoint: conf, name: c, host_code: "2001"}
      - {endpoint: other, name: d, host_code: "1001"}
"""
    rooms = "endpoint,name,host_code,participant_code\nconf,a,1001,2001\nconf,b,1001,3001\n"
    _, diagnostics = check(text, rooms_csv=rooms)
    assert where(diagnostics) == [("plan.yaml", 8, 46, "BX140"), ("rooms.csv", 3, 3, "BX140")]
    assert "rooms.csv:2:3" in diagnostics[0].message or "rooms.csv:2:3" in diagnostics[1].message


def test_many_bad_rows_are_capped(check: Check) -> None:
    csv = "phonenumber\n" + "bad\n" * 200
    _, diagnostics = check(csv, name="d.csv", kind="did")
    assert len(diagnostics) == 51
    assert diagnostics[-1].message.startswith("... and 150 more")


def test_validate_twice_is_idempotent(check: Check) -> None:
    plan, diagnostics = check("phonenumber,name\n+1 516 206 5575,x\n", name="d.csv", kind="did")
    assert plan is not None and diagnostics == []
    before = plan.steps[0].rows
    again, found = validate(plan)
    assert again is not None and found == []
    assert again.steps[0].rows.equals(before)


def test_bad_default_points_at_the_defaults_key(check: Check) -> None:
    text = "steps:\n  - kind: did\n    source: n.csv\n    defaults: {ensure: maybe}\n"
    _, diagnostics = check(text, n_csv="phonenumber\n5162065575\n5162065576\n")
    # One problem in the defaults is one diagnostic, however many rows it fills.
    assert where(diagnostics) == [("plan.yaml", 4, 24, "BX102")]


def test_a_number_field_named_like_the_normaliser_s_own_columns(
    check: Check, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `number` and `problem` are the columns phone number normalisation works with.
    caller = Kind(
        "caller",
        "core",
        "/callers",
        "sid",
        "number",
        (PlanField("number", "e164"), PlanField("problem")),
        "test",
    )
    monkeypatch.setitem(registry.KINDS, "caller", caller)
    plan, diagnostics = check(
        "number,problem\n+1 (516) 206-5575,none\n12,bad\n", name="c.csv", kind="caller"
    )
    assert plan is not None
    assert [(d.code, d.position.line) for d in diagnostics] == [("BX101", 3)]
    assert plan.steps[0].rows["number"].to_list() == ["15162065575", None]


def test_a_kind_s_defaults_are_part_of_what_the_plan_wants(check: Check) -> None:
    plan, diagnostics = check(
        "phonenumber,address_1,city,state,zip\n+15162065575,1 Main St,Albany,NY,12207\n",
        name="e911.csv",
        kind="did_emergency",
    )
    assert plan is not None and not diagnostics
    (item,) = list(plan.steps[0].items())
    # An E911 record the plan does not switch off is enabled, in the USA.
    assert item.values["enabled"] is True and item.values["country_code"] == "USA"
