"""Carrying out operations: dependency order, a bounded window, adaptive pacing, retries, and
reconciliation of unknown outcomes against live state before anything is resent.

Every state change goes through a `Ledger` (the run journal, or an in-memory one for
benchmarks). An operation's start is durable *before* its request is sent (`await
ledger.start`), so a crash leaves at most "in flight", which a resume treats as unknown. Outcomes
are recorded without waiting: one lost in a crash leaves the operation in flight, and the resume
looks it up. Everything that happens is also an `Event` for the reporters (progress line, journal
samples, `--events`, the monitor).

The parts: `window.Loader` takes the operations from their source (the journal) a chunk at a
time into a bounded window; `scheduler.Scheduler` keeps dependency order among the loaded ones;
`Executor._attempt` builds one operation's request and sends it once; `decide.decide`, a pure
table, says what to do about what went wrong; `live_reads.LiveReads` makes the reads around a
send (candidate numbers, the lookup after a lost answer); `bulkx.api.retry.Backoff` is the wait
between retries; `outcomes.Outcomes` records each outcome (ledger, totals, event) and
`steering.Steering` holds the controls (pause, resume, cancel, stop) and events.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final

from bulkx.api import CarrierX
from bulkx.api.retry import Backoff
from bulkx.diff.changes import Change, Create, Release
from bulkx.engine import events
from bulkx.engine.batch_backend import Batcher, Group, batchable
from bulkx.engine.crashpoints import crash_point
from bulkx.engine.decide import (
    MAYBE_SENT,
    Context,
    Decision,
    Phase,
    Verdict,
    counts_toward_outage,
    decide,
)
from bulkx.engine.events import Progress, Reporter
from bulkx.engine.ledger import Ledger, MemoryLedger
from bulkx.engine.live_reads import LiveReads
from bulkx.engine.lookahead import NOT_SENT, Lookahead, unsent
from bulkx.engine.operations import Operation, change_of
from bulkx.engine.outage import OutageBreaker
from bulkx.engine.outcomes import Outcomes
from bulkx.engine.requests import Resolver, UnresolvedReference, answer_result, created_sid
from bulkx.engine.scheduler import Scheduler
from bulkx.engine.throttle import AdaptiveLimiter, KeyedPacer
from bulkx.engine.window import ListSource, Loader, OpSource, Prepare, window_size
from bulkx.errors import (
    ApiError,
    AuthError,
    BulkxError,
    JournalError,
    OutcomeUnknown,
    TransientError,
)
from bulkx.journal.states import OpStatus
from bulkx.kinds import KINDS, Kind

__all__ = [
    "MAYBE_SENT",
    "AuthStopped",
    "Executor",
    "JournalStopped",
    "Ledger",
    "MemoryLedger",
    "OutageBreaker",
    "change_sid",
]


class AuthStopped(Exception):
    """The credentials stopped working mid-run: stop dispatching (resumable)."""


class JournalStopped(Exception):
    """The journal could not record a change (disk full, I/O error): nothing more is sent."""


class _Again(Enum):
    AGAIN = "again"


#: An operation's attempt wants another one (resend, or send after a lookup found nothing).
AGAIN: Final = _Again.AGAIN
#: How an operation ended: True done, False failed, None stopped first (left for a resume).
Settled = bool | None


@dataclass
class _Job:
    """One operation being carried out, and how many times it was tried."""

    op: Operation
    change: Change
    tries: int = 0
    #: Its start, recorded ahead while the worker's request before it was out.
    started: Awaitable[None] | None = None
    #: Takes the worker's next operation ahead, as this one's request goes out.
    look_ahead: Callable[[], None] | None = None

    @property
    def kind(self) -> Kind:
        return KINDS[self.change.kind]


@dataclass
class Executor(Outcomes):
    """Carries a run's operations out (see the module's docstring); `Outcomes` records what
    became of each, and `Steering` (below it) holds the controls and events."""

    client: CarrierX
    ledger: Ledger
    resolver: Resolver
    limiter: AdaptiveLimiter = field(default_factory=AdaptiveLimiter)
    concurrency: int = 16
    max_failures: int | None = None
    max_attempts: int = 6
    reporter: Reporter | None = None
    breaker: OutageBreaker = field(default_factory=OutageBreaker)
    sleep: Callable[[float], Any] = asyncio.sleep
    #: How often a `progress` event goes out while the run goes on.
    progress_every: float = 0.25
    progress: Progress = field(default_factory=Progress)
    _unknown: set[str] = field(default_factory=set)
    _stop: bool = False
    _auth_error: ApiError | None = None
    _journal_error: JournalError | None = None
    #: A load or an operation that failed for no reason a run stops on (a bug): raised once
    #: the run has stopped.
    _unexpected_error: Exception | None = None
    #: Operations loaded so far (Progress.total never says fewer).
    _loaded: int = 0
    #: With `--via batch`: who carries out the operations the Batch API can do.
    batcher: Batcher | None = None
    #: Sending kinds: each sending number at its own pace (`Sending.paced_by`).
    pacer: KeyedPacer = field(default_factory=lambda: KeyedPacer(1.0))
    #: The jitter of the backoff between retries (seed it for a repeatable schedule).
    rng: random.Random = field(default_factory=random.Random)
    _backoff: Backoff = field(init=False, repr=False)
    _reads: LiveReads = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # 0.5 s doubling up to 30 s, jittered: the client's own retry schedule.
        self._backoff = Backoff(first=0.5, cap=30.0, rng=self.rng, sleep=self.sleep)
        self._reads = LiveReads(self.client, self.resolver, lambda: self.limiter.acquire())

    async def run(
        self,
        ops: list[Operation],
        changes: Mapping[str, Change],
        *,
        unknown: frozenset[str] = frozenset(),
    ) -> Progress:
        """Run `ops`, held in memory in dependency order (tests, benchmarks); `changes` maps
        each op_key to its change. Ops in `unknown` (in flight when a run stopped) are looked
        up before anything is sent."""
        return await self.run_from(
            ListSource(ops, unknown),
            total=len(ops),
            unknown=len(unknown),
            parse=lambda op: changes[op.op_key],
        )

    async def run_from(
        self,
        source: OpSource,
        *,
        total: int,
        unknown: int = 0,
        prepare: Prepare | None = None,
        parse: Callable[[Operation], Change] = change_of,
    ) -> Progress:
        """Run what `source` hands out, a window at a time (`bulkx.engine.window`). `total`:
        the operations it holds now (raised if more arrive), `unknown` how many of them have an
        outcome nobody knows (each is looked up, by its own state, before it is resent).
        `prepare` gets each chunk ready before its operations are handed over."""
        self.progress = Progress(total=total)
        self._unknown = set()
        self._loaded = 0
        self.emit(events.RUN_STARTED, total=total, unknown=unknown)
        schedule = Scheduler(divert=self._to_batcher)

        def admit(op: Operation, change: Change, earlier: Mapping[str, OpStatus]) -> None:
            self._admit(schedule, op, change, earlier)

        loader = Loader(
            source,
            schedule,
            admit,
            parse=parse,
            prepare=prepare,
            window=window_size(),
            pace=self.limiter,
        )
        await self._drive(schedule, loader)
        return self._finish()

    async def _drive(self, schedule: Scheduler, loader: Loader) -> None:
        """The loader fills the window while workers (and the batcher) take ready operations,
        until all are settled or the run stops."""
        loading = asyncio.create_task(self._feed(loader))
        workers = [asyncio.create_task(self._worker(schedule)) for _ in range(self.concurrency)]
        batching = (
            asyncio.create_task(self._run_batches(self.batcher, schedule))
            if self.batcher is not None
            else None
        )
        await self._wait(schedule.finished)
        loading.cancel()  # stopping: nothing more is loaded (it has ended, if finished)
        schedule.release_workers(len(workers))
        await asyncio.gather(*workers, return_exceptions=True)
        await asyncio.gather(loading, return_exceptions=True)
        if batching is not None:
            # Stopped while a task runs on the server: its operations stay in flight, and
            # a resume looks each one up.
            batching.cancel()
            await asyncio.gather(batching, return_exceptions=True)

    async def _feed(self, loader: Loader) -> None:
        """Load until the source has no more. A load that fails stops the run (what is
        loaded and in flight finishes, the rest stays for a resume): the journal could not be
        read, the credentials were refused, or the API was down while the sids the next
        operations name were read; anything else is raised once the run has stopped."""
        try:
            await loader.run()
        except JournalError as error:
            self._journal_error = self._journal_error or error
            self.stop(f"the journal could not give the next operations: {error}")
        except AuthError as error:
            self._auth_error = error
            self.stop(f"the API refused the credentials: {error}")
        except BulkxError as error:
            self.stop(f"could not get the next operations ready: {error}")
        except Exception as error:
            self._unexpected_error = error
            self.stop(f"could not load the next operations: {error!r}")

    def _admit(
        self, schedule: Scheduler, op: Operation, change: Change, earlier: Mapping[str, OpStatus]
    ) -> None:
        """A loaded operation into the window: skipped at once if a dependency failed."""
        self._loaded += 1
        # A source still being filled may hand out more than it held at the start.
        self.progress.total = max(self.progress.total, self._loaded)
        if op.state == "unknown":
            self._unknown.add(op.op_key)  # dropped once looked up: bounded by the window
        skipped = schedule.add(op, change, earlier)
        if skipped is not None:
            cause, doomed = skipped
            self._unknown.discard(op.op_key)
            self._skip(doomed, cause)

    def _finish(self) -> Progress:
        self.progress.rate_limit = self.limiter.rate
        try:
            self.ledger.flush()
        except JournalError as error:
            self._journal_error = self._journal_error or error
        self.emit(events.PROGRESS)
        if self._journal_error is not None:
            raise JournalStopped(str(self._journal_error))
        if self._auth_error is not None:
            raise AuthStopped(str(self._auth_error))
        if self._unexpected_error is not None:
            raise self._unexpected_error
        return self.progress

    async def _worker(self, schedule: Scheduler) -> None:
        """Carry ready operations out until there are none. An error no answer explains (a
        bug) stops the run and is raised at its end: the operation this worker held would
        otherwise never settle, and the run would wait for it forever. What it held stays as
        journaled (in flight: looked up before a resume sends it again)."""
        try:
            await self._work(schedule)
        except Exception as error:
            self._unexpected_error = self._unexpected_error or error
            self.stop(f"an operation could not be carried out: {error!r}")

    async def _work(self, schedule: Scheduler) -> None:
        lookahead = Lookahead(
            schedule,
            self.ledger,
            may_start=lambda op: op.op_key not in self._unknown,
            taking=lambda: self.limiter.may_hurry and not (self.stopping() or self.progress.paused),
        )
        try:
            while not schedule.finished.is_set() and not self.stopping():
                await self._obey_controls()
                if self.stopping():
                    break
                ahead = lookahead.take()
                op = ahead.op if ahead is not None else await schedule.next_ready()
                if op is None:
                    break
                started = ahead.started if ahead is not None else None
                job = _Job(op, schedule.change_of(op), started=started, look_ahead=lookahead.fetch)
                try:
                    ok = await self._execute(job)
                finally:
                    unsent(self.ledger, op, job.started)  # stopped before its first attempt
                if ok is None:  # stopped before it finished; it stays resumable
                    continue
                self._settle(schedule, op, ok)
                if not ok:
                    self._stop_if_too_many_failed()
        finally:
            lookahead.give_back()

    def _stop_if_too_many_failed(self) -> None:
        if self.max_failures is not None and self.progress.failed > self.max_failures:
            self._stop = True
            self.progress.stopped_because = f"more than {self.max_failures} operation(s) failed"

    def _settle(self, schedule: Scheduler, op: Operation, ok: bool) -> None:
        doomed = schedule.settle(op, ok)
        if doomed:
            self._skip(doomed, op.key)

    def _to_batcher(self, op: Operation, change: Change) -> bool:
        """Hand a ready operation to the batcher when it can carry it out (not one whose
        outcome is unknown: that one is looked up on its own first)."""
        if self.batcher is None or op.op_key in self._unknown or not batchable(change):
            return False
        self.batcher.add(op, change)
        return True

    # --- the Batch API backend ---------------------------------------------------------------

    async def _run_batches(self, batcher: Batcher, schedule: Scheduler) -> None:
        def quit_waiting() -> bool:
            return schedule.finished.is_set() or self.stopping()

        while not quit_waiting():
            items = await batcher.next_groups(quit_waiting)
            grouped = batcher.group(items)
            for op, error in grouped.unresolved:
                self._settle(schedule, op, self._failed(op, UnresolvedReference(error)))
            for op in grouped.per_object:
                schedule.requeue(op)
            for group in grouped.tasks:
                if self.stopping():
                    return  # never started: they stay pending for a resume
                if not await self._run_batch_task(batcher, group, schedule):
                    return

    async def _run_batch_task(self, batcher: Batcher, group: Group, schedule: Scheduler) -> bool:
        """One Batch task for `group`, its outcomes settled; False when the journal could not
        record the operations' start (the run is stopping)."""
        started = await asyncio.gather(*(self._start(op) for op in group.ops))
        if not all(started):
            return False
        self.progress.in_flight += len(group.ops)
        try:
            outcomes = await batcher.run_task(group, self.stopping)
        except (OutcomeUnknown, TransientError) as error:
            # The task may exist: each operation is looked up before a resend.
            for op in group.ops:
                self.ledger.unknown(op, str(error))
                self._unknown.add(op.op_key)
                schedule.requeue(op)
            return True
        except ApiError as error:
            for op in group.ops:
                self._settle(schedule, op, self._failed(op, error))
            return True
        finally:
            self.progress.in_flight -= len(group.ops)
        for outcome in outcomes:
            change = schedule.change_of(outcome.op)
            if outcome.error is None:
                self._succeeded(outcome.op, change, outcome.sid or change_sid(change))
                self._settle(schedule, outcome.op, True)
            else:
                self._settle(schedule, outcome.op, self._failed(outcome.op, outcome.error))
        return True

    # --- one operation -----------------------------------------------------------------------

    async def _execute(self, job: _Job) -> Settled:
        """Carry one operation out, attempt after attempt, until it is settled."""
        op = job.op
        if op.op_key in self._unknown:
            # It may have been sent before the last process stopped: look before resending.
            self._unknown.discard(op.op_key)
            if not job.kind.traceable:
                return self._failed(op, MAYBE_SENT)
            looked_up = await self._look_up(job)
            if looked_up is not AGAIN:
                return looked_up
        while not self._stop:
            attempted = await self._attempt(job)
            if attempted is not AGAIN:
                return attempted
        return None

    async def _attempt(self, job: _Job) -> Settled | _Again:
        """One attempt: build the request, send it once, and act on what happened."""
        op, change = job.op, job.change
        try:
            request = await self._reads.request(op, change)
        except (UnresolvedReference, ApiError) as error:
            job.tries += 1
            started, job.started = job.started, None  # recorded ahead, never sent
            unsent(self.ledger, op, started, f"its request could not be built: {error}")
            return await self._after_prepare_error(job, error)
        # A send the API cannot look up is paced before its intent is written: a crash
        # then leaves only what was really about to go out as "may have been sent".
        blind = not job.kind.traceable
        if blind:
            await self._pace(change)
        started, job.started = job.started, None
        if not await self._start(op, started):
            return None
        if request is None:
            self._succeeded(op, change, None)
            return True
        if not blind:
            await self._pace(change)
        # A 429 may have arrived while this one waited for the journal: honour its pause.
        sent_at = await self.limiter.wait_out_pause()
        if self.stopping():
            self.ledger.retry(op, NOT_SENT)
            return None
        job.tries += 1
        if job.look_ahead is not None:
            job.look_ahead()  # the worker's next operation, started while this one is out
        # In flight until it is settled: while it is looked up or waits for its retry too.
        with self._in_flight():
            try:
                response = await self.client.request(
                    request.api,
                    request.method,
                    request.path,
                    json=request.body,
                    endpoint=request.endpoint,
                    params=request.params,
                    content=request.content,
                )
            except ApiError as error:
                return await self._after_send_error(job, error, sent_at)
        return self._answered(job, response, sent_at)

    def _answered(self, job: _Job, response: Any, sent_at: float) -> bool:
        crash_point("after_send_before_response")
        self.limiter.on_success(sent_at)
        self.breaker.success()
        kind, change = job.kind, job.change
        check = kind.creation.answer_problem
        problem = check(response) if check and response else None
        if problem is not None:
            return self._failed(job.op, problem)
        sid = created_sid(change.kind, response) or getattr(change, "sid", None)
        self._succeeded(job.op, change, sid, answer_result(change.kind, response))
        crash_point("after_response_before_commit")
        return True

    def _decide(self, job: _Job, error: Exception, phase: Phase, attempts: int) -> Decision:
        """Count `error` on the outage breaker where it counts, then look up what to do."""
        api_down = self._outage(error) if counts_toward_outage(error, phase) else False
        context = Context(
            phase,
            job.op.action,
            isinstance(job.change, Release),
            job.kind.traceable,
            attempts,
            self.max_attempts,
            api_down=api_down,
            api_suspect=self.breaker.suspect(),
        )
        return decide(error, context)

    async def _after_prepare_error(self, job: _Job, error: Exception) -> Settled | _Again:
        """Building the request failed (nothing was sent, nothing started in the ledger)."""
        decision = self._decide(job, error, Phase.PREPARE, job.tries)
        if decision.verdict is Verdict.FAIL:
            return self._failed(job.op, decision.reason or error)
        if decision.verdict is Verdict.STOP_OUTAGE:
            return None
        if decision.verdict is Verdict.STOP_AUTH:
            # It never started: it stays pending, and the resume sends it.
            self._auth_error = error if isinstance(error, ApiError) else None
            self.stop(f"the API refused the credentials: {error}")
            return None
        if decision.verdict not in (Verdict.RETRY_AFTER_BACKOFF, Verdict.RETRY_THROTTLED):
            # Nothing was sent, so nothing to look up or succeed: it failed to be built.
            return self._failed(job.op, decision.reason or error)
        await self._wait_before_retry(decision, job.tries)
        return AGAIN

    async def _after_send_error(
        self, job: _Job, error: ApiError, sent_at: float
    ) -> Settled | _Again:
        op = job.op
        if isinstance(error, OutcomeUnknown):
            self.ledger.unknown(op, str(error))
            self.emit(events.OP_UNKNOWN, op, error=str(error))
        decision = self._decide(job, error, Phase.SEND, job.tries)
        verdict = decision.verdict
        if verdict is Verdict.RECONCILE:
            self.progress.unknown += 1
            return await self._look_up(job)
        if verdict is Verdict.SUCCEED:
            # A release whose object is gone already: the sid it had.
            self._succeeded(op, job.change, getattr(job.change, "sid", None))
            return True
        if verdict is Verdict.FAIL:
            return self._failed(op, decision.reason or error)
        if verdict is Verdict.STOP_AUTH:
            self._auth_error = error
            self.ledger.retry(op, str(error))
            self.stop(f"the API refused the credentials: {error}")
            return None
        if verdict is Verdict.STOP_OUTAGE:
            self.ledger.retry(op, str(error))
            return None
        if verdict is Verdict.RETRY_THROTTLED:
            self.limiter.on_throttled(decision.retry_after, sent_at)
            self._retrying(op, error, throttled=True, retry_after=decision.retry_after)
            return AGAIN
        self._retrying(op, decision.reason or error)
        await self._wait_before_retry(decision, job.tries)
        return AGAIN

    async def _wait_before_retry(self, decision: Decision, attempts: int) -> None:
        """A 429 slows the limiter down (every request waits for it); anything else transient
        waits out the backoff; a retry at once waits for nothing."""
        if decision.verdict is Verdict.RETRY_THROTTLED:
            self.limiter.on_throttled(decision.retry_after)
        elif decision.verdict is Verdict.RETRY_AFTER_BACKOFF:
            await self._backoff.wait(attempts)

    async def _look_up(self, job: _Job) -> Settled | _Again:
        """After a lost answer: did the change happen? Looks until the lookup itself gets an
        answer and records what it found. True when it happened, AGAIN when it did not (or it
        is an update, safe to send again), None when the run stopped first."""
        lookups = 0
        while True:
            crash_point("during_reconcile")
            try:
                sid = await self._reads.look_up_outcome(job.op, job.change)
                break
            except (ApiError, UnresolvedReference) as error:
                lookups += 1
                decision = self._decide(job, error, Phase.LOOKUP, lookups)
                if decision.verdict is Verdict.STOP_OUTAGE:
                    return None
                if decision.verdict is Verdict.STOP_AUTH:  # it stays unknown for the resume
                    self._auth_error = error if isinstance(error, ApiError) else None
                    self.stop(f"the API refused the credentials: {error}")
                    return None
                if decision.verdict not in (Verdict.RETRY_AFTER_BACKOFF, Verdict.RETRY_THROTTLED):
                    reason = f"could not look up whether it happened: {error}"
                    return self._failed(job.op, reason)
                self.progress.retries += 1
                await self._wait_before_retry(decision, lookups)
        self.breaker.success()
        self.ledger.reconciled(job.op, sid)
        self.emit(events.OP_RECONCILED, job.op, found=sid is not None, sid=sid)
        if not sid:
            return AGAIN
        self._remember(job.op, job.change, sid)
        self.progress.done += 1
        return True

    async def _pace(self, change: Change) -> None:
        """Wait for the sending number's pace (sending kinds) and the run's rate limit."""
        sending = KINDS[change.kind].sending
        paced_by = sending.paced_by if sending else None
        if paced_by and isinstance(change, Create):
            await self.pacer.acquire(str(change.values.get(paced_by)))
        await self.limiter.acquire()

    def _outage(self, error: Exception) -> bool:
        """Count a transient error; when the API looks down, stop the run (resumable)."""
        if self._stop:
            return True
        if not self.breaker.failure():
            return False
        reason = (
            f"the API answered nothing but errors for {self.breaker.open_after:g} s (last: {error})"
        )
        self.emit(events.OUTAGE, reason=reason)
        self.stop(reason)
        return True


def change_sid(change: Change) -> str | None:
    sid = getattr(change, "sid", None)
    return str(sid) if sid else None
