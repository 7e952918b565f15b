"""Core phone numbers over real HTTP: browsing the inventory, renting, updating, releasing and
listing DIDs. (Their E911 and line information records: tests/sandbox/test_core_did_records.py.)

One sandbox serves the whole module; each test rents numbers of its own, so they do not interfere.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bulkx.sandbox import assumptions
from bulkx.sandbox.inventory import Block
from bulkx.sandbox.resources.numbers import DID
from tests.conftest import Sandbox, module_sandbox
from tests.sandbox.core_dids_support import (
    AVAILABLE,
    DIDS,
    available,
    error_fields,
    error_of,
    ok,
    rent,
    trunk_group,
)

pytestmark = pytest.mark.timeout(60)

#: The keys of the rent sample in the reference (§5.1, D:…/did/rent).
RENT_SAMPLE_KEYS = frozenset(
    {
        "active_capabilities",
        "attributes",
        "callback_url",
        "campaign_sid",
        "capabilities",
        "classification_sid",
        "country_code",
        "did_group_sid",
        "did_sid",
        "in_country_format",
        "international_format",
        "lata",
        "locality",
        "lrn_sid",
        "name",
        "ocn",
        "partner_sid",
        "phonenumber",
        "porting_pin",
        "price",
        "state",
        "status",
        "string_key_1",
        "string_key_2",
        "transformations",
        "trunk_group_sid",
    }
)
#: Fields the reference marks writable (rw) on a DID, without a question mark.
DOCUMENTED_RW = frozenset(
    {"attributes", "callback_url", "did_group_sid", "transformations", "trunk_group_sid"}
)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    yield from module_sandbox(tmp_path_factory, "core_dids", seed=7)


@pytest.fixture(scope="module")
def core(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with sandbox.core() as client:
        yield client


# --- helpers ---------------------------------------------------------------------------------


def block_of(sandbox: Sandbox, number: str) -> Block:
    block = sandbox.world.inventory.block_of(number)
    assert block is not None, number
    return block


# --- browsing available DIDs ------------------------------------------------------------------


def test_browse_envelope_total_is_null_and_limit_defaults_to_ten(
    core: httpx.Client, sandbox: Sandbox
) -> None:
    page = ok(core.get(AVAILABLE))
    assert set(page) == {"count", "has_more", "items", "limit", "offset", "pagination", "total"}
    assert page["total"] is None
    assert page["limit"] == assumptions.LIST_LIMIT_DEFAULT == 10
    assert page["count"] == len(page["items"]) == 10
    assert page["offset"] == 0
    assert page["has_more"] is True
    assert page["pagination"] == {"next": f"{sandbox.core_url}{AVAILABLE}?limit=10&offset=10"}
    for item in page["items"]:
        assert item["status"] == "available"
        assert item["partner_sid"] is None
        assert set(item) == RENT_SAMPLE_KEYS


def test_browse_pagination_next_walks_pages_without_repeats(
    core: httpx.Client, sandbox: Sandbox
) -> None:
    url: str | None = f"{sandbox.core_url}{AVAILABLE}"
    params: dict[str, Any] | None = {"filter": 'phonenumber like "1516%"', "limit": 100}
    seen: list[str] = []
    pages = 0
    while url and pages < 5:
        page = ok(core.get(url, params=params))
        params = None  # pagination.next carries the whole query
        assert page["count"] == 100
        assert page["total"] is None
        assert page["has_more"] is True
        assert page["offset"] == pages * 100
        seen.extend(item["phonenumber"] for item in page["items"])
        url = page["pagination"].get("next")
        pages += 1
    assert pages == 5
    assert len(seen) == len(set(seen)) == 500
    assert all(n.startswith("1516") for n in seen)
    assert seen == sorted(seen), "phonenumber asc is the browse order"


def test_browse_filters_every_item_matches(core: httpx.Client) -> None:
    for item in available(core, 'state eq "NY"', limit=200):
        assert item["state"] == "NY"
    contains = available(core, 'phonenumber like "%555%"', limit=200)
    assert len(contains) == 200
    assert all("555" in item["phonenumber"] for item in contains)
    # The docs' own example combines both with `and`.
    both = available(core, 'state eq "NY" and phonenumber like "%555%"', limit=50)
    assert len(both) == 50
    assert all(i["state"] == "NY" and "555" in i["phonenumber"] for i in both)
    # UTILS bulk_order.py style prefix filter, unquoted single quotes too.
    assert all(
        i["phonenumber"].startswith("1516") for i in available(core, "phonenumber like '1516%'", 30)
    )


def test_browse_nearby_orders_nearest_first(core: httpx.Client, sandbox: Sandbox) -> None:
    lat, lng = 40.7, -74.0

    def distance(number: str) -> float:
        block = block_of(sandbox, number)
        return math.hypot(block.lat - lat, block.lng - lng)

    nearest = min(math.hypot(b.lat - lat, b.lng - lng) for b in sandbox.world.inventory.blocks)
    # The docs write the value unquoted (`nearby latlng:<lat,lng>`); quoted works too.
    for flt in ("phonenumber nearby latlng:40.7,-74.0", 'phonenumber nearby "latlng:40.7,-74.0"'):
        first = available(core, flt, limit=5)
        assert distance(first[0]["phonenumber"]) == pytest.approx(nearest)
        # One sample per block (a block holds 10,000 numbers): distances never decrease.
        distances = [
            distance(available(core, flt, limit=1, offset=k * 10_000)[0]["phonenumber"])
            for k in range(6)
        ]
        assert distances == sorted(distances)
        assert distances[-1] > distances[0]
    body = error_of(core.get(AVAILABLE, params={"filter": "phonenumber nearby nowhere"}), 400)
    assert "latlng" in body["message"]


def test_browse_order_phonenumber_desc(core: httpx.Client) -> None:
    items = ok(core.get(AVAILABLE, params={"order": "phonenumber desc", "limit": 50}))["items"]
    numbers = [i["phonenumber"] for i in items]
    assert numbers == sorted(numbers, reverse=True)
    ascending = ok(core.get(AVAILABLE, params={"limit": 1}))["items"][0]["phonenumber"]
    assert numbers[0] > ascending


def test_browse_by_area_code(core: httpx.Client, sandbox: Sandbox) -> None:
    # The browse page filters "by their geographical location and area codes"; Browse Coverage
    # (https://docs.carrierx.com/voice/core-api/phone-numbers/browse-coverage) names the filters
    # npa and npa_nxx: assumptions.AVAILABLE_DID_AREA_FILTERS.
    block = sandbox.world.inventory.blocks[3]
    by_npa = available(core, f"npa eq {block.npa}", limit=20)
    assert by_npa and all(d["phonenumber"][1:4] == block.npa for d in by_npa)
    quoted = available(core, f'npa eq "{block.npa}"', limit=20)
    assert quoted == by_npa
    by_exchange = available(core, f"npa_nxx eq {block.npa}{block.nxx}", limit=20)
    assert by_exchange and all(d["phonenumber"].startswith(block.prefix) for d in by_exchange)
    both = available(core, f"npa in ({block.npa}, 999) and state eq {block.state!r}", limit=5)
    assert all(d["phonenumber"][1:4] == block.npa for d in both)
    assert available(core, "npa eq 999") == []


def test_browse_orders_by_any_field_but_the_sid(core: httpx.Client) -> None:
    # "attribute name + asc/desc" (the pagination page): assumptions.AVAILABLE_DID_UNORDERABLE.
    for field, reverse in (("state", False), ("state", True), ("locality", False)):
        order = f"{field} desc" if reverse else field
        items = ok(core.get(AVAILABLE, params={"order": order, "limit": 200}))["items"]
        values = [i[field] for i in items]
        assert values == sorted(values, reverse=reverse)
    by_price = ok(core.get(AVAILABLE, params={"order": "price desc", "limit": 50}))["items"]
    assert [float(i["price"]) for i in by_price] == sorted(
        (float(i["price"]) for i in by_price), reverse=True
    )
    formats = ok(core.get(AVAILABLE, params={"order": "in_country_format", "limit": 20}))
    assert formats["items"] == ok(core.get(AVAILABLE, params={"limit": 20}))["items"]
    body = error_of(core.get(AVAILABLE, params={"order": "did_sid"}), 400)
    assert error_fields(body).keys() == {"order"}
    error_of(core.get(AVAILABLE, params={"order": "nosuch desc"}), 400)


def test_renting_needs_a_body(core: httpx.Client, sandbox: Sandbox) -> None:
    # https://docs.carrierx.com/voice/core-api/phone-numbers/did/rent: "No fields are required to
    # rent a DID, an empty object can be passed": `{}` rents; no body at all does not.
    before = sandbox.world.store.counts().get("dids", 0)
    for content in (b"", b"  "):
        empty = core.post(DIDS, content=content, headers={"content-type": "application/json"})
        body = error_of(empty, assumptions.RENT_EMPTY_BODY_STATUS)
        assert body["message"] == assumptions.INVALID_JSON_MESSAGE
    assert sandbox.world.store.counts().get("dids", 0) == before
    assert ok(core.post(DIDS, json={}))["status"] == "assigned"


def test_browse_limit_bounds(core: httpx.Client) -> None:
    body = error_of(
        core.get(AVAILABLE, params={"limit": 1001}), assumptions.LIST_LIMIT_TOO_LARGE_STATUS
    )
    assert error_fields(body).keys() == {"limit"}
    page = ok(core.get(AVAILABLE, params={"limit": assumptions.LIST_LIMIT_MAX}))
    assert page["count"] == assumptions.LIST_LIMIT_MAX == 1000
    error_of(core.get(AVAILABLE, params={"limit": "ten"}), 400)
    error_of(
        core.get(AVAILABLE, params={"filter": 'nosuch eq "x"'}),
        assumptions.UNKNOWN_FILTER_FIELD_STATUS,
    )


def test_get_available_by_sid_then_404_once_rented(core: httpx.Client) -> None:
    item = available(core, 'phonenumber like "1212%"')[0]
    assert ok(core.get(f"{AVAILABLE}/{item['did_sid']}")) == item
    did = ok(core.post(DIDS, json={"phonenumber": item["phonenumber"]}))
    if assumptions.RENT_KEEPS_INVENTORY_SID:
        assert did["did_sid"] == item["did_sid"]
    body = error_of(core.get(f"{AVAILABLE}/{item['did_sid']}"), 404)
    assert body["message"] == assumptions.MESSAGE_BY_STATUS[404]
    # Nor does it show in the browse any more.
    assert available(core, f'phonenumber eq "{item["phonenumber"]}"') == []
    error_of(core.get(f"{AVAILABLE}/00000000-0000-4000-a000-000000000000"), 404)


# --- renting ------------------------------------------------------------------------------------


def test_rent_random_returns_documented_did(core: httpx.Client, sandbox: Sandbox) -> None:
    first = ok(core.post(DIDS, json={}))
    second = ok(core.post(DIDS, json={}))
    for did in (first, second):
        assert set(did) == RENT_SAMPLE_KEYS
        assert list(did) == sorted(did), "keys come in alphabetical order"
        assert did["status"] == "assigned"
        assert did["partner_sid"] == sandbox.world.partner_sid
        assert did["country_code"] == "USA"
        assert did["transformations"] == []
        assert did["attributes"] == {}
        assert did["name"] == "N/A"
        assert did["trunk_group_sid"] is None
        assert sandbox.world.inventory.contains(did["phonenumber"])
        number = did["phonenumber"]
        assert did["in_country_format"] == f"({number[1:4]}) {number[4:7]}-{number[7:]}"
        assert did["international_format"] == f"+1 {number[1:4]}-{number[4:7]}-{number[7:]}"
        assert ok(core.get(f"{DIDS}/{did['did_sid']}")) == did
    assert first["phonenumber"] != second["phonenumber"]


def test_rent_specific_number_with_writable_fields(core: httpx.Client) -> None:
    tg = trunk_group(core, "rent-target")
    item = available(core, 'phonenumber like "1213%"')[0]
    did = ok(
        core.post(
            DIDS,
            json={
                "phonenumber": item["phonenumber"],
                "callback_url": "https://example.com/sms",
                "trunk_group_sid": tg,
            },
        )
    )
    assert set(did) == RENT_SAMPLE_KEYS
    assert did["phonenumber"] == item["phonenumber"]
    assert did["callback_url"] == "https://example.com/sms"
    assert did["trunk_group_sid"] == tg
    # Everything the inventory described stays, only status and owner change.
    for key in ("state", "locality", "lata", "ocn", "price", "capabilities", "in_country_format"):
        assert did[key] == item[key]
    listed = ok(core.get(DIDS, params={"trunk_group_sid": tg}))
    assert [d["did_sid"] for d in listed["items"]] == [did["did_sid"]]
    assert listed["total"] == 1


def test_rent_conflicts(core: httpx.Client) -> None:
    did = rent(core, 'phonenumber like "1214%"')
    body = error_of(
        core.post(DIDS, json={"phonenumber": did["phonenumber"]}),
        assumptions.RENT_ALREADY_OWNED_STATUS,
    )
    assert body["errors"][0]["field"] == "phonenumber"
    assert body["errors"][0]["reference_sid"] == did["did_sid"]
    # A valid number outside the inventory (no such NPA-NXX block).
    body = error_of(
        core.post(DIDS, json={"phonenumber": "19995550123"}),
        assumptions.RENT_NOT_IN_INVENTORY_STATUS,
    )
    assert error_fields(body).keys() == {"phonenumber"}
    body = error_of(core.post(DIDS, json={"phonenumber": "+1 (516) 555"}), 422)
    assert error_fields(body).keys() == {"phonenumber"}
    # Nothing was created by the failures.
    assert ok(core.get(DIDS, params={"filter": 'phonenumber eq "19995550123"'}))["total"] == 0


def test_release_ages_the_number(core: httpx.Client, sandbox: Sandbox) -> None:
    did = rent(core, 'phonenumber like "1215%"')
    sid = did["did_sid"]
    released = core.delete(f"{DIDS}/{sid}")
    assert released.status_code == 204
    assert released.content == b""
    error_of(core.get(f"{DIDS}/{sid}"), 404)
    error_of(core.delete(f"{DIDS}/{sid}"), 404)
    error_of(core.patch(f"{DIDS}/{sid}", json={"name": "x"}), 404)
    body = error_of(
        core.post(DIDS, json={"phonenumber": did["phonenumber"]}), assumptions.RENT_TAKEN_STATUS
    )
    assert "aging" in error_fields(body)["phonenumber"]
    listed = ok(core.get(DIDS, params={"filter": f'phonenumber eq "{did["phonenumber"]}"'}))
    assert listed["items"] == []
    assert listed["total"] == 0
    # An aging number is not available either.
    error_of(core.get(f"{AVAILABLE}/{sid}"), 404)
    assert available(core, f'phonenumber eq "{did["phonenumber"]}"') == []
    # The sub-records went with it.
    error_of(core.get(f"{DIDS}/{sid}/emergency"), 404)


# --- updating -------------------------------------------------------------------------------


def test_patch_changes_only_sent_fields(core: httpx.Client) -> None:
    did = rent(core, 'phonenumber like "1303%"', callback_url="https://a.example")
    updated = ok(core.patch(f"{DIDS}/{did['did_sid']}", json={"name": "main line"}))
    assert updated == {**did, "name": "main line"}
    assert ok(core.get(f"{DIDS}/{did['did_sid']}")) == updated
    # Nested objects: PATCH replaces the whole value (assumptions.PATCH_NESTED_OBJECTS).
    ok(core.patch(f"{DIDS}/{did['did_sid']}", json={"attributes": {"a": 1, "b": 2}}))
    after = ok(core.patch(f"{DIDS}/{did['did_sid']}", json={"attributes": {"c": 3}}))
    if assumptions.PATCH_NESTED_OBJECTS == "replace":
        assert after["attributes"] == {"c": 3}
    else:
        assert after["attributes"] == {"a": 1, "b": 2, "c": 3}


def test_put_requires_every_writable_field(core: httpx.Client) -> None:
    did = rent(core, 'phonenumber like "1305%"')
    writable = {f.name for f in DID.fields if f.access == "rw"}
    assert writable >= DOCUMENTED_RW
    body = error_of(core.put(f"{DIDS}/{did['did_sid']}", json={"name": "only this"}), 422)
    if assumptions.PUT_REQUIRES_ALL_WRITABLE_FIELDS:
        assert set(error_fields(body)) == writable - {"name"}
    # Nothing changed.
    assert ok(core.get(f"{DIDS}/{did['did_sid']}"))["name"] == "N/A"
    # PUT of the whole object, as read, with changes: works, and reads back.
    whole = ok(core.get(f"{DIDS}/{did['did_sid']}"))
    whole.update(name="replaced", string_key_1="k1", transformations=[{"action": "set"}])
    assert ok(core.put(f"{DIDS}/{did['did_sid']}", json=whole)) == whole
    assert ok(core.get(f"{DIDS}/{did['did_sid']}")) == whole
    # Only the writable fields are enough as well.
    only_writable = {k: whole[k] for k in writable}
    only_writable["name"] = "writable only"
    assert ok(core.put(f"{DIDS}/{did['did_sid']}", json=only_writable))["name"] == "writable only"


def test_update_validation(core: httpx.Client) -> None:
    did = rent(core, 'phonenumber like "1310%"')
    url = f"{DIDS}/{did['did_sid']}"
    body = error_of(core.patch(url, json={"status": "aging"}), assumptions.READ_ONLY_FIELD_STATUS)
    assert error_fields(body) == {"status": "field is read only"}
    body = error_of(
        core.patch(url, json={"phonenumber": "15555550100"}), assumptions.READ_ONLY_FIELD_STATUS
    )
    assert error_fields(body) == {"phonenumber": "field is read only"}
    # The same value as stored is accepted (a client may send back what it read).
    same = ok(
        core.patch(url, json={"status": did["status"], "did_sid": did["did_sid"], "name": "x"})
    )
    assert same["name"] == "x"
    assert same["status"] == "assigned"
    body = error_of(core.patch(url, json={"bogus": 1}), assumptions.UNKNOWN_FIELD_STATUS)
    assert error_fields(body) == {"bogus": "unknown field"}
    body = error_of(core.patch(url, json={"name": 5, "attributes": []}), 422)
    assert set(error_fields(body)) == {"name", "attributes"}
    body = error_of(core.patch(url, json={"transformations": None}), 422)
    assert set(error_fields(body)) == {"transformations"}
    missing = "7b1c7a4e-0000-4000-8000-000000000000"
    body = error_of(core.patch(url, json={"trunk_group_sid": missing}), 422)
    assert body["errors"] == [
        {
            "field": "trunk_group_sid",
            "message": body["errors"][0]["message"],
            "reference_sid": missing,
        }
    ]
    body = error_of(core.post(DIDS, json={"did_group_sid": missing}), 422)
    assert body["errors"][0]["field"] == "did_group_sid"
    assert body["errors"][0]["reference_sid"] == missing
    # None of it stuck.
    assert ok(core.get(url)) == same


def test_body_media_type_and_json(core: httpx.Client) -> None:
    did = rent(core, 'phonenumber like "1312%"')
    url = f"{DIDS}/{did['did_sid']}"
    body = error_of(
        core.patch(url, content=b'{"name":"a"}', headers={"content-type": "text/plain"}), 415
    )
    assert body["message"] == assumptions.MESSAGE_BY_STATUS[415]
    error_of(core.post(DIDS, content=b'{"phonenumber":"15165550100"}'), 415)
    body = error_of(
        core.patch(url, content=b'{"name":', headers={"content-type": "application/json"}), 400
    )
    assert body["message"] == assumptions.INVALID_JSON_MESSAGE
    error_of(core.patch(url, content=b"[1, 2]", headers={"content-type": "application/json"}), 400)
    error_of(core.patch(url, content=b"", headers={"content-type": "application/json"}), 400)
    # A charset parameter is still JSON.
    good = core.patch(
        url, content=b'{"name":"cs"}', headers={"content-type": "application/json; charset=utf-8"}
    )
    assert ok(good)["name"] == "cs"


def test_list_dids_related_and_field_selection(core: httpx.Client, sandbox: Sandbox) -> None:
    tg = trunk_group(core, "list-args")
    dids = [rent(core, 'phonenumber like "1313%"', trunk_group_sid=tg) for _ in range(3)]
    rent(core, 'phonenumber like "1313%"')  # not on the trunk group
    page = ok(core.get(DIDS, params={"trunk_group_sid": tg}))
    assert page["total"] == 3
    assert [d["did_sid"] for d in page["items"]] == [d["did_sid"] for d in dids]
    # The query argument narrows like a filter, and combines with one.
    page = ok(
        core.get(
            DIDS,
            params={"trunk_group_sid": tg, "filter": f'phonenumber eq "{dids[1]["phonenumber"]}"'},
        )
    )
    assert [d["did_sid"] for d in page["items"]] == [dids[1]["did_sid"]]
    # The argument is a value, not filter syntax: quotes in it select nothing, they break nothing.
    for odd in ('no"such', "back\\slash", f'{tg}" or "x'):
        assert ok(core.get(DIDS, params={"trunk_group_sid": odd}))["total"] == 0

    sid = dids[0]["did_sid"]
    plain = ok(core.get(f"{DIDS}/{sid}"))
    assert "partner" not in plain
    related = ok(core.get(f"{DIDS}/{sid}", params={"with_related": "true"}))
    assert related["partner"]["partner_sid"] == sandbox.world.partner_sid
    assert "password" not in related["partner"]
    assert {k: v for k, v in related.items() if k != "partner"} == plain
    listed = ok(core.get(DIDS, params={"trunk_group_sid": tg, "with_related": "true"}))
    assert all(i["partner"]["partner_sid"] == sandbox.world.partner_sid for i in listed["items"])

    assert ok(core.get(f"{DIDS}/{sid}", params={"include_fields": "did_sid,phonenumber"})) == {
        "did_sid": sid,
        "phonenumber": dids[0]["phonenumber"],
    }
    assert ok(core.get(f"{DIDS}/{sid}", params={"includeFields": "did_sid"})) == {"did_sid": sid}
    excluded = ok(core.get(f"{DIDS}/{sid}", params={"exclude_fields": "attributes,name"}))
    assert set(excluded) == RENT_SAMPLE_KEYS - {"attributes", "name"}
    listed = ok(core.get(DIDS, params={"trunk_group_sid": tg, "include_fields": "phonenumber"}))
    assert listed["items"] == [{"phonenumber": d["phonenumber"]} for d in dids]
    # A list answers its stored documents less the fields left out (json_remove in SQL):
    # the same objects, keys in the same order, as those rendered one by one.
    whole = ok(core.get(DIDS, params={"trunk_group_sid": tg}))["items"]
    slim = ok(core.get(DIDS, params={"trunk_group_sid": tg, "exclude_fields": "attributes,name"}))
    kept = [{k: v for k, v in d.items() if k not in ("attributes", "name")} for d in whole]
    assert [list(item.items()) for item in slim["items"]] == [list(d.items()) for d in kept]


def test_trunk_group_query_argument_pages_with_stable_links(core: httpx.Client) -> None:
    tg = trunk_group(core, "paging-by-query-argument")
    for _ in range(5):
        rent(core, 'phonenumber like "1212%"', trunk_group_sid=tg)
    rent(core, 'phonenumber like "1212%"')  # not on the trunk group
    page = ok(core.get("/phonenumber/dids", params={"trunk_group_sid": tg, "limit": 2}))
    seen, links = [], []
    while True:
        assert all(d["trunk_group_sid"] == tg for d in page["items"])
        seen += [d["did_sid"] for d in page["items"]]
        link = page["pagination"].get("next")
        if not link:
            break
        links.append(link)
        page = ok(core.get(link))
    assert len(seen) == len(set(seen)) == 5
    # The query argument is repeated as it was sent, not folded into a growing filter.
    assert len({len(link) for link in links}) == 1
    assert all("filter" not in link for link in links)
