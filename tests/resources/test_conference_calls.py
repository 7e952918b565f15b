"""`conference_v2.call` end to end on a served sandbox: live calls seeded into existing rooms,
exported as a plan CSV, muted and hung up by `bulkx apply`, and only with --allow-calls."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from bulkx.resources import KINDS
from bulkx.sandbox.resources.live_meetings import SEEDED_ROLES, seed_live_meetings
from tests.conftest import Sandbox
from tests.resources.cli import Bulkx, actions, write

V2 = "/conference/v2"
KIND = "conference_v2.call"

ROOMS = """
steps:
  - kind: endpoint
    items: [{name: conf2, type: conference_v2}]
  - kind: conference_v2.meeting_room
    items:
      - {endpoint: conf2, name: standup, host_code: "4411"}
      - {endpoint: conf2, name: review, host_code: "4422"}
"""


def _export(bulkx: Bulkx) -> list[dict[str, str]]:
    result = bulkx.run("export", "conference_v2.call", "--endpoint", "conf2")
    assert result.exit_code == 0, result.output
    kind_line, _, table = result.stdout.partition("\n")
    assert kind_line == "# kind: conference_v2.call"
    return list(csv.DictReader(io.StringIO(table)))


def _plan(path: Path, rows: list[dict[str, str]]) -> Path:
    out = io.StringIO()
    out.write("# kind: conference_v2.call\n")
    writer = csv.DictWriter(out, [*rows[0]], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return write(path, out.getvalue())


def test_live_calls_are_exported_muted_and_hung_up(
    tmp_path: Path, bulkx: Bulkx, sandbox: Sandbox
) -> None:
    bulkx.apply(write(tmp_path / "rooms.yaml", ROOMS))
    assert seed_live_meetings(sandbox.world, 2)["calls"] == 2 * len(SEEDED_ROLES)

    exported = _export(bulkx)
    assert [*exported[0]] == ["endpoint", "call_sid", "meeting_room", "caller", "role", "muted",
                              "on_hold"]  # fmt: skip
    assert len(exported) == 2 * len(SEEDED_ROLES)
    assert {row["meeting_room"] for row in exported} == {"standup", "review"}
    assert {(row["endpoint"], row["muted"], row["on_hold"]) for row in exported} == {
        ("conf2", "False", "False")
    }

    # The export as a plan, unchanged, is nothing to do.
    unchanged = _plan(tmp_path / "unchanged.csv", exported)
    bulkx.validate(unchanged)
    assert bulkx.changes(unchanged) == []

    first, second, third = exported[:3]  # the standup meeting's three callers
    edited = [{**row, "ensure": "present"} for row in exported]
    edited[0]["muted"] = edited[1]["muted"] = "true"
    edited[2]["ensure"] = "absent"
    plan = _plan(tmp_path / "calls.csv", edited)
    bulkx.validate(plan)
    keys = [f"conf2/{row['call_sid']}" for row in (first, second, third)]

    # Without --allow-calls every change is blocked, and apply changes nothing.
    blocked = bulkx.changes(plan, "--allow-release")
    assert actions(blocked) == sorted(("blocked", KIND, key) for key in keys)
    assert {c["hint"] for c in blocked} == {
        "a conference_v2.call is changed only with --allow-calls"
    }
    refused = bulkx.run("apply", str(plan), "--yes", "--allow-release")
    assert refused.exit_code == 2, refused.output
    assert len(bulkx.get("/calls", V2, "conf2")) == 2 * len(SEEDED_ROLES)
    assert not any(call["muted"] for call in bulkx.get("/calls", V2, "conf2"))

    # Hanging up is a delete: it also needs --allow-release.
    assert actions(bulkx.changes(plan, "--allow-calls")) == sorted(
        [
            ("blocked", KIND, keys[2]),
            ("update", "conference_v2.call", keys[0]),
            ("update", KIND, keys[1]),
        ]
    )
    assert actions(bulkx.changes(plan, "--allow-calls", "--allow-release")) == sorted(
        [
            ("release", KIND, keys[2]),
            ("update", "conference_v2.call", keys[0]),
            ("update", KIND, keys[1]),
        ]
    )

    bulkx.apply(plan, "--allow-calls", "--allow-release")  # then the plan shows 0 changes
    calls = {call["call_sid"]: call for call in bulkx.get("/calls", V2, "conf2")}
    assert len(calls) == 2 * len(SEEDED_ROLES) - 1
    assert third["call_sid"] not in calls
    assert calls[first["call_sid"]]["muted"] and calls[second["call_sid"]]["muted"]
    assert sum(call["muted"] for call in calls.values()) == 2
    meetings = {m["meeting_sid"]: m for m in bulkx.get("/meetings", V2, "conf2")}
    assert meetings[calls[first["call_sid"]]["meeting_sid"]]["participants"] == 2

    # A plan that still wants the hung-up call: it cannot come back.
    gone = _plan(tmp_path / "gone.csv", [{**third, "muted": "true"}])
    (change,) = bulkx.changes(gone, "--allow-calls")
    assert (change["action"], change["hint"]) == (
        "blocked",
        KINDS["conference_v2.call"].missing_hint,
    )
