"""Apply's preparation a chunk at a time gives exactly what the whole plan gives: the same
changes, the same operations in the same order (releases last, dependants first), the sids
the operations name; and an apply of a plan of many chunks journals every operation after the
ones it depends on. Against the in-process sandbox, with chunks of 3 rows."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bulkx.api import CarrierX, Secret, Target
from bulkx.diff.changes import Changeset
from bulkx.diff.chunks import ChunkDiffer, ordered_steps, plan_chunks
from bulkx.diff.engine import diff
from bulkx.diff.read import read_live_state
from bulkx.diff.read_chunks import ChunkReads
from bulkx.diff.summary import ChangeSummary
from bulkx.engine.events import Reporters
from bulkx.engine.operations import operations, referenced
from bulkx.engine.plan_run import live_refs
from bulkx.engine.prepare_chunks import prepare_journaled
from bulkx.engine.run import RunOptions, execute, plan_run, start_run
from bulkx.journal import Journal, Operation
from bulkx.plan.model import ValidPlan
from bulkx.plan.validate import load_valid
from bulkx.sandbox.app import SandboxApp, SandboxConfig, create_app
from bulkx.sandbox.controls import SandboxTransport
from bulkx.sandbox.resources.numbers import seed_ported
from bulkx.sandbox.world import DEFAULT_TOKEN

NUMBERS = [f"1201314{i:04d}" for i in range(30)]
NOT_OURS = "12013149990"  # neither on the account nor rented by the plan: its E911 is blocked


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bulkx.diff.chunks.CHUNK_ROWS", 3)
    monkeypatch.setattr("bulkx.engine.prepare_chunks.RELEASE_PAGE", 2)


def _client(app: SandboxApp) -> CarrierX:
    target = Target("http://127.0.0.1/core/v2", is_sandbox=True, label="sandbox")
    return CarrierX(target, Secret(DEFAULT_TOKEN), transport=SandboxTransport(app))


async def _live_before(app: SandboxApp) -> list[str]:
    """Trunk group old-sip with numbers 0-5 and 13 on it; two inventory numbers to rent."""
    async with _client(app) as client:
        group = await client.post("core", "/trunk_groups", json={"name": "old-sip"})
        for number in NUMBERS[:6] + NUMBERS[13:14]:
            found = await client.list_all(
                "core", "/phonenumber/dids", filter=f'phonenumber eq "{number}"'
            )
            await client.patch(
                "core",
                f"/phonenumber/dids/{found[0]['did_sid']}",
                json={"trunk_group_sid": group["trunk_group_sid"]},
            )
        page = await client.get("core", "/phonenumber/available_dids", params={"limit": 2})
        return [str(item["phonenumber"]) for item in page["items"]]


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, list[str]]:
    """A sandbox database holding the numbers (named "line N"), and two numbers to rent."""
    db = tmp_path / "world.db"
    app = create_app(SandboxConfig(db=db, seed=5))
    seed_ported(app.world, [(n, f"line {i}") for i, n in enumerate(NUMBERS)])
    to_rent = asyncio.run(_live_before(app))
    app.world.store.close()
    return db, to_rent


def _plan(directory: Path, to_rent: list[str], *, blocked: bool) -> ValidPlan:
    """Creates and a release of trunk groups, DIDs moved off the released one, DIDs released
    (one naming it), renamed and rented, E911 records (one on a number the plan rents) and
    line information: references, sub-records and releases across many chunks."""
    moved = [f"{n},new-sip" for n in NUMBERS[:6]]
    (directory / "moved.csv").write_text("phonenumber,trunk_group\n" + "\n".join(moved) + "\n")
    kept = [f"{n},line {i}" for i, n in enumerate(NUMBERS) if 21 <= i < 24]  # no change
    renamed = kept + [
        f"{n},renamed-{i}" for i, n in enumerate(NUMBERS[14:21] + NUMBERS[24:] + to_rent)
    ]
    (directory / "renamed.csv").write_text("phonenumber,name\n" + "\n".join(renamed) + "\n")
    e911 = NUMBERS[:8] + to_rent[:1] + ([NOT_OURS] if blocked else [])
    rows = [f"{n},1 Main St,New York,NY,10001" for n in e911]
    (directory / "e911.csv").write_text(
        "phonenumber,address_1,city,state,zip\n" + "\n".join(rows) + "\n"
    )
    lines = [f"{n},ACME" for n in NUMBERS[14:21]]
    (directory / "lines.csv").write_text("phonenumber,caller_name\n" + "\n".join(lines) + "\n")
    gone = "".join(f"      - {{phonenumber: '{n}', ensure: absent}}\n" for n in NUMBERS[10:13])
    gone += f"      - {{phonenumber: '{NUMBERS[13]}', ensure: absent, trunk_group: old-sip}}\n"
    (directory / "plan.yaml").write_text(
        "version: 1\nsteps:\n"
        "  - kind: trunk_group\n    name: groups\n    items:\n"
        "      - {name: new-sip}\n      - {name: old-sip, ensure: absent}\n"
        "  - {kind: did, name: moved, source: moved.csv}\n"
        f"  - kind: did\n    name: gone\n    items:\n{gone}"
        "  - {kind: did, name: renamed, source: renamed.csv}\n"
        "  - {kind: did_emergency, name: e911, source: e911.csv}\n"
        "  - {kind: did_line_information, name: lines, source: lines.csv}\n"
    )
    plan, diagnostics = load_valid(directory / "plan.yaml")
    assert plan is not None, [d for d in diagnostics if d.severity == "error"]
    return plan


def _shape(op: Operation) -> tuple[Any, ...]:
    return (
        op.op_key,
        op.step,
        op.kind,
        op.key,
        op.action,
        op.position,
        op.depends_on,
        dict(op.change),
    )


async def _whole_and_chunked(app: SandboxApp, plan: ValidPlan, root: Path) -> dict[str, Any]:
    async with _client(app) as client:
        live = await read_live_state(client, plan)
        whole = diff(plan, live, allow_release=True)
        reads = ChunkReads(client, plan)
        await reads.up_front()
        differ = ChunkDiffer(plan, allow_release=True)
        chunked = [
            change
            for chunk in plan_chunks(ordered_steps(plan))
            for change in differ.diff(chunk, await reads.chunk(chunk))
        ]
        journal = Journal.create(
            root,
            plan_path=plan.path,
            plan_digest=plan.digest,
            target_label="sandbox",
            is_sandbox=True,
            options={},
            changeset_json="{}",
            preparing=True,
        )
        prepared = await prepare_journaled(
            journal, plan, client, target="sandbox", allow_release=True, confirmed=frozenset()
        )
    return {
        "whole": whole,
        "chunked": chunked,
        "live": live,
        "journal": journal,
        "prepared": prepared,
    }


def test_a_chunked_diff_and_its_journal_equal_the_whole_plans(
    world: tuple[Path, list[str]], tmp_path: Path
) -> None:
    db, to_rent = world
    plan = _plan(tmp_path, to_rent, blocked=True)
    app = create_app(SandboxConfig(db=db))
    got = asyncio.run(_whole_and_chunked(app, plan, tmp_path / "root"))
    whole = got["whole"]
    assert len(whole) > 3 * 10  # many chunks of 3
    assert {c.action for c in whole} >= {"create", "update", "release", "noop", "blocked"}
    assert got["chunked"] == whole

    journal: Journal = got["journal"]
    expected = operations(whole, plan.digest)
    journaled = journal.ops(limit=10_000)
    assert [_shape(op) for op in journaled] == [_shape(op) for op in expected]
    # The trunk group is released last: after the release of the DID naming it, then after
    # the updates moving DIDs off it.
    by_key = {op.op_key: op for op in expected}
    last = expected[-1]
    assert (last.kind, last.action) == ("trunk_group", "release")
    assert [by_key[key].action for key in last.depends_on] == ["release"] + ["update"] * 6

    # The sids the run needs: all the whole plan's (and maybe more: a DID named, read).
    wanted = live_refs(got["live"], referenced(whole))
    assert wanted
    assert journal.refs().items() >= wanted.items()

    changeset = Changeset(plan.path, plan.digest, "sandbox", tuple(whole))
    summary: ChangeSummary = got["prepared"].summary
    assert summary.counts() == changeset.counts()
    assert summary.monthly_cost() == changeset.monthly_cost() > 0
    assert (summary.blocked, summary.ops) == (len(changeset.blocked), len(expected))
    state = journal.preparation()
    assert state is not None and state.finished
    assert journal.staged_releases(10) == []
    header = journal.changeset()
    assert header["summary"] == changeset.counts() and "preparing" not in header
    journal.close()
    app.world.store.close()


def test_an_apply_of_many_chunks_journals_each_operation_after_what_it_depends_on(
    world: tuple[Path, list[str]], tmp_path: Path
) -> None:
    db, to_rent = world
    plan = _plan(tmp_path, to_rent, blocked=False)
    options = RunOptions(sandbox_db=str(db), allow_release=True)
    root = tmp_path / "root"

    async def apply() -> tuple[str, int]:
        prepared = await plan_run(plan, options, root=root)
        assert prepared.summary.blocked == 0 and prepared.summary.ops > 10
        run = start_run(root, plan, prepared, options)
        outcome = await execute(run, reporter=Reporters(), signals=False)
        return run.run_id, outcome.exit_code

    run_id, code = asyncio.run(apply())
    with Journal.open(root, run_id) as journal:
        ops = journal.ops(limit=10_000)
        counts = journal.counts()
    assert code == 0, counts
    assert counts["succeeded"] == len(ops)
    ids = {op.op_key: op.op_id or 0 for op in ops}
    assert [op.op_id for op in ops] == list(range(1, len(ops) + 1))
    for op in ops:
        assert all(ids[dep] < (op.op_id or 0) for dep in op.depends_on), op
    releases = [op for op in ops if op.action == "release"]
    assert releases == ops[-len(releases) :]  # last, the trunk group after its DIDs
    assert releases[-1].kind == "trunk_group"
