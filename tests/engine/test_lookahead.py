"""A worker takes its next operation while its request is out, and has its start recorded
meanwhile (`bulkx.engine.lookahead`): the start is durable before that request goes out, no
more requests are out than workers, and one started ahead but never sent is pending again.
Against the in-process sandbox."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bulkx.engine.events import Event
from bulkx.engine.executor import Executor, MemoryLedger
from bulkx.engine.operations import Operation, change_of
from bulkx.engine.requests import Resolver
from tests.engine.test_executor import port_in


@pytest.fixture(autouse=True)
def _limit_not_learned(monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process sandbox answers no 429: its limit is not being learned after this."""
    monkeypatch.setattr("bulkx.engine.throttle.LEARN_BY", 0.0)


class RecordingLedger(MemoryLedger):
    """A memory ledger that keeps the order of what it was told, and of the requests sent."""

    def __init__(self) -> None:
        super().__init__()
        self.said: list[tuple[str, str]] = []

    async def start(self, op: Operation) -> None:
        self.said.append(("start", op.op_key))
        await super().start(op)

    def start_soon(self, op: Operation) -> Any:
        self.said.append(("start ahead", op.op_key))
        return super().start_soon(op)

    def succeed(self, op: Operation, sid: str | None, result: Any = None) -> None:
        self.said.append(("succeed", op.op_key))
        super().succeed(op, sid, result)

    def retry(self, op: Operation, error: str) -> None:
        self.said.append(("retry", op.op_key))
        super().retry(op, error)


def _run(
    tmp_path: Path, ledger: RecordingLedger, *, concurrency: int, stop_after: int | None = None
) -> tuple[Executor, int]:
    """port-in.yaml's operations carried out, and the most requests out at once."""
    out, most = 0, 0

    async def scenario() -> Executor:
        nonlocal out, most
        async with port_in(tmp_path) as given:
            client, live, ops = given.client, given.live, given.ops
            real = client.request

            async def request(*args: Any, **kwargs: Any) -> Any:
                nonlocal out, most
                out += 1
                most = max(most, out)
                try:
                    return await real(*args, **kwargs)
                finally:
                    out -= 1

            client.request = request  # type: ignore[method-assign]

            stopped = False

            def stop_soon(event: Event) -> None:
                nonlocal stopped
                # stop() tells the reporter too: stop once.
                if not stopped and stop_after is not None and executor.progress.done >= stop_after:
                    stopped = True
                    executor.stop()

            executor = Executor(
                client,
                ledger,
                Resolver.from_live(live),
                concurrency=concurrency,
                reporter=stop_soon,
            )
            changes = {op.op_key: change_of(op) for op in ops}
            await asyncio.wait_for(executor.run(ops, changes), 60)
            return executor

    return asyncio.run(scenario()), most


def test_the_next_start_is_recorded_while_the_request_before_it_is_out(tmp_path: Path) -> None:
    ledger = RecordingLedger()
    executor, most = _run(tmp_path, ledger, concurrency=1)
    assert executor.progress.done == executor.progress.total == 123
    assert most == 1  # one worker: never two requests out
    said = ledger.said
    ahead = [key for what, key in said if what == "start ahead"]
    assert len(ahead) > 60  # most of the run's operations (a DID's records wait for it)
    for key in ahead:
        # Started ahead while the operation before it was out: before that one succeeded.
        at = said.index(("start ahead", key))
        assert said[at + 1][0] == "succeed"
        assert said.index(("succeed", key)) > at + 1
    assert set(ledger.states.values()) == {"succeeded"}


def test_no_more_requests_are_out_than_workers(tmp_path: Path) -> None:
    ledger = RecordingLedger()
    executor, most = _run(tmp_path, ledger, concurrency=3)
    assert executor.progress.done == 123
    assert most <= 3
    assert any(what == "start ahead" for what, _ in ledger.said)


def test_a_start_recorded_ahead_and_never_sent_is_pending_again(tmp_path: Path) -> None:
    """The run stops (Ctrl-C, cancel) with workers holding operations started ahead: each
    goes back to pending, so nothing is left in flight that was never sent."""
    ledger = RecordingLedger()
    executor, _ = _run(tmp_path, ledger, concurrency=4, stop_after=30)
    assert 30 <= executor.progress.done < 123
    given_back = [key for what, key in ledger.said if what == "retry"]
    assert given_back  # the workers held some
    assert all(ledger.states[key] == "pending" for key in given_back)
    assert "in_flight" not in ledger.states.values()


def test_nothing_is_started_ahead_while_the_limit_is_learned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While 429s teach the limit, a send timed apart from its start would blur the spells
    the limit is read from (measured: learned runs at R = 500 fell from 0.97 to 0.82-0.87 R)."""
    monkeypatch.setattr("bulkx.engine.throttle.LEARN_BY", 600.0)
    monkeypatch.setattr("bulkx.engine.throttle.QUIET_SECONDS", 600.0)
    ledger = RecordingLedger()
    executor, _ = _run(tmp_path, ledger, concurrency=4)
    assert executor.progress.done == 123
    assert [what for what, _ in ledger.said if what == "start ahead"] == []


def test_a_server_that_refused_nothing_for_a_while_gets_the_lookahead_while_learning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not learned yet, but nothing refused in the quiet time: the limit is not being taught."""
    monkeypatch.setattr("bulkx.engine.throttle.LEARN_BY", 600.0)
    monkeypatch.setattr("bulkx.engine.throttle.QUIET_SECONDS", 0.0)
    ledger = RecordingLedger()
    executor, _ = _run(tmp_path, ledger, concurrency=4)
    assert executor.progress.done == 123
    assert executor.limiter.learning
    assert [what for what, _ in ledger.said if what == "start ahead"]
