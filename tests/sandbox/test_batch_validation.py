"""The Core Batch API's validation, over real HTTP: a task body with problems is refused with
every problem listed and stores nothing; an unknown task is a 404 on every route.

Nothing here stores a task, so the module's tests share one sandbox."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bulkx.sandbox import assumptions
from tests.conftest import Sandbox, module_sandbox
from tests.sandbox.batch_support import available, problems

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    yield from module_sandbox(tmp_path_factory, "batch_validation")


@pytest.fixture(scope="module")
def core(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with sandbox.core() as client:
        yield client


#: (body, every field with a problem (None: not checked), messages expected exactly, message
#: parts expected). NUMBER in a body stands for an available number.
INVALID_BODIES: list[tuple[dict[str, Any], set[str] | None, dict[str, str], dict[str, str]]] = [
    (
        {
            "method": "POST",
            "type": "phonenumber",
            "data": [{"phonenumber": "NUMBER"}],
            "entries": ["NUMBER"],
            "field": "phonenumber",
        },
        {"entries", "field"},
        {"entries": "must be empty or null for POST", "field": "must be empty for POST"},
        {},
    ),
    (
        {"method": "PATCH", "type": "phonenumber", "entries": ["NUMBER"], "data": {"name": "x"}},
        {"field"},
        {"field": "field is required for PATCH"},
        {},
    ),
    (
        {"method": "PATCH", "type": "phonenumber", "data": [{"name": "x"}]},
        {"data", "entries", "field"},
        {},
        {},
    ),
    (
        {
            "method": "DELETE",
            "type": "phonenumber",
            "field": "name",
            "entries": ["NUMBER", 5],
            "data": {"name": "x"},
        },
        {"data", "field", "entries[1]"},
        {"data": "must be empty for DELETE"},
        {},
    ),
    (
        {"review": "yes", "colour": 1},
        {"method", "type", "review", "colour"},
        {"colour": "unknown field"},
        {},
    ),
    ({"method": "PUT", "type": "did"}, {"method", "type"}, {}, {}),
    (
        {"method": "POST", "type": "file", "data": [{}]},
        None,
        {},
        {"type": "not supported by the sandbox"},
    ),
    (
        {"method": "POST", "type": "phonenumber", "data": [{"phonenumber": "x"}, 3]},
        {"data[1]"},
        {},
        {},
    ),
    (
        {
            "method": "PATCH",
            "type": "phonenumber",
            "field": "phonenumber",
            "entries": ["NUMBER"],
            "data": {"nmae": "x", "status": "aging"},
            "status": "approved",
            "total": 3,
        },
        {"data.nmae", "data.status", "status", "total"},
        {},
        {},
    ),
]


@pytest.mark.parametrize(
    ("body", "fields", "messages", "message_parts"),
    INVALID_BODIES,
    ids=[
        "post-with-entries",
        "patch-without-field",
        "patch-with-array",
        "delete-with-data",
        "no-method-or-type-and-unknown-field",
        "unknown-method-and-type",
        "unsupported-type",
        "post-data-not-objects",
        "patch-read-only-and-unknown-data",
    ],
)
def test_invalid_create_bodies_list_every_problem(
    core: httpx.Client,
    body: dict[str, Any],
    fields: set[str] | None,
    messages: dict[str, str],
    message_parts: dict[str, str],
) -> None:
    number = available(core, 1)[0]
    found = problems(
        core.post("/batch/tasks", json=json.loads(json.dumps(body).replace("NUMBER", number)))
    )
    if fields is not None:
        assert set(found) == fields
    for field, message in messages.items():
        assert found[field] == message
    for field, part in message_parts.items():
        assert part in found[field]

    r = core.get("/batch/tasks")
    assert r.status_code == 200
    assert r.json()["total"] == 0  # nothing was stored


def test_unknown_task_sid_is_404(core: httpx.Client) -> None:
    sid = str(uuid.uuid4())
    calls = [
        core.get(f"/batch/tasks/{sid}"),
        core.patch(f"/batch/tasks/{sid}", json={"status": "approved"}),
        core.put(f"/batch/tasks/{sid}", json={"status": "approved"}),
        core.delete(f"/batch/tasks/{sid}"),
        core.get(f"/batch/tasks/{sid}/review_items"),
        core.get(f"/batch/tasks/{sid}/review_items.csv"),
    ]
    for r in calls:
        assert r.status_code == 404, r.text
        assert r.json()["message"] == assumptions.MESSAGE_BY_STATUS[404]
