"""The event stream, the journal ledger's group commit, the outage breaker and the 429 pause."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bulkx.engine import events
from bulkx.engine.events import Event, JsonLinesReporter, Progress, Reporters
from bulkx.engine.executor import OutageBreaker
from bulkx.engine.journal_ledger import JournalLedger, JournalReporter
from bulkx.engine.throttle import AdaptiveLimiter
from bulkx.errors import JournalError
from bulkx.journal import Journal, JournalReader, Operation
from tests.engine.test_throttle import FakeTime
from tests.journal.conftest import create, new_ops

REPO = Path(__file__).resolve().parents[2]


def _ledger(root: Path, n: int) -> tuple[Journal, JournalLedger, list[Operation]]:
    """A journal of `n` operations, its ledger, and the operations as the journal holds them
    (with their op_ids: the ledger finds them by it)."""
    journal = create(root)
    journal.add_ops(new_ops(n))
    return journal, JournalLedger(journal), journal.ops(limit=n)


def _states(root: Path, journal: Journal) -> dict[str, int]:
    with JournalReader.open(root, journal.run_id) as reader:
        return {state: n for state, n in reader.counts().items() if n}


def test_concurrent_starts_share_one_commit_and_are_durable_when_awaited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal, ledger, ops = _ledger(tmp_path, 20)
    batches = 0
    real_batch = Journal.batch

    def counting_batch(self: Journal):  # type: ignore[no-untyped-def]
        nonlocal batches
        batches += 1
        return real_batch(self)

    # Every connection's commits count: inside a loop they run on the writer thread's own.
    monkeypatch.setattr(Journal, "batch", counting_batch)

    async def scenario() -> None:
        await asyncio.gather(*(ledger.start(op) for op in ops))
        # Another process (a resume after kill -9) would see every one of them in flight.
        assert _states(tmp_path, journal) == {"in_flight": 20}
        for op in ops:
            ledger.succeed(op, f"sid-{op.op_key}")
        # Outcomes wait for the next commit: not durable yet, and that is safe (in flight
        # means "look it up before resending").
        assert _states(tmp_path, journal) == {"in_flight": 20}
        ledger.flush()
        assert _states(tmp_path, journal) == {"succeeded": 20}

    asyncio.run(scenario())
    assert batches == 2


def test_a_retry_then_a_restart_are_written_in_order(tmp_path: Path) -> None:
    journal, ledger, ops = _ledger(tmp_path, 1)

    async def scenario() -> None:
        await ledger.start(ops[0])
        ledger.retry(ops[0], "503")
        await ledger.start(ops[0])
        ledger.succeed(ops[0], "sid-1")
        ledger.flush()

    asyncio.run(scenario())
    with JournalReader.open(tmp_path, journal.run_id) as reader:
        record = reader.op_by_key(ops[0].op_key)
        assert record is not None and record.op_id is not None
        moves = [(t.from_state, t.to_state) for t in reader.history(record.op_id)]
    assert moves[-4:] == [
        ("pending", "in_flight"),
        ("in_flight", "pending"),
        ("pending", "in_flight"),
        ("in_flight", "succeeded"),
    ]


def _counting(monkeypatch: pytest.MonkeyPatch, *names: str) -> dict[str, list[list[int]]]:
    """The op_ids of every call of Journal.`name` (the batches the ledger writes)."""
    calls: dict[str, list[list[int]]] = {name: [] for name in names}
    for name in names:
        real = getattr(Journal, name)

        def counted(self: Journal, first: object, *rest: object, _real=real, _name=name):  # type: ignore[no-untyped-def]
            items: list[Any] = first if isinstance(first, list) else [first]
            calls[_name].append([i[0] if isinstance(i, tuple) else i for i in items])
            return _real(self, first, *rest)

        monkeypatch.setattr(Journal, name, counted)
    return calls


async def _started(ledger: JournalLedger, ops: list[Operation]) -> None:
    """Start `ops` together and commit them at once (the window is left to the test)."""
    starting = asyncio.gather(*(ledger.start(op) for op in ops))
    await asyncio.sleep(0)
    ledger.flush()
    await starting


def test_interleaved_starts_and_successes_share_one_batch_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = create(tmp_path)
    journal.add_ops(new_ops(4))
    ops = journal.ops(limit=4)
    ledger = JournalLedger(journal, window=60.0)  # committed by flush() only
    calls = _counting(monkeypatch, "start", "succeed_many")

    async def scenario() -> None:
        await _started(ledger, ops[:2])
        # As workers do it: one answered, another starts, the next answered, another starts.
        ledger.succeed(ops[0], "sid-0")
        starting = asyncio.create_task(ledger.start(ops[2]))
        await asyncio.sleep(0)
        ledger.succeed(ops[1], "sid-1")
        await _started(ledger, [ops[3]])
        await starting

    asyncio.run(scenario())
    assert calls["start"] == [[ops[0].op_id, ops[1].op_id], [ops[2].op_id, ops[3].op_id]]
    assert calls["succeed_many"] == [[ops[0].op_id, ops[1].op_id]]
    assert _states(tmp_path, journal) == {"succeeded": 2, "in_flight": 2}


def test_an_operation_named_twice_in_one_commit_keeps_its_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = create(tmp_path)
    journal.add_ops(new_ops(3))
    ops = journal.ops(limit=3)
    ledger = JournalLedger(journal, window=60.0)
    calls = _counting(monkeypatch, "start")

    async def scenario() -> None:
        await _started(ledger, ops[:2])
        # In one commit: op 1 answered, op 0 retried and started again, op 2 started.
        ledger.succeed(ops[1], "sid-1")
        ledger.retry(ops[0], "503")
        await _started(ledger, [ops[0], ops[2]])
        ledger.succeed(ops[0], "sid-0")
        ledger.flush()

    asyncio.run(scenario())
    # Op 0's second start comes after its retry, in a stretch of its own (with op 2's).
    assert calls["start"][1:] == [[ops[0].op_id, ops[2].op_id]]
    with JournalReader.open(tmp_path, journal.run_id) as reader:
        record = reader.op_by_key(ops[0].op_key)
        assert record is not None and record.op_id is not None
        moves = [(t.from_state, t.to_state) for t in reader.history(record.op_id)]
    assert moves[-4:] == [
        ("pending", "in_flight"),
        ("in_flight", "pending"),
        ("pending", "in_flight"),
        ("in_flight", "succeeded"),
    ]
    assert _states(tmp_path, journal) == {"succeeded": 2, "in_flight": 1}


def test_a_journal_that_cannot_be_written_fails_the_waiting_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal, ledger, ops = _ledger(tmp_path, 2)

    def disk_full(self: Journal, op_ids: object) -> None:
        raise JournalError("database or disk is full")

    # On every connection: inside a loop, starts are committed by the writer thread's own.
    monkeypatch.setattr(Journal, "start", disk_full)

    async def scenario() -> None:
        with pytest.raises(JournalError, match="disk is full"):
            await ledger.start(ops[0])
        with pytest.raises(JournalError, match="disk is full"):  # and it stays failed
            await ledger.start(ops[1])

    asyncio.run(scenario())
    assert _states(tmp_path, journal) == {"pending": 2}


def test_the_breaker_opens_only_after_a_spell_of_nothing_but_errors() -> None:
    clock = FakeTime()
    breaker = OutageBreaker(open_after=10.0, min_errors=3, clock=clock.clock)
    assert not breaker.failure()
    clock.now += 11
    assert not breaker.failure()  # long enough, but only two errors
    assert breaker.failure()
    breaker.success()
    clock.now += 20
    assert not breaker.failure()  # a success starts the spell afresh


def test_a_429_that_arrives_after_acquire_still_holds_the_request_back() -> None:
    clock = FakeTime()
    limiter = AdaptiveLimiter(clock=clock.clock, sleep=clock.sleep)

    async def scenario() -> None:
        await limiter.acquire()  # this request got its token...
        limiter.on_throttled(retry_after=2.0)  # ...then another one's 429 came back
        before = clock.now
        await limiter.wait_out_pause()
        assert clock.now - before >= 2.0

    asyncio.run(scenario())


def test_json_lines_carry_every_op_event_and_throttled_progress() -> None:
    stream = io.StringIO()
    reporter = JsonLinesReporter(stream, progress_every=60.0)
    progress = Progress(total=2)
    reporter(Event(events.RUN_STARTED, 1.0, {"total": 2}, progress))
    reporter(Event(events.PROGRESS, 2.0, {}, progress))
    reporter(Event(events.PROGRESS, 3.0, {}, progress))  # within progress_every: dropped
    reporter(Event(events.OP_SUCCEEDED, 4.0, {"op_key": "k", "sid": "s"}, progress))
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["type"] for line in lines] == ["run_started", "progress", "op_succeeded"]
    assert lines[1]["progress"]["total"] == 2
    assert lines[2] == {"type": "op_succeeded", "at": 4.0, "op_key": "k", "sid": "s"}


def test_a_broken_reporter_is_dropped_and_the_others_go_on() -> None:
    seen: list[str] = []

    def broken(event: Event) -> None:
        raise OSError("the pipe is gone")

    reporters = Reporters(broken, lambda event: seen.append(event.type))
    reporters(Event(events.PROGRESS, 0.0, {}))
    reporters(Event(events.PROGRESS, 0.0, {}))
    assert seen == ["progress", "progress"]
    assert len(reporters.broken) == 1


def test_the_journal_reporter_samples_and_logs_what_a_monitor_shows(tmp_path: Path) -> None:
    journal = create(tmp_path)
    reporter = JournalReporter(journal, sample_every=0.0)
    progress = Progress(total=10, done=4, failed=1, rate_limit=50.0)
    reporter(Event(events.PROGRESS, 0.0, {}, progress))
    reporter(Event(events.OP_FAILED, 0.0, {"kind": "did", "key": "+1555", "error": "bad"}))
    for _ in range(20):  # a storm is a few lines, not twenty
        reporter(Event(events.THROTTLED, 0.0, {"retry_after": 2.0, "rate_limit": 40.0}))
    reporter(Event(events.OUTAGE, 0.0, {"reason": "the API answered nothing but errors"}))
    with JournalReader.open(tmp_path, journal.run_id) as reader:
        samples = reader.recent_samples()
        messages = [e.message for e in reader.recent_events(100)]
    assert samples[-1].done == 4 and samples[-1].rate_limit == 50.0
    assert "did +1555: bad" in messages
    assert sum("429" in m for m in messages) == JournalReporter.THROTTLE_LINES_PER_MINUTE
    assert any("nothing but errors" in m for m in messages)


def test_apply_writes_its_events_as_json_lines(tmp_path: Path) -> None:
    env = {**os.environ, "BULKX_HOME": str(tmp_path / "home")}
    plan = tmp_path / "groups.csv"
    plan.write_text("# kind: did_group\nname\n" + "".join(f"events-{i}\n" for i in range(3)))

    def bulkx(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bulkx", *args, "--sandbox-db", str(tmp_path / "w.db")],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )

    done = bulkx("apply", str(plan), "--yes", "--events", str(tmp_path / "events.jsonl"))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    types = [line["type"] for line in lines]
    assert types[0] == "run_started" and types[-1] == "run_finished"
    assert types.count("op_started") == types.count("op_succeeded") == 3
    assert lines[-1]["progress"]["done"] == 3 and lines[-1]["exit_code"] == 0
    assert oct((tmp_path / "events.jsonl").stat().st_mode & 0o777) == "0o600"
    to_stdout = bulkx("apply", str(plan), "--yes", "--events", "-")
    assert to_stdout.returncode == 0  # nothing left to do: no run, no events
    assert to_stdout.stdout == ""
