"""Routing kinds end to end, deletes included: trunk groups, trunks, endpoints, DID groups and
prefixes are created, updated and deleted through `bulkx apply` on a served sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from bulkx.diff.changes import FieldChange, Release, Update
from bulkx.engine.operations import operations
from bulkx.plan.model import Position
from tests.kinds.cli import Bulkx, actions, write

CREATE = """
steps:
  - kind: endpoint
    items: [{name: pbx-east, capacity: 10}]
  - kind: trunk_group
    items: [{name: east, hard_failure_threshold: 3}, {name: west}]
  - kind: trunk
    items: [{trunk_group: east, name: east-1, endpoint: pbx-east, priority: 1}]
  - kind: did_group
    items: [{name: support-lines}]
  - kind: prefix
    items: [{prefix: "1212555", name: NYC, trunk_group: east}]
  - kind: did
    items: [{phonenumber: "NUMBER", trunk_group: east, did_group: support-lines}]
"""

UPDATE = """
steps:
  - kind: endpoint
    items: [{name: pbx-east, capacity: 20}]
  - kind: trunk_group
    items: [{name: east, hard_failure_threshold: 5}, {name: west}]
  - kind: trunk
    items: [{trunk_group: east, name: east-1, endpoint: pbx-east, priority: 2}]
  - kind: did_group
    items: [{name: support-lines, callback_url: "https://hooks.example.com/sms"}]
  - kind: prefix
    items: [{prefix: "1212555", name: NYC (east), trunk_group: east}]
"""

#: The trunk group alone: its DID still routes to it.
DELETE_IN_USE = """
steps:
  - kind: trunk_group
    items: [{name: east, ensure: absent}]
"""

#: The DID moves to `west` in the same run: every delete waits for what stops using its object.
DELETE = """
steps:
  - kind: did
    items: [{phonenumber: "NUMBER", trunk_group: west}]
  - kind: endpoint
    items: [{name: pbx-east, ensure: absent}]
  - kind: trunk_group
    items: [{name: east, ensure: absent}]
  - kind: trunk
    items: [{trunk_group: east, name: east-1, endpoint: pbx-east, ensure: absent}]
  - kind: did_group
    items: [{name: support-lines, ensure: absent}]
  - kind: prefix
    items: [{prefix: "1212555", ensure: absent}]
"""


def _assert_updated(bulkx: Bulkx, update: Path, east_sid: str, trunk_sid: str) -> None:
    changes = bulkx.changes(update)
    assert actions(changes) == [
        ("update", "did_group", "support-lines"),
        ("update", "endpoint", "pbx-east"),
        ("update", "prefix", "1212555"),
        ("update", "trunk", "east/east-1"),
        ("update", "trunk_group", "east"),
    ]
    bulkx.apply(update)
    group = bulkx.get(f"/trunk_groups/{east_sid}")
    trunk = bulkx.get(f"/trunk_groups/{east_sid}/trunks/{trunk_sid}")
    (prefix,) = bulkx.get("/phonenumber/prefixes")
    (did_group,) = bulkx.get("/phonenumber/did_groups")
    assert (group["hard_failure_threshold"], trunk["priority"]) == (5, 2)
    (endpoint,) = [e for e in bulkx.get("/endpoints") if e["name"] == "pbx-east"]
    assert bulkx.get(f"/endpoints/{endpoint['endpoint_sid']}")["capacity"] == 20
    assert (prefix["name"], did_group["callback_url"]) == (
        "NYC (east)",
        "https://hooks.example.com/sms",
    )


def _assert_deleted_in_dependency_order(
    bulkx: Bulkx, sent: list[tuple[str, str]], number: str, sids: dict[str, str]
) -> None:
    """`sids`: the sids (read before the delete) of the objects the delete plan removes."""
    core, tg = "/core/v2", f"/core/v2/trunk_groups/{sids['east']}"
    trunk = ("DELETE", f"{tg}/trunks/{sids['trunk']}")
    # The trunk goes before its group and its endpoint; the DID moves off the group first.
    assert sent.index(trunk) < sent.index(("DELETE", tg))
    assert sent.index(trunk) < sent.index(("DELETE", f"{core}/endpoints/{sids['endpoint']}"))
    did_sid = bulkx.get(f"/phonenumber/dids?filter=phonenumber eq '{number}'")[0]["did_sid"]
    assert sent.index(("PATCH", f"{core}/phonenumber/dids/{did_sid}")) < sent.index(("DELETE", tg))
    assert sorted(sent) == sorted(
        [
            ("PATCH", f"{core}/phonenumber/dids/{did_sid}"),
            ("DELETE", f"{core}/endpoints/{sids['endpoint']}"),
            ("DELETE", tg),
            trunk,
            ("DELETE", f"{core}/phonenumber/did_groups/{sids['did_group']}"),
            ("DELETE", f"{core}/phonenumber/prefixes/{sids['prefix']}"),
        ]
    )


def test_routing_kinds_are_created_updated_and_deleted(tmp_path: Path, bulkx: Bulkx) -> None:
    number = f"{bulkx.sandbox.world.inventory.blocks[2].prefix}2468"
    create = write(tmp_path / "create.yaml", CREATE.replace("NUMBER", number))
    in_use = write(tmp_path / "in-use.yaml", DELETE_IN_USE)
    delete = write(tmp_path / "delete.yaml", DELETE.replace("NUMBER", number))

    bulkx.apply(create)
    (east,) = [g for g in bulkx.get("/trunk_groups") if g["name"] == "east"]
    (trunk,) = bulkx.get(f"/trunk_groups/{east['trunk_group_sid']}/trunks")
    (endpoint,) = [e for e in bulkx.get("/endpoints") if e["name"] == "pbx-east"]
    assert trunk["endpoint_sid"] == endpoint["endpoint_sid"]
    update = write(tmp_path / "update.yaml", UPDATE)
    _assert_updated(bulkx, update, east["trunk_group_sid"], trunk["trunk_sid"])

    # Deleting needs --allow-release; a trunk group that a DID still uses is refused, clearly.
    assert {c["action"] for c in bulkx.changes(in_use)} == {"blocked"}
    ((kind, key, error),) = _failures(bulkx, in_use, "--allow-release")
    assert (kind, key) == ("trunk_group", "east")
    assert "409 the trunk group is used by 1 DID(s); move them first" in error

    assert actions(bulkx.changes(delete, "--allow-release")) == [
        ("release", "did_group", "support-lines"),
        ("release", "endpoint", "pbx-east"),
        ("release", "prefix", "1212555"),
        ("release", "trunk", "east/east-1"),
        ("release", "trunk_group", "east"),
        ("update", "did", number),
    ]
    sids = {
        "east": east["trunk_group_sid"],
        "trunk": trunk["trunk_sid"],
        "endpoint": endpoint["endpoint_sid"],
        "prefix": bulkx.get("/phonenumber/prefixes")[0]["prefix_sid"],
        "did_group": bulkx.get("/phonenumber/did_groups")[0]["did_group_sid"],
    }
    _requests_since_clear(bulkx, clear=True)
    bulkx.apply(delete, "--allow-release")
    sent = [(e["method"], e["path"]) for e in _requests_since_clear(bulkx) if e["method"] != "GET"]
    _assert_deleted_in_dependency_order(bulkx, sent, number, sids)
    assert [g["name"] for g in bulkx.get("/trunk_groups")] == ["west"]
    assert "pbx-east" not in {e["name"] for e in bulkx.get("/endpoints")}
    assert bulkx.get("/phonenumber/prefixes") == bulkx.get("/phonenumber/did_groups") == []


def test_a_delete_waits_for_the_updates_that_move_objects_off_it() -> None:
    """Re-pointing a DID and deleting its old trunk group in one run: the delete must not race
    the update (the API refuses to delete a trunk group a DID still uses)."""
    at = Position("plan.yaml", 3)
    moved = Update(
        "did",
        "12125550100",
        "s",
        at,
        "d-1",
        (FieldChange("trunk_group", "east", "west"),),
        {"phonenumber": "12125550100", "trunk_group": "west"},
    )
    kept = {"phonenumber": "12125550101", "trunk_group": "east", "name": "b"}
    renamed = Update("did", "12125550101", "s", at, "d-2", (FieldChange("name", "a", "b"),), kept)
    east = Release("trunk_group", "east", "s", at, "tg-1", {"name": "east"})
    west = Release("trunk_group", "spare", "s", at, "tg-2", {"name": "spare"})
    ops = {op.key: op for op in operations([east, west, moved, renamed], "digest")}
    assert ops["east"].depends_on == (ops["12125550100"].op_key,)
    assert ops["spare"].depends_on == ()


def _failures(bulkx: Bulkx, plan: Path, *flags: str) -> list[tuple[str, str, str]]:
    """Apply `plan`, expecting it to fail: (kind, key, error) of each failed operation."""
    result = bulkx.run("apply", str(plan), "--yes", *flags)
    assert result.exit_code != 0, result.output
    run_id = result.output.split("run id: ")[1].split()[0]
    report = bulkx.run("report", run_id, "--failed", "-o", "json", target=False)
    return [(op["kind"], op["key"], op["error"]) for op in json.loads(report.stdout)["items"]]


def _requests_since_clear(bulkx: Bulkx, clear: bool = False) -> list[dict[str, Any]]:
    """The sandbox's request log since it was last cleared (clearing it when asked)."""
    url = f"{bulkx.sandbox.url}/_sandbox/requests"
    auth = bulkx.sandbox.admin_headers
    answer = (
        httpx.delete(url, headers=auth)
        if clear
        else httpx.get(url, params={"limit": 1000}, headers=auth)
    )
    answer.raise_for_status()
    return [] if clear else list(answer.json()["items"])
