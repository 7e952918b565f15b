"""Conference v1 and v2 kinds end to end through `bulkx apply` on a served sandbox."""

from __future__ import annotations

from pathlib import Path

from tests.kinds.cli import Bulkx, actions, write

V1 = "/conference/v1"

V1_CREATE = """
steps:
  - kind: endpoint
    items: [{name: conf1, type: conference}]
  - kind: conference.subscriber
    items: [{endpoint: conf1, email: ana@example.com, name: Ana, phonenumber: "+1 212 555 0100"}]
  - kind: conference.did_group
    items: [{endpoint: conf1, name: main, call_flow_id: 1, description: Main line}]
  - kind: conference.meeting_room
    items: [{endpoint: conf1, description: weekly, subscriber: ana@example.com, did_group: main,
             host_code: "1111", participant_code: "2222"}]
  - kind: conference.did
    items: [{endpoint: conf1, phonenumber: "+1 212 555 0101", did_group: main, country_code: US}]
"""

V1_UPDATE = """
steps:
  - kind: conference.subscriber
    items: [{endpoint: conf1, email: ana@example.com, name: Ana Lima}]
  - kind: conference.did_group
    items:
      - {endpoint: conf1, name: main, call_flow_id: 2, description: Main line}
      - {endpoint: conf1, name: backup, call_flow_id: 1}
  - kind: conference.meeting_room
    items: [{endpoint: conf1, description: weekly, subscriber: ana@example.com,
             did_group: backup, host_code: "1111", participant_code: "2233",
             listener_code: "3333"}]
  - kind: conference.did
    items: [{endpoint: conf1, phonenumber: "12125550101", did_group: backup,
             description: spare}]
"""

V1_DELETE = """
steps:
  - kind: conference.subscriber
    items: [{endpoint: conf1, email: ana@example.com, ensure: absent}]
  - kind: conference.did_group
    items: [{endpoint: conf1, name: main, ensure: absent}, {endpoint: conf1, name: backup,
             ensure: absent}]
  - kind: conference.meeting_room
    items: [{endpoint: conf1, description: weekly, ensure: absent}]
  - kind: conference.did
    items: [{endpoint: conf1, phonenumber: "12125550101", ensure: absent}]
"""


def test_conference_v1_kinds_round_trip(tmp_path: Path, bulkx: Bulkx) -> None:
    create = write(tmp_path / "create.yaml", V1_CREATE)
    update = write(tmp_path / "update.yaml", V1_UPDATE)
    delete = write(tmp_path / "delete.yaml", V1_DELETE)

    bulkx.apply(create)
    (subscriber,) = bulkx.get("/subscribers", V1, "conf1")
    assert (subscriber["name"], subscriber["phoneNumber"]) == ("Ana", "12125550100")
    (room,) = bulkx.get(f"/subscribers/{subscriber['sid']}/meetingRooms", V1, "conf1")
    codes = sorted((key["role"], key["accessCode"]) for key in room["keychain"])
    assert codes == [(1, "1111"), (2, "2222")]

    assert actions(bulkx.changes(update)) == [
        ("create", "conference.did_group", "conf1/backup"),
        ("update", "conference.did", "conf1/12125550101"),
        ("update", "conference.did_group", "conf1/main"),
        ("update", "conference.meeting_room", "conf1/weekly"),
        ("update", "conference.subscriber", "conf1/ana@example.com"),
    ]
    bulkx.apply(update)
    groups = {g["name"]: g for g in bulkx.get("/didGroups", V1, "conf1")}
    (room,) = bulkx.get("/meetingRooms", V1, "conf1")
    assert room["primaryDidGroupId"] == groups["backup"]["id"]
    assert groups["main"]["callFlowId"] == 2
    codes = sorted((key["role"], key["accessCode"]) for key in room["keychain"])
    assert codes == [(1, "1111"), (2, "2233"), (3, "3333")]
    (did,) = bulkx.get("/dids", V1, "conf1")
    assert (did["didGroupId"], did["description"]) == (groups["backup"]["id"], "spare")

    # A release carries what the live object names (its DID group), so that the group's release
    # waits for it: the API refuses to delete a DID group still in use.
    released = {c["key"]: c["values"] for c in bulkx.changes(delete, "--allow-release")}
    assert released["conf1/12125550101"]["did_group"] == "backup"
    bulkx.apply(delete, "--allow-release")
    for path in ("/subscribers", "/didGroups", "/meetingRooms", "/dids"):
        assert bulkx.get(path, V1, "conf1") == [], path


V2_CREATE = """
steps:
  - kind: endpoint
    items: [{name: conf2, type: conference_v2}]
  - kind: conference_v2.did_group
    items: [{endpoint: conf2, name: sales}]
  - kind: conference_v2.meeting_room
    items: [{endpoint: conf2, name: standup, did_group: sales, host_code: "4411"}]
"""

V2_ACCOUNT = """
steps:
  - kind: conference_v2.call_flow
    items: [{endpoint: conf2, name: open}]
  - kind: conference_v2.account
    items: [{endpoint: conf2, name: Sales conferences, call_flow: open}]
"""


def test_conference_v2_account_is_updated_once_its_endpoint_exists(
    tmp_path: Path, bulkx: Bulkx
) -> None:
    bulkx.apply(write(tmp_path / "create.yaml", V2_CREATE))
    account = write(tmp_path / "account.yaml", V2_ACCOUNT)
    (change,) = bulkx.changes(account)
    assert (change["action"], change["key"]) == ("update", "conf2")
    assert {c["field"]: c["new"] for c in change["changes"]} == {
        "name": "Sales conferences",
        "call_flow": "open",
    }
    bulkx.apply(account)
    (found,) = bulkx.get("/accounts", "/conference/v2", "conf2")
    flows = {
        f["call_flow_sid"]: f["name"] for f in bulkx.get("/call_flows", "/conference/v2", "conf2")
    }
    assert (found["name"], flows[found["call_flow_sid"]]) == ("Sales conferences", "open")

    missing = write(tmp_path / "missing.yaml", V2_ACCOUNT.replace("name: open}", "name: closed}"))
    (blocked,) = bulkx.changes(missing)
    assert blocked["action"] == "blocked"
    assert "secured, open" in blocked["hint"]
