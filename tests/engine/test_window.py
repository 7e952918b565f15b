"""The window: operations loaded a chunk at a time, dependencies across chunks, failures that
rule out operations loaded long after, a tiny window that never deadlocks, and unknown outcomes
looked up by each operation's own state."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from bulkx.api import CarrierX, RetryPolicy, Secret, Target
from bulkx.diff.changes import Change, Create, Release
from bulkx.engine import window
from bulkx.engine.executor import Executor, JournalStopped, MemoryLedger
from bulkx.engine.operations import Operation, change_of
from bulkx.engine.requests import Resolver, request_for
from bulkx.engine.scheduler import Scheduler
from bulkx.engine.window import JournalSource, ListSource, Loader, OpSource
from bulkx.errors import JournalError
from bulkx.journal import OpStatus
from bulkx.plan.model import Position
from bulkx.sandbox.app import SandboxApp
from bulkx.sandbox.controls import SandboxTransport
from tests.engine.test_executor import _plan, _sandbox, port_in
from tests.journal.conftest import create


def _op(key: str, *depends_on: str) -> Operation:
    return Operation(
        op_key=key,
        step="s",
        kind="did_group",
        key=f"{key}-name",
        action="release",
        position="p.yaml:1:0",
        depends_on=depends_on,
        change={},
    )


def _change(op: Operation) -> Change:
    return Release("did_group", op.key, op.step, Position("p.yaml", 1), f"sid-{op.key}")


class Counting:
    """A source that counts the questions it is asked."""

    def __init__(self, source: OpSource) -> None:
        self.source = source
        self.chunks = 0
        self.asked: list[set[str]] = []

    async def next_chunk(self, after_op_id: int, limit: int) -> list[Operation]:
        self.chunks += 1
        return await self.source.next_chunk(after_op_id, limit)

    async def statuses(self, op_keys: Any) -> Mapping[str, OpStatus]:
        self.asked.append(set(op_keys))
        return await self.source.statuses(op_keys)


@dataclass
class Trace:
    """What a run of the window did: the order operations ran (and settled) in, what was
    skipped and why, when each was loaded, and the most operations ever loaded at once."""

    ran: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    loaded: list[str] = field(default_factory=list)
    peak: int = 0


async def _drive(
    source: OpSource, *, failing: Sequence[str] = (), size: int, chunk: int = 1000
) -> Trace:
    """Load `source` through a window of `size`; one worker settles each ready operation
    (the ones in `failing` fail) until the scheduler is finished. Stuck for 2 s: a deadlock."""
    schedule, trace = Scheduler(), Trace()

    def admit(op: Operation, change: Change, earlier: Mapping[str, OpStatus]) -> None:
        trace.loaded.append(op.op_key)
        skipped = schedule.add(op, change, earlier)
        if skipped is not None:
            cause, doomed = skipped
            trace.skipped.update(dict.fromkeys((d.op_key for d in doomed), cause))
        trace.peak = max(trace.peak, len(schedule))

    loader = Loader(source, schedule, admit, parse=_change, window=size, chunk=chunk)
    loading = asyncio.create_task(loader.run())
    idle = 0.0
    while not schedule.finished.is_set():
        try:
            op = await asyncio.wait_for(schedule.next_ready(), 0.05)
        except TimeoutError:
            idle += 0.05
            assert idle < 2, f"stuck: ran {trace.ran}, loaded {trace.loaded}"
            continue
        assert op is not None
        idle = 0.0
        trace.ran.append(op.op_key)
        doomed = schedule.settle(op, op.op_key not in failing)
        trace.skipped.update(dict.fromkeys((d.op_key for d in doomed), op.key))
    await loading
    return trace


def _chain(n: int) -> list[Operation]:
    """op i depends on i-1, and every fifth one also on the one five back."""
    ops = []
    for i in range(n):
        deps = [f"op{i - 1}"] if i else []
        if i >= 5 and i % 5 == 0:
            deps.append(f"op{i - 5}")
        ops.append(_op(f"op{i}", *deps))
    return ops


def test_dependencies_across_the_window_boundary_are_waited_for_or_already_done() -> None:
    ops = _chain(20)
    source = Counting(ListSource(ops))
    trace = asyncio.run(_drive(source, size=3, chunk=2))
    assert trace.ran == [op.op_key for op in ops]  # each after what it depends on
    assert trace.skipped == {}
    assert trace.peak <= 3
    # Loaded a bit at a time, each load asking once about what it does not hold.
    assert source.chunks > 20 / 3
    assert len(source.asked) <= source.chunks


def test_a_failure_rules_out_dependents_loaded_after_it_left_the_window() -> None:
    ops = [
        _op("a"),
        *(_op(f"x{i}") for i in range(6)),
        _op("b", "a"),
        _op("c", "b"),
        _op("d", "x1"),
        _op("e", "c", "x2"),
    ]
    trace = asyncio.run(_drive(ListSource(ops), failing=["a"], size=2))
    # `a` failed and left the window long before `b` was loaded.
    assert trace.ran.index("a") < trace.loaded.index("b") - 2
    assert trace.skipped == {"b": "a-name", "c": "a-name", "e": "a-name"}
    assert trace.ran == ["a", "x0", "x1", "x2", "x3", "x4", "x5", "d"]


def test_a_failure_rules_out_dependents_waiting_in_the_window() -> None:
    ops = [_op("a"), _op("b", "a"), _op("c", "b"), _op("d")]
    trace = asyncio.run(_drive(ListSource(ops), failing=["a"], size=10))
    assert trace.skipped == {"b": "a-name", "c": "a-name"}
    assert trace.ran == ["a", "d"]


def test_what_an_earlier_process_settled_comes_from_the_journal(tmp_path: Path) -> None:
    journal = create(tmp_path)
    ops = [_op("a"), _op("b"), _op("c", "a"), _op("d", "b"), _op("e", "c"), _op("f", "d")]
    ids = journal.add_ops(ops)
    journal.start(ids[:2])  # the earlier process: `a` failed, `b` succeeded
    journal.fail(ids[0], "422")
    journal.succeed(ids[1], "sid-b")
    source = Counting(JournalSource(journal))
    trace = asyncio.run(_drive(source, size=2, chunk=2))
    journal.close()
    assert trace.loaded == ["c", "d", "e", "f"]  # only what is left
    assert trace.skipped == {"c": "a-name", "e": "a-name"}
    assert trace.ran == ["d", "f"]
    # Only about what this process had not loaded: `a` and `b`, then `d` (settled here).
    assert source.asked[0] == {"a", "b"}
    assert all(asked <= {"a", "b", "c", "d"} for asked in source.asked)


@pytest.mark.parametrize("size", [1, 2])
def test_a_tiny_window_never_deadlocks(size: int) -> None:
    # Fan-out and fan-in: each `join` depends on four `leaf`s of the same root.
    ops = []
    for r in range(3):
        ops.append(_op(f"root{r}"))
        ops += [_op(f"leaf{r}.{i}", f"root{r}") for i in range(4)]
        ops.append(_op(f"join{r}", *(f"leaf{r}.{i}" for i in range(4))))
    trace = asyncio.run(_drive(ListSource(ops), size=size))
    assert sorted(trace.ran) == sorted(op.op_key for op in ops)
    assert trace.peak <= size
    for op in ops:
        assert all(trace.ran.index(dep) < trace.ran.index(op.op_key) for dep in op.depends_on)


def test_a_dependency_listed_after_its_dependant_does_not_stall_the_window() -> None:
    """Never in a journal `operations()` wrote; if it happens, loading goes past the window
    rather than wait for ever, and the order still holds."""
    trace = asyncio.run(_drive(ListSource([_op("b", "a"), _op("c"), _op("a")]), size=1))
    assert trace.ran.index("a") < trace.ran.index("b")
    assert sorted(trace.ran) == ["a", "b", "c"]


def test_a_real_plan_through_a_window_of_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The port-in (endpoint, trunk group, trunk, 40 DIDs routed to it, their E911 and line
    information) through the executor, one operation loaded at a time."""
    from tests.engine.test_executor import _apply

    monkeypatch.setattr(window, "WINDOW", 1)
    peak = 0
    real_add = Scheduler.add

    def add(self: Scheduler, *args: Any) -> Any:
        nonlocal peak
        skipped = real_add(self, *args)
        peak = max(peak, len(self))
        return skipped

    monkeypatch.setattr(Scheduler, "add", add)
    app = _sandbox(tmp_path)
    ledger, (progress, leftover) = asyncio.run(_apply(app, _plan("port-in.yaml"), concurrency=4))
    assert (progress.done, progress.failed, progress.total) == (123, 0, 123)
    assert set(ledger.states.values()) == {"succeeded"}
    assert leftover == []
    assert peak == 1


def test_unknown_outcomes_are_looked_up_by_each_operations_own_state(tmp_path: Path) -> None:
    """The trunk group was created before the last process died with its answer lost: the
    operation comes back in state `unknown`, is looked up (found), and never sent again."""

    async def scenario() -> tuple[Any, SandboxApp]:
        async with port_in(tmp_path) as given:
            client, live, ops = given.client, given.live, given.ops
            group = next(op for op in ops if op.kind == "trunk_group")
            change = change_of(group)
            request = request_for(change, Resolver.from_live(live))
            assert isinstance(change, Create) and request is not None
            await client.request(request.api, request.method, request.path, json=request.body)
            loaded = [replace(op, state="unknown") if op is group else op for op in ops]
            executor = Executor(client, MemoryLedger(), Resolver.from_live(live))
            progress = await executor.run_from(ListSource(loaded), total=len(ops), unknown=1)
            return progress, given.app

    progress, app = asyncio.run(scenario())
    assert (progress.done, progress.failed) == (123, 0)
    posts = [
        e
        for e in app.controls.log.entries(0, 10_000)  # a fresh sandbox: the scenario's own
        if e["method"] == "POST" and e["path"].endswith("/trunk_groups")
    ]
    assert len(posts) == 1  # the one before the "crash"; the run looked, found, and moved on


def _stopped_port_in(
    tmp_path: Path,
    ledger: MemoryLedger,
    source_of: Callable[[list[Operation]], OpSource],
    error: type[Exception],
    match: str,
    arrange: Callable[[Executor], None] = lambda executor: None,
) -> Executor:
    """Carry port-in.yaml's operations out (2 in flight) from `source_of(ops)`, `arrange`d,
    against the in-process sandbox: the run must stop by raising `error`."""

    async def scenario() -> Executor:
        async with port_in(tmp_path) as given:
            resolver = Resolver.from_live(given.live)
            executor = Executor(given.client, ledger, resolver, concurrency=2)
            arrange(executor)
            run = executor.run_from(source_of(given.ops), total=len(given.ops))
            with pytest.raises(error, match=match):
                await asyncio.wait_for(run, 60)
            return executor

    return asyncio.run(scenario())


def test_a_load_that_fails_stops_the_run_with_nothing_left_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The journal cannot give the next chunk (disk gone): what is loaded finishes, nothing
    more starts, and the run stops resumable (JournalStopped), as when a write fails."""
    monkeypatch.setattr(window, "WINDOW", 4)

    class Breaks(ListSource):
        async def next_chunk(self, after_op_id: int, limit: int) -> list[Operation]:
            if after_op_id >= 10:
                raise JournalError("could not read the journal: disk I/O error")
            return await super().next_chunk(after_op_id, limit)

    ledger = MemoryLedger()
    executor = _stopped_port_in(tmp_path, ledger, Breaks, JournalStopped, "disk I/O error")
    assert "journal could not give the next operations" in str(executor.progress.stopped_because)
    # Everything loaded before the failure (op_ids up to 10, and a few after) settled.
    assert 10 <= len(ledger.states) <= 14
    # A worker's next operation, started ahead and not sent, is pending again.
    assert set(ledger.states.values()) <= {"succeeded", "pending"}
    assert "succeeded" in ledger.states.values()


def test_an_operation_whose_change_cannot_be_read_stops_the_run_before_it_is_sent(
    tmp_path: Path,
) -> None:
    """A damaged journal row (an action this bulkx does not know) is a JournalError when it
    is loaded: the run stops resumable with what it could not read, and nothing of it is sent."""
    app = _sandbox(tmp_path)
    target = Target("http://127.0.0.1/core/v2", is_sandbox=True, label="sandbox")
    damaged = replace(
        _op("a"),
        op_id=1,
        change={
            "action": "frobnicate",
            "kind": "did",
            "key": "1",
            "step": "s",
            "file": "p",
            "line": 1,
        },
    )
    with pytest.raises(JournalError, match="holds a change bulkx cannot read"):
        change_of(damaged)
    ledger = MemoryLedger()
    since = app.controls.log.last_seq

    async def scenario() -> None:
        async with CarrierX(
            target, Secret("t"), transport=SandboxTransport(app), retry=RetryPolicy.never()
        ) as client:
            executor = Executor(client, ledger, Resolver(), concurrency=2)
            with pytest.raises(JournalStopped, match="unknown change action 'frobnicate'"):
                await executor.run_from(ListSource([damaged]), total=1)

    asyncio.run(scenario())
    assert ledger.states == {}
    assert app.controls.log.entries(since, 100) == []


def test_an_error_no_answer_explains_stops_the_run_instead_of_hanging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in carrying one operation out (here: building its request raises) once killed
    that worker silently, and the run waited forever for the operation it held. Now the run
    stops (the rest stays for a resume) and the error is raised at its end."""

    def arrange(executor: Executor) -> None:
        real = executor._reads.request

        async def request(op: Operation, change: Change) -> Any:
            if op.op_id == 5:
                raise RuntimeError("a bug in building the request")
            return await real(op, change)

        monkeypatch.setattr(executor._reads, "request", request)

    ledger = MemoryLedger()
    bug = "a bug in building the request"
    executor = _stopped_port_in(tmp_path, ledger, ListSource, RuntimeError, bug, arrange)
    assert "could not be carried out" in str(executor.progress.stopped_because)
    assert 4 <= len(ledger.states) < 123  # stopped early: the rest is left for a resume
    # A worker's next operation, started ahead and not sent, is pending again.
    assert set(ledger.states.values()) <= {"succeeded", "pending"}
    assert "succeeded" in ledger.states.values()
