"""`conference_v2.call` end to end on a served sandbox: live calls seeded into existing rooms,
exported as a plan CSV, muted and hung up by `bulkx apply`, and only with --allow-calls; a
hang-up whose outcome died with its run is looked up, not resent, by `bulkx resume`."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from bulkx.engine.crashpoints import ENV as CRASHPOINT_ENV
from bulkx.journal import JournalReader
from bulkx.kinds import KINDS
from bulkx.sandbox.resources.live_meeting_seeding import seed_live_meetings
from bulkx.sandbox.resources.live_meetings import SEEDED_ROLES
from tests.conftest import Sandbox
from tests.kinds.cli import Bulkx, actions, write

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


def _assert_exported_as_seeded(exported: list[dict[str, str]]) -> None:
    assert [*exported[0]] == [
        "endpoint",
        "call_sid",
        "meeting_room",
        "caller",
        "role",
        "muted",
        "on_hold",
    ]
    assert len(exported) == 2 * len(SEEDED_ROLES)
    assert {row["meeting_room"] for row in exported} == {"standup", "review"}
    assert {(row["endpoint"], row["muted"], row["on_hold"]) for row in exported} == {
        ("conf2", "False", "False")
    }


def _assert_blocked_until_allowed(bulkx: Bulkx, plan: Path, keys: list[str]) -> None:
    """Without --allow-calls every change is blocked, and apply changes nothing; hanging up
    (keys[2]) is a delete: it also needs --allow-release."""
    blocked = bulkx.changes(plan, "--allow-release")
    assert actions(blocked) == sorted(("blocked", KIND, key) for key in keys)
    assert {(c["hint"], c["needs"]) for c in blocked} == {
        ("a conference_v2.call is changed only with the 'calls' permission", "calls")
    }
    refused = bulkx.run("apply", str(plan), "--yes", "--allow-release")
    assert refused.exit_code == 2, refused.output
    assert len(bulkx.get("/calls", V2, "conf2")) == 2 * len(SEEDED_ROLES)
    assert not any(call["muted"] for call in bulkx.get("/calls", V2, "conf2"))

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


def test_live_calls_are_exported_muted_and_hung_up(
    tmp_path: Path, bulkx: Bulkx, sandbox: Sandbox
) -> None:
    bulkx.apply(write(tmp_path / "rooms.yaml", ROOMS))
    assert seed_live_meetings(sandbox.world, 2)["calls"] == 2 * len(SEEDED_ROLES)
    exported = _export(bulkx)
    _assert_exported_as_seeded(exported)

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
    _assert_blocked_until_allowed(
        bulkx, plan, [f"conf2/{row['call_sid']}" for row in (first, second, third)]
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
        KINDS["conference_v2.call"].creation.missing_hint,
    )


def _apply_killed_after_send(
    cwd: Path, sandbox: Sandbox, plan: Path, *flags: str
) -> subprocess.CompletedProcess[str]:
    """`bulkx apply` in a process of its own, killed (SIGKILL) as soon as its first request has
    been carried out and before its outcome is journaled: the answer is lost with the process."""
    env = {
        **os.environ,
        "CARRIERX_TOKEN": sandbox.token,
        "BULKX_HOME": str(cwd / ".bulkx"),
        CRASHPOINT_ENV: "after_send_before_response:1",
    }
    crashed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bulkx",
            "apply",
            str(plan),
            "--yes",
            *flags,
            "--base-url",
            sandbox.core_url,
        ],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    return crashed


def _requests_since(sandbox: Sandbox, since: int) -> list[dict[str, Any]]:
    """The sandbox's request log after entry `since`."""
    answer = httpx.get(
        f"{sandbox.url}/_sandbox/requests",
        params={"since": since, "limit": 1000},
        headers=sandbox.admin_headers,
    )
    answer.raise_for_status()
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_a_hang_up_whose_answer_was_lost_is_looked_up_by_get_calls_call_sid_not_resent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bulkx: Bulkx, sandbox: Sandbox
) -> None:
    """The hang-up PATCH is carried out, then the run dies before it learns so. The resumed run
    looks the call up (GET /conference/v2/calls/{call_sid}): the 404 settles it, and the PATCH
    is never sent again."""
    # Within one run a lost hang-up is just sent again (a PATCH repeats safely; the 404 settles
    # it): only a run that died with it in flight must look the call up. So the run is killed.
    monkeypatch.setenv("BULKX_HOME", str(tmp_path / ".bulkx"))  # the killed run's, and ours
    bulkx.apply(write(tmp_path / "rooms.yaml", ROOMS))
    assert seed_live_meetings(sandbox.world, 1)["calls"] == len(SEEDED_ROLES)
    host, staying, leaving = _export(bulkx)
    call_sid = leaving["call_sid"]
    plan = _plan(tmp_path / "hang-up.csv", [{**leaving, "ensure": "absent"}])
    flags = ("--allow-calls", "--allow-release")
    assert actions(bulkx.changes(plan, *flags)) == [("release", KIND, f"conf2/{call_sid}")]
    hang_up = ("PATCH", f"/conference/v2/calls/{call_sid}")
    look_up = ("GET", f"/conference/v2/calls/{call_sid}")

    runs = tmp_path / ".bulkx" / "runs"
    earlier = set(runs.glob("*.db"))
    cleared = httpx.delete(f"{sandbox.url}/_sandbox/requests", headers=sandbox.admin_headers)
    assert cleared.is_success  # from here on
    crashed = _apply_killed_after_send(tmp_path, sandbox, plan, *flags)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    before = _requests_since(sandbox, 0)
    assert [(e["method"], e["path"], e["status"]) for e in before if call_sid in e["path"]] == [
        (*hang_up, 200)
    ]
    # The call has ended, but the journal knows only that the hang-up was under way.
    assert call_sid not in {call["call_sid"] for call in bulkx.get("/calls", V2, "conf2")}
    (run_id,) = [p.stem for p in set(runs.glob("*.db")) - earlier]
    with JournalReader.open(tmp_path / ".bulkx", run_id) as journal:
        (op,) = journal.ops()
        assert op.state == "in_flight"

    resumed = bulkx.run("resume", run_id, "--yes", target=False)
    assert resumed.exit_code == 0, resumed.output
    after = _requests_since(sandbox, before[-1]["seq"])
    assert [(e["method"], e["path"], e["status"]) for e in after if call_sid in e["path"]] == [
        (*look_up, 404)
    ]
    assert not [e for e in after if e["method"] == "PATCH"]
    with JournalReader.open(tmp_path / ".bulkx", run_id) as journal:
        (op,) = journal.ops()
        assert (op.state, op.remote_sid) == ("succeeded", call_sid)
        assert op.op_id is not None
        moves = [(t.from_state, t.to_state) for t in journal.history(op.op_id)]
        assert moves[-2:] == [("in_flight", "unknown"), ("unknown", "succeeded")]
        assert journal.history(op.op_id)[-1].detail == f"reconciled: found {call_sid}"

    # Only that call ended: the meeting goes on with the other two, neither changed.
    calls = {call["call_sid"]: call for call in bulkx.get("/calls", V2, "conf2")}
    assert set(calls) == {host["call_sid"], staying["call_sid"]}
    assert not any(call["muted"] or call["on_hold"] for call in calls.values())
    (meeting,) = bulkx.get("/meetings", V2, "conf2")
    assert meeting["participants"] == 2
    assert bulkx.changes(plan, *flags) == []
