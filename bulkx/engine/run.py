"""The library's front door for a run: plan it, start it, resume it, carry it out.

The CLI, `bulkx demo`, the bench and the in-process monitor all call these; none of them wires
an executor, a limiter or a journal by hand. A run is its journal: `start_run` writes into it
everything a resume needs (the plan's files, every option that shapes the run, each operation's
change and the sids of the live objects the operations name), so a resume (`open_resume`)
needs no plan file, no working directory and no option typed again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from bulkx import exit_codes
from bulkx.api import CarrierX, RetryPolicy
from bulkx.defaults import DEFAULT_OUTAGE_SECONDS, DEFAULT_SANDBOX_DB
from bulkx.diff.changes import Change
from bulkx.diff.engine import confirmed_flags
from bulkx.diff.named import read_named
from bulkx.diff.read import ReadProgress
from bulkx.engine.batch_backend import Batcher
from bulkx.engine.events import Progress, Reporter, Reporters
from bulkx.engine.executor import AuthStopped, Executor, JournalStopped, OutageBreaker
from bulkx.engine.journal_ledger import JournalLedger, JournalReporter
from bulkx.engine.operations import Operation, change_of, referenced
from bulkx.engine.plan_run import Prepared, prepare
from bulkx.engine.read_policy import for_run
from bulkx.engine.requests import Resolver
from bulkx.engine.targets import TargetOptions, open_client
from bulkx.engine.throttle import AdaptiveLimiter, KeyedPacer
from bulkx.errors import ConfigError
from bulkx.journal import Journal
from bulkx.journal.states import RunState
from bulkx.plan.model import Plan
from bulkx.report import all_ops


@dataclass(frozen=True)
class RunOptions:
    """Every option that shapes a run. Journaled with it, so a resume runs the same way; an
    option given to the resume overrides the journaled one, and the journal records that."""

    kind: str | None = None
    concurrency: int = 16
    rate: float | None = None
    send_rate: float = 1.0
    via: str = "api"
    allow_release: bool = False
    allow_partners: bool = False
    allow_send: bool = False
    allow_calls: bool = False
    max_failures: str | None = None
    fail_fast: bool = False
    outage_after: float = DEFAULT_OUTAGE_SECONDS
    base_url: str | None = None
    sandbox_db: str = str(DEFAULT_SANDBOX_DB)
    token_file: str | None = None

    def __post_init__(self) -> None:
        if self.via not in ("api", "batch"):
            raise ConfigError(f"--via takes api or batch, not {self.via!r}")
        self.failure_limit(100)  # refuses a malformed --max-failures now, not mid-run

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunOptions:
        """Options as journaled (a journal of an older bulkx kept only the target's)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names and v is not None})

    def journaled(self) -> RunOptions:
        """Paths made absolute, so a resume from another directory reaches the same files."""
        token = str(Path(self.token_file).resolve()) if self.token_file else None
        return replace(self, sandbox_db=str(Path(self.sandbox_db).resolve()), token_file=token)

    def overridden(self, given: Mapping[str, Any]) -> tuple[RunOptions, dict[str, Any]]:
        """These options with the ones `given` (None: not given) in place; and what changed."""
        changed = {k: v for k, v in given.items() if v is not None and getattr(self, k) != v}
        return replace(self, **changed).journaled(), changed

    @property
    def confirmed(self) -> frozenset[str]:
        """The confirmation flags given, as kinds' `confirm_flag` names them."""
        return confirmed_flags(allow_partners=self.allow_partners, allow_send=self.allow_send,
                               allow_calls=self.allow_calls)  # fmt: skip

    @property
    def target(self) -> TargetOptions:
        token = Path(self.token_file) if self.token_file else None
        return TargetOptions(self.base_url, token, Path(self.sandbox_db))

    def failure_limit(self, total: int) -> int | None:
        """`--fail-fast` or `--max-failures N|P%` as a number of failures to stop after."""
        if self.fail_fast:
            return 0
        text = self.max_failures
        if text is None:
            return None
        try:
            if text.endswith("%"):
                return int(total * float(text[:-1]) / 100)
            return int(text)
        except ValueError:
            raise ConfigError(f"--max-failures takes N or P%, not {text!r}") from None


@dataclass
class Run:
    """A run this process drives: its journal (through the ledger), options and what is left."""

    run_id: str
    ledger: JournalLedger
    options: RunOptions
    ops: list[Operation]
    resolver: Resolver
    #: Operations whose outcome is unknown (a resume's): looked up before anything is resent.
    unknown: frozenset[str] = frozenset()
    #: A resume: its references are resolved from the journal before anything is sent.
    resumed: bool = False

    @property
    def label(self) -> str:
        return self.options.target.describe()

    @property
    def root(self) -> Path:
        """The journal root the run lives under (`<root>/runs/<run_id>.db`)."""
        return self.ledger.journal.path.parent.parent


@dataclass(frozen=True)
class Outcome:
    """How a run (this process's part of it) ended, and the exit code for its whole history."""

    progress: Progress
    exit_code: int
    state: str
    #: Why it stopped early, in words (credentials refused, journal not writable, ...).
    stopped: str | None = None


async def plan_run(
    plan: Plan,
    options: RunOptions,
    *,
    saved: Mapping[str, Any] | None = None,
    progress: ReadProgress | None = None,
) -> Prepared:
    """Read live state (with the run's rate and outage policy) and diff: the operations an
    apply of `plan` would carry out."""
    async with open_client(options.target) as reader:
        return await prepare(
            reader, plan, target=options.target.describe(), allow_release=options.allow_release,
            saved=saved, confirmed=options.confirmed, rate=options.rate,
            outage_after=options.outage_after, progress=progress,
        )  # fmt: skip


def start_run(root: Path, plan: Plan, prepared: Prepared, options: RunOptions) -> Run:
    """A new journal holding everything the run needs, every intent written before any send."""
    options = replace(options, kind=options.kind or plan.kind).journaled()
    journal = Journal.create(
        root,
        plan_path=prepared.changeset.plan_path,
        plan_digest=prepared.changeset.plan_digest,
        target_label=options.target.describe(),
        is_sandbox=options.base_url is None,
        options=options.as_dict(),
        changeset_json=json.dumps(_header(prepared), default=str),
        sources=plan.sources,
        refs=prepared.refs,
    )
    op_ids = journal.add_ops(prepared.ops)
    journal.set_run_state("running")
    ids = {op.op_key: i for op, i in zip(prepared.ops, op_ids, strict=True)}
    resolver = Resolver(dict(prepared.refs))
    return Run(journal.run_id, JournalLedger(journal, ids), options, prepared.ops, resolver)


def _header(prepared: Prepared) -> dict[str, Any]:
    """What the journal keeps of the changeset as a whole; each change is its operation's."""
    return {**prepared.changeset.header(), "drifted": len(prepared.drifted)}


def remaining_ops(journal: Journal) -> list[Operation]:
    """The operations not yet finished (pending, or outcome unknown), in op_id order."""
    left = [*all_ops(journal, "pending"), *all_ops(journal, "unknown")]
    return sorted(left, key=lambda op: op.op_id or 0)


def open_resume(journal: Journal, given: Mapping[str, Any]) -> Run:
    """A stopped run, reopened: the journaled options with the `given` ones in place (and
    recorded), and the operations left. References are resolved by `resolve_references`."""
    info = journal.run()
    options, changed = RunOptions.from_dict(info.options).overridden(given)
    journal.record_resume(options.as_dict(), changed)
    if changed:
        journal.event("info", "resumed with " + ", ".join(f"{k}={v}" for k, v in changed.items()))
    ops = remaining_ops(journal)
    unknown = frozenset(op.op_key for op in ops if op.state == "unknown")
    ids = {op.op_key: op.op_id or 0 for op in ops}
    ledger = JournalLedger(journal, ids)
    return Run(info.run_id, ledger, options, ops, Resolver(), unknown, resumed=True)


async def resolve_references(run: Run, client: CarrierX, changes: Iterable[Change]) -> None:
    """Fill a resumed run's resolver: the journaled refs and this run's own creates. Only what
    the journal does not know is read live (a journal written before runs kept refs)."""
    journal = run.ledger.journal
    wanted = referenced(changes)
    sids = {ref: sid for ref, sid in journal.refs().items() if ref[1] in wanted.get(ref[0], ())}
    created = journal.creates_of_keys(wanted)
    sids.update({ref: sid for ref, sid in created.items() if sid is not None})
    missing: dict[str, set[str]] = {}
    for kind, keys in wanted.items():
        # A create of this run not yet made is made before what names it; never read live.
        unknown = {key for key in keys if (kind, key) not in sids and (kind, key) not in created}
        if unknown:
            missing[kind] = unknown
    if missing:
        reader = for_run(client, rate=run.options.rate, outage_after=run.options.outage_after)
        found = await read_named(reader, missing)
        if found:
            journal.add_refs(found)
        sids.update(found)
    run.resolver.sids.update(sids)


def classify(counts: Mapping[str, int], progress: Progress) -> tuple[str, int]:
    """The run's state and exit code from its journal's counts: its whole history, so a run
    with a failed item exits 3 however many resumes finished the rest."""
    left = counts.get("pending", 0) + counts.get("unknown", 0) + counts.get("in_flight", 0)
    if left:
        if progress.cancelled:
            return str(RunState.CANCELLED), exit_codes.INTERRUPTED
        return str(RunState.INTERRUPTED), exit_codes.RESUMABLE
    if counts.get("failed", 0) or counts.get("skipped", 0):
        return str(RunState.FAILED), exit_codes.PARTIAL
    return str(RunState.COMPLETED), exit_codes.OK


def _executor(run: Run, client: CarrierX, reporter: Reporter) -> Executor:
    options = run.options
    executor = Executor(
        client.with_retry(RetryPolicy.never()),
        run.ledger,
        run.resolver,
        limiter=AdaptiveLimiter(options.rate),
        concurrency=options.concurrency,
        max_failures=options.failure_limit(len(run.ops)),
        reporter=Reporters(reporter, JournalReporter(run.ledger.journal)),
        breaker=OutageBreaker(open_after=options.outage_after),
        pacer=KeyedPacer(options.send_rate),
    )
    if options.via == "batch":
        executor.batcher = Batcher(executor.client, executor.resolver, executor.emit)
    return executor


@contextlib.contextmanager
def stop_on_signals(executor: Executor, notify: Callable[[str], None]) -> Iterator[None]:
    """The first Ctrl-C or SIGTERM stops dispatching (in-flight requests finish and are
    journaled); a second one quits at once. Sending stops first, then the notice: a notice
    that cannot be written (stderr's pipe gone) never keeps the run going."""
    loop = asyncio.get_running_loop()
    stops = 0

    def interrupt() -> None:
        nonlocal stops
        stops += 1
        if stops > 1:
            raise KeyboardInterrupt
        executor.stop()
        with contextlib.suppress(OSError, ValueError):
            notify("stopping: in-flight operations finish, nothing new starts"
                   " (Ctrl-C again to quit at once)")  # fmt: skip

    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, interrupt)
    try:
        yield
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)


async def execute(
    run: Run,
    *,
    reporter: Reporter,
    notify: Callable[[str], None] = lambda line: None,
    signals: bool = True,
    client: CarrierX | None = None,
) -> Outcome:
    """Carry the run out to its end (or until it is stopped), and record how it ended.
    `client`: one already open (the demo's, signed in with its own token); else the run's
    target is opened."""
    if client is None:
        async with open_client(run.options.target) as opened:
            return await _execute(run, opened, reporter, notify, signals)
    return await _execute(run, client, reporter, notify, signals)


async def _execute(
    run: Run,
    client: CarrierX,
    reporter: Reporter,
    notify: Callable[[str], None],
    signals: bool,
) -> Outcome:
    # Each change parsed once: the references, the scheduler and the requests share it.
    changes = {op.op_key: change_of(op) for op in run.ops}
    if run.resumed:
        await resolve_references(run, client, changes.values())
    executor = _executor(run, client, reporter)
    guard = stop_on_signals(executor, notify) if signals else contextlib.nullcontext()
    try:
        with guard:
            progress = await executor.run(run.ops, changes, unknown=run.unknown)
    except AuthStopped as stop:
        run.ledger.flush()
        run.ledger.journal.set_run_state("interrupted", exit_codes.AUTH)
        run.ledger.close()
        return Outcome(executor.progress, exit_codes.AUTH, "interrupted", str(stop))
    except JournalStopped as stop:
        run.ledger.close()
        return Outcome(executor.progress, exit_codes.RESUMABLE, "interrupted", str(stop))
    state, code = classify(run.ledger.counts_after(progress), progress)
    run.ledger.finish(progress, state, code)
    return Outcome(progress, code, state)
