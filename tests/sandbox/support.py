"""What the sandbox tests share: response checks in the documented shapes, and world peeks."""

from __future__ import annotations

from typing import Any

import httpx

from bulkx.sandbox import assumptions
from tests.conftest import Sandbox


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The documented error shape, with `status`."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == set(assumptions.ERROR_BODY_KEYS), body
    for item in body["errors"]:
        assert set(item) == set(assumptions.ERROR_ITEM_KEYS), item
    return body


def fields_of(body: dict[str, Any]) -> set[str | None]:
    return {e["field"] for e in body["errors"]}


def error_fields(response: httpx.Response, status: int) -> set[str | None]:
    return {e["field"] for e in error_of(response, status)["errors"]}


def stored(sandbox: Sandbox, collection: str) -> list[dict[str, Any]]:
    """Every row of a collection, internal fields included, as a checker sees the world."""
    with sandbox.admin() as admin:
        body = ok(admin.get("/_sandbox/state", params={"collection": collection, "limit": 100000}))
    items: list[dict[str, Any]] = body["items"]
    return items


def rent(core: httpx.Client, count: int) -> list[str]:
    """Rent `count` numbers; their phonenumbers."""
    return [ok(core.post("/phonenumber/dids", json={}))["phonenumber"] for _ in range(count)]


def enable_messaging(core: httpx.Client, did_sid: str) -> dict[str, Any]:
    """Enable SMS/MMS on a DID: a number sends only once enabled (https://docs.carrierx.com/
    voice/core-api/phone-numbers/did-messaging-enablement/enable)."""
    answer: dict[str, Any] = ok(
        core.post(f"/phonenumber/dids/{did_sid}/messaging", json={"enabled": True})
    )
    return answer


def rent_texting(core: httpx.Client, count: int) -> list[str]:
    """Rent `count` numbers that can text (capabilities 31) and enable their messaging; their
    phonenumbers."""
    page = ok(
        core.get(
            "/phonenumber/available_dids",
            params={"filter": "capabilities eq 31", "limit": count, "order": "shuffle"},
        )
    )
    numbers = []
    for item in page["items"]:
        did = ok(core.post("/phonenumber/dids", json={"phonenumber": item["phonenumber"]}))
        enable_messaging(core, did["did_sid"])
        numbers.append(did["phonenumber"])
    return numbers
