"""Live meetings and calls on the Conference v2 and v1 mounts, over real HTTP: seeded into
existing meeting rooms, then listed, changed and ended as a CarrierX client would."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from bulkx.cli.main import app
from bulkx.sandbox import assumptions
from bulkx.sandbox.resources.live_meeting_seeding import seed_live_meetings
from bulkx.sandbox.resources.live_meetings import SEEDED_ROLES
from tests.conftest import Sandbox
from tests.sandbox.support import error_fields, error_of, ok
from tests.sandbox.test_conference_v2 import client_for, make_endpoint, room_body

pytestmark = pytest.mark.timeout(30)

V1 = "/conference/v1"
V2 = "/conference/v2"
CALLERS = len(SEEDED_ROLES)


def _v2_endpoint(
    stack: contextlib.ExitStack, sandbox: Sandbox, name: str, rooms: int, code: str
) -> httpx.Client:
    with sandbox.core() as core:
        endpoint = make_endpoint(core, name)
    conf = stack.enter_context(client_for(sandbox, endpoint))
    for index in range(rooms):
        body = room_body(f"room {index}", (f"{code}{index}", "host"))
        ok(conf.post("/meeting_rooms", json=body))
    return conf


def _v1_endpoint(
    stack: contextlib.ExitStack, sandbox: Sandbox, name: str, rooms: int
) -> httpx.Client:
    with sandbox.core() as core:
        endpoint = make_endpoint(core, name, "conference")
    conf = stack.enter_context(client_for(sandbox, endpoint, V1))
    group = ok(conf.post("/didGroups", json={"name": "main", "callFlowId": 1}))
    for index in range(rooms):
        body = {"description": f"room {index}", "primaryDidGroupId": group["id"]}
        ok(conf.post("/meetingRooms", json=body))
    return conf


@pytest.fixture
def seeded(sandbox: Sandbox) -> Iterator[dict[str, httpx.Client]]:
    """Two v2 endpoints (3 rooms, 1 room), a v1 endpoint (3 rooms) and a v2 one without rooms;
    two meetings are seeded per endpoint."""
    with contextlib.ExitStack() as stack:
        clients = {
            "v2": _v2_endpoint(stack, sandbox, "live v2 a", 3, "11"),
            "v2 small": _v2_endpoint(stack, sandbox, "live v2 b", 1, "22"),
            "v1": _v1_endpoint(stack, sandbox, "live v1 c", 3),
            "v2 empty": _v2_endpoint(stack, sandbox, "live v2 d", 0, "33"),
        }
        started = seed_live_meetings(sandbox.world, 2)
        assert started == {"meetings": 5, "calls": 5 * CALLERS}
        yield clients


def items(response: httpx.Response) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = ok(response)["items"]
    return found


# --- Conference v2 ------------------------------------------------------------------------------


def test_v2_meetings_and_calls_are_listed_per_account(seeded: dict[str, httpx.Client]) -> None:
    conf = seeded["v2"]
    rooms = items(conf.get("/meeting_rooms"))
    meetings = items(conf.get("/meetings"))
    assert [m["meeting_room_sid"] for m in meetings] == [r["meeting_room_sid"] for r in rooms[:2]]
    assert set(meetings[0]) == set(assumptions.CONFERENCE_V2_MEETING_FIELDS)
    assert {m["participants"] for m in meetings} == {CALLERS}
    calls = items(conf.get("/calls", params={"limit": 100}))
    assert len(calls) == 2 * CALLERS
    assert set(calls[0]) == set(assumptions.CONFERENCE_V2_CALL_FIELDS)
    assert sorted(c["role"] for c in calls if c["meeting_sid"] == meetings[0]["meeting_sid"]) == (
        sorted(SEEDED_ROLES)
    )
    assert {(c["muted"], c["on_hold"], c["state"]) for c in calls} == {(False, False, "connected")}
    assert len(items(seeded["v2 small"].get("/meetings"))) == 1
    assert items(seeded["v2 empty"].get("/meetings")) == []
    assert items(seeded["v2 empty"].get("/calls")) == []

    one = ok(conf.get(f"/calls/{calls[0]['call_sid']}"))
    assert one == calls[0]
    assert ok(conf.get(f"/meetings/{meetings[0]['meeting_sid']}")) == meetings[0]
    # Filters work as on any list; another account's call is not found.
    host = items(conf.get("/calls", params={"filter": 'role eq "host"'}))
    assert len(host) == 2
    error_of(seeded["v2 small"].get(f"/calls/{calls[0]['call_sid']}"), 404)


def test_v2_patch_mutes_holds_and_hangs_up(seeded: dict[str, httpx.Client]) -> None:
    conf = seeded["v2 small"]
    (meeting,) = items(conf.get("/meetings"))
    first, second, third = items(conf.get("/calls"))

    muted = ok(conf.patch(f"/calls/{first['call_sid']}", json={"muted": True, "on_hold": True}))
    assert (muted["muted"], muted["on_hold"], muted["state"]) == (True, True, "connected")
    assert ok(conf.get(f"/calls/{first['call_sid']}"))["muted"] is True

    assert error_fields(conf.patch(f"/calls/{first['call_sid']}", json={"muted": "yes"}), 422) == {
        "muted"
    }
    assert error_fields(conf.patch(f"/calls/{first['call_sid']}", json={"role": "host2"}), 422) == {
        "role"
    }
    assert error_fields(conf.patch(f"/calls/{first['call_sid']}", json={"state": "gone"}), 422) == {
        "state"
    }
    error_of(conf.patch("/calls/no-such-call", json={"muted": True}), 404)
    # The docs list no DELETE for a v2 call: ending one is a PATCH of its state.
    error_of(conf.delete(f"/calls/{first['call_sid']}"), 405)

    end = {"state": assumptions.CONFERENCE_V2_CALL_END_STATE}
    ended = ok(conf.patch(f"/calls/{first['call_sid']}", json=end))
    assert ended["state"] == assumptions.CONFERENCE_V2_CALL_END_STATE
    error_of(conf.get(f"/calls/{first['call_sid']}"), 404)
    assert ok(conf.get(f"/meetings/{meeting['meeting_sid']}"))["participants"] == CALLERS - 1

    for call in (second, third):
        ok(conf.patch(f"/calls/{call['call_sid']}", json=end))
    # The last call out ends the meeting.
    error_of(conf.get(f"/meetings/{meeting['meeting_sid']}"), 404)
    assert items(conf.get("/meetings")) == []


def test_v2_meeting_patch_and_delete(seeded: dict[str, httpx.Client]) -> None:
    conf = seeded["v2"]
    meeting = items(conf.get("/meetings"))[-1]
    sid = meeting["meeting_sid"]

    locked = ok(conf.patch(f"/meetings/{sid}", json={"locked": True, "properties": {"a": "1"}}))
    assert (locked["locked"], locked["properties"]) == (True, {"a": "1"})
    assert error_fields(conf.patch(f"/meetings/{sid}", json={"participants": 9}), 422) == {
        "participants"
    }
    assert error_fields(conf.patch(f"/meetings/{sid}", json={"colour": "red"}), 422) == {"colour"}
    error_of(conf.put(f"/meetings/{sid}", json={"locked": False}), 405)
    error_of(conf.delete("/meetings/no-such-meeting"), 404)

    assert conf.delete(f"/meetings/{sid}").status_code == 204
    error_of(conf.get(f"/meetings/{sid}"), 404)
    assert [
        c for c in items(conf.get("/calls", params={"limit": 100})) if c["meeting_sid"] == sid
    ] == []
    assert len(items(conf.get("/meetings"))) == 1


# --- Conference v1 ------------------------------------------------------------------------------


def test_v1_meetings_calls_and_attributes(seeded: dict[str, httpx.Client]) -> None:
    conf = seeded["v1"]
    rooms = items(conf.get("/meetingRooms"))
    meetings = items(conf.get("/meetings"))
    assert [m["meetingNumber"] for m in meetings] == [r["meetingNumber"] for r in rooms[:2]]
    assert set(meetings[0]) == set(assumptions.CONFERENCE_V1_MEETING_FIELDS)
    assert meetings[0]["participants"] == CALLERS
    number = meetings[0]["meetingNumber"]
    assert ok(conf.get(f"/meetings/{number}")) == meetings[0]
    error_of(conf.get(f"/meetings/{rooms[2]['meetingNumber']}"), 404)  # an idle room

    calls = items(conf.get("/calls", params={"filter": f"meetingNumber eq {number}"}))
    assert set(calls[0]) == set(assumptions.CONFERENCE_V1_CALL_FIELDS)
    roles = assumptions.CONFERENCE_V1_CALL_ROLE_NUMBERS
    assert sorted(c["role"] for c in calls) == sorted(roles[r] for r in SEEDED_ROLES)
    first = calls[0]
    assert ok(conf.get(f"/calls/{first['id']}")) == first

    held = ok(conf.put(f"/calls/{first['id']}", json={"onHold": True}))
    assert (held["onHold"], held["muted"]) == (True, False)  # PUT is partial
    assert error_fields(
        conf.put(f"/calls/{first['id']}", json={"role": 1 + first["role"] % 3}), 422
    ) == {"role"}
    error_of(conf.put("/calls/999999", json={"muted": True}), 404)
    error_of(conf.patch(f"/calls/{first['id']}", json={"muted": True}), 405)

    attributes = items(conf.get(f"/meetings/{number}/attributes"))
    assert {a["name"] for a in attributes} == set(assumptions.CONFERENCE_V1_MEETING_ATTRIBUTES)
    changed = ok(conf.put(f"/meetings/{number}/attributes/locked", json={"value": "true"}))
    assert changed["value"] == "true"
    assert {a["name"]: a["value"] for a in ok(conf.get(f"/meetings/{number}"))["attributes"]}[
        "locked"
    ] == "true"
    status = assumptions.CONFERENCE_V1_ATTRIBUTE_VALUE_STATUS
    assert error_fields(
        conf.put(f"/meetings/{number}/attributes/locked", json={"value": "x"}), status
    ) == {"value"}
    assert error_fields(
        conf.put(f"/meetings/{number}/attributes/locked", json={"name": "y"}), 422
    ) == {"name"}
    error_of(conf.put(f"/meetings/{number}/attributes/colour", json={"value": "red"}), 404)
    error_of(conf.get("/meetings/999999/attributes"), 404)

    assert conf.delete(f"/calls/{first['id']}").status_code == 204
    error_of(conf.get(f"/calls/{first['id']}"), 404)
    error_of(conf.delete(f"/calls/{first['id']}"), 404)
    assert ok(conf.get(f"/meetings/{number}"))["participants"] == CALLERS - 1

    assert conf.delete(f"/meetings/{number}").status_code == 204
    error_of(conf.get(f"/meetings/{number}"), 404)
    error_of(conf.delete(f"/meetings/{number}"), 404)
    assert items(conf.get("/calls", params={"filter": f"meetingNumber eq {number}"})) == []
    assert len(items(conf.get("/meetings"))) == 1


def test_live_objects_need_the_endpoints_credentials(sandbox: Sandbox) -> None:
    for path in (f"{V2}/calls", f"{V2}/meetings", f"{V1}/calls", f"{V1}/meetings"):
        assert httpx.get(f"{sandbox.url}{path}").status_code == 401


# --- seeding through the CLI --------------------------------------------------------------------


def test_seed_command_starts_meetings_in_idle_rooms_only(
    sandbox: Sandbox, seeded: dict[str, httpx.Client]
) -> None:
    db = str(sandbox.world.store.path)
    before = len(items(seeded["v1"].get("/meetings")))
    result = CliRunner().invoke(app, ["sandbox", "seed", "--live-meetings", "1", "--db", db])
    assert result.exit_code == 0, result.output
    assert "live meeting" in result.output
    # Rooms with a live meeting are skipped: the next idle room of each endpoint gets one.
    assert len(items(seeded["v1"].get("/meetings"))) == before + 1
    assert items(seeded["v2 empty"].get("/meetings")) == []
