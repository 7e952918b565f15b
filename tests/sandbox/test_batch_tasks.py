"""The Core Batch API of the sandbox, over real HTTP: tasks that rent, repoint and release
numbers (with and without review), are cancelled, run with their creator's scopes, manage
prefixes, and resume after a restart."""

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
from tests.conftest import Sandbox
from tests.sandbox.batch_support import (
    WAIT_SECONDS,
    available,
    create,
    dids_by_number,
    rent,
    stored_task,
    trunk_group,
    wait_for,
)

pytestmark = pytest.mark.timeout(60)


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


def _assert_review_describes_the_repoint(
    core: httpx.Client, sid: str, numbers: list[str], owned: dict[str, dict[str, Any]], tg: str
) -> None:
    """The review items, as JSON and as CSV: one per number, naming it and the new trunk group."""
    r = core.get(f"/batch/tasks/{sid}/review_items")
    assert r.status_code == 200, r.text
    review = r.json()
    assert set(review) == {"method", "review_items", "type"}
    assert (review["method"], review["type"]) == ("PATCH", "phonenumber")
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

    owned = dids_by_number(core)
    _assert_review_describes_the_repoint(core, sid, numbers, owned, tg)

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


def test_a_task_left_running_resumes_where_it_stopped(sandbox: Sandbox, core: httpx.Client) -> None:
    numbers = available(core, 3)
    # The first entry ran (and was counted) before the sandbox stopped.
    assert core.post("/phonenumber/dids", json={"phonenumber": numbers[0]}).status_code == 200
    sid = stored_task(sandbox, status="running", numbers=numbers, processed=1)
    done = wait_for(core, sid)  # the first /batch request of this world resumes it
    # Exactly once: re-running the first entry would have failed (already on the account).
    assert (done["total"], done["processed"], done["success"], done["failure"]) == (3, 3, 3, 0)
    assert set(numbers) <= set(dids_by_number(core))
