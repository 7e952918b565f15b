"""Sending while preparing (bulkx.engine.pipeline): which plans may, and, through the library's
front door against the in-process sandbox with chunks of 3 rows, that such a run sends before
its plan is prepared, never sends an operation before what it depends on, ends with the whole
plan's summary, stops both at Ctrl-C and is resumed to the end, each operation once."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bulkx.api import Secret
from bulkx.diff.read import ApiReader
from bulkx.engine import events
from bulkx.engine.events import Event, Reporter, Reporters
from bulkx.engine.pipeline import pipeline_refusal
from bulkx.engine.run import (
    RunOptions,
    continue_preparing,
    execute,
    open_resume,
    plan_run,
    start_run,
)
from bulkx.journal import Journal, limits
from bulkx.journal.claims import target_key
from bulkx.plan.model import ValidPlan
from bulkx.plan.validate import load_valid
from bulkx.sandbox.app import SandboxConfig, create_app
from bulkx.sandbox.resources.numbers import seed_ported
from bulkx.sandbox.world import DEFAULT_TOKEN

NUMBERS = [f"1201316{i:04d}" for i in range(24)]


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bulkx.diff.chunks.CHUNK_ROWS", 3)


@pytest.fixture
def world(tmp_path: Path) -> Path:
    """A sandbox database holding the numbers, each named "line N"."""
    db = tmp_path / "world.db"
    app = create_app(SandboxConfig(db=db, seed=5))
    seed_ported(app.world, [(n, f"line {i}") for i, n in enumerate(NUMBERS)])
    app.world.store.close()
    return db


def _load(path: Path, text: str, *, kind: str | None = None) -> ValidPlan:
    path.write_text(text)
    plan, diagnostics = load_valid(path, kind=kind)  # as apply does
    assert plan is not None, diagnostics
    return plan


def _renames(directory: Path, numbers: list[str] = NUMBERS) -> ValidPlan:
    """Every number renamed: 8 chunks of 3, each operation its own number's."""
    rows = "".join(f"{n},renamed {i}\n" for i, n in enumerate(numbers))
    return _load(directory / "names.csv", "phonenumber,name\n" + rows, kind="did")


class Gate:
    """Holds the preparation's reads (after the first chunk) until it is opened: what the run
    did meanwhile it did while its plan was being prepared."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.waited = 0

    def reader(self, reader: ApiReader) -> ApiReader:
        gate = self

        class Gated:
            async def list_all(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
                await gate.wait()
                return await reader.list_all(*args, **kwargs)

            async def get(self, *args: Any, **kwargs: Any) -> Any:
                await gate.wait()
                return await reader.get(*args, **kwargs)

        return Gated()

    async def wait(self) -> None:
        self.waited += 1
        await self.opened.wait()


def _gate_reads(monkeypatch: pytest.MonkeyPatch, gate: Gate) -> None:
    from bulkx.engine import pipeline
    from bulkx.engine.read_policy import for_run as real

    def gated(reader: ApiReader, **kwargs: Any) -> ApiReader:
        return gate.reader(real(reader, **kwargs))

    monkeypatch.setattr(pipeline, "for_run", gated)


def _on(kind: str, act: Callable[[Event], None]) -> Reporter:
    def reporter(event: Event) -> None:
        if event.type == kind:
            act(event)

    return reporter


def _pipelined_options(db: Path, plan: ValidPlan, **given: Any) -> RunOptions:
    """Options on the sandbox `db` with which `plan` may send while it is prepared."""
    options = RunOptions(sandbox_db=str(db), **given)
    assert pipeline_refusal(plan, options, saved=False) is None
    return options


def _started_ops(db: Path) -> list[tuple[int, str]]:
    """(op_id, to_state) of every transition to in_flight or succeeded, in the order written."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        sql = (
            "SELECT op_id, to_state FROM transitions"
            " WHERE to_state IN ('in_flight', 'succeeded') ORDER BY id"
        )
        return [(int(r[0]), str(r[1])) for r in conn.execute(sql)]


def test_which_plans_send_while_they_are_prepared(tmp_path: Path) -> None:
    numbers = [f"1201317{i:04d}" for i in range(4)]
    big = _renames(tmp_path, numbers)
    options = RunOptions()
    assert pipeline_refusal(big, options, saved=False) is None
    assert "saved changeset" in str(pipeline_refusal(big, options, saved=True))
    assert "--rate" in str(pipeline_refusal(big, RunOptions(rate=5), saved=False))
    assert "batch" in str(pipeline_refusal(big, RunOptions(via="batch"), saved=False))
    assert "%" in str(pipeline_refusal(big, RunOptions(max_failures="10%"), saved=False))
    assert pipeline_refusal(big, RunOptions(max_failures="10"), saved=False) is None
    small = _renames(tmp_path, numbers[:3])
    assert "one chunk" in str(pipeline_refusal(small, options, saved=False))

    rows = "".join(f"      - {{phonenumber: '{n}', ensure: absent}}\n" for n in numbers)
    releasing = _load(
        tmp_path / "gone.yaml",
        f"version: 1\nsteps:\n  - kind: did\n    name: gone\n    items:\n{rows}",
    )
    assert "'release' permission" in str(pipeline_refusal(releasing, options, saved=False))
    assert pipeline_refusal(releasing, RunOptions(allow_release=True), saved=False) is None

    e911 = "".join(
        f"      - {{phonenumber: '{n}', address_1: 1 Main St, city: Troy, state: NY,"
        " zip: '12180'}\n"
        for n in numbers
    )
    names = "".join(f"      - {{phonenumber: '{n}', name: x}}\n" for n in numbers)
    both = _load(
        tmp_path / "both.yaml",
        "version: 1\nsteps:\n  - kind: did\n    name: names\n    items:\n"
        + names
        + "  - kind: did_emergency\n    name: e911\n    items:\n"
        + e911,
    )
    # An E911 chunk reads the numbers the first step's operations change meanwhile.
    assert "same did objects" in str(pipeline_refusal(both, options, saved=False))

    texts = "".join(
        f"      - {{ref: t{i}, from: '{numbers[0]}', to: '{n}', message: hi}}\n"
        for i, n in enumerate(numbers)
    )
    sends = _load(
        tmp_path / "sms.yaml",
        f"version: 1\nsteps:\n  - kind: sms.message\n    name: texts\n    items:\n{texts}",
    )
    assert "'send' permission" in str(pipeline_refusal(sends, options, saved=False))
    assert pipeline_refusal(sends, RunOptions(allow_send=True), saved=False) is None


def _succeeded_all(root: Path, run_id: str) -> tuple[dict[str, int], int, str, Any]:
    with Journal.open(root, run_id) as journal:
        counts = {k: v for k, v in journal.counts().items() if v}
        state = journal.preparation()
        return counts, len(journal.ops(limit=10_000)), journal.run().state, state


def test_a_run_sends_before_its_plan_is_prepared_and_ends_with_the_whole_summary(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = _renames(tmp_path)
    root = tmp_path / "root"
    options = _pipelined_options(world, plan)
    gate = Gate()
    _gate_reads(monkeypatch, gate)

    async def apply() -> tuple[str, int, list[Any], list[Any]]:
        prepared = await plan_run(plan, options, root=root, start_early=True)
        assert prepared.rest is not None and prepared.rest.rows_done == 3
        assert prepared.summary.ops == 3  # so far
        summaries: list[Any] = []
        run = start_run(root, plan, prepared, options, on_prepared=summaries.append)
        assert run.total == 3
        at_first_success: list[Any] = []

        def first_success(event: Event) -> None:
            if not gate.opened.is_set():
                at_first_success.append(prepared.journal.preparation())
                gate.opened.set()

        reporter = _on(events.OP_SUCCEEDED, first_success)
        outcome = await execute(run, reporter=Reporters(reporter), signals=False)
        return run.run_id, outcome.exit_code, summaries, at_first_success

    run_id, code, summaries, at_first_success = asyncio.run(apply())
    assert code == 0
    # An operation succeeded while the second chunk's live state was still to be read.
    (state,) = at_first_success
    assert gate.waited and (state.row_offset, state.finished) == (3, False)
    counts, ops, run_state, prepared = _succeeded_all(root, run_id)
    assert counts == {"succeeded": len(NUMBERS)} and ops == len(NUMBERS)
    assert run_state == "completed" and prepared.finished
    (summary,) = summaries
    with Journal.open(root, run_id) as journal:
        header = journal.changeset()
    assert summary.counts() == header["summary"] == {"did": {"update": len(NUMBERS)}}
    assert summary.ops == len(NUMBERS) and "preparing" not in header


def _routing(directory: Path) -> ValidPlan:
    """Trunk groups made in the first two chunks, the numbers routed to them in the chunks
    after (each update depends on a create of an earlier chunk), and old-sip released once
    the numbers on it are moved off it (it waits for updates of later chunks)."""
    groups = "".join(f"      - {{name: new-{g}}}\n" for g in range(4))
    rows = "".join(f"{n},new-{i % 4}\n" for i, n in enumerate(NUMBERS))
    (directory / "routes.csv").write_text("phonenumber,trunk_group\n" + rows)
    return _load(
        directory / "routing.yaml",
        "version: 1\nsteps:\n  - kind: trunk_group\n    name: groups\n    items:\n"
        + groups
        + "      - {name: old-sip, ensure: absent}\n"
        "  - {kind: did, name: routes, source: routes.csv}\n",
    )


async def _old_sip(db: Path) -> None:
    """Trunk group old-sip, with the first six numbers on it."""
    from bulkx.api import CarrierX, Secret, Target
    from bulkx.sandbox.controls import SandboxTransport
    from bulkx.sandbox.world import DEFAULT_TOKEN

    app = create_app(SandboxConfig(db=db))
    target = Target("http://127.0.0.1/core/v2", is_sandbox=True, label="sandbox")
    async with CarrierX(target, Secret(DEFAULT_TOKEN), transport=SandboxTransport(app)) as client:
        group = await client.post("core", "/trunk_groups", json={"name": "old-sip"})
        for number in NUMBERS[:6]:
            found = await client.list_all(
                "core", "/phonenumber/dids", filter=f'phonenumber eq "{number}"'
            )
            await client.patch(
                "core",
                f"/phonenumber/dids/{found[0]['did_sid']}",
                json={"trunk_group_sid": group["trunk_group_sid"]},
            )
    app.world.store.close()


def test_no_operation_is_sent_before_what_it_depends_on_across_chunks(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(_old_sip(world))
    plan = _routing(tmp_path)
    root = tmp_path / "root"
    options = _pipelined_options(world, plan, allow_release=True)
    gate = Gate()
    _gate_reads(monkeypatch, gate)

    async def apply() -> tuple[str, int]:
        prepared = await plan_run(plan, options, root=root, start_early=True)
        assert prepared.rest is not None
        run = start_run(root, plan, prepared, options)
        # The gate opens once the first trunk group exists: routing goes on meanwhile.
        reporter = _on(events.OP_SUCCEEDED, lambda event: gate.opened.set())
        outcome = await execute(run, reporter=Reporters(reporter), signals=False)
        return run.run_id, outcome.exit_code

    run_id, code = asyncio.run(apply())
    assert code == 0 and gate.waited
    with Journal.open(root, run_id) as journal:
        ops = journal.ops(limit=10_000)
    assert len(ops) == 4 + len(NUMBERS) + 1
    release = ops[-1]
    assert (release.kind, release.action) == ("trunk_group", "release")
    assert len(release.depends_on) == 6  # the numbers moved off it, in later chunks
    order = _started_ops(root / "runs" / f"{run_id}.db")
    # Keyed like Operation.op_id (optional in the type; every journaled op has one).
    succeeded_at: dict[int | None, int] = {
        op_id: i for i, (op_id, to) in enumerate(order) if to == "succeeded"
    }
    started_at: dict[int | None, int] = {
        op_id: i for i, (op_id, to) in enumerate(order) if to == "in_flight"
    }
    ids = {op.op_key: op.op_id for op in ops}
    depending = [op for op in ops if op.depends_on]
    assert len(depending) == len(NUMBERS) + 1
    for op in depending:
        for dep in op.depends_on:
            assert succeeded_at[ids[dep]] < started_at[op.op_id], (op.key, dep)


def test_ctrl_c_stops_sending_and_preparing_and_a_resume_finishes_each_once(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = _renames(tmp_path)
    root = tmp_path / "root"
    options = _pipelined_options(world, plan)
    sent: list[int] = []
    succeeded: list[Event] = []

    def ctrl_c() -> None:
        # Once an operation has succeeded and the preparation waits at the gate, whichever
        # comes second (a loaded machine may take either first); once: a second one quits.
        if succeeded and gate.waited and not sent:
            sent.append(signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)

    class Stopping(Gate):
        async def wait(self) -> None:
            self.waited += 1
            ctrl_c()
            await self.opened.wait()

    gate = Stopping()  # never opened: the preparation waits for it when Ctrl-C comes
    _gate_reads(monkeypatch, gate)

    def on_success(event: Event) -> None:
        succeeded.append(event)
        ctrl_c()

    async def apply() -> tuple[str, int, str]:
        prepared = await plan_run(plan, options, root=root, start_early=True)
        run = start_run(root, plan, prepared, options)
        outcome = await execute(run, reporter=_on(events.OP_SUCCEEDED, on_success))
        return run.run_id, outcome.exit_code, outcome.state

    run_id, code, state = asyncio.run(apply())
    assert gate.waited
    assert (code, state) == (130, "cancelled")
    counts, ops, run_state, prepared = _succeeded_all(root, run_id)
    assert run_state == "cancelled" and not prepared.finished
    assert (prepared.step_index, prepared.row_offset) == (0, 3)  # it stopped preparing too
    assert ops == 3 and counts.get("succeeded", 0) >= 1

    async def resume() -> int:
        journal = Journal.open(root, run_id)
        await continue_preparing(journal, {})
        run = open_resume(journal, {})
        journal.set_run_state("running")
        outcome = await execute(run, reporter=Reporters(), signals=False)
        return outcome.exit_code

    assert asyncio.run(resume()) == 0
    counts, ops, run_state, prepared = _succeeded_all(root, run_id)
    assert counts == {"succeeded": len(NUMBERS)} and run_state == "completed"
    starts = [
        op_id for op_id, to in _started_ops(root / "runs" / f"{run_id}.db") if to == "in_flight"
    ]
    assert sorted(starts) == list(range(1, len(NUMBERS) + 1))  # each sent once


class ReadLog(Gate):
    """An open gate that notes, at each read of a later chunk, how many rows were journaled
    and how many operations had succeeded."""

    def __init__(self) -> None:
        super().__init__()
        self.opened.set()
        self.succeeded = 0
        self.journal: Journal | None = None
        self.reads: list[tuple[int, int]] = []

    async def wait(self) -> None:
        assert self.journal is not None
        state = self.journal.preparation()
        assert state is not None
        self.reads.append((state.row_offset, self.succeeded))


def _reads_while_sending(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, remembered: bool
) -> list[tuple[int, int]]:
    """(rows journaled, operations succeeded) at each read of a renaming run's later chunks;
    `remembered`: with a limit remembered for the sandbox, so the run starts settled."""
    tmp_path.mkdir()
    rows = "".join(f"{n},{tmp_path.name} {i}\n" for i, n in enumerate(NUMBERS))
    plan = _load(tmp_path / "names.csv", "phonenumber,name\n" + rows, kind="did")
    root = tmp_path / "root"
    if remembered:
        credential = Secret(DEFAULT_TOKEN).fingerprint()
        limits.remember(root, target_key(None, str(world)), credential, 10_000.0, 100.0)
    options = _pipelined_options(world, plan)
    log = ReadLog()
    _gate_reads(monkeypatch, log)

    def count(event: Event) -> None:
        log.succeeded += 1

    async def apply() -> int:
        prepared = await plan_run(plan, options, root=root, start_early=True)
        log.journal = prepared.journal
        run = start_run(root, plan, prepared, options)
        outcome = await execute(run, reporter=_on(events.OP_SUCCEEDED, count), signals=False)
        return outcome.exit_code

    assert asyncio.run(apply()) == 0
    assert log.succeeded == len(NUMBERS)
    return log.reads


def test_while_the_limit_is_learned_the_next_chunk_waits_until_the_sends_run_short(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Preparing stalls the loop, and a stall in a spell of sending misleads the learning of
    # the server's limit (bulkx.engine.pipeline.LEARNING_LOW_WATER): with chunks of 3 rows,
    # each later chunk is read once every operation journaled before it has succeeded. (The
    # sandbox never answers 429: the limiter learns for LEARN_BY seconds, pinned longer than
    # any run of this test, so a loaded machine cannot end the learning mid-run.)
    monkeypatch.setattr("bulkx.engine.throttle.LEARN_BY", 600.0)
    learning = _reads_while_sending(world, tmp_path / "learning", monkeypatch, remembered=False)
    assert len(learning) >= len(NUMBERS) // 3 - 1
    assert all(succeeded >= rows for rows, succeeded in learning), learning
    # A limit remembered for the target starts the run settled: nothing to keep quiet for.
    settled = _reads_while_sending(world, tmp_path / "settled", monkeypatch, remembered=True)
    assert any(succeeded < rows for rows, succeeded in settled), settled
