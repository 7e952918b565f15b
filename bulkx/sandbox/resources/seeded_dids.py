"""DIDs put straight into a world's store, without the API: ported-in numbers (the state after
a port-in, for rehearsals) and rented inventory numbers in bulk (capacity tests, benchmarks).
"""

from __future__ import annotations

from typing import Any

import phonenumbers

from bulkx.sandbox.inventory import geography_of, nanp_formats, sid_for_number
from bulkx.sandbox.resources.dids import DID
from bulkx.sandbox.world import World


def ported_did(world: World, partner_sid: str, number: str, name: str = "N/A") -> dict[str, Any]:
    """An assigned DID as a completed port-in leaves it: no trunk group, no E911."""
    block = world.inventory.block_of(number)
    if block is not None:
        did = world.inventory.describe(number, block)
    else:
        did = {f.name: f.default_value() for f in DID.fields}
        parsed = phonenumbers.parse("+" + number)
        region = phonenumbers.region_code_for_number(parsed)
        if number.startswith("1") and len(number) == 11:
            local, international = nanp_formats(number)
        else:
            local = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
            international = phonenumbers.format_number(
                parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL
            )
        where = geography_of(parsed)
        city, _, state = where.rpartition(", ")
        did.update(
            country_code=_alpha3(region),
            in_country_format=local,
            international_format=international,
            locality=(city or where).upper() or None,
            state=state if len(state) == 2 else None,
            price="0.6",
            did_sid=sid_for_number(world.seed, number),
            phonenumber=number,
        )
    did.update(status="assigned", partner_sid=partner_sid, name=name, trunk_group_sid=None)
    return did


_ALPHA3 = {
    "US": "USA",
    "CA": "CAN",
    "GB": "GBR",
    "PR": "PRI",
    "MX": "MEX",
    "DE": "DEU",
    "FR": "FRA",
}


def _alpha3(region: str | None) -> str:
    return _ALPHA3.get(region or "", region or "USA")


def seed_ported(world: World, numbers: list[tuple[str, str]]) -> tuple[int, int]:
    """Put already-ported numbers on the partner's account. Returns (added, already there)."""
    store = world.store
    added = existing = 0
    with store.transaction():
        rows = []
        for number, name in numbers:
            if store.find("dids", "c_phonenumber=?", [number]):
                existing += 1
                continue
            did = ported_did(world, world.partner_sid, number, name or "N/A")
            rows.append((str(did["did_sid"]), world.partner_sid, did))
            added += 1
        store.insert_many("dids", rows)
    return added, existing


def seed_rented(world: World, count: int, *, every: int = 1) -> list[str]:
    """Rent `count` inventory numbers straight into the store (every `every`-th number of each
    block, in order): a large account in seconds, for capacity tests and benchmarks."""
    rows: list[tuple[str, str, dict[str, Any]]] = []
    numbers: list[str] = []
    for block in world.inventory.blocks:
        for line in range(0, 10_000, every):
            if len(rows) >= count:
                break
            number = f"{block.prefix}{line:04d}"
            did = world.inventory.describe(number, block)
            did.update(status="assigned", partner_sid=world.partner_sid)
            rows.append((str(did["did_sid"]), world.partner_sid, did))
            numbers.append(number)
    with world.store.transaction():
        for start in range(0, len(rows), 20_000):
            world.store.insert_many("dids", rows[start : start + 20_000])
    return numbers
