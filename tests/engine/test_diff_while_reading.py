"""`bulkx plan` reads a chunk's live state while the chunk before it is diffed on a thread
(`_diff_while_reading`): the order of the work, an error on either side, and a stop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bulkx.diff.state import LiveState
from bulkx.engine.plan_run import _diff_while_reading

Chunk = int


def test_each_chunk_is_read_while_the_one_before_is_diffed_and_diffed_in_order() -> None:
    events: list[str] = []
    diffing = threading.Event()

    async def read(chunk: Chunk) -> tuple[Chunk, LiveState]:
        if chunk > 0:  # it can end only while the chunk before is being diffed
            assert await asyncio.to_thread(diffing.wait, 10)
        events.append(f"read {chunk}")
        return chunk, LiveState()

    def diff(chunk: Chunk, live: LiveState) -> None:
        events.append(f"diff {chunk} began")
        diffing.set()
        for _ in range(1000):  # the next chunk's read ends before this diff does
            if chunk == 2 or f"read {chunk + 1}" in events:
                break
            threading.Event().wait(0.01)
        diffing.clear()
        events.append(f"diff {chunk} ended")

    asyncio.run(_diff_while_reading(iter(range(3)), read, diff))
    assert events == [
        "read 0",
        "diff 0 began",
        "read 1",
        "diff 0 ended",
        "diff 1 began",
        "read 2",
        "diff 1 ended",
        "diff 2 began",
        "diff 2 ended",
    ]


def test_a_failed_read_stops_the_plan_after_the_chunk_being_diffed() -> None:
    diffed: list[Chunk] = []

    async def read(chunk: Chunk) -> tuple[Chunk, LiveState]:
        if chunk == 1:
            raise ConnectionError("the API went away")
        return chunk, LiveState()

    def diff(chunk: Chunk, live: LiveState) -> None:
        diffed.append(chunk)

    with pytest.raises(ConnectionError, match="went away"):
        asyncio.run(_diff_while_reading(iter(range(5)), read, diff))
    assert diffed == [0]


def test_a_failed_diff_stops_the_reads() -> None:
    read_chunks: list[Chunk] = []

    async def read(chunk: Chunk) -> tuple[Chunk, LiveState]:
        read_chunks.append(chunk)
        return chunk, LiveState()

    def diff(chunk: Chunk, live: LiveState) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        asyncio.run(_diff_while_reading(iter(range(5)), read, diff))
    assert read_chunks == [0, 1]  # the one diffed, and the one read beside it


def test_a_stop_waits_for_the_chunk_on_its_thread() -> None:
    """Ctrl-C cancels the command's task: the diff on its thread runs to its end before the
    stop goes on (its spool is closed after it, not under it)."""
    ended = threading.Event()
    began = threading.Event()

    async def read(chunk: Chunk) -> tuple[Chunk, LiveState]:
        return chunk, LiveState()

    def diff(chunk: Chunk, live: LiveState) -> None:
        began.set()
        threading.Event().wait(0.2)
        ended.set()

    async def stopped() -> None:
        task = asyncio.ensure_future(_diff_while_reading(iter(range(5)), read, diff))
        assert await asyncio.to_thread(began.wait, 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert ended.is_set()

    asyncio.run(stopped())
