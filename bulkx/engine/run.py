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
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from bulkx import exit_codes
from bulkx.api import CarrierX, RetryPolicy
from bulkx.defaults import DEFAULT_OUTAGE_SECONDS, DEFAULT_SANDBOX_DB
from bulkx.diff.changes import Change
from bulkx.diff.named import read_named
from bulkx.diff.read import ReadProgress
from bulkx.diff.summary import ChangeSummary
from bulkx.engine import exclusive
from bulkx.engine.batch_backend import Batcher
from bulkx.engine.events import Progress, Reporter, Reporters
from bulkx.engine.executor import AuthStopped, Executor, JournalStopped, OutageBreaker
from bulkx.engine.journal_ledger import JournalLedger, JournalReporter
from bulkx.engine.operations import Operation, referenced
from bulkx.engine.pipeline import UNPREPARED, sending_while_preparing
from bulkx.engine.plan_run import Prepared, journal_sends
from bulkx.engine.prepare_chunks import PreparedRun, prepare_journaled, preparing_header
from bulkx.engine.read_policy import PacedPolicy, PaceMemory, for_run
from bulkx.engine.requests import Resolver
from bulkx.engine.resume_lookup import LookedUpSource, skip_untraceable_sends
from bulkx.engine.targets import TargetOptions, open_client
from bulkx.engine.throttle import KeyedPacer
from bulkx.engine.window import JournalSource, OpSource
from bulkx.errors import ConfigError, JournalError
from bulkx.journal import Journal
from bulkx.journal.states import RunState
from bulkx.kinds.model import Permission, granted_permissions
from bulkx.plan.model import ValidPlan


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
    #: API -> base URL, for APIs served elsewhere than beside Core (a profile's base_urls).
    api_urls: dict[str, str] | None = None

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
    def confirmed(self) -> frozenset[Permission]:
        """The permissions given (`allow_send`...), as kinds' `confirmation` names them."""
        return granted_permissions(
            allow_partners=self.allow_partners,
            allow_send=self.allow_send,
            allow_calls=self.allow_calls,
        )

    @property
    def target(self) -> TargetOptions:
        token = Path(self.token_file) if self.token_file else None
        api_urls = tuple(sorted((self.api_urls or {}).items()))
        return TargetOptions(self.base_url, token, Path(self.sandbox_db), api_urls)

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
    """A run this process drives: its journal (through the ledger), options, and where the
    operations left come from (`source`, a chunk at a time: never all of them in memory)."""

    run_id: str
    ledger: JournalLedger
    options: RunOptions
    source: OpSource
    #: The sids of the live objects the operations name, filled a chunk at a time (and by
    #: this run's creates: see `Resolver`).
    resolver: Resolver
    #: Operations left when the run was opened (pending, or outcome unknown), by the journal's
    #: count: the progress total, and what `--max-failures P%` is a percentage of.
    total: int = 0
    #: Of those, the ones whose outcome is unknown (a resume's): each is looked up first.
    unknown: int = 0
    #: A resume: what its journal does not know of the objects named is read live.
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
    plan: ValidPlan,
    options: RunOptions,
    *,
    root: Path,
    saved: Mapping[str, Any] | None = None,
    progress: ReadProgress | None = None,
    client: CarrierX | None = None,
    start_early: bool = False,
) -> PreparedRun:
    """Journal what an apply of `plan` would do, a chunk of the plan at a time (live state read
    by key, under the run's rate and outage policy): a new run under `root` in state
    `preparing`, of which nothing is sent. Then `start_run` carries it out, or
    `PreparedRun.discard` removes it. `client`: one already open (the demo's).
    `start_early` (a run that will send while it prepares, `bulkx.engine.pipeline`): return
    once its first operations are journaled, `PreparedRun.rest` to prepare the others."""
    options = replace(options, kind=options.kind or plan.kind).journaled()
    target = options.target.describe()
    journal = Journal.create(
        root,
        plan_path=plan.path,
        plan_digest=plan.digest,
        target_label=target,
        is_sandbox=options.base_url is None,
        options=options.as_dict(),
        changeset_json=preparing_header(plan, target),
        sources=plan.sources,
        preparing=True,
        saved=saved,
    )
    try:
        # Before anything is read live: a second run touching any of these objects of the
        # target is refused (`RunsOverlap`), so two runs never both create what is missing.
        exclusive.claim_plan(root, _target_key(options), journal.run_id, plan)
        if client is None:
            async with open_client(options.target) as opened:
                return await _prepare(journal, plan, opened, options, progress, start_early)
        return await _prepare(journal, plan, client, options, progress, start_early)
    except BaseException as error:
        exclusive.release(root, journal.run_id)
        if isinstance(error, Exception):
            # Nothing was sent: a preparation that failed (live state unreadable, refused)
            # leaves no run. One interrupted (Ctrl-C) or killed stays `preparing`, for
            # `bulkx resume` to go on (claiming again).
            with contextlib.suppress(JournalError):
                journal.discard()
        raise


def _target_key(options: RunOptions) -> str:
    """What two runs on the same target share (`exclusive.target_key`)."""
    return exclusive.target_key(options.base_url, options.sandbox_db)


async def continue_preparing(
    journal: Journal, given: Mapping[str, Any], *, progress: ReadProgress | None = None
) -> PreparedRun:
    """Go on preparing a run a crash stopped while it was `preparing`, from its cursor, with
    the plan its journal keeps (and the `given` options in place of the journaled ones)."""
    # The plan machinery (its loader and validation) is imported only for a run stopped while
    # it was prepared: the resume of a prepared run needs none of it before its first request.
    from bulkx.engine.journaled_plan import journaled_plan

    options, _ = RunOptions.from_dict(journal.run().options).overridden(given)
    plan = journaled_plan(journal, options.kind)
    root = exclusive.root_of(journal.path)
    # What is left to prepare may name any object of its plan: it claims the whole plan.
    exclusive.claim_plan(root, _target_key(options), journal.run_id, plan)
    try:
        async with open_client(options.target) as client:
            return await _prepare(journal, plan, client, options, progress)
    except BaseException:
        exclusive.release(root, journal.run_id)
        raise


async def _prepare(
    journal: Journal,
    plan: ValidPlan,
    client: CarrierX,
    options: RunOptions,
    progress: ReadProgress | None,
    start_early: bool = False,
) -> PreparedRun:
    # The read starts at the pace an earlier run learned for this target, and teaches it.
    memory = PaceMemory.of(journal.path.parent.parent, options.base_url, options.sandbox_db, client)
    limiter = memory.limiter(options.rate)
    return await prepare_journaled(
        journal,
        plan,
        for_run(client, limiter=limiter, outage_after=options.outage_after),
        target=options.target.describe(),
        allow_release=options.allow_release,
        confirmed=options.confirmed,
        sent_before=journal_sends(client),
        progress=progress,
        start_early=start_early,
    )


def start_run(
    root: Path,
    plan: ValidPlan,
    prepared: Prepared | PreparedRun,
    options: RunOptions,
    *,
    on_prepared: Callable[[ChangeSummary], None] | None = None,
) -> Run:
    """Start a run: one `plan_run` prepared (its journal holds every intent already), or one
    `prepare` held whole in memory (written into a new journal here). Either way every
    intent is written before it is sent. One `plan_run` prepared with `start_early` sends
    while it prepares the rest (`bulkx.engine.pipeline`); `on_prepared` hears its whole
    summary once the last operation is journaled."""
    options = replace(options, kind=options.kind or plan.kind).journaled()
    if isinstance(prepared, PreparedRun):
        journal = prepared.journal
        info = journal.run()
        if info.state not in (RunState.PREPARING, RunState.PLANNED):
            raise JournalError(f"run {info.run_id} has started already ({info.state})")
        journal.set_run_state("running")
        # The journaled options (the ones it was prepared with); the sids its operations name
        # come from the journal's refs a chunk at a time (`References`).
        journaled = RunOptions.from_dict(info.options)
        left = journal.counts()["pending"]
        ledger: JournalLedger = JournalLedger(journal)
        source: OpSource = JournalSource(journal)
        if prepared.rest is not None:
            ledger, source = sending_while_preparing(journal, prepared.rest, journaled, on_prepared)
        return Run(journal.run_id, ledger, journaled, source, Resolver(), total=left)
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
    resolver = Resolver(dict(prepared.refs))
    # The operations are the journal's now: the run takes them from it, a chunk at a time.
    return Run(
        journal.run_id,
        JournalLedger(journal),
        options,
        JournalSource(journal),
        resolver,
        total=len(op_ids),
    )


def _header(prepared: Prepared) -> dict[str, Any]:
    """What the journal keeps of the changeset as a whole; each change is its operation's.
    (A run `plan_run` prepared gets the same header from its summary, counted chunk by chunk:
    `ChangeSummary.header`.)"""
    summary = ChangeSummary.of(prepared.changeset, prepared.drifted, len(prepared.ops))
    changeset = prepared.changeset
    return summary.header(
        changeset.plan_path, changeset.plan_digest, changeset.target, changeset.created_at
    )


def open_resume(journal: Journal, given: Mapping[str, Any]) -> Run:
    """A stopped run, reopened: the journaled options with the `given` ones in place (and
    recorded). Nothing is loaded yet but the counts: the executor takes the operations left
    from the journal a chunk at a time (`References` resolves what each chunk names)."""
    info = journal.run()
    options, changed = RunOptions.from_dict(info.options).overridden(given)
    # The objects its operations left may touch: refused (`RunsOverlap`) while another live
    # run holds one of them. What its killed process claimed is taken over as it is.
    exclusive.claim_again(
        exclusive.root_of(journal.path),
        _target_key(options),
        info.run_id,
        journal.unfinished_objects,
    )
    journal.record_resume(options.as_dict(), changed)
    if changed:
        journal.event("info", "resumed with " + ", ".join(f"{k}={v}" for k, v in changed.items()))
    if journal.lost_commits:
        # Its pending sends the API cannot find again may have gone out: at most once.
        skip_untraceable_sends(journal)
    counts = journal.counts()
    left = counts["pending"] + counts["unknown"]
    return Run(
        info.run_id,
        JournalLedger(journal),
        options,
        JournalSource(journal),
        Resolver(),
        total=left,
        unknown=counts["unknown"],
        resumed=True,
    )


@dataclass
class References:
    """Fills the run's resolver for each chunk of operations, before any of them is sent:
    the sids of the objects they name, asking the journal only for the keys the chunk names
    (its refs, and this run's creates the chunk depends on). A resume reads live only what
    the journal does not know (a journal written before runs kept refs), each key once."""

    run: Run
    client: CarrierX
    #: What was read live already (found or not): never read twice.
    _read: set[tuple[str, str]] = field(default_factory=set)

    async def __call__(self, ops: Sequence[Operation], changes: Sequence[Change]) -> None:
        resolver = self.run.resolver
        wanted = _without(referenced(changes), resolver.sids.keys())
        if not wanted:
            return
        journal = self.run.ledger.journal
        sids = journal.refs_of(wanted)
        made = _creates_named(journal, ops, wanted)
        sids.update({ref: sid for ref, sid in made.items() if sid is not None})
        # A create of this run not yet made is made before what names it (it is one of its
        # dependencies): never read live.
        missing = _without(wanted, sids.keys() | made.keys() | self._read)
        if missing and self.run.resumed:
            options = self.run.options
            reader = for_run(self.client, rate=options.rate, outage_after=options.outage_after)
            found = await read_named(reader, missing)
            self._read.update((kind, key) for kind, keys in missing.items() for key in keys)
            if found:
                journal.add_refs(found)
            sids.update(found)
        resolver.sids.update(sids)


def _without(
    wanted: Mapping[str, set[str]], known: Collection[tuple[str, str]]
) -> dict[str, set[str]]:
    """kind -> the natural keys of `wanted` not in `known`, kinds left empty left out."""
    left = {
        kind: {key for key in keys if (kind, key) not in known} for kind, keys in wanted.items()
    }
    return {kind: keys for kind, keys in left.items() if keys}


def _creates_named(
    journal: Journal, ops: Sequence[Operation], wanted: Mapping[str, set[str]]
) -> dict[tuple[str, str], str | None]:
    """This run's creates of objects `wanted` that `ops` depend on (`operations()` makes an
    operation depend on the create of what it names): the sid each got, None if not made
    yet (or not yet recorded: one made by this process is in the resolver already)."""
    statuses = journal.op_statuses({dep for op in ops for dep in op.depends_on})
    return {
        (s.kind, s.key): s.remote_sid if s.state == "succeeded" else None
        for s in statuses.values()
        if s.action == "create" and s.key in wanted.get(s.kind, ())
    }


def classify(counts: Mapping[str, int], progress: Progress) -> tuple[str, int]:
    """The run's state and exit code from its journal's counts: its whole history, so a run
    with a failed item exits 3 however many resumes finished the rest."""
    left = counts.get("pending", 0) + counts.get("unknown", 0) + counts.get("in_flight", 0)
    # Operations still to prepare (a run stopped while sending and preparing): never done.
    left += counts.get(UNPREPARED, 0)
    if left:
        if progress.cancelled:
            return str(RunState.CANCELLED), exit_codes.INTERRUPTED
        return str(RunState.INTERRUPTED), exit_codes.RESUMABLE
    if counts.get("failed", 0) or counts.get("skipped", 0):
        return str(RunState.FAILED), exit_codes.PARTIAL
    return str(RunState.COMPLETED), exit_codes.OK


def _executor(run: Run, client: CarrierX, reporter: Reporter) -> Executor:
    options = run.options
    # At the pace an earlier run learned for this target (remembering what this one learns).
    memory = PaceMemory.of(run.root, options.base_url, options.sandbox_db, client)
    limiter = memory.limiter(options.rate)
    executor = Executor(
        client.with_retry(RetryPolicy.never()),
        run.ledger,
        run.resolver,
        limiter=limiter,
        concurrency=options.concurrency,
        # P% of what was left when the run was opened (the journal's count at the start).
        max_failures=options.failure_limit(run.total),
        reporter=Reporters(reporter, JournalReporter(run.ledger.journal)),
        breaker=OutageBreaker(open_after=options.outage_after),
        pacer=KeyedPacer(options.send_rate),
    )
    if options.via == "batch":
        # The Batch API's requests (tasks, reviews, polls) under the run's limiter too.
        paced = client.with_retry(PacedPolicy(limiter))
        executor.batcher = Batcher(paced, executor.resolver, executor.emit)
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
            notify(
                "stopping: in-flight operations finish, nothing new starts"
                " (Ctrl-C again to quit at once)"
            )

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
    try:
        return await _carry_out(run, client, reporter, notify, signals)
    finally:
        # However it ended: what is left is claimed again by its resume.
        exclusive.release(run.root, run.run_id)


async def _carry_out(
    run: Run,
    client: CarrierX,
    reporter: Reporter,
    notify: Callable[[str], None],
    signals: bool,
) -> Outcome:
    executor = _executor(run, client, reporter)
    guard = stop_on_signals(executor, notify) if signals else contextlib.nullcontext()
    source = run.source
    if run.resumed:
        # A resume looks before it creates: a create its journal lost the outcome of (a lost
        # commit) is found live and reconciled, never made twice.
        options = run.options
        reader = for_run(client, rate=options.rate, outage_after=options.outage_after)
        source = LookedUpSource(source, run.ledger.journal, reader)
    try:
        with guard:
            progress = await executor.run_from(
                source,
                total=run.total,
                unknown=run.unknown,
                prepare=References(run, client),
            )
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
