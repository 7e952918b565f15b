"""The generated inventory: deterministic, big enough, and browsed consistently."""

from __future__ import annotations

from bulkx.sandbox.filters import parse_filter
from bulkx.sandbox.inventory import Inventory, number_for_sid, sid_for_number


def _inventory(seed: int = 3, taken: set[str] | None = None) -> Inventory:
    held = taken or set()
    return Inventory(seed, lambda lo, hi: {n for n in held if lo <= n < hi})


def test_the_same_seed_gives_the_same_inventory_and_another_seed_another() -> None:
    assert _inventory(3).blocks == _inventory(3).blocks
    assert _inventory(3).blocks != _inventory(4).blocks


def test_it_offers_over_a_million_numbers_in_sorted_blocks() -> None:
    inventory = _inventory()
    assert inventory.size >= 1_000_000
    prefixes = [b.prefix for b in inventory.blocks]
    assert prefixes == sorted(prefixes)


def test_a_sid_carries_its_number_and_only_the_seed_that_made_it_decodes_it() -> None:
    sid = sid_for_number(3, "15162065575")
    assert number_for_sid(3, sid) == "15162065575"
    assert number_for_sid(4, sid) is None
    assert number_for_sid(3, "not-a-sid") is None


def test_paging_by_offset_matches_one_long_walk_and_skips_taken_numbers() -> None:
    inventory = _inventory()
    first = inventory.blocks[0]
    taken = {f"{first.prefix}{line:04d}" for line in range(0, 10_000, 3)}
    inventory = _inventory(taken=taken)
    walk = [n for n, _ in inventory.browse_numbers([], limit=30_000, offset=0)]
    assert not set(walk) & taken
    assert walk == sorted(walk)
    for offset in (0, 999, 6_000, 12_345):
        page = [n for n, _ in inventory.browse_numbers([], limit=50, offset=offset)]
        assert page == walk[offset : offset + 50]


def test_describe_json_is_describe_encoded() -> None:
    import json

    inventory = _inventory()
    block = inventory.blocks[5]
    number = f"{block.prefix}0042"
    assert json.loads(inventory.describe_json(number, block)) == inventory.describe(number, block)


def test_filters_narrow_by_block_and_by_number() -> None:
    inventory = _inventory()
    ny = inventory.browse(parse_filter('state eq "NY"'), limit=20, offset=0)
    assert ny and all(d["state"] == "NY" for d in ny)
    like = inventory.browse(parse_filter('phonenumber like "%77%"'), limit=20, offset=0)
    assert like and all("77" in d["phonenumber"] for d in like)
    prefix = inventory.blocks[7].prefix
    exact = inventory.browse(parse_filter(f"phonenumber eq {prefix}1234"), limit=5, offset=0)
    assert [d["phonenumber"] for d in exact] == [f"{prefix}1234"]


def test_bounds_of_any_length_select_exactly_the_right_numbers() -> None:
    inventory = _inventory()
    prefix = inventory.blocks[0].prefix
    cases = {
        f'phonenumber like "{prefix}%"': [f"{prefix}000{i}" for i in range(3)],
        f'phonenumber like "{prefix}2%"': [f"{prefix}200{i}" for i in range(3)],
        f"phonenumber gt {prefix}0005": [f"{prefix}000{i}" for i in (6, 7, 8)],
        f"phonenumber le {prefix}0001": [f"{prefix}0000", f"{prefix}0001"],
        f"phonenumber ge {prefix}9999": [f"{prefix}9999", f"{inventory.blocks[1].prefix}0000"],
    }
    for text, expected in cases.items():
        found = [n for n, _ in inventory.browse_numbers(parse_filter(text), limit=3, offset=0)]
        assert found[: len(expected)] == expected, text
    assert (
        len(
            inventory.browse_numbers(
                parse_filter(f"phonenumber le {prefix}0001"), limit=9, offset=0
            )
        )
        == 2
    )
