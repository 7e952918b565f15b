"""Fixtures for the client tests: an in-process sandbox, a client on it, a sleep that records."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bulkx.api import CarrierX, RetryBudget, RetryPolicy, Secret, Target
from bulkx.sandbox.app import SandboxApp, SandboxConfig, create_app
from bulkx.sandbox.controls import SandboxTransport
from tests.conftest import TOKEN

#: The in-process sandbox's origin: loopback, so plain http:// is allowed.
INPROC_BASE = "http://127.0.0.1/core/v2"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class RecordingSleep:
    """An injectable `sleep` that returns at once and remembers every requested delay."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def policy(sleeps: RecordingSleep) -> RetryPolicy:
    return RetryPolicy(attempts=3, sleep=sleeps, rng=random.Random(1), budget=RetryBudget(50))


@pytest.fixture
def app(tmp_path: Path) -> Iterator[SandboxApp]:
    sandbox_app = create_app(SandboxConfig(db=tmp_path / "inproc.db", seed=7, token=TOKEN))
    yield sandbox_app
    sandbox_app.world.store.close()  # no lifespan in-process: close what uvicorn would


@pytest.fixture
async def cx(app: SandboxApp, policy: RetryPolicy) -> AsyncIterator[CarrierX]:
    target = Target(INPROC_BASE, is_sandbox=True, label="sandbox (in-process)")
    async with CarrierX(
        target, Secret(TOKEN), transport=SandboxTransport(app), retry=policy
    ) as client:
        yield client


@pytest.fixture
async def admin(app: SandboxApp) -> AsyncIterator[httpx.AsyncClient]:
    """The sandbox's admin API (faults, rate limit, request log), in-process."""
    async with httpx.AsyncClient(
        transport=SandboxTransport(app),
        base_url="http://127.0.0.1/_sandbox",
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as client:
        yield client


async def set_faults(admin: httpx.AsyncClient, spec: str, seed: int = 1) -> None:
    r = await admin.put("/faults", json={"spec": spec, "seed": seed})
    assert r.status_code == 200, r.text


async def logged_requests(admin: httpx.AsyncClient) -> list[dict[str, Any]]:
    r = await admin.get("/requests", params={"limit": 10_000})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items
