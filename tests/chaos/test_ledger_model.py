"""Model-based (T7): the executor's journal ledger, with group commit and crashes.

`start` must be durable when it returns; every other change is buffered and written with the
next commit, all of the buffer in one transaction. So whatever happens, the journal holds the
last durable state plus a prefix of the buffered changes, never a change without the ones
before it; and a crash (the buffer lost, the journal reopened) turns what was in flight into
unknown. Hypothesis drives random starts, outcomes, reconciliations, flushes and crashes;
BULKX_HYPOTHESIS_EXAMPLES sizes it (the campaign raises it).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bulkx.engine.journal_ledger import JournalLedger
from bulkx.journal import Journal
from tests.journal.conftest import create, new_ops

OPS = 6
#: The group-commit timer never fires inside a test (it would make runs depend on timing):
#: the `flush` rule is what it does, at a moment Hypothesis chooses.
WINDOW = 3600.0
#: ledger method -> (the state it moves an operation from, the state it leads to)
OUTCOMES = {
    "succeed": ("in_flight", "succeeded"),
    "fail": ("in_flight", "failed"),
    "unknown": ("in_flight", "unknown"),
    "retry": ("in_flight", "pending"),
    "found": ("unknown", "succeeded"),
    "absent": ("unknown", "pending"),
}


class LedgerModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="bulkx-ledger-model-"))
        journal = create(self.root)
        ids = journal.add_ops(new_ops(OPS))
        self.keys = [f"key-{i:06d}" for i in range(OPS)]
        self.ids = dict(zip(self.keys, ids, strict=True))
        #: The operations as the journal holds them: the ledger finds them by their op_id.
        self.ops = {op.op_key: op for op in journal.ops(limit=OPS)}
        self.loop = asyncio.new_event_loop()
        self.ledger = JournalLedger(journal, window=WINDOW)
        #: What the journal is known to hold, and the changes told to the ledger since.
        self.durable = dict.fromkeys(self.keys, "pending")
        self.buffered: list[tuple[str, str]] = []

    def teardown(self) -> None:
        self.ledger.journal.close()
        self.loop.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def current(self) -> dict[str, str]:
        state = dict(self.durable)
        for key, target in self.buffered:
            state[key] = target
        return state

    def journal_states(self) -> dict[str, str]:
        by_id = {op.op_id: op.state for op in self.ledger.journal.ops(limit=OPS)}
        return {key: by_id[op_id] for key, op_id in self.ids.items()}

    def in_loop(self, call: object) -> None:
        """Tell the ledger something from inside the event loop, as the executor does: it is
        buffered until the next start or flush."""

        async def tell() -> None:
            call()  # type: ignore[operator]

        self.loop.run_until_complete(tell())

    def settle(self) -> None:
        """Everything told is durable now (after a start or a flush)."""
        self.durable, self.buffered = self.current(), []

    @precondition(lambda self: "pending" in self.current().values())
    @rule(data=st.data())
    def start(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from([k for k, s in self.current().items() if s == "pending"]))
        ledger = self.ledger

        async def start_and_commit() -> None:
            started = asyncio.ensure_future(ledger.start(self.ops[key]))
            await asyncio.sleep(0)  # the start is buffered and waits for its commit
            assert not started.done()
            ledger.flush()  # what the group-commit timer does when it fires
            await started

        self.loop.run_until_complete(start_and_commit())
        self.buffered.append((key, "in_flight"))
        self.settle()
        # Durable before the request may be sent: the journal says in flight already.
        assert self.journal_states()[key] == "in_flight"

    @rule(method=st.sampled_from(sorted(OUTCOMES)), data=st.data())
    def outcome(self, method: str, data: st.DataObject) -> None:
        source, target = OUTCOMES[method]
        candidates = [k for k, s in self.current().items() if s == source]
        if not candidates:
            return
        key = data.draw(st.sampled_from(candidates))
        ledger = self.ledger
        op = self.ops[key]
        calls = {
            "succeed": lambda: ledger.succeed(op, f"sid-{key}"),
            "fail": lambda: ledger.fail(op, "400 bad request"),
            "unknown": lambda: ledger.unknown(op, "connection reset"),
            "retry": lambda: ledger.retry(op, "503"),
            "found": lambda: ledger.reconciled(op, f"sid-{key}"),
            "absent": lambda: ledger.reconciled(op, None),
        }
        self.in_loop(calls[method])
        self.buffered.append((key, target))

    @precondition(lambda self: "pending" in self.current().values())
    @rule(data=st.data())
    def skip(self, data: st.DataObject) -> None:
        pending = [k for k, s in self.current().items() if s == "pending"]
        keys = data.draw(st.lists(st.sampled_from(pending), min_size=1, unique=True))
        ops = [self.ops[key] for key in keys]
        self.in_loop(lambda: self.ledger.skip(ops, "a dependency failed"))
        self.buffered += [(k, "skipped") for k in keys]

    @rule()
    def flush(self) -> None:
        self.ledger.flush()
        self.settle()
        assert self.journal_states() == self.durable

    @rule()
    def crash(self) -> None:
        """kill -9: the buffer and the timer die with the process; a resume reopens."""
        self.check_prefix()
        journal = self.ledger.journal
        self.loop.close()  # its pending timers never run: nothing more is written
        self.loop = asyncio.new_event_loop()
        journal.close()
        reopened = Journal.open(self.root, journal.run_id)
        self.ledger = JournalLedger(reopened, window=WINDOW)
        states = self.journal_states()
        self.durable = {k: "unknown" if s == "in_flight" else s for k, s in states.items()}
        self.buffered = []
        assert states == self.durable

    @invariant()
    def check_prefix(self) -> None:
        """The journal is the durable state plus some prefix of the buffered changes."""
        states = self.journal_states()
        state = dict(self.durable)
        if states == state:
            return
        for key, target in self.buffered:
            state[key] = target
            if states == state:
                return
        raise AssertionError(f"journal {states} is no prefix of {self.durable} + {self.buffered}")


LedgerModel.TestCase.settings = settings(
    max_examples=int(os.environ.get("BULKX_HYPOTHESIS_EXAMPLES", "25")),
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLedgerModel = LedgerModel.TestCase
