"""The campaign's workload: a mixed plan (rent numbers, set E911 addresses, create meeting
rooms, plus the trunk group and endpoint they need), the sandbox state it starts from, and the
list of items it asks for, which the checker holds the journal and the sandbox to.

Every name carries a prefix, so several workloads can share one sandbox without their items
being mistaken for one another.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulkx.sandbox.app import SandboxApp
from bulkx.sandbox.world import World

#: Shares of the items: rents, E911 updates, meeting rooms (the rest of the plan is 2 creates).
RENT_SHARE = 0.4
E911_SHARE = 0.3


@dataclass(frozen=True)
class Address:
    caller_name: str
    address_1: str
    city: str
    state: str
    zip: str


@dataclass(frozen=True)
class Workload:
    prefix: str
    plan: Path
    trunk_group: str
    endpoint: str
    rent_step: str
    rents: int
    #: phonenumber -> the E911 record the plan asks for
    e911: dict[str, Address]
    rooms: tuple[str, ...]

    @property
    def items(self) -> int:
        return 2 + self.rents + len(self.e911) + len(self.rooms)


def rent_directly(world: World, count: int) -> list[str]:
    """Put `count` inventory numbers on the account straight through the store (as the
    sandbox's `seed_rented` does), skipping every number already there."""
    taken = {n for (n,) in world.store.rows("SELECT c_phonenumber FROM t_dids")}
    rows: list[tuple[str, str, dict[str, Any]]] = []
    for block in world.inventory.blocks:
        for line in range(10_000):
            number = f"{block.prefix}{line:04d}"
            if number in taken:
                continue
            did = world.inventory.describe(number, block)
            did.update(status="assigned", partner_sid=world.partner_sid)
            rows.append((str(did["did_sid"]), world.partner_sid, did))
            if len(rows) == count:
                with world.store.transaction():
                    world.store.insert_many("dids", rows)
                return [str(row[2]["phonenumber"]) for row in rows]
    raise ValueError(f"the inventory has fewer than {count} numbers left")


def build(app: SandboxApp, directory: Path, items: int, prefix: str = "chaos") -> Workload:
    """Write the plan for about `items` operations under `directory`, and seed the numbers
    whose E911 addresses it sets (rented on the account, no E911 record yet)."""
    directory.mkdir(parents=True, exist_ok=True)
    rents = max(1, round(items * RENT_SHARE))
    e911_count = max(1, round(items * E911_SHARE))
    room_count = max(1, items - rents - e911_count)
    numbers = rent_directly(app.world, e911_count)
    e911 = {
        number: Address(f"caller {i}", f"{100 + i} Main St", "Hempstead", "NY", "11550")
        for i, number in enumerate(numbers[:e911_count])
    }
    with (directory / "e911.csv").open("w") as out:
        # `enabled` is explicit: a record left disabled is not in the emergency registry.
        out.write("phonenumber,caller_name,address_1,city,state,zip,enabled\n")
        for number, a in e911.items():
            out.write(f"{number},{a.caller_name},{a.address_1},{a.city},{a.state},{a.zip},true\n")
    rooms = tuple(f"{prefix}-room-{i:05d}" for i in range(room_count))
    with (directory / "rooms.csv").open("w") as out:
        out.write("name,host_code,participant_code\n")
        # Access codes are unique per endpoint; each workload has its own endpoint.
        out.writelines(f"{room},{1_000_000 + i},{2_000_000 + i}\n" for i, room in enumerate(rooms))
    trunk_group, endpoint, rent_step = f"{prefix}-sip", f"{prefix}-conference", f"{prefix}-rent"
    plan = directory / "plan.yaml"
    plan.write_text(
        f"""version: 1
steps:
  - kind: trunk_group
    name: {prefix}-trunks
    items:
      - name: {trunk_group}
  - kind: did
    name: {rent_step}
    count: {rents}
    criteria:
      state: NY
    template:
      name: {prefix} rented
      trunk_group: {trunk_group}
  - kind: did_emergency
    name: {prefix}-e911
    source: e911.csv
  - kind: endpoint
    name: {prefix}-endpoints
    items:
      - name: {endpoint}
        type: conference_v2
  - kind: conference_v2.meeting_room
    name: {prefix}-rooms
    source: rooms.csv
    defaults:
      endpoint: {endpoint}
"""
    )
    return Workload(prefix, plan, trunk_group, endpoint, rent_step, rents, e911, rooms)
