"""The fault campaign's tests: each runs one scenario of tests/chaos/scenarios.py at a size the
default suite can afford (the heavier sizes are marked slow; `make chaos` runs the full ones).

BULKX_CHAOS_SEED replays a failing schedule: every scenario takes its randomness from it.
"""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos: a fault-campaign scenario (tests/chaos)")


@pytest.fixture
def seed() -> int:
    return int(os.environ.get("BULKX_CHAOS_SEED", "1"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.chaos)
