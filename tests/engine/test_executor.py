"""The executor against the sandbox: order, reconciliation after lost answers, pacing."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from bulkx.api import CarrierX, RetryPolicy, Secret, Target
from bulkx.diff.changes import Change, NoOp
from bulkx.diff.engine import diff
from bulkx.diff.read import read_live_state
from bulkx.diff.state import LiveState
from bulkx.engine.events import Progress
from bulkx.engine.executor import Executor, MemoryLedger, OutageBreaker
from bulkx.engine.operations import Operation, operations
from bulkx.engine.requests import Resolver
from bulkx.engine.throttle import AdaptiveLimiter
from bulkx.plan.model import ValidPlan
from bulkx.plan.validate import load_valid
from bulkx.sandbox.app import SandboxApp, SandboxConfig, create_app
from bulkx.sandbox.controls import SandboxTransport
from bulkx.sandbox.resources.numbers import seed_ported
from bulkx.sandbox.seeding import read_ported_csv

REPO = Path(__file__).resolve().parents[2]


def _plan(name: str) -> ValidPlan:
    plan, diagnostics = load_valid(REPO / "plans" / name)
    assert plan is not None, diagnostics
    return plan


def _sandbox(tmp_path: Path, **config: object) -> SandboxApp:
    app = create_app(SandboxConfig(db=tmp_path / "w.db", seed=5, token="t", **config))  # type: ignore[arg-type]
    numbers, _ = read_ported_csv(REPO / "samples" / "ported-numbers.csv")
    seed_ported(app.world, numbers)
    return app


@dataclass
class PortIn:
    """port-in.yaml diffed against a fresh in-process sandbox: its operations, ready to run."""

    app: SandboxApp
    client: CarrierX
    live: LiveState
    ops: list[Operation]


@contextlib.asynccontextmanager
async def port_in(tmp_path: Path) -> AsyncIterator[PortIn]:
    """A fresh in-process sandbox, a client of it that never retries, and port-in.yaml's
    operations (123) against its live state."""
    app = _sandbox(tmp_path)
    plan = _plan("port-in.yaml")
    target = Target("http://127.0.0.1/core/v2", is_sandbox=True, label="sandbox")
    transport, never = SandboxTransport(app), RetryPolicy.never()
    async with CarrierX(target, Secret("t"), transport=transport, retry=never) as client:
        live = await read_live_state(client, plan)
        yield PortIn(app, client, live, operations(diff(plan, live), plan.digest))


async def _apply(
    app: SandboxApp,
    plan: ValidPlan,
    faults: str = "",
    *,
    allow_release: bool = False,
    **executor: object,
) -> tuple[MemoryLedger, tuple[Progress, list[Change]]]:
    target = Target("http://127.0.0.1/core/v2", is_sandbox=True, label="sandbox")
    transport = SandboxTransport(app)
    # Reads retry on their own; writes leave retrying to the executor, which paces them.
    async with (
        CarrierX(target, Secret("t"), transport=transport) as reader,
        CarrierX(target, Secret("t"), transport=transport, retry=RetryPolicy.never()) as client,
    ):
        live = await read_live_state(reader, plan)
        changes = diff(plan, live, allow_release=allow_release)
        ops = operations(changes, plan.digest)
        by_key = {}
        for op in ops:
            by_key[op.op_key] = next(
                c
                for c in changes
                if c.step == op.step
                and c.kind == op.kind
                and (c.key == op.key or op.action == "rent")
            )
        ledger = MemoryLedger()
        runner = Executor(client, ledger, Resolver.from_live(live), **executor)  # type: ignore[arg-type]
        if faults:
            app.controls.set_faults(faults, seed=11)
        progress = await runner.run(ops, by_key)
        app.controls.clear_faults()
        again = diff(plan, await read_live_state(reader, plan), allow_release=allow_release)
        return ledger, (progress, [c for c in again if not isinstance(c, NoOp)])


class TopOfRange(random.Random):
    """Jitter that always picks the top of its range, and counts how often it was asked."""

    def __init__(self) -> None:
        super().__init__(0)
        self.calls = 0

    def uniform(self, a: float, b: float) -> float:
        self.calls += 1
        return b


def test_the_port_in_applies_in_dependency_order(tmp_path: Path) -> None:
    app = _sandbox(tmp_path)
    ledger, (progress, leftover) = asyncio.run(_apply(app, _plan("port-in.yaml"), concurrency=8))
    assert progress.done == 123
    assert progress.failed == 0
    assert set(ledger.states.values()) == {"succeeded"}
    assert leftover == []


def test_lost_answers_are_reconciled_never_duplicated(tmp_path: Path) -> None:
    app = _sandbox(tmp_path)
    waits: list[float] = []

    async def recording_sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(0)

    rng = TopOfRange()
    _, (progress, leftover) = asyncio.run(
        _apply(
            app,
            _plan("new-site.yaml"),
            "execute_then_reset=0.3,http_5xx=0.05",
            concurrency=8,
            sleep=recording_sleep,
            rng=rng,
        )
    )
    assert progress.failed == 0
    assert leftover == []
    # Every wait between retries came from the executor's own rng and sleep (never the global
    # `random`): 0.5 s doubling up to 30 s, scaled by the jitter (here the top of its range).
    assert waits, "the faults made nothing retry"
    assert rng.calls == len(waits)
    assert set(waits) <= {min(30.0, 0.5 * 2**n) for n in range(10)}
    counts = app.world.store.counts()
    # Exactly the 500 numbers asked for: no rent was sent twice after a lost answer.
    rented = app.world.store.scalar(
        "SELECT count(*) FROM t_dids WHERE json_extract(data, '$.attributes.bulkx_step') = ?",
        ("site-516-numbers",),
    )
    assert rented == 500
    assert counts["trunk_groups"] == 2  # site-516-sip and the conference endpoint's own
    log = app.controls.log.entries(0, 200_000)
    assert any(e["fault"] == "execute_then_reset" for e in log)


async def _no_sleep(_seconds: float) -> None:
    await asyncio.sleep(0)


def test_a_rate_limited_sandbox_still_completes_every_change(tmp_path: Path) -> None:
    app = _sandbox(tmp_path, rate_limit=200.0, burst=20)
    limiter = AdaptiveLimiter()
    _, (progress, leftover) = asyncio.run(
        _apply(app, _plan("e911-correction.yaml"), concurrency=8, limiter=limiter)
    )
    assert progress.failed == 0
    assert leftover == []


def test_lost_answers_on_links_and_uploads_find_the_object_in_its_parent(tmp_path: Path) -> None:
    """A link is named within its domain and a file within its container: after a lost answer
    the lookup must look there (not among trunk groups), or the create is sent twice."""
    app = _sandbox(tmp_path)
    _, (progress, leftover) = asyncio.run(
        _apply(app, _plan("content.yaml"), "execute_then_reset=0.4", concurrency=4, sleep=_no_sleep)
    )
    assert progress.failed == 0
    assert leftover == []
    counts = app.world.store.counts()
    assert counts["shortener_links"] == 2
    assert counts["storage_files"] == 1
    log = app.controls.log.entries(0, 10_000)
    assert any(e["fault"] == "execute_then_reset" for e in log)


def test_a_delete_whose_answer_was_lost_is_done_not_failed(tmp_path: Path) -> None:
    """DELETE is safe to repeat, so a lost answer is retried; the object is gone by then, and
    the 404 that comes back means what the plan asked for holds."""
    app = _sandbox(tmp_path)
    plan_path = tmp_path / "groups.csv"
    plan_path.write_text("# kind: did_group\nname\n" + "".join(f"g{i}\n" for i in range(12)))
    loaded, _ = load_valid(plan_path)
    assert loaded is not None
    asyncio.run(_apply(app, loaded))
    assert app.world.store.counts()["did_groups"] == 12
    plan_path.write_text(
        "# kind: did_group\nname,ensure\n" + "".join(f"g{i},absent\n" for i in range(12))
    )
    loaded, _ = load_valid(plan_path)
    assert loaded is not None
    _, (progress, leftover) = asyncio.run(
        _apply(app, loaded, "execute_then_reset=0.5", allow_release=True, sleep=_no_sleep)
    )
    assert (progress.done, progress.failed) == (12, 0)
    assert leftover == []
    assert app.world.store.counts().get("did_groups", 0) == 0
    log = app.controls.log.entries(0, 10_000)
    assert any(e["fault"] == "execute_then_reset" and e["method"] == "DELETE" for e in log)


def test_an_outage_shorter_than_the_breaker_fails_nothing(tmp_path: Path) -> None:
    """An operation's own attempts run out quickly; while the whole API is down it waits for
    the API (or for the breaker to stop the run) instead of being marked failed."""
    app = _sandbox(tmp_path)
    breaker = OutageBreaker(open_after=60.0, min_errors=3)
    _, (progress, leftover) = asyncio.run(
        _apply(
            app,
            _plan("e911-correction.yaml"),
            "outage=2s@0s",
            concurrency=4,
            max_attempts=2,
            breaker=breaker,
        )
    )
    assert (progress.failed, progress.stopped_because) == (0, None)
    assert leftover == []
    log = app.controls.log.entries(0, 10_000)
    assert sum(e["fault"] == "outage" for e in log) > 4 * 2  # far more than 2 tries each
