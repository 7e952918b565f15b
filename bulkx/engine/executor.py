"""Carrying out operations: dependency order, a bounded window, adaptive pacing, retries, and
reconciliation of unknown outcomes against live state before anything is resent.

Every state change goes through a `Ledger` (the run journal, or an in-memory one for
benchmarks). An operation's start is durable *before* its request is sent (`await
ledger.start`), so a crash leaves at most "in flight", which a resume treats as unknown. Outcomes
are recorded without waiting: one lost in a crash leaves the operation in flight, and the resume
looks it up. Everything that happens is also an `Event` for the reporters (progress line, journal
samples, `--events`, the monitor).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from bulkx.api import CarrierX
from bulkx.diff.changes import Change, Create, Release, RentByCriteria, Update
from bulkx.diff.read import criteria_filter, quote
from bulkx.diff.state import natural_key, scope_field
from bulkx.engine import events
from bulkx.engine.batch_backend import Batcher, batchable
from bulkx.engine.crashpoints import crash_point
from bulkx.engine.events import Event, Progress, Reporter
from bulkx.engine.operations import Operation
from bulkx.engine.requests import (
    OP_TAG,
    Request,
    Resolver,
    UnresolvedReference,
    answer_result,
    created_sid,
    object_request,
    rent_request,
    request_for,
    sid_from_lookup,
    sid_lookup_request,
)
from bulkx.engine.throttle import AdaptiveLimiter, KeyedPacer
from bulkx.errors import (
    ApiError,
    AuthError,
    Conflict,
    JournalError,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    TerminalError,
    TransientError,
)
from bulkx.resources import KINDS

#: Why an untraceable send whose answer was lost is not sent again (see `Kind.traceable`).
MAYBE_SENT = (
    "outcome unknown: it may have been sent, and the API keeps nothing to look it up by;"
    " not sent again (at most once). Check whether it arrived; to send it anyway, give it a"
    " new ref"
)


class Ledger(Protocol):
    """Where the executor records each operation's state, in order, before acting on it."""

    async def start(self, op_key: str) -> None:
        """Durable before it returns: the request may be sent after this."""

    def succeed(self, op_key: str, sid: str | None, result: Any = None) -> None: ...
    def fail(self, op_key: str, error: str) -> None: ...
    def unknown(self, op_key: str, error: str) -> None: ...
    def retry(self, op_key: str, error: str) -> None: ...
    def reconciled(self, op_key: str, sid: str | None) -> None: ...
    def skip(self, op_keys: list[str], reason: str) -> None: ...
    def flush(self) -> None: ...
    def commands(self) -> list[str]: ...


@dataclass
class MemoryLedger:
    """A ledger that only counts: for tests and for benchmarks of the executor without a journal."""

    states: dict[str, str] = field(default_factory=dict)

    async def start(self, op_key: str) -> None:
        self.states[op_key] = "in_flight"

    def succeed(self, op_key: str, sid: str | None, result: Any = None) -> None:
        self.states[op_key] = "succeeded"

    def fail(self, op_key: str, error: str) -> None:
        self.states[op_key] = "failed"

    def unknown(self, op_key: str, error: str) -> None:
        self.states[op_key] = "unknown"

    def retry(self, op_key: str, error: str) -> None:
        self.states[op_key] = "pending"

    def reconciled(self, op_key: str, sid: str | None) -> None:
        self.states[op_key] = "succeeded" if sid else "pending"

    def skip(self, op_keys: list[str], reason: str) -> None:
        for key in op_keys:
            self.states[key] = "skipped"

    def flush(self) -> None:
        pass

    def commands(self) -> list[str]:
        return []


@dataclass
class OutageBreaker:
    """Tells an API outage from a few transient errors: when nothing but transient errors has
    come back for `open_after` seconds (and at least `min_errors` of them), the run stops,
    resumable, instead of failing operations one by one or spinning on retries."""

    open_after: float = 60.0
    min_errors: int = 5
    clock: Callable[[], float] = time.monotonic
    _last_success: float | None = None
    _errors: int = 0

    def success(self) -> None:
        self._last_success = self.clock()
        self._errors = 0

    def suspect(self) -> bool:
        """Nothing but errors lately: the API itself may be down (not yet long enough to stop)."""
        return self._errors >= self.min_errors

    def failure(self) -> bool:
        """One more transient error; True when the API now counts as down."""
        now = self.clock()
        if self._last_success is None:
            self._last_success = now
        self._errors += 1
        return self._errors >= self.min_errors and now - self._last_success >= self.open_after


class AuthStopped(Exception):
    """The credentials stopped working mid-run: stop dispatching (resumable)."""


class JournalStopped(Exception):
    """The journal could not record a change (disk full, I/O error): nothing more is sent."""


@dataclass
class Executor:
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
    _pools: dict[str, deque[str]] = field(default_factory=dict)
    _unknown: set[str] = field(default_factory=set)
    _stop: bool = False
    _auth_error: ApiError | None = None
    _journal_error: JournalError | None = None
    #: With `--via batch`: who carries out the operations the Batch API can do.
    batcher: Batcher | None = None
    #: Sending kinds: each sending number at its own pace (`Kind.paced_by`).
    pacer: KeyedPacer = field(default_factory=lambda: KeyedPacer(1.0))

    async def run(
        self,
        ops: list[Operation],
        changes: Mapping[str, Change],
        *,
        unknown: frozenset[str] = frozenset(),
    ) -> Progress:
        """Run `ops` (dependencies first); `changes` maps each op_key to its change. Ops in
        `unknown` (a resumed run's in-flight ones) are reconciled before anything is sent."""
        self.progress = Progress(total=len(ops))
        self._unknown = set(unknown)
        self.emit(events.RUN_STARTED, total=len(ops), unknown=len(unknown))
        waiting: dict[str, set[str]] = {}
        dependents: dict[str, list[str]] = {}
        keys = {op.op_key for op in ops}
        by_key = {op.op_key: op for op in ops}
        ready: asyncio.Queue[Operation | None] = asyncio.Queue()

        def dispatch(op: Operation) -> None:
            change = changes[op.op_key]
            if self.batcher is not None and op.op_key not in self._unknown and batchable(change):
                self.batcher.add(op, change)
            else:
                ready.put_nowait(op)

        for op in ops:
            deps = {d for d in op.depends_on if d in keys}
            waiting[op.op_key] = deps
            for dep in deps:
                dependents.setdefault(dep, []).append(op.op_key)
            if not deps:
                dispatch(op)
        finished = asyncio.Event()
        outstanding = len(ops)

        def settle(op_key: str, ok: bool) -> None:
            nonlocal outstanding
            outstanding -= 1
            if ok:
                for child in dependents.get(op_key, []):
                    waiting[child].discard(op_key)
                    if not waiting[child]:
                        dispatch(by_key[child])
            else:
                doomed = self._descendants(op_key, dependents)
                if doomed:
                    reason = f"a dependency failed: {by_key[op_key].key}"
                    self.ledger.skip(doomed, reason)
                    self.progress.skipped += len(doomed)
                    outstanding -= len(doomed)
                    for key in doomed:
                        waiting[key] = {"<skipped>"}
                        self.emit(events.OP_SKIPPED, by_key[key], reason=reason)
            if outstanding <= 0:
                finished.set()

        async def worker() -> None:
            while not finished.is_set() and not self.stopping():
                await self._obey_controls()
                if self.stopping():
                    break
                op = await ready.get()
                if op is None:
                    break
                ok = await self._execute(op, changes[op.op_key])
                if ok is None:  # stopped before it finished; it stays resumable
                    continue
                settle(op.op_key, ok)
                if (
                    not ok
                    and self.max_failures is not None
                    and (self.progress.failed > self.max_failures)
                ):
                    self._stop = True
                    self.progress.stopped_because = (
                        f"more than {self.max_failures} operation(s) failed"
                    )

        async def batches(batcher: Batcher) -> None:
            def quit_waiting() -> bool:
                return finished.is_set() or self.stopping()

            while not quit_waiting():
                items = await batcher.next_groups(quit_waiting)
                groups, unresolved = batcher.group(items)
                for op, error in unresolved:
                    settle(op.op_key, self._failed(op, UnresolvedReference(error)))
                for group in groups:
                    if self.stopping():
                        return  # never started: they stay pending for a resume
                    started = await asyncio.gather(*(self._start(op) for op in group.ops))
                    if not all(started):
                        return
                    self.progress.in_flight += len(group.ops)
                    try:
                        outcomes = await batcher.run_task(group, self.stopping)
                    except (OutcomeUnknown, TransientError) as error:
                        # The task may exist: each operation is looked up before a resend.
                        for op in group.ops:
                            self.ledger.unknown(op.op_key, str(error))
                            self._unknown.add(op.op_key)
                            ready.put_nowait(op)
                        continue
                    except ApiError as error:
                        for op in group.ops:
                            settle(op.op_key, self._failed(op, error))
                        continue
                    finally:
                        self.progress.in_flight -= len(group.ops)
                    for outcome in outcomes:
                        change = changes[outcome.op.op_key]
                        if outcome.error is None:
                            self._succeeded(outcome.op, change, outcome.sid or change_sid(change))
                            settle(outcome.op.op_key, True)
                        else:
                            settle(outcome.op.op_key, self._failed(outcome.op, outcome.error))

        if ops:
            workers = [asyncio.create_task(worker()) for _ in range(self.concurrency)]
            batching = (
                asyncio.create_task(batches(self.batcher)) if self.batcher is not None else None
            )
            await self._wait(finished)
            for _ in workers:
                ready.put_nowait(None)
            await asyncio.gather(*workers, return_exceptions=True)
            if batching is not None:
                # Stopped while a task runs on the server: its operations stay in flight, and
                # a resume looks each one up.
                batching.cancel()
                await asyncio.gather(batching, return_exceptions=True)
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
        return self.progress

    async def _wait(self, finished: asyncio.Event) -> None:
        while not finished.is_set() and not self._stop:
            try:
                await asyncio.wait_for(finished.wait(), self.progress_every)
            except TimeoutError:
                await self._obey_controls(block=False)
            self.emit(events.PROGRESS)

    def stopping(self) -> bool:
        return self._stop

    def stop(self, reason: str | None = None) -> None:
        """Graceful stop (Ctrl-C, cancel): no new operation starts; in-flight ones finish."""
        if not self._stop:
            self.emit(events.STOPPING, reason=reason or "stop requested")
        self._stop = True
        if reason is None:
            self.progress.cancelled = True
        elif self.progress.stopped_because is None:
            self.progress.stopped_because = reason

    async def _obey_controls(self, *, block: bool = True) -> None:
        self._apply_commands()
        while block and self.progress.paused and not self._stop:
            self.emit(events.PROGRESS)
            await self.sleep(self.progress_every)
            self._apply_commands()

    def _apply_commands(self) -> None:
        for command in self.ledger.commands():
            if command == "pause" and not self.progress.paused:
                self.progress.paused = True
                self.emit(events.PAUSED)
            elif command == "resume" and self.progress.paused:
                self.progress.paused = False
                self.emit(events.RESUMED)
            elif command == "cancel":
                self.stop()

    def emit(self, kind: str, op: Operation | None = None, **data: Any) -> None:
        if kind == events.PROGRESS:
            self.progress.throttled = self.limiter.throttled
            self.progress.rate_limit = self.limiter.rate
        if self.reporter is None:
            return
        if op is not None:
            data = {"op_key": op.op_key, "step": op.step, "kind": op.kind, "key": op.key,
                    "action": op.action, "position": op.position, **data}  # fmt: skip
        self.reporter(Event(kind, time.time(), data, self.progress))

    @staticmethod
    def _descendants(op_key: str, dependents: Mapping[str, list[str]]) -> list[str]:
        seen: list[str] = []
        stack = list(dependents.get(op_key, []))
        while stack:
            key = stack.pop()
            if key not in seen:
                seen.append(key)
                stack.extend(dependents.get(key, []))
        return seen

    # --- one operation -----------------------------------------------------------------------

    async def _execute(self, op: Operation, change: Change) -> bool | None:
        attempts = 0
        kind = KINDS[change.kind]
        if op.op_key in self._unknown:
            # It may have been sent before the last process stopped: look before resending.
            self._unknown.discard(op.op_key)
            if not kind.traceable:
                return self._failed(op, MAYBE_SENT)
            found = await self._reconcile_patiently(op, change)
            if found is None:
                return None
            if found:
                self._remember(op, change, found)
                self.progress.done += 1
                return True
        while True:
            if self._stop:
                return None
            try:
                request = await self._request(op, change)
            except UnresolvedReference as error:
                return self._failed(op, error)
            except TransientError as error:  # fetching candidate numbers failed; try again
                attempts += 1
                if self._outage(error):
                    return None
                if attempts >= self.max_attempts and not self.breaker.suspect():
                    return self._failed(op, error)
                await self._backoff(attempts, error)
                continue
            # A send the API cannot look up is paced before its intent is written: a crash
            # then leaves only what was really about to go out as "may have been sent".
            blind = not kind.traceable
            if blind:
                await self._pace(change)
            if not await self._start(op):
                return None
            if request is None:
                self._succeeded(op, change, None)
                return True
            if not blind:
                await self._pace(change)
            # A 429 may have arrived while this one waited for the journal: honour its pause.
            sent_at = await self.limiter.wait_out_pause()
            if self.stopping():
                self.ledger.retry(op.op_key, "the run stopped before this was sent")
                return None
            self.progress.in_flight += 1
            attempts += 1
            try:
                response = await self.client.request(
                    request.api, request.method, request.path, json=request.body,
                    endpoint=request.endpoint, params=request.params, content=request.content,
                )  # fmt: skip
            except RateLimited as error:
                self.limiter.on_throttled(error.retry_after, sent_at)
                self._retrying(op, error, throttled=True)
                continue
            except OutcomeUnknown as error:
                self.ledger.unknown(op.op_key, str(error))
                self.emit(events.OP_UNKNOWN, op, error=str(error))
                self._outage(error)
                if not kind.traceable:
                    return self._failed(op, f"{MAYBE_SENT} ({error})")
                self.progress.unknown += 1
                found = await self._reconcile_patiently(op, change)
                if found is None:
                    return None
                if found:
                    self._remember(op, change, found)
                    self.progress.done += 1
                    return True
                continue  # not found (or an update, safe to send again): resend
            except NotFound as error:
                if not isinstance(change, Release):
                    return self._failed(op, error)
                # Gone already: an earlier attempt's answer was lost, or someone else deleted
                # it. Either way what the plan wants (absent) holds.
                self._succeeded(op, change, change.sid)
                return True
            except Conflict as error:
                if op.action == "rent":
                    self._retrying(op, Exception(f"{error}; trying another number"))
                    continue
                return self._failed(op, error)
            except AuthError as error:
                self._auth_error = error
                self.ledger.retry(op.op_key, str(error))
                self.stop(f"the API refused the credentials: {error}")
                return None
            except TransientError as error:
                if self._outage(error):
                    self.ledger.retry(op.op_key, str(error))
                    return None
                # While the whole API is failing, an operation's own attempts do not run out:
                # it waits for the API to come back, or for the breaker to stop the run.
                if attempts >= self.max_attempts and not self.breaker.suspect():
                    return self._failed(op, error)
                self._retrying(op, error)
                await self._backoff(attempts, error)
                continue
            except (TerminalError, ApiError) as error:
                return self._failed(op, error)
            finally:
                self.progress.in_flight -= 1
            crash_point("after_send_before_response")
            self.limiter.on_success(sent_at)
            self.breaker.success()
            problem = kind.answer_problem(response) if kind.answer_problem and response else None
            if problem is not None:
                return self._failed(op, problem)
            sid = created_sid(change.kind, response) or getattr(change, "sid", None)
            self._succeeded(op, change, sid, answer_result(change.kind, response))
            crash_point("after_response_before_commit")
            return True

    async def _pace(self, change: Change) -> None:
        """Wait for the sending number's pace (sending kinds) and the run's rate limit."""
        paced_by = KINDS[change.kind].paced_by
        if paced_by and isinstance(change, Create):
            await self.pacer.acquire(str(change.values.get(paced_by)))
        await self.limiter.acquire()

    async def _start(self, op: Operation) -> bool:
        try:
            await self.ledger.start(op.op_key)
        except JournalError as error:
            self._journal_error = error
            self.stop(f"the journal could not record the next operation: {error}")
            return False
        self.emit(events.OP_STARTED, op)
        return True

    def _succeeded(
        self, op: Operation, change: Change, sid: str | None, result: Any = None
    ) -> None:
        self._remember(op, change, sid)
        self.ledger.succeed(op.op_key, sid, result)
        self.progress.done += 1
        self.emit(events.OP_SUCCEEDED, op, sid=sid)

    def _retrying(self, op: Operation, error: Exception, *, throttled: bool = False) -> None:
        self.ledger.retry(op.op_key, str(error))
        self.progress.retries += 1
        if throttled:
            retry_after = getattr(error, "retry_after", None)
            self.emit(events.THROTTLED, op, retry_after=retry_after, rate_limit=self.limiter.rate)
        else:
            self.emit(events.OP_RETRYING, op, error=str(error))

    def _outage(self, error: Exception) -> bool:
        """Count a transient error; when the API looks down, stop the run (resumable)."""
        if self._stop:
            return True
        if not self.breaker.failure():
            return False
        reason = (f"the API answered nothing but errors for {self.breaker.open_after:g} s"
                  f" (last: {error})")  # fmt: skip
        self.emit(events.OUTAGE, reason=reason)
        self.stop(reason)
        return True

    async def _backoff(self, attempts: int, error: ApiError) -> None:
        if isinstance(error, RateLimited):
            self.limiter.on_throttled(error.retry_after)
            return
        await self.sleep(min(30.0, 0.25 * 2**attempts) * random.uniform(0.5, 1.0))

    async def _reconcile_patiently(
        self, op: Operation, change: Change
    ) -> str | Literal[False] | None:
        """Look the outcome up until the lookup itself gets an answer, and record it: the sid
        (or True for an update/release with nothing to name) when it happened, False when it
        did not (send it again), None when the run stopped first."""
        attempts = 0
        while True:
            crash_point("during_reconcile")
            try:
                sid = await self._reconcile(op, change)
                break
            except TransientError as error:
                attempts += 1
                if self._outage(error):
                    return None
                self.progress.retries += 1
                await self._backoff(attempts, error)
        self.breaker.success()
        self.ledger.reconciled(op.op_key, sid)
        self.emit(events.OP_RECONCILED, op, found=sid is not None, sid=sid)
        return sid if sid is not None else False

    def _failed(self, op: Operation, error: Exception | str) -> bool:
        self.ledger.fail(op.op_key, str(error))
        self.progress.failed += 1
        self.emit(events.OP_FAILED, op, error=str(error))
        return False

    def _remember(self, op: Operation, change: Change, sid: str | None) -> None:
        if sid and isinstance(change, Create):
            self.resolver.remember(change.kind, natural_key(KINDS[change.kind], change.values), sid)

    async def _request(self, op: Operation, change: Change) -> Request | None:
        if isinstance(change, RentByCriteria):
            number = await self._next_number(change)
            return rent_request(change, number, self.resolver, op.op_key)
        if isinstance(change, Update):
            lookup = sid_lookup_request(change, self.resolver)
            if lookup is not None:  # e.g. the account of an endpoint this run created
                answer = await self.client.request(
                    lookup.api, lookup.method, lookup.path, endpoint=lookup.endpoint
                )
                sid = sid_from_lookup(change, answer)
                if sid is not None:
                    self.resolver.remember(change.kind, change.key, sid)
        return request_for(change, self.resolver)

    async def _next_number(self, change: RentByCriteria) -> str:
        pool = self._pools.setdefault(change.step, deque())
        if not pool:
            flt = criteria_filter(change.criteria)
            params: dict[str, Any] = {"limit": min(1000, max(50, change.count * 2)),
                                      "order": "shuffle"}  # fmt: skip
            if flt:
                params["filter"] = flt
            page = await self.client.get("core", "/phonenumber/available_dids", params=params)
            pool.extend(d["phonenumber"] for d in page.get("items") or [])
            if not pool:
                raise UnresolvedReference(f"no available number matches {change.key}")
        return pool.popleft()

    # --- reconciliation ------------------------------------------------------------------

    async def _reconcile(self, op: Operation, change: Change) -> str | None:
        """After a lost answer: did the change happen? The sid if so, None if not."""
        kind = KINDS[change.kind]
        if isinstance(change, Release):
            lookup = object_request(change, self.resolver)
            try:
                await self.client.request(
                    lookup.api, lookup.method, lookup.path, endpoint=lookup.endpoint
                )
            except NotFound:
                return change.sid
            return None
        if isinstance(change, Update):
            return None  # sending the desired state again is safe
        if isinstance(change, RentByCriteria):
            found = await self.client.list_all(
                "core", kind.path, filter=f"attributes.{OP_TAG} eq {quote(op.op_key)}"
            )
            return str(found[0][kind.sid_field]) if found else None
        assert isinstance(change, Create)
        values = change.values
        scope = scope_field(kind)
        if kind.parent and scope and "{parent_sid}" in kind.path:  # a trunk: in its group
            groups = await self.client.list_all(
                "core", KINDS[kind.parent].path, params={"with_trunks": "true"},
                filter=f"name eq {quote(str(values[scope]))}",
            )  # fmt: skip
            for group in groups:
                for trunk in group.get("trunks") or []:
                    if trunk.get(kind.key) == values[kind.key]:
                        return str(trunk[kind.sid_field])
            return None
        endpoint = str(values["endpoint"]) if kind.api != "core" and "endpoint" in values else None
        where = f"{kind.key_field} eq {quote(str(values[kind.key]))}"
        parent_field = kind.by_name.get(kind.parent_field or "")
        if kind.parent and parent_field is not None and parent_field.api_name:
            # A link is named within its domain, a file within its container.
            parent_sid = self.resolver.sid(kind.parent, str(values[parent_field.name]))
            where += f" and {parent_field.api_name} eq {quote(parent_sid)}"
        found = await self.client.list_all(kind.api, kind.path, filter=where, endpoint=endpoint)
        return str(found[0][kind.sid_field]) if found else None


def change_sid(change: Change) -> str | None:
    sid = getattr(change, "sid", None)
    return str(sid) if sid else None
