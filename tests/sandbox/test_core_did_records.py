"""A Core DID's E911 (emergency) and line information records over real HTTP: defaults, PATCH,
PUT, validation and DELETE; and neither is reachable through another partner's DID.

One sandbox serves the whole module; each test rents numbers of its own, so they do not interfere.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from bulkx.sandbox import assumptions
from tests.conftest import Sandbox, module_sandbox
from tests.sandbox.core_dids_support import DIDS, available, error_fields, error_of, ok, rent

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    yield from module_sandbox(tmp_path_factory, "core_did_records", seed=7)


@pytest.fixture(scope="module")
def core(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with sandbox.core() as client:
        yield client


ADDRESS = {
    "address_1": "1 Main St",
    "address_2": "",
    "city": "Hempstead",
    "country_code": "USA",
    "state": "NY",
    "zip": "11550",
}


def test_emergency_record(core: httpx.Client) -> None:
    did = rent(core, 'phonenumber like "1404%"')
    url = f"{DIDS}/{did['did_sid']}/emergency"
    defaults = {"caller_name": "", "enabled": False, "locations": []}
    assert ok(core.get(url)) == defaults
    assert ok(core.patch(url, json={"caller_name": "ACME"})) == {**defaults, "caller_name": "ACME"}
    assert ok(core.get(url))["caller_name"] == "ACME"
    # PUT needs every field.
    body = error_of(core.put(url, json={"enabled": False}), 422)
    assert set(error_fields(body)) == {"caller_name", "locations"}
    record = {"caller_name": "ACME HQ", "enabled": True, "locations": [ADDRESS]}
    assert ok(core.put(url, json=record)) == record
    assert ok(core.get(url)) == record
    # Enabled with an incomplete address: refused, nothing changes.
    partial = {**ADDRESS, "city": "", "zip": None}
    body = error_of(core.patch(url, json={"locations": [partial]}), 422)
    assert set(error_fields(body)) == {"locations[0].city", "locations[0].zip"}
    body = error_of(core.patch(url, json={"locations": []}), 422)
    assert set(error_fields(body)) == {"locations"}
    # Bad state and zip formats.
    for bad in ({"state": "New York"}, {"zip": "1155"}, {"country_code": "US"}, {"street": "x"}):
        body = error_of(core.patch(url, json={"locations": [{**ADDRESS, **bad}]}), 422)
        assert set(error_fields(body)) == {"locations"}
    error_of(core.patch(url, json={"enabled": "yes"}), 422)
    error_of(core.patch(url, json={"nosuch": 1}), assumptions.UNKNOWN_FIELD_STATUS)
    assert ok(core.get(url)) == record
    # Disabled, an incomplete address may be stored ("fields can still be updated").
    assert ok(core.patch(url, json={"enabled": False, "locations": [partial]}))["enabled"] is False
    # DELETE resets the record.
    deleted = core.delete(url)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert ok(core.get(url)) == defaults


def test_line_information_record(core: httpx.Client) -> None:
    did = rent(core, 'phonenumber like "1412%"')
    url = f"{DIDS}/{did['did_sid']}/line_information"
    record = ok(core.get(url))
    assert record == {
        "caller_name": "",
        "class_of_service": "none",
        "enabled": False,
        "extended_business_name": "",
        "extended_first_name": "",
        "extended_last_name": "",
        "privacy": "public",
        "screening": "block_third_number_collect",
    }
    for field, bad in (
        ("class_of_service", "government"),
        ("privacy", "secret"),
        ("screening", "all"),
    ):
        body = error_of(core.patch(url, json={field: bad}), 422)
        assert set(error_fields(body)) == {field}
    changed = ok(core.patch(url, json={"class_of_service": "business", "privacy": "private"}))
    assert changed == {**record, "class_of_service": "business", "privacy": "private"}
    assert ok(core.get(url)) == changed
    body = error_of(core.put(url, json={"enabled": True}), 422)
    assert "caller_name" in error_fields(body)
    whole = {**changed, "enabled": True, "screening": "allow_all"}
    assert ok(core.put(url, json=whole)) == whole
    assert core.delete(url).status_code == 204
    assert ok(core.get(url)) == record


def test_sub_records_of_unknown_or_foreign_dids_are_404(
    core: httpx.Client, sandbox: Sandbox
) -> None:
    # A DID that belongs to another partner, placed straight into the world.
    number = available(core, 'phonenumber like "1415%"')[0]["phonenumber"]
    foreign = sandbox.world.inventory.describe(number)
    foreign.update(status="assigned", partner_sid="another-partner")
    with sandbox.world.store.transaction():
        sandbox.world.store.insert("dids", foreign["did_sid"], "another-partner", foreign)
    for sid in (foreign["did_sid"], "00000000-0000-4000-8000-000000000000"):
        for path in ("", "/emergency", "/line_information"):
            error_of(core.get(f"{DIDS}/{sid}{path}"), 404)
        error_of(core.patch(f"{DIDS}/{sid}/emergency", json={"caller_name": "x"}), 404)
        error_of(core.put(f"{DIDS}/{sid}/line_information", json={}), 404)
        error_of(core.delete(f"{DIDS}/{sid}"), 404)
    # Nor can it be rented: another partner holds it.
    error_of(core.post(DIDS, json={"phonenumber": number}), assumptions.RENT_TAKEN_STATUS)
    assert foreign["did_sid"] not in {
        d["did_sid"] for d in ok(core.get(DIDS, params={"limit": 1000}))["items"]
    }
