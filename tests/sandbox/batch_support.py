"""What the Batch API tests share: creating tasks, polling them to their end, and reading the
numbers they touched.

Every task is polled to its end with a bounded loop (`wait_for`), never an open-ended wait.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from bulkx.sandbox import assumptions
from bulkx.sandbox.world import ALL_SCOPES, now_iso
from tests.conftest import Sandbox

POLL_SECONDS = 0.02
WAIT_SECONDS = 10.0


def wait_for(core: httpx.Client, sid: str, *statuses: str) -> dict[str, Any]:
    """Poll the task until its status is one of `statuses` (default: finished), at most ~10 s."""
    wanted = statuses or ("completed", "cancelled")
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        r = core.get(f"/batch/tasks/{sid}")
        assert r.status_code == 200, r.text
        task: dict[str, Any] = r.json()
        if task["status"] in wanted:
            return task
        assert time.monotonic() < deadline, f"task still {task['status']}: {task}"
        time.sleep(POLL_SECONDS)


def available(core: httpx.Client, n: int) -> list[str]:
    r = core.get("/phonenumber/available_dids", params={"limit": n})
    assert r.status_code == 200, r.text
    numbers = [item["phonenumber"] for item in r.json()["items"]]
    assert len(numbers) == n
    return numbers


def create(core: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    r = core.post("/batch/tasks", json=body)
    assert r.status_code == 200, r.text
    task: dict[str, Any] = r.json()
    return task


def rent(core: httpx.Client, n: int) -> list[str]:
    """n available numbers rented through a batch task (review off)."""
    numbers = available(core, n)
    task = create(
        core,
        {
            "method": "POST",
            "type": "phonenumber",
            "review": False,
            "data": [{"phonenumber": number} for number in numbers],
        },
    )
    done = wait_for(core, task["task_sid"])
    assert (done["status"], done["success"], done["failure"]) == ("completed", n, 0)
    return numbers


def dids_by_number(core: httpx.Client) -> dict[str, dict[str, Any]]:
    r = core.get("/phonenumber/dids", params={"limit": 1000})
    assert r.status_code == 200, r.text
    return {did["phonenumber"]: did for did in r.json()["items"]}


def trunk_group(core: httpx.Client, name: str = "batch-tg") -> str:
    r = core.post("/trunk_groups", json={"name": name})
    assert r.status_code == 200, r.text
    return str(r.json()["trunk_group_sid"])


def problems(r: httpx.Response) -> dict[str, str]:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["message"] == assumptions.MESSAGE_BY_STATUS[422]
    return {e["field"]: e["message"] for e in body["errors"]}


#: Every status a task can have, in the order the 422 for an unknown one lists them.
STATUSES = ("created", "pending_review", "approved", "queued", "running", "completed", "cancelled")


def stored_task(sandbox: Sandbox, *, status: str, numbers: list[str], processed: int) -> str:
    """A task row as a stopped sandbox would have left it."""
    world = sandbox.world
    sid = str(uuid.uuid4())
    task = {
        "data": [{"phonenumber": n} for n in numbers],
        "date_created": now_iso(),
        "date_modified": now_iso(),
        "entries": None,
        "error_details": [],
        "failure": 0,
        "field": None,
        "method": "POST",
        "partner_sid": world.partner_sid,
        "processed": processed,
        "review": False,
        "status": status,
        "success": processed,
        "task_sid": sid,
        "total": len(numbers),
        "type": "phonenumber",
        "_scopes": list(ALL_SCOPES),
    }
    world.store.insert("batch_tasks", sid, world.partner_sid, task)
    return sid
