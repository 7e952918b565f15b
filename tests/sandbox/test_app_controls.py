"""Controls answered before any route still speak their API's dialect."""

from __future__ import annotations

import httpx

from tests.conftest import Sandbox


def test_a_rate_limited_mediator_request_gets_the_core_error_body(sandbox: Sandbox) -> None:
    """Mediator wraps its successes, not its errors (assumptions.MEDIATOR_WRAPS_ERRORS), and a
    429 answered before any route is an error like the others."""
    with sandbox.core() as core:
        endpoint = core.post("/endpoints", json={"name": "med", "type": "mediator"}).json()
    props = endpoint["properties"]
    limit = {"rate": 0.01, "burst": 1}
    httpx.put(f"{sandbox.url}/_sandbox/rate_limit", json=limit, headers=sandbox.admin_headers)
    with sandbox.app_client("/mediator/v1", props["login"], props["password"]) as mediator:
        first = mediator.get("/bindings")
        second = mediator.get("/bindings")
    assert first.status_code == 200 and first.json()["status"] == 200
    assert second.status_code == 429
    assert int(second.headers["retry-after"]) >= 1
    assert set(second.json()) == {"message", "errors"}


def test_a_rate_limited_core_request_gets_the_plain_error_body(sandbox: Sandbox) -> None:
    limit = {"rate": 0.01, "burst": 1}
    httpx.put(f"{sandbox.url}/_sandbox/rate_limit", json=limit, headers=sandbox.admin_headers)
    with sandbox.core() as core:
        assert core.get("/oauth/whoami").status_code == 200
        limited = core.get("/oauth/whoami")
    assert limited.status_code == 429
    assert set(limited.json()) == {"message", "errors"}
