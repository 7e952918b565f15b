"""A resume looks before it creates: the creates its journal says are still pending are looked
up live, a chunk at a time, before any of them is sent.

A journal that lost commits (its `-wal` cut short after a crash: `bulkx.journal.integrity`)
says "pending" of creates that were made: sent without a look they would be made twice. So a
resume's source (`LookedUpSource`) asks the API, for each chunk it hands out, about the natural
keys of the chunk's pending creates in bulk (`read_named`: one filtered list request per kind
and 200 keys, never one GET per item, never the whole plan's state). A create found live is
handed over as an outcome unknown (its journal row moved through in flight to unknown, with the
reason), and the executor reconciles it as it reconciles any lost answer: found, it succeeds
with the live sid; nothing is sent. A lost journal row so costs a lookup, never a duplicate.

Kinds the API keeps nothing to find by (`Kind.traceable` false) cannot be looked up; a resume
of a journal known to have lost commits skips their pending sends instead (at most once).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace

from bulkx.diff.named import read_named
from bulkx.diff.read import ApiReader
from bulkx.engine.window import OpSource
from bulkx.journal import Journal, OpStatus
from bulkx.journal.states import Operation
from bulkx.kinds import KINDS

#: Why a pending create is reconciled instead of sent (its journal row says so).
FOUND_LIVE = (
    "found live when the resume looked before creating it: its outcome was not in the journal"
    " (a lost commit); reconciled, not sent again"
)
#: Why a pending untraceable send of a journal that lost commits is not sent.
MAYBE_SENT_BEFORE = (
    "the journal lost commits and the API keeps nothing to find this send by: it may have"
    " gone out before the crash, so it is not sent again"
)


def looked_up(op: Operation) -> bool:
    """Whether a resume looks `op` up before sending it: a pending create of a kind the API
    can find by its natural key."""
    kind = KINDS.get(op.kind)
    return op.state == "pending" and op.action == "create" and kind is not None and kind.traceable


class LookedUpSource:
    """A resume's operations, each chunk's pending creates looked up live first; a create
    found live comes out as an outcome unknown (the executor reconciles it)."""

    def __init__(self, source: OpSource, journal: Journal, reader: ApiReader) -> None:
        self.source = source
        self.journal = journal
        self.reader = reader
        #: Creates found live so far (a figure for tests and the bench).
        self.found = 0

    async def next_chunk(self, after_op_id: int, limit: int) -> list[Operation]:
        ops = await self.source.next_chunk(after_op_id, limit)
        creates = [op for op in ops if looked_up(op)]
        if not creates:
            return ops
        wanted: dict[str, set[str]] = {}
        for op in creates:
            wanted.setdefault(op.kind, set()).add(op.key)
        live = await read_named(self.reader, wanted)
        made = [op for op in creates if (op.kind, op.key) in live and op.op_id is not None]
        if not made:
            return ops
        self._mark_unknown(made)
        self.found += len(made)
        ids = {op.op_id for op in made}
        return [replace(op, state="unknown") if op.op_id in ids else op for op in ops]

    def _mark_unknown(self, made: Sequence[Operation]) -> None:
        """pending -> in flight -> unknown, in one transaction: the journal's states only let
        an operation that may have been sent become unknown."""
        ids = [op.op_id for op in made if op.op_id is not None]
        with self.journal.batch():
            self.journal.start(ids)
            for op_id in ids:
                self.journal.unknown(op_id, FOUND_LIVE)

    async def statuses(self, op_keys: Collection[str]) -> Mapping[str, OpStatus]:
        return await self.source.statuses(op_keys)


def skip_untraceable_sends(journal: Journal) -> int:
    """After lost commits: skip every pending send the API cannot find again (it may have
    gone out). Returns how many were skipped."""
    untraceable = [name for name, kind in KINDS.items() if not kind.traceable]
    ids: list[int] = []
    after = 0
    while page := journal.ops_after(after, ("pending",), 5000):
        after = page[-1].op_id or after
        ids += [op.op_id for op in page if op.kind in untraceable and op.op_id is not None]
    journal.skip(ids, MAYBE_SENT_BEFORE)
    return len(ids)
