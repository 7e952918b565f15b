"""Changesets as people and machines read them."""

from __future__ import annotations

import csv
import io
import json

from bulkx.cli.render import render_csv, render_jsonl, to_text
from bulkx.diff.changes import Changeset
from bulkx.diff.engine import diff
from bulkx.diff.state import LiveState
from tests.diff.test_engine import live_with, plan, step


def _changeset() -> Changeset:
    live = live_with(
        ("trunk_group", "tg", {"name": "acme-sip"}),
        ("did", "d1", {"phonenumber": "15162065575", "name": "old name", "trunk_group": None}),
    )
    live.available["15162065576"] = "0.6"
    desired = plan(
        step(
            "did",
            [
                {"phonenumber": "15162065575", "name": "front desk", "trunk_group": "acme-sip"},
                {"phonenumber": "15162065576", "name": "fax"},
                {"phonenumber": "15162065577", "ensure": "adopted"},
            ],
            name="numbers",
        ),
    )
    return Changeset("plans/x.yaml", "d", "the embedded sandbox", tuple(diff(desired, live)))


def test_text_reads_well_at_80_columns() -> None:
    text = to_text(_changeset())
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "~ did 15162065575" in text
    assert "name: old name -> front desk" in text
    assert "trunk_group: null -> acme-sip" in text
    assert "+ did 15162065576  $0.6/mo" in text
    assert "! did 15162065577  blocked" in text
    assert "Monthly cost of new rentals: $0.60" in text
    assert "1 to create, 0 to rent, 1 to update, 0 to release; 0 unchanged; 1 blocked." in text


def test_csv_has_one_row_per_changed_field() -> None:
    out = io.StringIO()
    render_csv(_changeset(), out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    updates = [r for r in rows if r["action"] == "update"]
    assert {r["field"] for r in updates} == {"name", "trunk_group"}
    assert {r["action"] for r in rows} == {"update", "create", "blocked"}


def test_jsonl_is_a_header_then_one_change_per_line() -> None:
    out = io.StringIO()
    render_jsonl(_changeset(), out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0]["type"] == "changeset"
    assert lines[0]["schema_version"] == 1
    assert [line["action"] for line in lines[1:]] == ["update", "create", "blocked"]


def test_nothing_to_do_says_so() -> None:
    changeset = Changeset("p.yaml", "d", "sandbox", tuple(diff(plan(step("did", [])), LiveState())))
    assert not changeset.has_changes
    assert "0 to create, 0 to rent, 0 to update, 0 to release; 0 unchanged." in to_text(changeset)


def test_json_is_exactly_the_stdlib_indented_text() -> None:
    """`render_json` encodes plain containers in C; the text is json.dumps(indent=2)'s, byte
    for byte, whatever the values (escapes, non-ASCII, floats, tuples, empty containers,
    objects written by str(), keys that are not strings)."""
    from datetime import UTC, datetime
    from pathlib import Path

    from bulkx.cli.render import render_json
    from bulkx.json_text import indented_json

    awkward = {
        "text": 'quote " back\\slash \x1b[2J \u202e é 中 \U0001f600 \x7f\t\n',
        "numbers": [0, -1, 2**70, 1.5, 1e16, 1e-7, float("inf"), True, False, None],
        "empty": [{}, [], (), {"inner": {}}],
        "nested": {"a": [{"b": [1, [2, [3]]]}], "c": ({"d": None},)},
        "objects": [Path("plans/x.yaml"), datetime(2026, 12, 7, tzinfo=UTC)],
        "é key": {"\x00": "nul"},
    }
    int_keys = {"n": {1: "int key", None: "x"}, 2.5: {True: [1, [2]]}}
    document: object
    for document in (awkward, int_keys, [], "alone", 3, None):
        assert indented_json(document) == json.dumps(document, indent=2, default=str)
    changeset = _changeset()
    out = io.StringIO()
    render_json(changeset, out)
    assert out.getvalue() == json.dumps(changeset.as_dict(), indent=2, default=str) + "\n"


def test_a_run_of_flat_changes_is_the_stdlib_text() -> None:
    """`indented_joined` encodes a run of flat dicts as one list and makes the separators
    between them line breaks; a string holding that very separator stays a string."""
    from bulkx.json_text import indented_joined

    flat = {"action": "noop", "key": "},\n      {", "line": 3, "sid": None, "ok": True}
    items = [flat, {}, flat, {"nested": {"a": 1}}, "alone", flat, flat, {"f": 1.5, 2: "k"}]
    for start in range(len(items)):
        for end in range(start + 1, len(items) + 1):
            part = items[start:end]
            expected = json.dumps(part, indent=2, default=str)
            assert "[\n  " + indented_joined(part, 1) + "\n]" == expected, part
    assert indented_joined([], 1) == ""
