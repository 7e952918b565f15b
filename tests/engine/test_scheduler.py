"""Dependency order alone: what is ready when, and what a failure rules out."""

from __future__ import annotations

import asyncio

from bulkx.diff.changes import Change, Release
from bulkx.engine.operations import Operation
from bulkx.engine.scheduler import Scheduler
from bulkx.plan.model import Position


def _op(key: str, *depends_on: str) -> Operation:
    return Operation(
        op_key=key,
        step="s",
        kind="did_group",
        key=key,
        action="release",
        position="p.yaml:1:0",
        depends_on=depends_on,
        change={},
    )


def _change(op: Operation) -> Change:
    return Release("did_group", op.key, op.step, Position("p.yaml", 1), f"sid-{op.key}")


async def _ready(schedule: Scheduler) -> list[str]:
    """The op_keys queued for the workers right now, in order."""
    keys: list[str] = []
    while True:
        try:
            op = await asyncio.wait_for(schedule.next_ready(), 0.01)
        except TimeoutError:
            return keys
        assert op is not None
        keys.append(op.op_key)


def test_an_operation_is_ready_once_all_its_dependencies_succeeded() -> None:
    async def scenario() -> None:
        a, b, c = _op("a"), _op("b"), _op("c", "a", "b")
        schedule = Scheduler([a, b, c], _change)
        schedule.start()
        assert await _ready(schedule) == ["a", "b"]
        assert schedule.settle(a, True) == []
        assert await _ready(schedule) == []  # still waits for b
        schedule.settle(b, True)
        assert await _ready(schedule) == ["c"]
        assert not schedule.finished.is_set()
        schedule.settle(c, True)
        assert schedule.finished.is_set()

    asyncio.run(scenario())


def test_dependencies_outside_the_run_are_not_waited_for() -> None:
    """A resume runs what is left: what it depends on succeeded in an earlier run."""

    async def scenario() -> None:
        schedule = Scheduler([_op("b", "a-done-before")], _change)
        schedule.start()
        assert await _ready(schedule) == ["b"]

    asyncio.run(scenario())


def test_a_failure_skips_everything_below_it_and_nothing_else() -> None:
    async def scenario() -> None:
        ops = [_op("a"), _op("b", "a"), _op("c", "b"), _op("d", "a"), _op("other")]
        schedule = Scheduler(ops, _change)
        schedule.start()
        assert await _ready(schedule) == ["a", "other"]
        doomed = schedule.settle(ops[0], False)
        assert sorted(op.op_key for op in doomed) == ["b", "c", "d"]
        assert schedule.outstanding == 1
        assert not schedule.finished.is_set()
        schedule.settle(ops[4], True)
        assert schedule.finished.is_set()
        assert await _ready(schedule) == []

    asyncio.run(scenario())


def test_an_operation_below_two_failures_is_skipped_once() -> None:
    a, b, c, d = _op("a"), _op("b"), _op("c", "a", "b"), _op("d", "c")
    schedule = Scheduler([a, b, c, d], _change)
    schedule.start()
    assert [op.op_key for op in schedule.settle(a, False)] == ["c", "d"]
    assert schedule.settle(b, False) == []
    assert schedule.outstanding == 0
    assert schedule.finished.is_set()


def test_divert_takes_operations_off_the_ready_queue() -> None:
    async def scenario() -> None:
        diverted: list[tuple[str, Change]] = []

        def to_batcher(op: Operation, change: Change) -> bool:
            if op.op_key.startswith("batch"):
                diverted.append((op.op_key, change))
                return True
            return False

        ops = [_op("batch-1"), _op("alone"), _op("batch-2", "alone")]
        schedule = Scheduler(ops, _change, divert=to_batcher)
        schedule.start()
        assert await _ready(schedule) == ["alone"]
        schedule.settle(ops[1], True)
        assert await _ready(schedule) == []
        assert [key for key, _ in diverted] == ["batch-1", "batch-2"]
        assert diverted[0][1] == _change(ops[0])
        schedule.requeue(ops[0])  # handed back (a lost answer): straight to the workers
        assert await _ready(schedule) == ["batch-1"]

    asyncio.run(scenario())


def test_an_empty_run_is_finished_at_once_and_workers_are_released() -> None:
    async def scenario() -> None:
        schedule = Scheduler([], _change)
        schedule.start()
        assert schedule.finished.is_set()
        schedule.release_workers(2)
        assert [await schedule.next_ready(), await schedule.next_ready()] == [None, None]

    asyncio.run(scenario())
