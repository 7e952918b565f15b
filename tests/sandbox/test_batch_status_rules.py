"""The Core Batch API's status rules, over real HTTP: which transitions a task allows, the
list's filters, and which tasks can be deleted."""

from __future__ import annotations

import httpx
import pytest

from bulkx.sandbox import assumptions
from tests.conftest import Sandbox
from tests.sandbox.batch_support import (
    STATUSES,
    create,
    dids_by_number,
    problems,
    rent,
    stored_task,
)

pytestmark = pytest.mark.timeout(60)


def test_status_transitions(core: httpx.Client) -> None:
    numbers = rent(core, 1)
    done_sid = core.get("/batch/tasks").json()["items"][0]["task_sid"]

    r = core.patch(f"/batch/tasks/{done_sid}", json={"status": "approved"})
    assert r.status_code == 409
    assert r.json()["errors"] == [
        {
            "field": "status",
            "message": "a task in status completed cannot change to approved",
            "reference_sid": done_sid,
        }
    ]
    r = core.patch(f"/batch/tasks/{done_sid}", json={"status": "running"})
    assert r.status_code == 409
    r = core.patch(f"/batch/tasks/{done_sid}", json={"status": "finished"})
    assert problems(r) == {"status": "must be one of " + ", ".join(STATUSES)}
    # Re-sending the current status is a no-op, so a task read can be PUT back.
    current = core.get(f"/batch/tasks/{done_sid}").json()
    r = core.put(f"/batch/tasks/{done_sid}", json=current)
    assert r.status_code == 200, r.text
    assert r.json() == current

    pending = create(
        core,
        {
            "method": "PATCH",
            "type": "phonenumber",
            "field": "phonenumber",
            "entries": numbers,
            "data": {"name": "x"},
        },
    )
    sid = pending["task_sid"]
    r = core.patch(f"/batch/tasks/{sid}", json={"entries": ["15550000000"]})
    assert problems(r) == {"entries": "field is read only"}
    r = core.patch(f"/batch/tasks/{sid}", json={"status": "completed"})
    assert r.status_code == 409
    assert core.get(f"/batch/tasks/{sid}").json()["status"] == "pending_review"


def test_list_filters_on_status(core: httpx.Client) -> None:
    numbers = rent(core, 1)
    completed_sid = core.get("/batch/tasks").json()["items"][0]["task_sid"]
    pending = create(
        core,
        {"method": "DELETE", "type": "phonenumber", "field": "phonenumber", "entries": numbers},
    )
    r = core.get("/batch/tasks", params={"filter": 'status eq "completed"'})
    assert r.status_code == 200, r.text
    page = r.json()
    assert (page["count"], page["total"], page["has_more"]) == (1, 1, False)
    assert [t["task_sid"] for t in page["items"]] == [completed_sid]
    r = core.get("/batch/tasks", params={"filter": 'status eq "pending_review"'})
    assert [t["task_sid"] for t in r.json()["items"]] == [pending["task_sid"]]
    r = core.get("/batch/tasks", params={"filter": 'method eq "DELETE" and type eq phonenumber'})
    assert [t["task_sid"] for t in r.json()["items"]] == [pending["task_sid"]]
    r = core.get("/batch/tasks", params={"order": "date_created desc", "limit": 1})
    assert r.json()["items"][0]["task_sid"] == pending["task_sid"]
    assert r.json()["has_more"] is True


def test_delete_task(sandbox: Sandbox, core: httpx.Client) -> None:
    numbers = rent(core, 1)
    pending = create(
        core,
        {"method": "DELETE", "type": "phonenumber", "field": "phonenumber", "entries": numbers},
    )
    r = core.delete(f"/batch/tasks/{pending['task_sid']}")
    assert r.status_code == 204
    assert core.get(f"/batch/tasks/{pending['task_sid']}").status_code == 404
    assert numbers[0] in dids_by_number(core)  # deleting the task does not run it

    # A task the runner owns cannot be deleted. (Stored straight in the world: no runner picks
    # it up, because this world's leftovers were resumed on its first /batch request.)
    queued = stored_task(sandbox, status="queued", numbers=numbers, processed=0)
    r = core.delete(f"/batch/tasks/{queued}")
    assert r.status_code == assumptions.BATCH_DELETE_ACTIVE_STATUS == 409
    assert "queued" in r.json()["message"]
