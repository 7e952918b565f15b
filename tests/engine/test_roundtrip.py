"""Plan, carry the changes out, plan again: nothing left to do. Every example plan, every kind.

This is the "no spurious diffs" property against the real sandbox: what the diff reads back
after the API applied a change is what the plan asked for, after normalisation.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from bulkx.api import CarrierX, Secret, Target
from bulkx.diff.changes import Changeset, NoOp
from bulkx.diff.engine import diff
from bulkx.diff.read import read_live_state
from bulkx.plan.model import ValidPlan
from bulkx.plan.validate import load_valid
from bulkx.sandbox.app import SandboxConfig, create_app
from bulkx.sandbox.controls import SandboxTransport
from bulkx.sandbox.resources.numbers import seed_ported
from bulkx.sandbox.seeding import read_ported_csv
from tests.engine.applier import apply_in_order

REPO = Path(__file__).resolve().parents[2]


def _plan(path: Path) -> ValidPlan:
    plan, diagnostics = load_valid(path)
    assert plan is not None, [d for d in diagnostics if d.severity == "error"]
    return plan


async def _changeset(client: CarrierX, plan: ValidPlan) -> tuple[Changeset, object]:
    live = await read_live_state(client, plan)
    return Changeset(plan.path, plan.digest, "sandbox", tuple(diff(plan, live))), live


@pytest.mark.parametrize("name", ["port-in.yaml", "new-site.yaml", "e911-correction.yaml"])
def test_applying_a_plan_leaves_nothing_to_do(tmp_path: Path, name: str) -> None:
    workspace = tmp_path / "repo"
    shutil.copytree(REPO / "plans", workspace / "plans")
    shutil.copytree(REPO / "samples", workspace / "samples")
    app = create_app(SandboxConfig(db=tmp_path / "world.db", seed=3, token="t"))
    numbers, problems = read_ported_csv(workspace / "samples" / "ported-numbers.csv")
    assert problems == []
    seed_ported(app.world, numbers)

    async def scenario() -> None:
        target = Target("http://127.0.0.1/core/v2", is_sandbox=True, label="sandbox")
        async with CarrierX(target, Secret("t"), transport=SandboxTransport(app)) as client:
            plan = _plan(workspace / "plans" / name)
            first, live = await _changeset(client, plan)
            assert first.has_changes
            assert not first.blocked
            sent = await apply_in_order(client, first, live)  # type: ignore[arg-type]
            assert sent > 0
            again, _ = await _changeset(client, _plan(workspace / "plans" / name))
            leftover = [c for c in again.changes if not isinstance(c, NoOp)]
            assert leftover == []

    asyncio.run(scenario())


EVERY_KIND_SETUP = """
version: 1
steps:
  - kind: trunk_group
    items: [{name: pstn, hard_failure_threshold: 5}]
  - kind: did_group
    items: [{name: main, callback_url: "https://hooks.example.com/sms"}]
  - kind: prefix
    items: [{prefix: "1800", name: toll free, trunk_group: pstn}]
  - kind: endpoint
    items: [{name: conf, type: conference_v2}, {name: pbx, type: third_party, capacity: 20}]
  - kind: trunk
    items: [{trunk_group: pstn, name: pbx-a, endpoint: pbx, priority: 1, codec: ulaw}]
  - kind: conference_v2.did_group
    items: [{endpoint: conf, name: sales}]
  - kind: conference_v2.meeting_room
    items: [{endpoint: conf, name: standup, did_group: sales, host_code: "4411",
             participant_code: "4422"}]
  - kind: did
    items: [{phonenumber: "+1 NUMBER", name: main line, did_group: main, trunk_group: pstn,
             attributes: {site: hq}, string_key_1: "k1"}]
  - kind: did_emergency
    items: [{phonenumber: "NUMBER", caller_name: ACME, address_1: 1 Main St, city: Hempstead,
             state: NY, zip: "11550"}]
  - kind: did_line_information
    items: [{phonenumber: "NUMBER", caller_name: ACME, class_of_service: business,
             privacy: private}]
"""

EVERY_KIND_ROUTE = """
version: 1
steps:
  - kind: did
    items: [{phonenumber: "NUMBER", trunk_group: conf}]
  - kind: conference_v2.did
    items: [{endpoint: conf, phonenumber: "NUMBER", did_group: sales}]
"""


def test_every_kind_round_trips(tmp_path: Path) -> None:
    app = create_app(SandboxConfig(db=tmp_path / "world.db", seed=3, token="t"))
    block = app.world.inventory.blocks[4]
    number = f"{block.prefix}1234"
    setup = tmp_path / "setup.yaml"
    # One spelling with a country code and spaces, the rest as digits: all normalise alike.
    setup.write_text(
        EVERY_KIND_SETUP.replace("+1 NUMBER", f"+1 {number[1:]}").replace("NUMBER", number)
    )
    route = tmp_path / "route.yaml"
    route.write_text(EVERY_KIND_ROUTE.replace("NUMBER", number))

    async def scenario() -> None:
        target = Target("http://127.0.0.1/core/v2", is_sandbox=True, label="sandbox")
        async with CarrierX(target, Secret("t"), transport=SandboxTransport(app)) as client:
            for path in (setup, route):
                first, live = await _changeset(client, _plan(path))
                assert first.has_changes, path
                assert not first.blocked, first.blocked
                await apply_in_order(client, first, live)  # type: ignore[arg-type]
                again, _ = await _changeset(client, _plan(path))
                assert [c for c in again.changes if not isinstance(c, NoOp)] == [], path
            kinds = {c.kind for c in again.changes} | {c.kind for c in first.changes}
            assert kinds >= {"did", "conference_v2.did"}
            found = await client.get(
                "core", "/phonenumber/dids", params={"filter": f'phonenumber eq "{number}"'}
            )
            did = found["items"][0]
            assert did["attributes"] == {"site": "hq"}
            routed = await client.get("conference_v2", "/dids", endpoint="conf")
            assert [d["phonenumber"] for d in routed["items"]] == [number]

    asyncio.run(scenario())
