"""The sandbox at size: many rented DIDs and deep pages of the inventory stay correct.

The default suite runs a reduced size; `pytest -m slow` runs the issue's full 200,000 DIDs.
Speed is measured in bench/sandbox_bench.py, never asserted here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bulkx.sandbox.app import SandboxApp, SandboxConfig, create_app
from bulkx.sandbox.resources.numbers import seed_rented
from bulkx.sandbox.server import serve_in_thread


def _populate(app: SandboxApp, count: int) -> None:
    seed_rented(app.world, count, every=2)


def _check(client: httpx.Client, count: int) -> None:
    first = client.get("/phonenumber/dids", params={"limit": 1000}).json()
    assert first["total"] == count
    assert first["count"] == 1000
    deep = client.get("/phonenumber/dids", params={"limit": 1000, "offset": count - 500}).json()
    assert deep["count"] == 500
    assert deep["has_more"] is False
    numbers = [d["phonenumber"] for d in deep["items"]]
    assert len(set(numbers)) == 500
    # Every other number of the first blocks is rented: browsing skips exactly those.
    page = client.get("/phonenumber/available_dids", params={"limit": 1000}).json()
    assert all(int(d["phonenumber"][-1]) % 2 == 1 for d in page["items"])
    far = client.get(
        "/phonenumber/available_dids", params={"limit": 1000, "offset": 1_000_000 - count // 2}
    ).json()
    assert far["count"] == 1000
    assert far["total"] is None


@pytest.fixture
def sized(tmp_path: Path) -> Iterator[tuple[SandboxApp, str]]:
    app = create_app(SandboxConfig(db=tmp_path / "big.db", seed=1, token="t"))
    with serve_in_thread(app) as server:
        yield app, f"{server.url}/core/v2"


def test_twenty_thousand_dids_page_correctly(sized: tuple[SandboxApp, str]) -> None:
    app, url = sized
    _populate(app, 20_000)
    with httpx.Client(base_url=url, headers={"Authorization": "Bearer t"}, timeout=60) as c:
        _check(c, 20_000)


@pytest.mark.slow
def test_two_hundred_thousand_dids_page_correctly(sized: tuple[SandboxApp, str]) -> None:
    app, url = sized
    _populate(app, 200_000)
    with httpx.Client(base_url=url, headers={"Authorization": "Bearer t"}, timeout=60) as c:
        _check(c, 200_000)
