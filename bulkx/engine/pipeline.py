"""Sending while preparing: an apply that needs no confirmation (`--yes`) starts carrying out its
first operations as soon as a chunk of them is journaled, and prepares the rest of the plan in
the same event loop meanwhile (`PreparingSource.fill`), instead of preparing everything first.

Only a plan for which this changes nothing but the timing is pipelined (`pipeline_refusal`,
decided up front from the plan and the options, before anything is read or sent):

- Permission gates. Every permission a step of the plan could need is given ('release' for a
  step with `ensure: absent` rows, the kind's 'send', 'partners' or 'calls'), so no change can
  be blocked for a missing permission after sending began. A change blocked for another reason
  (a number to adopt that is not on the account, a field fixed at creation) found in a later
  chunk fails as an item: it is journaled failed with its reason, the rest goes on, and the
  run ends with exit 3 and the item in `report --failed`, as an item the API refused would. One
  found in the first chunks refuses the run before anything is sent, as a prepared-whole run is.
- What later chunks read. A chunk reads live state by key while earlier chunks' operations
  are being sent, so no chunk may read what another step's operations change: no two steps of
  one family (a kind, the sub-records on its objects and the views of them: a DID, its E911 and
  line information, its Mediator view). What every chunk looks up (the small kinds references
  point at) is read up front, before the first chunk and so before any send.
- Dependencies. `operations()` makes an operation depend only on creates and updates prepared
  before it (`OperationsBuilder.made` holds what earlier chunks made), and a release, the one
  operation that waits for what comes after it, is held back and journaled after every other
  (`Preparer._write_releases`). So a later chunk never adds a dependency of an operation already
  journaled: when an operation is loaded, each of its dependencies is in the journal already
  (same or earlier chunk transaction), which `Scheduler.add` relies on.
- The rest: no saved changeset (its drift check would see this run's own changes), no
  `--rate` (the reads and the sends each have their limiter: together they could pass it), no
  `--via batch`, no `--max-failures P%` (a percentage of a total still growing), and more rows
  than one chunk (a plan that small is prepared whole in a moment).

While the sends' limiter learns the server's limit (`AdaptiveLimiter.learning`), the next chunk
waits until the sends are short of operations (`LEARNING_LOW_WATER`): preparing a chunk stalls
the event loop for a tenth of a second or more, and spells of sending broken by such stalls look
like a low limit.

The run is `running` while it prepares; the journal's preparation row says whether every
operation is written. A run stopped (Ctrl-C, outage, kill -9) before that is never `completed`
(`PreparingLedger`), and `bulkx resume` prepares the rest from the cursor, then carries out
everything left: the operations prepared before the stop and the new ones, each once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from bulkx.diff import chunks
from bulkx.diff.summary import ChangeSummary
from bulkx.engine.crashpoints import armed, crash_point
from bulkx.engine.events import Progress
from bulkx.engine.journal_ledger import JournalLedger
from bulkx.engine.operations import Operation
from bulkx.engine.prepare_chunks import Preparer, releasable_kinds
from bulkx.engine.read_policy import for_run
from bulkx.engine.targets import TargetOptions, open_client
from bulkx.engine.throttle import AdaptiveLimiter
from bulkx.engine.window import JournalSource
from bulkx.journal import Journal
from bulkx.kinds import KINDS
from bulkx.plan.model import Plan

if TYPE_CHECKING:
    from bulkx.engine.run import RunOptions

#: What `counts_after` adds while a run's preparation has not finished: it has operations left
#: (the ones still to prepare), so it is never `completed` (`bulkx.engine.run.classify`).
UNPREPARED = "unprepared"
#: While the sends' limiter learns the server's limit, the next chunk is prepared only once
#: fewer than this share of a chunk's rows is journaled and not yet settled: preparing stalls
#: the event loop (its diff and journal writes), and a stall in a spell misleads the learning.
#: Measured at R = 500 (10,000 ops, bench row 1): preparing at once, the runs settled at
#: 0.58-0.73 of the limit (10 of 10); held, at 0.93-0.99.
LEARNING_LOW_WATER = 0.25
#: How often a held preparation looks again.
HOLD_POLL_SECONDS = 0.02


def family(kind_name: str) -> str:
    """The kind whose live objects `kind_name`'s chunks read and its operations change: a
    sub-record's owner (a DID's for its E911), a view's viewed kind, else the kind itself."""
    kind = KINDS[kind_name]
    if kind.creation.same_sid_as:
        return family(kind.creation.same_sid_as)
    if kind.singleton and kind.parent:
        return family(kind.parent)
    if kind.singleton and kind.per_endpoint:
        return family("endpoint")
    return kind.name


def pipeline_refusal(plan: Plan, options: RunOptions, *, saved: bool) -> str | None:
    """Why `plan` is prepared whole before anything is sent even with --yes; None when its
    sending may start while it is prepared (see the module's docstring for each rule)."""
    if saved:
        return "a saved changeset is checked for drift whole before anything is sent"
    if options.rate is not None:
        return "--rate bounds the reads and the sends together only when they take turns"
    if options.via != "api":
        return "--via batch gathers operations into tasks"
    if options.max_failures is not None and options.max_failures.endswith("%"):
        return "--max-failures P% is a share of a total still growing"
    if (
        sum(step.rows.height for step in plan.steps) <= chunks.CHUNK_ROWS
    ):  # read now: tests shrink it
        return "the plan is prepared in one chunk"
    return _gate_refusal(plan, options) or _family_refusal(plan)


def _gate_refusal(plan: Plan, options: RunOptions) -> str | None:
    """Why a step could be blocked for want of a permission (named, as `Blocked.needs` does:
    the reason is a diagnostic, and the CLI alone spells permissions as flags)."""
    releasing = releasable_kinds(plan)
    for step in plan.steps:
        confirmation = KINDS[step.kind].confirmation
        if confirmation is not None and confirmation.permission not in options.confirmed:
            return f"step {step.name} may need the {confirmation.permission!r} permission"
        if step.kind in releasing and not options.allow_release:
            return f"step {step.name} may need the 'release' permission"
    return None


def _family_refusal(plan: Plan) -> str | None:
    seen: dict[str, str] = {}
    for step in plan.steps:
        name = family(step.kind)
        if name in seen:
            return f"steps {seen[name]} and {step.name} read and change the same {name} objects"
        seen[name] = step.name
    return None


def preparation_unfinished(journal: Journal) -> bool:
    """Whether the run's operations are not all journaled yet (prepared a chunk at a time,
    and stopped, or killed, before the last chunk)."""
    state = journal.preparation()
    return state is not None and not state.finished


class PreparingLedger(JournalLedger):
    """The run's ledger while its plan may still be being prepared: the counts it ends on say
    that operations are left while the preparation has not finished (`UNPREPARED`)."""

    def counts_after(self, progress: Progress) -> dict[str, int]:
        counts = super().counts_after(progress)
        if preparation_unfinished(self.journal):
            counts[UNPREPARED] = 1
        return counts


class PreparingSource(JournalSource):
    """The journal's operations left, while `preparer` goes on adding more: `fill` prepares
    the rest of the plan (the executor's loader runs it beside itself), and `next_chunk` waits
    for the next chunk to land rather than say "no more" while it is preparing."""

    def __init__(
        self,
        journal: Journal,
        preparer: Preparer,
        target: TargetOptions,
        *,
        outage_after: float,
        on_prepared: Callable[[ChangeSummary], None] | None = None,
    ) -> None:
        super().__init__(journal)
        self._preparer = preparer
        self._target = target
        self._outage_after = outage_after
        self._on_prepared = on_prepared
        self._landed: asyncio.Event | None = None
        #: Operations `next_chunk` has handed to the loader.
        self._handed = 0
        #: Every operation is journaled, and `on_prepared` told: `next_chunk` may say "no more".
        self._filled = False

    def _event(self) -> asyncio.Event:
        if self._landed is None:  # made in the loop that waits on it
            self._landed = asyncio.Event()
        return self._landed

    async def fill(
        self, pace: AdaptiveLimiter | None = None, loaded: Callable[[], int] = lambda: 0
    ) -> None:
        """Prepare the rest, waking the loader after each chunk, its reads paced by `pace`
        (the sends' limiter), and held while `pace` learns (`LEARNING_LOW_WATER`). Cancelled
        when the run stops (the cursor keeps the chunks journaled); raises what stopped the
        preparation."""
        preparer = self._preparer
        preparer.fail_blocked = True  # sending has begun: the plan can no longer be refused
        async with open_client(self._target) as client:
            preparer.read_with(for_run(client, limiter=pace, outage_after=self._outage_after))
            await self._hold_while_learning(pace, loaded)
            async for written in preparer.chunks():
                self._event().set()
                self._crash_point(written.finished)
                if not written.finished:
                    await self._hold_while_learning(pace, loaded)
        if self._on_prepared is not None:
            self._on_prepared(preparer.summary)
        self._filled = True
        self._event().set()

    async def _hold_while_learning(
        self, pace: AdaptiveLimiter | None, loaded: Callable[[], int]
    ) -> None:
        """Wait while `pace` is learning and enough is journaled that the sends need no more."""
        low_water = chunks.CHUNK_ROWS * LEARNING_LOW_WATER  # read now: tests shrink it
        while pace is not None and pace.learning:
            ahead = self._preparer.sendable - self._handed + loaded()
            if ahead <= low_water:
                return
            await asyncio.sleep(HOLD_POLL_SECONDS)

    def _crash_point(self, finished: bool) -> None:
        """Tests kill here: a chunk more is journaled, and some operations have succeeded."""
        point = "while_preparing_and_sending"
        if armed(point) and not finished and self.journal.counts().get("succeeded"):
            crash_point(point)

    async def next_chunk(self, after_op_id: int, limit: int) -> list[Operation]:
        landed = self._event()
        while True:
            # Cleared before the look: a chunk landing after it sets it again.
            landed.clear()
            ops = await super().next_chunk(after_op_id, limit)
            self._handed += len(ops)
            if ops or self._filled:
                return ops
            await landed.wait()


def sending_while_preparing(
    journal: Journal,
    preparer: Preparer,
    options: RunOptions,
    on_prepared: Callable[[ChangeSummary], None] | None = None,
) -> tuple[PreparingLedger, PreparingSource]:
    """The ledger and the source of a run that sends while `preparer` prepares the rest."""
    source = PreparingSource(
        journal,
        preparer,
        options.target,
        outage_after=options.outage_after,
        on_prepared=on_prepared,
    )
    return PreparingLedger(journal), source
