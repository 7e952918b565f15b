"""The Core Batch API of the sandbox, over real HTTP: create, review, approve, run, cancel, delete.

Every task is polled to its end with a bounded loop (`wait_for`), never an open-ended wait.
"""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from typing import Any

import httpx
import pytest

from bulkx.sandbox import assumptions
from bulkx.sandbox.world import ALL_SCOPES, now_iso
from tests.conftest import Sandbox

pytestmark = pytest.mark.timeout(60)

POLL_SECONDS = 0.02
WAIT_SECONDS = 10.0


# --- helpers ----------------------------------------------------------------------------------


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


# --- POST: renting ------------------------------------------------------------------------------


def test_post_task_rents_the_numbers_it_names(core: httpx.Client) -> None:
    numbers = available(core, 3)
    body = {
        "method": "POST",
        "type": "phonenumber",
        "review": False,
        "data": [{"phonenumber": n, "name": f"line {i}"} for i, n in enumerate(numbers)],
    }
    created = create(core, body)
    assert created["status"] == "created"
    assert created["review"] is False
    assert created["method"] == "POST"
    assert created["type"] == "phonenumber"
    assert created["data"] == body["data"]
    assert created["entries"] is None
    assert created["error_details"] == []
    for counter in ("total", "processed", "success", "failure"):
        assert created[counter] is None
    assert uuid.UUID(created["task_sid"])
    assert created["partner_sid"]
    assert not any(key.startswith("_") for key in created)

    done = wait_for(core, created["task_sid"])
    assert done["status"] == "completed"
    assert (done["total"], done["processed"], done["success"], done["failure"]) == (3, 3, 3, 0)
    assert done["error_details"] == []
    assert done["date_modified"] >= done["date_created"]

    owned = dids_by_number(core)
    for i, number in enumerate(numbers):
        assert owned[number]["status"] == "assigned"
        assert owned[number]["name"] == f"line {i}"


def test_post_task_reports_numbers_that_cannot_be_rented(core: httpx.Client) -> None:
    [kept] = rent(core, 1)
    [fresh] = available(core, 1)
    task = create(
        core,
        {
            "method": "POST",
            "type": "phonenumber",
            "review": False,
            "data": [{"phonenumber": kept}, {"phonenumber": fresh}],
        },
    )
    done = wait_for(core, task["task_sid"])
    assert (done["total"], done["success"], done["failure"]) == (2, 1, 1)
    [detail] = done["error_details"]
    assert tuple(detail) == assumptions.BATCH_ERROR_DETAIL_KEYS
    assert detail["entry"] == {"phonenumber": kept}
    # The same error the single-object rent answers for a number already on the account.
    single = core.post("/phonenumber/dids", json={"phonenumber": kept})
    assert single.status_code == assumptions.RENT_ALREADY_OWNED_STATUS
    assert detail["message"].startswith(str(assumptions.RENT_ALREADY_OWNED_STATUS))
    assert single.json()["message"] in detail["message"]
    assert fresh in dids_by_number(core)


def test_a_large_task_is_observable_while_it_runs(core: httpx.Client) -> None:
    numbers = available(core, 1000)
    task = create(
        core,
        {
            "method": "POST",
            "type": "phonenumber",
            "review": False,
            "data": [{"phonenumber": n} for n in numbers],
        },
    )
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + WAIT_SECONDS
    while not seen or seen[-1]["status"] != "completed":
        assert time.monotonic() < deadline, seen[-1]
        r = core.get(f"/batch/tasks/{task['task_sid']}")
        assert r.status_code == 200
        seen.append(r.json())
    running = [t for t in seen if t["status"] == "running"]
    assert running, [t["status"] for t in seen]
    processed = [t["processed"] for t in seen if t["processed"] is not None]
    assert processed == sorted(processed)
    for t in running:
        assert t["total"] == 1000
        assert t["success"] + t["failure"] == t["processed"] < 1000
    assert (seen[-1]["success"], seen[-1]["failure"]) == (1000, 0)


# --- PATCH with review ------------------------------------------------------------------------


def test_patch_task_waits_for_review_then_repoints_the_numbers(core: httpx.Client) -> None:
    numbers = rent(core, 3)
    tg = trunk_group(core)
    body = {
        "method": "PATCH",
        "type": "phonenumber",
        "field": "phonenumber",
        "entries": numbers,
        "data": {"trunk_group_sid": tg},
    }
    created = create(core, body)
    assert created["status"] == "created"
    assert created["review"] is assumptions.BATCH_REVIEW_DEFAULT is True
    sid = created["task_sid"]

    pending = core.get(f"/batch/tasks/{sid}").json()
    assert pending["status"] == "pending_review"
    # Counters are set once the task leaves `created`, as the Get Tasks sample shows them
    # (https://docs.carrierx.com/voice/core-api/batch/task/get): BATCH_COUNTERS_SET_WHEN.
    assert [pending[c] for c in ("total", "processed", "success", "failure")] == [3, 0, 0, 0]

    r = core.get(f"/batch/tasks/{sid}/review_items")
    assert r.status_code == 200, r.text
    review = r.json()
    assert set(review) == {"method", "review_items", "type"}
    assert (review["method"], review["type"]) == ("PATCH", "phonenumber")
    owned = dids_by_number(core)
    items = review["review_items"]
    assert len(items) == 3
    for number, item in zip(numbers, items, strict=True):
        assert set(item) == {"description", "fields", "sid", "version"}
        assert item["fields"] == {"trunk_group_sid": tg}
        assert item["sid"] == owned[number]["did_sid"]
        assert item["version"] == assumptions.BATCH_REVIEW_ITEM_VERSION
        assert number in item["description"]
        assert tg in item["description"]

    r = core.get(f"/batch/tasks/{sid}/review_items.csv")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == list(assumptions.BATCH_REVIEW_CSV_COLUMNS)
    assert len(rows) == 1 + 3
    by_column = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert [row["sid"] for row in by_column] == [item["sid"] for item in items]
    assert all(json.loads(row["fields"]) == {"trunk_group_sid": tg} for row in by_column)

    # Nothing changed while the task waited for review.
    assert all(owned[n]["trunk_group_sid"] is None for n in numbers)

    r = core.patch(f"/batch/tasks/{sid}", json={"status": "approved"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"
    done = wait_for(core, sid)
    assert (done["status"], done["total"], done["success"], done["failure"]) == (
        "completed",
        3,
        3,
        0,
    )
    owned = dids_by_number(core)
    assert [owned[n]["trunk_group_sid"] for n in numbers] == [tg] * 3
    r = core.get("/phonenumber/dids", params={"trunk_group_sid": tg})
    assert r.json()["total"] == 3


def test_patch_entry_not_on_the_account_fails_alone(core: httpx.Client) -> None:
    numbers = rent(core, 2)
    [stranger] = available(core, 1)
    task = create(
        core,
        {
            "method": "PATCH",
            "type": "phonenumber",
            "field": "phonenumber",
            "entries": [numbers[0], stranger, numbers[1]],
            "data": {"name": "renamed"},
            "review": False,
        },
    )
    done = wait_for(core, task["task_sid"])
    assert (done["total"], done["processed"], done["success"], done["failure"]) == (3, 3, 2, 1)
    [detail] = done["error_details"]
    assert detail["entry"] == stranger
    assert stranger in detail["message"]
    assert detail["message"].startswith("404")
    owned = dids_by_number(core)
    assert [owned[n]["name"] for n in numbers] == ["renamed", "renamed"]
    assert stranger not in owned


def test_patch_entries_meet_the_single_object_validation(core: httpx.Client) -> None:
    numbers = rent(core, 2)
    missing_tg = str(uuid.uuid4())
    single = core.patch(
        f"/phonenumber/dids/{dids_by_number(core)[numbers[0]]['did_sid']}",
        json={"trunk_group_sid": missing_tg},
    )
    assert single.status_code == 422
    task = create(
        core,
        {
            "method": "PATCH",
            "type": "phonenumber",
            "field": "phonenumber",
            "entries": numbers,
            "data": {"trunk_group_sid": missing_tg},
            "review": False,
        },
    )
    done = wait_for(core, task["task_sid"])
    assert (done["success"], done["failure"]) == (0, 2)
    assert [d["entry"] for d in done["error_details"]] == numbers
    single_message = single.json()["errors"][0]["message"]
    assert all(single_message in d["message"] for d in done["error_details"])
    assert all(d["trunk_group_sid"] is None for d in dids_by_number(core).values())


def test_patch_entries_matched_on_did_sid(core: httpx.Client) -> None:
    numbers = rent(core, 2)
    sids = [dids_by_number(core)[n]["did_sid"] for n in numbers]
    task = create(
        core,
        {
            "method": "PATCH",
            "type": "phonenumber",
            "field": "did_sid",
            "entries": sids,
            "data": {"string_key_1": "k"},
            "review": False,
        },
    )
    assert wait_for(core, task["task_sid"])["success"] == 2
    assert [dids_by_number(core)[n]["string_key_1"] for n in numbers] == ["k", "k"]


# --- DELETE, cancel -----------------------------------------------------------------------------


def test_delete_task_releases_the_numbers(core: httpx.Client) -> None:
    numbers = rent(core, 3)
    sids = [dids_by_number(core)[n]["did_sid"] for n in numbers]
    task = create(
        core,
        {
            "method": "DELETE",
            "type": "phonenumber",
            "field": "phonenumber",
            "entries": numbers,
            "review": False,
        },
    )
    done = wait_for(core, task["task_sid"])
    assert (done["total"], done["success"], done["failure"]) == (3, 3, 0)
    assert not set(numbers) & set(dids_by_number(core))
    for sid in sids:
        assert core.get(f"/phonenumber/dids/{sid}").status_code == 404


def test_cancelling_a_pending_task_changes_nothing(core: httpx.Client) -> None:
    numbers = rent(core, 2)
    task = create(
        core,
        {
            "method": "DELETE",
            "type": "phonenumber",
            "field": "phonenumber",
            "entries": numbers,
        },
    )
    sid = task["task_sid"]
    assert wait_for(core, sid, "pending_review")["status"] == "pending_review"
    r = core.patch(f"/batch/tasks/{sid}", json={"status": "cancelled"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    time.sleep(0.1)  # a runner, had one started, would have released numbers by now
    final = core.get(f"/batch/tasks/{sid}").json()
    assert final["status"] == "cancelled"
    # Nothing ran: the counters stay as review left them (BATCH_COUNTERS_SET_WHEN).
    assert [final[c] for c in ("total", "processed", "success", "failure")] == [2, 0, 0, 0]
    assert set(numbers) <= set(dids_by_number(core))

    # A cancelled task cannot be approved afterwards.
    r = core.put(f"/batch/tasks/{sid}", json={"status": "approved"})
    assert r.status_code == assumptions.BATCH_ILLEGAL_TRANSITION_STATUS == 409
    assert r.json()["errors"][0]["field"] == "status"
    assert "cancelled" in r.json()["message"]


# --- validation and status rules ---------------------------------------------------------------


def test_invalid_create_bodies_list_every_problem(core: httpx.Client) -> None:
    number = available(core, 1)[0]
    post_with_entries = {
        "method": "POST",
        "type": "phonenumber",
        "data": [{"phonenumber": number}],
        "entries": [number],
        "field": "phonenumber",
    }
    assert problems(core.post("/batch/tasks", json=post_with_entries)) == {
        "entries": "must be empty or null for POST",
        "field": "must be empty for POST",
    }

    patch_without_field = {
        "method": "PATCH",
        "type": "phonenumber",
        "entries": [number],
        "data": {"name": "x"},
    }
    assert problems(core.post("/batch/tasks", json=patch_without_field)) == {
        "field": "field is required for PATCH"
    }

    patch_with_array = {"method": "PATCH", "type": "phonenumber", "data": [{"name": "x"}]}
    found = problems(core.post("/batch/tasks", json=patch_with_array))
    assert set(found) == {"data", "entries", "field"}

    delete_with_data = {
        "method": "DELETE",
        "type": "phonenumber",
        "field": "name",
        "entries": [number, 5],
        "data": {"name": "x"},
    }
    found = problems(core.post("/batch/tasks", json=delete_with_data))
    assert set(found) == {"data", "field", "entries[1]"}
    assert found["data"] == "must be empty for DELETE"

    found = problems(core.post("/batch/tasks", json={"review": "yes", "colour": 1}))
    assert set(found) == {"method", "type", "review", "colour"}
    assert found["colour"] == "unknown field"

    found = problems(core.post("/batch/tasks", json={"method": "PUT", "type": "did"}))
    assert set(found) == {"method", "type"}

    found = problems(
        core.post("/batch/tasks", json={"method": "POST", "type": "file", "data": [{}]})
    )
    assert "not supported by the sandbox" in found["type"]

    found = problems(
        core.post(
            "/batch/tasks",
            json={"method": "POST", "type": "phonenumber", "data": [{"phonenumber": "x"}, 3]},
        )
    )
    assert set(found) == {"data[1]"}

    found = problems(
        core.post(
            "/batch/tasks",
            json={
                "method": "PATCH",
                "type": "phonenumber",
                "field": "phonenumber",
                "entries": [number],
                "data": {"nmae": "x", "status": "aging"},
                "status": "approved",
                "total": 3,
            },
        )
    )
    assert set(found) == {"data.nmae", "data.status", "status", "total"}

    r = core.get("/batch/tasks")
    assert r.status_code == 200
    assert r.json()["total"] == 0  # nothing was stored


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
    assert problems(r) == {"status": "must be one of " + ", ".join(_STATUSES)}
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


_STATUSES = ("created", "pending_review", "approved", "queued", "running", "completed", "cancelled")


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
    queued = _stored_task(sandbox, status="queued", numbers=numbers, processed=0)
    r = core.delete(f"/batch/tasks/{queued}")
    assert r.status_code == assumptions.BATCH_DELETE_ACTIVE_STATUS == 409
    assert "queued" in r.json()["message"]


# --- scopes, prefixes, restart ------------------------------------------------------------------


def test_entries_run_with_the_creators_scopes(sandbox: Sandbox) -> None:
    sandbox.world.ensure_token("batch-only-token", scopes=("batch.manage",))
    sandbox.world.ensure_token("no-batch-token", scopes=("phonenumber.manage",))
    with sandbox.core() as core:
        numbers = available(core, 2)
    body = {
        "method": "POST",
        "type": "phonenumber",
        "review": False,
        "data": [{"phonenumber": n} for n in numbers],
    }
    url = sandbox.core_url
    with httpx.Client(base_url=url, headers={"Authorization": "Bearer no-batch-token"}) as other:
        r = other.post("/batch/tasks", json=body)
        assert r.status_code == 403
        assert "batch" in r.json()["errors"][0]["message"]
    with httpx.Client(
        base_url=url, headers={"Authorization": "Bearer batch-only-token"}
    ) as limited:
        done = wait_for(limited, create(limited, body)["task_sid"])
    assert (done["success"], done["failure"]) == (0, 2)
    assert all(d["message"].startswith("403") for d in done["error_details"])


def test_prefix_tasks(core: httpx.Client) -> None:
    task = create(
        core,
        {
            "method": "POST",
            "type": "prefix",
            "review": False,
            "data": [{"prefix": "1555"}, {"prefix": "1666", "name": "six"}, {"prefix": "1555"}],
        },
    )
    done = wait_for(core, task["task_sid"])
    assert (done["success"], done["failure"]) == (2, 1)
    assert done["error_details"][0]["message"].startswith("409")
    task = create(
        core,
        {"method": "DELETE", "type": "prefix", "field": "prefix", "entries": ["1555"]},
    )
    items = core.get(f"/batch/tasks/{task['task_sid']}/review_items").json()["review_items"]
    assert [i["description"] for i in items] == ["delete prefix 1555"]
    core.patch(f"/batch/tasks/{task['task_sid']}", json={"status": "approved"})
    assert wait_for(core, task["task_sid"])["success"] == 1
    r = core.get("/phonenumber/prefixes")
    assert [p["prefix"] for p in r.json()["items"]] == ["1666"]


def _stored_task(sandbox: Sandbox, *, status: str, numbers: list[str], processed: int) -> str:
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


def test_a_task_left_running_resumes_where_it_stopped(sandbox: Sandbox, core: httpx.Client) -> None:
    numbers = available(core, 3)
    # The first entry ran (and was counted) before the sandbox stopped.
    assert core.post("/phonenumber/dids", json={"phonenumber": numbers[0]}).status_code == 200
    sid = _stored_task(sandbox, status="running", numbers=numbers, processed=1)
    done = wait_for(core, sid)  # the first /batch request of this world resumes it
    # Exactly once: re-running the first entry would have failed (already on the account).
    assert (done["total"], done["processed"], done["success"], done["failure"]) == (3, 3, 3, 0)
    assert set(numbers) <= set(dids_by_number(core))
