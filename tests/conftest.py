"""Shared fixtures: a real sandbox server on 127.0.0.1 per test, and clients for it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bulkx.sandbox.app import SandboxApp, SandboxConfig, create_app
from bulkx.sandbox.resources.numbers import seed_ported
from bulkx.sandbox.server import serve_in_thread
from bulkx.sandbox.world import World

TOKEN = "test-token-0123456789"


@dataclass
class Sandbox:
    url: str
    world: World
    token: str = TOKEN

    @property
    def core_url(self) -> str:
        return f"{self.url}/core/v2"

    def core(self, **kwargs: object) -> httpx.Client:
        """A Core client the way CarrierX's docs show it: a Bearer token."""
        return httpx.Client(
            base_url=self.core_url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
            **kwargs,  # type: ignore[arg-type]
        )

    @property
    def admin_headers(self) -> dict[str, str]:
        """The admin API's credential: the sandbox's own token, as a Bearer."""
        return {"Authorization": f"Bearer {self.token}"}

    def admin(self, path: str = "", **kwargs: object) -> httpx.Client:
        """A client with the admin API's credential, based at the sandbox's url + `path`."""
        return httpx.Client(
            base_url=f"{self.url}{path}",
            headers=self.admin_headers,
            timeout=10,
            **kwargs,  # type: ignore[arg-type]
        )

    def app_client(self, api_prefix: str, login: str, password: str) -> httpx.Client:
        """An app API client (conference, flexml, mediator): HTTP Basic with the endpoint login."""
        return httpx.Client(base_url=f"{self.url}{api_prefix}", auth=(login, password), timeout=10)


def serve_sandbox(config: SandboxConfig) -> Iterator[Sandbox]:
    """A sandbox for `config` on a real socket, for as long as the generator runs."""
    app = create_app(config)
    with serve_in_thread(app) as server:
        yield Sandbox(server.url, app.world)


def module_sandbox(factory: pytest.TempPathFactory, name: str, **config: Any) -> Iterator[Sandbox]:
    """For a module-scoped `sandbox` fixture: one server shared by a module's tests."""
    settings = {"seed": 7, "token": TOKEN, **config}
    yield from serve_sandbox(SandboxConfig(db=factory.mktemp(name) / "sandbox.db", **settings))


@pytest.fixture
def sandbox_config(tmp_path: Path) -> SandboxConfig:
    return SandboxConfig(db=tmp_path / "sandbox.db", seed=7, token=TOKEN)


@pytest.fixture
def sandbox(sandbox_config: SandboxConfig) -> Iterator[Sandbox]:
    yield from serve_sandbox(sandbox_config)


@pytest.fixture
def core(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with sandbox.core() as client:
        yield client


@pytest.fixture
def served_ported(tmp_path: Path, ported_numbers: list[str]) -> Iterator[tuple[SandboxApp, str]]:
    """A sandbox served on 127.0.0.1 holding `ported_numbers` (a fixture the module using this
    one defines), number i named "line i"; the app (for its request log and faults) and its
    Core base URL, for the real `bulkx` command."""
    app = create_app(SandboxConfig(db=tmp_path / "served.db", seed=2))
    seed_ported(app.world, [(n, f"line {i}") for i, n in enumerate(ported_numbers)])
    with serve_in_thread(app) as server:
        yield app, f"{server.url}/core/v2"
    app.world.store.close()


_CHECKOUT_RUNS = Path(__file__).resolve().parents[1] / ".bulkx" / "runs"


@pytest.fixture(scope="session", autouse=True)
def _the_checkout_gets_no_journals() -> Iterator[None]:
    """No test may write a run journal into the checkout's `.bulkx/runs` (one that forgot its
    BULKX_HOME did, and `bulkx runs` then listed pytest's runs after `make demo`)."""
    before = set(_CHECKOUT_RUNS.glob("*.db"))
    yield
    written = sorted(str(p.name) for p in set(_CHECKOUT_RUNS.glob("*.db")) - before)
    assert not written, f"tests wrote run journals into the checkout: {written[:5]}"
