"""`bulkx apply --via batch` against a served sandbox: tasks created, reviewed, approved, followed,
and every entry's result journaled like any other operation."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bulkx.engine.batch_backend import Batcher, Group
from bulkx.engine.operations import Operation
from bulkx.engine.requests import Request, Resolver
from bulkx.errors import TransportError
from bulkx.journal import JournalReader
from bulkx.sandbox.resources.numbers import seed_ported
from bulkx.sandbox.seeding import read_ported_csv
from tests.conftest import TOKEN, Sandbox

REPO = Path(__file__).resolve().parents[2]


def _bulkx(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CARRIERX_TOKEN": TOKEN, "BULKX_HOME": str(cwd / ".bulkx")}
    return subprocess.run(
        [sys.executable, "-m", "bulkx", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def _events(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _tasks(core: httpx.Client) -> list[dict[str, object]]:
    items: list[dict[str, object]] = core.get("/batch/tasks", params={"limit": 100}).json()["items"]
    return items


def _write_rent_plan(path: Path, numbers: list[str]) -> Path:
    """A trunk group, then a rental pointed at it and an E911 address for each number."""
    path.write_text(
        "steps:\n"
        "  - name: groups\n    kind: trunk_group\n    items:\n      - name: batch-tg\n"
        "  - name: numbers\n    kind: did\n    items:\n"
        + "".join(f"      - phonenumber: '+{n}'\n        trunk_group: batch-tg\n" for n in numbers)
        + "  - name: e911\n    kind: did_emergency\n    items:\n"
        + "".join(
            f"      - phonenumber: '+{n}'\n        address_1: 1 Main St\n        city: Albany\n"
            "        state: NY\n        zip: '12207'\n"
            for n in numbers
        )
    )
    return path


def _rent_as_another_partner(sandbox: Sandbox, number: str) -> None:
    """Someone else rents `number` between plan and apply."""
    other_partner = {
        **sandbox.world.partner(sandbox.world.partner_sid),
        "partner_sid": "other-partner",
        "login": "other",
    }
    sandbox.world.store.insert("partners", "other-partner", "other-partner", other_partner)
    other = sandbox.world.issue_token("other-partner")["access_token"]
    rented = httpx.post(
        f"{sandbox.core_url}/phonenumber/dids",
        json={"phonenumber": number},
        headers={"Authorization": f"Bearer {other}"},
    )
    assert rented.status_code == 200, rented.text


def _assert_rented_with_e911(core: httpx.Client, numbers: list[str]) -> None:
    for number in numbers:
        did = core.get("/phonenumber/dids", params={"filter": f'phonenumber eq "{number}"'})
        (item,) = did.json()["items"]
        assert item["trunk_group_sid"]
        emergency = core.get(f"/phonenumber/dids/{item['did_sid']}/emergency").json()
        assert emergency["locations"][0]["city"] == "Albany"


def test_rentals_and_updates_go_through_reviewed_batch_tasks(
    sandbox: Sandbox, core: httpx.Client, tmp_path: Path
) -> None:
    free = core.get("/phonenumber/available_dids", params={"limit": 6}).json()["items"]
    numbers = [str(d["phonenumber"]) for d in free]
    taken = numbers.pop()  # someone else rents it between plan and apply: its entry fails
    plan = _write_rent_plan(tmp_path / "rent.yaml", [*numbers, taken])
    base = ["--base-url", sandbox.core_url]
    planned = _bulkx(tmp_path, "plan", str(plan), *base)
    assert planned.returncode == 0, planned.stderr
    _rent_as_another_partner(sandbox, taken)

    events = tmp_path / "events.jsonl"
    run = _bulkx(
        tmp_path, "apply", str(plan), "--yes", "--via", "batch", "--events", str(events), *base
    )
    assert run.returncode == 3, run.stderr  # finished, one rental (and its E911) failed
    assert "review: 6 item(s)" in run.stderr

    reviews = [e for e in _events(events) if e["type"] == "batch_review"]
    assert [(r["method"], r["object_type"], r["entries"]) for r in reviews] == [
        ("POST", "phonenumber", 6)
    ]
    tasks = _tasks(core)
    assert [(t["method"], t["status"], t["success"], t["failure"]) for t in tasks] == [
        ("POST", "completed", 5, 1)
    ]

    run_id = next(str(e["run_id"]) for e in _events(events) if e["type"] == "run_finished")
    with JournalReader.open(tmp_path / ".bulkx", run_id) as journal:
        assert journal.counts()["succeeded"] == 1 + 5 + 5  # trunk group, rentals, E911
        failed = journal.ops("failed")
        skipped = journal.ops("skipped")
    assert [(r.kind, r.key) for r in failed] == [("did", taken)]
    assert [(r.kind, r.key) for r in skipped] == [("did_emergency", taken)]
    _assert_rented_with_e911(core, numbers)


def test_a_bulk_repoint_is_one_task_and_nothing_is_left_to_do(
    sandbox: Sandbox, core: httpx.Client, tmp_path: Path
) -> None:
    shutil.copytree(REPO / "plans", tmp_path / "plans")
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    numbers, _ = read_ported_csv(REPO / "samples" / "ported-numbers.csv")
    seed_ported(sandbox.world, numbers)
    base = ["--base-url", sandbox.core_url]
    preview = _bulkx(tmp_path, "plan", "plans/port-in.yaml", "--via", "batch", *base)
    assert f"PATCH {len(numbers)} phonenumber entries setting trunk_group=" in preview.stderr
    assert "1 Batch task(s)" in preview.stderr
    run = _bulkx(tmp_path, "apply", "plans/port-in.yaml", "--yes", "--via", "batch", *base)
    assert run.returncode == 0, run.stderr
    patches = [t for t in _tasks(core) if t["method"] == "PATCH"]
    assert len(patches) == 1 and patches[0]["success"] == len(numbers)
    again = _bulkx(tmp_path, "plan", "plans/port-in.yaml", *base)
    assert "0 to create, 0 to rent, 0 to update, 0 to release" in again.stdout + again.stderr


def test_distinct_values_go_one_by_one_and_only_real_groups_become_tasks(
    sandbox: Sandbox, core: httpx.Client, tmp_path: Path
) -> None:
    # Issue 17: 1,990 numbers given 1,990 distinct names made 1,990 Batch tasks.
    free = core.get("/phonenumber/available_dids", params={"limit": 12}).json()["items"]
    numbers = [str(d["phonenumber"]) for d in free]
    seed_ported(sandbox.world, [(n, f"seeded-{n}") for n in numbers])
    renamed, repointed = numbers[:6], numbers[6:]
    plan = tmp_path / "names.yaml"
    plan.write_text(
        "steps:\n  - name: groups\n    kind: trunk_group\n    items:\n      - name: tg-one\n"
        "  - name: numbers\n    kind: did\n    items:\n"
        + "".join(
            f"      - {{phonenumber: '+{n}', name: line-{i}}}\n" for i, n in enumerate(renamed)
        )
        + "".join(f"      - {{phonenumber: '+{n}', trunk_group: tg-one}}\n" for n in repointed)
    )
    base = ["--base-url", sandbox.core_url]
    preview = _bulkx(tmp_path, "plan", str(plan), "--via", "batch", *base)
    assert preview.returncode == 0, preview.stderr
    assert "1 Batch task(s)" in preview.stderr
    assert "6 change(s) one by one" in preview.stderr
    run = _bulkx(tmp_path, "apply", str(plan), "--yes", "--via", "batch", *base)
    assert run.returncode == 0, run.stderr
    tasks = _tasks(core)
    assert [(t["method"], t["success"]) for t in tasks] == [("PATCH", len(repointed))]
    for i, number in enumerate(renamed):
        did = core.get("/phonenumber/dids", params={"filter": f'phonenumber eq "{number}"'})
        assert did.json()["items"][0]["name"] == f"line-{i}"


class _TaskApi:
    """Just enough of the Batch API for one PATCH task: its reads fail twice in transit, then
    the task is pending three times before it completes."""

    def __init__(self) -> None:
        self.resets = 2
        self.statuses = ["pending", "pending", "pending", "completed"]

    async def post(self, api: str, path: str, **kwargs: object) -> dict[str, object]:
        return {"task_sid": "t1", "status": "created"}

    async def patch(self, api: str, path: str, **kwargs: object) -> dict[str, object]:
        return {}

    async def get(self, api: str, path: str, **kwargs: object) -> dict[str, object]:
        if path.endswith("/review_items"):
            return {"review_items": []}
        if self.resets:
            self.resets -= 1
            raise TransportError("connection reset")
        return {"task_sid": "t1", "status": self.statuses.pop(0), "error_details": []}


def test_a_task_is_polled_and_its_reads_retried_on_the_injected_sleep() -> None:
    """The poll waits 0.2 s, then 1.5 times longer each time; a read lost in transit is tried
    again after 0.5 s, then 1 s: no jitter (one poller), and no real sleeping."""
    waits: list[float] = []

    async def recording_sleep(seconds: float) -> None:
        waits.append(seconds)

    op = Operation(
        op_key="k",
        step="s",
        kind="did",
        key="15550001",
        action="update",
        position="p.yaml:1:0",
        depends_on=(),
        change={},
    )
    request = Request("core", "PATCH", "/phonenumber/dids/d1", {"trunk_group_sid": "tg"})
    group = Group("PATCH", "phonenumber", "phonenumber", [op], [request])
    batcher = Batcher(_TaskApi(), Resolver(), lambda *a, **k: None, sleep=recording_sleep)  # type: ignore[arg-type]
    outcomes = asyncio.run(batcher.run_task(group, lambda: False))
    assert [(o.op.op_key, o.error) for o in outcomes] == [("k", None)]
    # poll 1 waits 0.2 s; its read is reset twice (0.5 s, 1 s); polls 2-4 wait 0.3, 0.45, 0.675.
    assert waits == pytest.approx([0.2, 0.5, 1.0, 0.3, 0.45, 0.675])
