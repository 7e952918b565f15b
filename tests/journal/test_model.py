"""Model-based: random legal and illegal moves, reopened now and then; the journal must always
agree with a plain Python model of the brief's state machine."""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bulkx.errors import JournalError
from bulkx.journal import Journal, JournalReader
from tests.journal.conftest import create, new_ops

#: method -> (states it may be called from, state it leads to); written from the brief, not
#: from bulkx.journal.states, so the two are checked against each other.
MOVES: dict[str, tuple[frozenset[str], str]] = {
    "start": (frozenset({"pending"}), "in_flight"),
    "succeed": (frozenset({"in_flight"}), "succeeded"),
    "fail": (frozenset({"pending", "in_flight", "unknown"}), "failed"),
    "unknown": (frozenset({"in_flight"}), "unknown"),
    "retry": (frozenset({"in_flight"}), "pending"),
    "skip": (frozenset({"pending"}), "skipped"),
    "cancel": (frozenset({"pending"}), "cancelled"),
    "found": (frozenset({"unknown"}), "succeeded"),
    "absent": (frozenset({"unknown"}), "pending"),
}
BATCHED = {"start", "skip", "cancel"}


def _call(j: Journal, method: str, ids: list[int]) -> None:
    match method:
        case "start":
            j.start(ids)
        case "skip":
            j.skip(ids, "dependency failed")
        case "cancel":
            j.cancel(ids)
        case "succeed":
            j.succeed(ids[0], f"sid-{ids[0]}")
        case "fail":
            j.fail(ids[0], "400")
        case "unknown":
            j.unknown(ids[0], "reset")
        case "retry":
            j.retry(ids[0], "503")
        case "found":
            j.reconcile(ids[0], f"sid-{ids[0]}")
        case "absent":
            j.reconcile(ids[0], None)


class JournalModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="bulkx-journal-model-"))
        self.journal = create(self.root)
        self.model: dict[int, str] = {}
        self.added = 0

    def teardown(self) -> None:
        self.journal.close()
        shutil.rmtree(self.root, ignore_errors=True)

    @rule(n=st.integers(1, 6))
    def add(self, n: int) -> None:
        ids = self.journal.add_ops(new_ops(n, start=self.added))
        self.added += n
        self.model.update(dict.fromkeys(ids, "pending"))

    @precondition(lambda self: bool(self.model))
    @rule(method=st.sampled_from(sorted(MOVES)), data=st.data())
    def move(self, method: str, data: st.DataObject) -> None:
        sources, target = MOVES[method]
        # Mostly pick operations the move is legal for, so runs get deep (in flight, unknown,
        # reconciled...); sometimes pick any, so illegal moves are tried too.
        candidates = [i for i in sorted(self.model) if self.model[i] in sources]
        if not candidates or data.draw(st.integers(0, 4)) == 0:
            candidates = sorted(self.model)
        size = data.draw(st.integers(1, 4) if method in BATCHED else st.just(1))
        ids = data.draw(
            st.lists(st.sampled_from(candidates), min_size=1, max_size=size, unique=True)
        )
        legal = all(self.model[i] in sources for i in ids)
        try:
            _call(self.journal, method, ids)
        except JournalError:
            assert not legal, f"{method} {ids} refused from {[self.model[i] for i in ids]}"
            return
        assert legal, f"{method} {ids} accepted from {[self.model[i] for i in ids]}"
        for i in ids:
            self.model[i] = target

    @rule()
    def crash_and_resume(self) -> None:
        self.journal.close()
        self.journal = Journal.open(self.root, self.journal.run_id)
        for op_id, state in self.model.items():
            if state == "in_flight":
                self.model[op_id] = "unknown"

    @invariant()
    def counts_agree(self) -> None:
        expected = Counter(self.model.values())
        counts = self.journal.counts()
        assert {s: n for s, n in counts.items() if n} == dict(expected)

    @invariant()
    def every_op_agrees(self) -> None:
        ops = self.journal.ops(limit=10_000)
        assert {op.op_id: op.state for op in ops} == self.model
        for op in ops:
            if op.state == "succeeded":
                assert op.remote_sid == f"sid-{op.op_id}"

    @rule()
    def watch(self) -> None:
        with JournalReader.open(self.root, self.journal.run_id) as reader:
            assert reader.counts() == self.journal.counts()


JournalModel.TestCase.settings = settings(
    max_examples=50,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestJournalModel = JournalModel.TestCase
