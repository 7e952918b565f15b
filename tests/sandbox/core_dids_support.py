"""What the Core phone number tests share: the documented error shape, checked strictly, and
renting by filter."""

from __future__ import annotations

from typing import Any

import httpx

from bulkx.sandbox import assumptions

DIDS = "/phonenumber/dids"
AVAILABLE = "/phonenumber/available_dids"


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The error body, after checking the status and the documented shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == set(assumptions.ERROR_BODY_KEYS), body
    assert isinstance(body["message"], str)
    assert body["message"]
    for item in body["errors"]:
        assert set(item) == set(assumptions.ERROR_ITEM_KEYS), item
    return body


def error_fields(body: dict[str, Any]) -> dict[str, str]:
    return {str(e["field"]): str(e["message"]) for e in body["errors"]}


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def available(core: httpx.Client, flt: str, limit: int = 1, **params: Any) -> list[dict[str, Any]]:
    page = ok(core.get(AVAILABLE, params={"filter": flt, "limit": limit, **params}))
    return list(page["items"])


def rent(core: httpx.Client, flt: str, **fields: Any) -> dict[str, Any]:
    """Rent the first available number matching `flt`."""
    number = available(core, flt)[0]["phonenumber"]
    did: dict[str, Any] = ok(core.post(DIDS, json={"phonenumber": number, **fields}))
    return did


def trunk_group(core: httpx.Client, name: str) -> str:
    return str(ok(core.post("/trunk_groups", json={"name": name}))["trunk_group_sid"])
