"""docs/coverage.md is generated (docs/coverage_table.py) and kept current; its inputs hold."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def table() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "coverage_table", ROOT / "docs" / "coverage_table.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _tested_or_not(text: str) -> list[str]:
    """The table with each method's *tested* cell reduced to yes or no: which tests name a
    method changes with every new test, whether any does is what the table promises (a new
    test must not make it stale; a method losing its last test must)."""
    lines = []
    for line in text.splitlines():
        cells = re.split(r"(?<!\\)\|", line)
        if len(cells) == 9 and line.startswith("| "):  # a method row: 7 cells between bars
            cells[6] = " no " if cells[6].strip() == "no" else " yes "
        lines.append("|".join(cells))
    return lines


def test_the_coverage_table_is_current(table: ModuleType) -> None:
    text = table.render(table.REFERENCE.read_text())
    written = (ROOT / "docs" / "coverage.md").read_text()
    assert _tested_or_not(written) == _tested_or_not(text), (
        "docs/coverage.md is stale; regenerate it: .venv/bin/python docs/coverage_table.py"
    )


def test_every_reference_method_is_read(table: ModuleType) -> None:
    methods = table.reference_methods(table.REFERENCE.read_text())
    assert {m.api for m in methods} == set(table.TITLES)
    assert all(m.method in table.METHODS and m.path.startswith("/") for m in methods)
    assert all(m.action.split()[0] in {v.split()[0] for v in table.VERBS} for m in methods)
    found = {(m.api, m.method, m.path): m.action for m in methods}
    # A row without a method is a POST; PATCH/PUT is two methods.
    assert found[("core", "POST", "/accesscontrol/rules")] == "Create Access Control Rule"
    assert (
        found[("core", "PUT", "/accesscontrol/rules/{rule_sid}")]
        == (found[("core", "PATCH", "/accesscontrol/rules/{rule_sid}")])
    )
    assert found[("conference", "PUT", "/meetingRooms/{meetingNumber}")] == "Update Meeting Room"


def test_every_method_is_served_or_says_why_not(table: ModuleType) -> None:
    methods = table.reference_methods(table.REFERENCE.read_text())
    served = table.sandbox_routes()
    unserved = [m for m in methods if (m.api, m.method, m.shape) not in served]
    assert all((m.api, m.method, m.path) in table.NOT_SERVED for m in unserved), unserved
    known = {(m.api, m.method, m.path) for m in methods}
    assert set(table.NOT_SERVED) <= known, "a reason for a method the reference does not have"
    assert not any(table.served_cell(m, served).endswith("NO REASON GIVEN") for m in methods)


def test_everything_bulkx_sends_is_served_by_the_sandbox(table: ModuleType) -> None:
    served = table.sandbox_routes()
    assert sorted(set(table.bulkx_uses()) - served) == []


def test_requests_no_kind_explains_are_in_the_client(table: ModuleType) -> None:
    sources = "".join(
        path.read_text()
        for part in ("api", "diff", "engine", "cli")
        for path in (ROOT / "bulkx" / part).rglob("*.py")
    )
    for _api, _method, path in table.OTHER_USES:
        assert f'"{path}"' in sources, path


def test_every_note_applies_to_some_method(table: ModuleType) -> None:
    methods = table.reference_methods(table.REFERENCE.read_text())
    for api, verbs, pattern, reason in table.NOT_FOR_BULK:  # no rule is dead
        assert any(
            m.api == api
            and (verbs is None or m.method in verbs)
            and table.re.search(pattern, m.path)
            for m in methods
        ), reason
