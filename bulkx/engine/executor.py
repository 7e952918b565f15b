"""Carrying out operations: dependency order, a bounded window, adaptive pacing, retries, and
reconciliation of unknown outcomes against live state before anything is resent.

Every state change goes through a `Ledger` (the run journal, or an in-memory one for
benchmarks) *before* the next step: an operation is started in the ledger before its request is
sent, so a crash leaves at most "in flight", which a resume treats as unknown.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bulkx.api import CarrierX
from bulkx.diff.changes import Change, Create, Release, RentByCriteria, Update
from bulkx.diff.read import criteria_filter, quote
from bulkx.diff.state import natural_key, scope_field
from bulkx.engine.operations import Operation
from bulkx.engine.requests import (
    OP_TAG,
    Request,
    Resolver,
    UnresolvedReference,
    created_sid,
    rent_request,
    request_for,
)
from bulkx.engine.throttle import AdaptiveLimiter
from bulkx.errors import (
    ApiError,
    AuthError,
    Conflict,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    TerminalError,
    TransientError,
)
from bulkx.resources import KINDS


class Ledger(Protocol):
    """Where the executor records each operation's state, in order, before acting on it."""

    def start(self, op_key: str) -> None: ...
    def succeed(self, op_key: str, sid: str | None) -> None: ...
    def fail(self, op_key: str, error: str) -> None: ...
    def unknown(self, op_key: str, error: str) -> None: ...
    def retry(self, op_key: str, error: str) -> None: ...
    def reconciled(self, op_key: str, sid: str | None) -> None: ...
    def skip(self, op_keys: list[str], reason: str) -> None: ...
    def commands(self) -> list[str]: ...


@dataclass
class MemoryLedger:
    """A ledger that only counts: for benchmarks of the executor without a journal."""

    states: dict[str, str] = field(default_factory=dict)

    def start(self, op_key: str) -> None:
        self.states[op_key] = "in_flight"

    def succeed(self, op_key: str, sid: str | None) -> None:
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

    def commands(self) -> list[str]:
        return []


@dataclass
class Progress:
    total: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    in_flight: int = 0
    retries: int = 0
    throttled: int = 0
    unknown: int = 0
    paused: bool = False
    cancelled: bool = False
    rate_limit: float | None = None

    @property
    def queued(self) -> int:
        return self.total - self.done - self.failed - self.skipped - self.in_flight


class AuthStopped(Exception):
    """The credentials stopped working mid-run: stop dispatching (resumable)."""


@dataclass
class Executor:
    client: CarrierX
    ledger: Ledger
    resolver: Resolver
    limiter: AdaptiveLimiter = field(default_factory=AdaptiveLimiter)
    concurrency: int = 16
    max_failures: int | None = None
    max_attempts: int = 6
    on_progress: Callable[[Progress], None] | None = None
    sleep: Callable[[float], Any] = asyncio.sleep
    progress: Progress = field(default_factory=Progress)
    _pools: dict[str, deque[str]] = field(default_factory=dict)
    _unknown: set[str] = field(default_factory=set)
    _stop: bool = False
    _auth_error: ApiError | None = None

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
        waiting: dict[str, set[str]] = {}
        dependents: dict[str, list[str]] = {}
        keys = {op.op_key for op in ops}
        by_key = {op.op_key: op for op in ops}
        ready: asyncio.Queue[Operation | None] = asyncio.Queue()
        for op in ops:
            deps = {d for d in op.depends_on if d in keys}
            waiting[op.op_key] = deps
            for dep in deps:
                dependents.setdefault(dep, []).append(op.op_key)
            if not deps:
                ready.put_nowait(op)
        finished = asyncio.Event()
        outstanding = len(ops)

        def settle(op_key: str, ok: bool) -> None:
            nonlocal outstanding
            outstanding -= 1
            if ok:
                for child in dependents.get(op_key, []):
                    waiting[child].discard(op_key)
                    if not waiting[child]:
                        ready.put_nowait(by_key[child])
            else:
                doomed = self._descendants(op_key, dependents)
                if doomed:
                    self.ledger.skip(doomed, f"a dependency failed: {by_key[op_key].key}")
                    self.progress.skipped += len(doomed)
                    outstanding -= len(doomed)
                    for key in doomed:
                        waiting[key] = {"<skipped>"}
            if outstanding <= 0:
                finished.set()
            self._report()

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

        if not ops:
            return self.progress
        workers = [asyncio.create_task(worker()) for _ in range(self.concurrency)]
        done_or_stopped = asyncio.create_task(self._wait(finished))
        await done_or_stopped
        for _ in workers:
            ready.put_nowait(None)
        await asyncio.gather(*workers, return_exceptions=True)
        self.progress.rate_limit = self.limiter.rate
        if self._auth_error is not None:
            raise AuthStopped(str(self._auth_error))
        return self.progress

    async def _wait(self, finished: asyncio.Event) -> None:
        while not finished.is_set() and not self._stop:
            try:
                await asyncio.wait_for(finished.wait(), 0.2)
            except TimeoutError:
                await self._obey_controls(block=False)

    def stopping(self) -> bool:
        return self._stop

    def stop(self) -> None:
        """Graceful stop (Ctrl-C, cancel): no new operation starts; in-flight ones finish."""
        self._stop = True
        self.progress.cancelled = True

    async def _obey_controls(self, *, block: bool = True) -> None:
        for command in self.ledger.commands():
            if command == "pause":
                self.progress.paused = True
            elif command == "resume":
                self.progress.paused = False
            elif command == "cancel":
                self.stop()
        while block and self.progress.paused and not self._stop:
            self._report()
            await self.sleep(0.2)
            for command in self.ledger.commands():
                if command == "resume":
                    self.progress.paused = False
                elif command == "cancel":
                    self.stop()

    def _report(self) -> None:
        self.progress.throttled = self.limiter.throttled
        self.progress.rate_limit = self.limiter.rate
        if self.on_progress is not None:
            self.on_progress(self.progress)

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
        if op.op_key in self._unknown:
            # It may have been sent before the last process stopped: look before resending.
            self._unknown.discard(op.op_key)
            self.progress.unknown += 1
            sid = await self._reconcile_patiently(op, change)
            self.ledger.reconciled(op.op_key, sid)
            if sid is not None:
                self._remember(op, change, sid)
                self.progress.done += 1
                return True
        while True:
            if self._stop:
                return None
            try:
                request = await self._request(op, change)
            except UnresolvedReference as error:
                self.ledger.fail(op.op_key, str(error))
                self.progress.failed += 1
                return False
            except TransientError as error:  # fetching candidate numbers failed; try again
                attempts += 1
                if attempts >= self.max_attempts:
                    return self._failed(op, error)
                await self._backoff(attempts, error)
                continue
            if request is None:
                self.ledger.start(op.op_key)
                self.ledger.succeed(op.op_key, None)
                self.progress.done += 1
                return True
            await self.limiter.acquire()
            self.ledger.start(op.op_key)
            self.progress.in_flight += 1
            attempts += 1
            try:
                response = await self.client.request(
                    request.api, request.method, request.path, json=request.body,
                    endpoint=request.endpoint, params=request.params,
                )  # fmt: skip
            except RateLimited as error:
                self.limiter.on_throttled(error.retry_after)
                self.ledger.retry(op.op_key, str(error))
                self.progress.retries += 1
                continue
            except OutcomeUnknown as error:
                self.ledger.unknown(op.op_key, str(error))
                self.progress.unknown += 1
                sid = await self._reconcile_patiently(op, change)
                self.ledger.reconciled(op.op_key, sid)
                if sid is not None or isinstance(change, Update):
                    if sid is None:
                        continue  # an update is resent: it sends the desired state again
                    self._remember(op, change, sid)
                    self.progress.done += 1
                    return True
                continue
            except Conflict as error:
                if op.action == "rent":
                    self.ledger.retry(op.op_key, f"{error}; trying another number")
                    continue
                return self._failed(op, error)
            except AuthError as error:
                self._auth_error = error
                self.ledger.retry(op.op_key, str(error))
                self.stop()
                return None
            except TransientError as error:
                if attempts >= self.max_attempts:
                    return self._failed(op, error)
                self.ledger.retry(op.op_key, str(error))
                await self._backoff(attempts, error)
                continue
            except (TerminalError, ApiError) as error:
                return self._failed(op, error)
            finally:
                self.progress.in_flight -= 1
            self.limiter.on_success()
            sid = created_sid(change.kind, response) or getattr(change, "sid", None)
            self._remember(op, change, sid)
            self.ledger.succeed(op.op_key, sid)
            self.progress.done += 1
            return True

    async def _backoff(self, attempts: int, error: ApiError) -> None:
        self.progress.retries += 1
        if isinstance(error, RateLimited):
            self.limiter.on_throttled(error.retry_after)
            return
        await self.sleep(min(30.0, 0.25 * 2**attempts) * random.uniform(0.5, 1.0))

    async def _reconcile_patiently(self, op: Operation, change: Change) -> str | None:
        """Look the outcome up until the lookup itself gets an answer."""
        attempts = 0
        while True:
            try:
                return await self._reconcile(op, change)
            except TransientError as error:
                attempts += 1
                await self._backoff(attempts, error)

    def _failed(self, op: Operation, error: Exception) -> bool:
        self.ledger.fail(op.op_key, str(error))
        self.progress.failed += 1
        return False

    def _remember(self, op: Operation, change: Change, sid: str | None) -> None:
        if sid and isinstance(change, Create):
            self.resolver.remember(change.kind, natural_key(KINDS[change.kind], change.values), sid)

    async def _request(self, op: Operation, change: Change) -> Request | None:
        if isinstance(change, RentByCriteria):
            number = await self._next_number(change)
            return rent_request(change, number, self.resolver, op.op_key)
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
            try:
                await self.client.get("core", f"{kind.path}/{change.sid}")
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
        if kind.parent and scope:  # a trunk: look inside its trunk group
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
        found = await self.client.list_all(
            kind.api, kind.path, filter=f"{kind.key_field} eq {quote(str(values[kind.key]))}",
            endpoint=endpoint,
        )  # fmt: skip
        return str(found[0][kind.sid_field]) if found else None
