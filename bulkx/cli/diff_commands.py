"""`bulkx plan`, `bulkx audit` and `bulkx export`: read live state, never change it."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import typer

from bulkx.api.loop import run as run_on_loop
from bulkx.cli import exit_codes
from bulkx.cli.failures import err, guarded
from bulkx.cli.options import (
    ALLOW_CALLS,
    ALLOW_FLAGS,
    ALLOW_PARTNERS,
    ALLOW_RELEASE,
    ALLOW_SEND,
    BASE_URL,
    OUTAGE_AFTER,
    PROFILE,
    SANDBOX_DB,
    TOKEN_FILE,
)
from bulkx.cli.output import (
    HTML,
    OUTPUT_FILE,
    format_option,
    legacy_output_file,
    output_stream,
    usage_error,
    write_page,
)
from bulkx.cli.profile_edge import target_options
from bulkx.cli.render import render
from bulkx.defaults import DEFAULT_OUTAGE_SECONDS
from bulkx.engine.targets import TargetOptions, open_client
from bulkx.errors import ApiError, BulkxError
from bulkx.escaping import csv_writer, printable

if TYPE_CHECKING:
    from bulkx.diff.changes import RentByCriteria
    from bulkx.diff.export import Exported
    from bulkx.diff.spool import ChangesetLike, ChangeStream
    from bulkx.kinds.model import Kind, Permission
    from bulkx.plan.model import ValidPlan
    from bulkx.records import ExportResult, RecordKind

# What reads plans, live state and records (polars, httpx, the YAML parser) is imported by the
# commands that use it: `bulkx --help` and the other commands start without it.


#: `plan` and `audit`: the diff for people, the changeset (json, jsonl), the audit report (csv).
PLAN_FORMATS = ("table", "json", "jsonl", "csv")
#: `plan` also writes the audit page for a change ticket (`bulkx.audit.plan_page`).
PLAN_PAGE_FORMATS = (*PLAN_FORMATS, HTML)
#: `export`: a plan CSV; record kinds also Parquet (the file's name decides without -o).
EXPORT_FORMATS = ("csv", "parquet")


def _render(
    changeset: ChangesetLike,
    output: str,
    output_file: Path | None,
    options: Mapping[str, object] | None = None,
) -> None:
    """The changeset in `output`'s format; `options` are what the html page shows of them."""
    if output == HTML:
        from bulkx.audit.plan_page import plan_page

        write_page(output_file, lambda: plan_page(changeset, options or {}, ALLOW_FLAGS))
        return
    with output_stream(output_file) as out:
        render(changeset, "text" if output == "table" else output, out)


class ReadProgressLine:
    """`read_live_state`'s progress on stderr: `reading live state: 1,200/2,000 DIDs (E911)`.
    On a terminal one line, redrawn; else a line every `every` seconds and one at the end of
    each part. A closed stderr never stops a read."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        every: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        try:
            self.tty = self.stream.isatty()
        except (OSError, ValueError):
            self.tty = False
        self.every = every if every is not None else (0.2 if self.tty else 5.0)
        self._clock = clock
        self._last = clock()
        self._drawn = False

    def __call__(self, what: str, done: int, total: int) -> None:
        now = self._clock()
        end = done >= total
        if not end and now - self._last < self.every:
            return
        self._last = now
        line = f"reading live state: {done:,}/{total:,} {what}"
        try:
            if self.tty:
                self.stream.write("\r\x1b[2K" + line + ("\n" if end else ""))
                self._drawn = not end
            else:
                self.stream.write(line + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        if self._drawn:
            self._drawn = False
            try:
                self.stream.write("\n")
                self.stream.flush()
            except (OSError, ValueError):
                pass


def unmet_counts(changeset: ChangeStream) -> list[RentByCriteria]:
    """The `count:` steps the inventory cannot meet: fewer matching numbers than they rent."""
    return [
        change
        for change in changeset.rents
        if change.available is not None and change.available < change.count
    ]


def warn_unmet_counts(changeset: ChangeStream) -> bool:
    """A warning on stderr for each `count:` step that cannot be met; whether there was one."""
    unmet = unmet_counts(changeset)
    for change in unmet:
        numbers = "1 number" if change.count == 1 else f"{change.count} numbers"
        are = "is" if change.available == 1 else "are"
        typer.echo(
            printable(
                f"warning: step {change.step} rents {numbers} matching {change.key}"
                f" but only {change.available} {are} available"
            ),
            err=True,
        )
    return bool(unmet)


def load_valid_plan(path: str, kind: str | None) -> ValidPlan:
    from bulkx.plan.validate import load_valid, sort_diagnostics

    plan, diagnostics = load_valid(path, kind=kind)
    errors = [d for d in sort_diagnostics(diagnostics) if d.severity == "error"]
    for problem in errors:
        typer.echo(printable(str(problem)), err=True)
    if plan is None:
        err(f"{len(errors)} problem(s) in the plan; `bulkx validate {path}` explains each")
        raise typer.Exit(exit_codes.USAGE)
    return plan


async def _stream(
    plan: ValidPlan,
    options: TargetOptions,
    into: ChangeStream,
    allow_release: bool,
    confirmed: frozenset[Permission],
    outage_after: float,
) -> None:
    from bulkx.engine.plan_run import stream_changes

    line = ReadProgressLine()
    try:
        async with open_client(options) as client:
            await stream_changes(
                client,
                plan,
                into,
                allow_release=allow_release,
                confirmed=confirmed,
                outage_after=outage_after,
                progress=line,
            )
    finally:
        line.close()


def spools_for(output: str, *, save: bool = False, batch: bool = False) -> set[str]:
    """The spools the outputs asked for read back (the text output reads none: it shows the
    counts and the first changes, kept in memory)."""
    from bulkx.diff.spool import COMPACT, INDENTED

    wanted = set()
    if output == "json" or save:
        wanted.add(INDENTED)
    if output in ("jsonl", "csv", HTML) or batch:
        wanted.add(COMPACT)
    return wanted


def _run(
    plan: ValidPlan,
    options: TargetOptions,
    spools: set[str],
    allow_release: bool,
    confirmed: frozenset[Permission] = frozenset(),
    outage_after: float = DEFAULT_OUTAGE_SECONDS,
) -> ChangeStream:
    """The plan's changes, counted and spooled chunk by chunk into `spools` (the caller closes
    the stream)."""
    from bulkx.diff.spool import ChangeStream

    created_at = datetime.now(UTC).isoformat(timespec="seconds")
    target = options.describe()
    stream = guarded(lambda: ChangeStream(plan.path, plan.digest, target, created_at, spools))
    try:
        guarded(
            lambda: run_on_loop(
                _stream(plan, options, stream, allow_release, confirmed, outage_after)
            ),
            doing="reading live state",
        )
    except BaseException:
        stream.close()
        raise
    return stream


def plan_command(
    plan_path: str = typer.Argument(..., metavar="PLAN", help="A YAML plan or a CSV for one kind."),
    kind: str | None = typer.Option(None, "--kind", help="The kind of a CSV-only plan."),
    output: str = format_option(PLAN_PAGE_FORMATS, "table"),
    output_file: Path | None = OUTPUT_FILE,
    save: Path | None = typer.Option(None, "--save", help="Store the exact changeset as JSON."),
    detailed_exitcode: bool = typer.Option(
        False,
        "--detailed-exitcode",
        help="Exit 0 with no changes, 2 with changes (or a count: step the inventory cannot"
        " meet), 1 on error.",
    ),
    allow_release: bool = ALLOW_RELEASE,
    allow_partners: bool = ALLOW_PARTNERS,
    allow_send: bool = ALLOW_SEND,
    allow_calls: bool = ALLOW_CALLS,
    via: str = typer.Option(
        "api",
        "--via",
        metavar="api|batch",
        help="batch: also list the Batch tasks that"
        " `apply --via batch` would create for the DID and prefix changes.",
    ),
    outage_after: float = OUTAGE_AFTER,
    profile: str | None = PROFILE,
    base_url: str | None = BASE_URL,
    token_file: Path | None = TOKEN_FILE,
    sandbox_db: Path = SANDBOX_DB,
) -> None:
    """Show what applying PLAN would change, against live state. Changes nothing."""
    from bulkx.kinds.model import granted_permissions

    try:
        plan = load_valid_plan(plan_path, kind)
    except typer.Exit as stop:
        raise typer.Exit(exit_codes.ERROR if detailed_exitcode else stop.exit_code) from None
    options = target_options(profile, base_url, token_file, sandbox_db)
    confirmed = granted_permissions(
        allow_partners=allow_partners, allow_send=allow_send, allow_calls=allow_calls
    )
    shown = {
        "kind": kind,
        "allow_release": allow_release,
        "allow_partners": allow_partners,
        "allow_send": allow_send,
        "allow_calls": allow_calls,
        "via": via,
    }
    spools = spools_for(output, save=save is not None, batch=via == "batch")
    with _run(plan, options, spools, allow_release, confirmed, outage_after) as changeset:
        unmet = _show_plan(changeset, output, output_file, shown, via == "batch", save)
        doing = changeset.has_changes
    if detailed_exitcode and (doing or unmet):
        raise typer.Exit(2)


def _show_plan(
    changeset: ChangeStream,
    output: str,
    output_file: Path | None,
    shown: Mapping[str, object],
    batch: bool,
    save: Path | None,
) -> bool:
    """The changeset in `output`'s format, its warnings, and its saved copy; whether a
    `count:` step cannot be met."""
    _render(changeset, output, output_file, shown)
    unmet = warn_unmet_counts(changeset)
    if batch:
        _show_batch_tasks(changeset)
    if save is not None:
        _save(changeset, save)
        typer.echo(f"saved the changeset to {save}", err=True)
    return unmet


def _save(changeset: ChangeStream, path: Path) -> None:
    """As `json.dump(changeset.as_dict(), indent=2)`, written as it is read from the spool."""
    from bulkx.cli.render import render_json

    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        render_json(changeset, out)
    os.replace(tmp, path)


def audit_command(
    plan_path: str = typer.Argument(..., metavar="PLAN"),
    kind: str | None = typer.Option(None, "--kind", help="The kind of a CSV-only plan."),
    output: str = format_option(PLAN_FORMATS, "table"),
    output_file: Path | None = OUTPUT_FILE,
    outage_after: float = OUTAGE_AFTER,
    profile: str | None = PROFILE,
    base_url: str | None = BASE_URL,
    token_file: Path | None = TOKEN_FILE,
    sandbox_db: Path = SANDBOX_DB,
) -> None:
    """Read-only drift check: exit 0 when live state matches PLAN, 2 when it drifted."""
    plan = load_valid_plan(plan_path, kind)
    options = target_options(profile, base_url, token_file, sandbox_db)
    spools = spools_for(output)
    with _run(plan, options, spools, allow_release=False, outage_after=outage_after) as changeset:
        _render(changeset, output, output_file)
        warn_unmet_counts(changeset)
        drifted = changeset.has_changes
    if drifted:
        raise typer.Exit(2)


def export_command(
    kind: str = typer.Argument(
        ...,
        help="A kind a plan names (did, did_emergency, did_line_information, trunk, app kinds"
        " with --endpoint...), or a record kind (cdr, mdr, ...).",
    ),
    filter_: str | None = typer.Option(None, "--filter", help="e.g. 'state eq \"NY\"'"),
    endpoint: str | None = typer.Option(
        None, "--endpoint", help="For an app API kind: the endpoint whose objects to export."
    ),
    output: str | None = format_option(
        EXPORT_FORMATS,
        None,
        legacy_path=True,
        help_extra=" Without it: csv, or for a record kind what --output-file's name says"
        " (.csv or .parquet). -o FILE still writes FILE (deprecated: --output-file).",
    ),
    output_file: Path | None = OUTPUT_FILE,
    since: datetime | None = typer.Option(None, "--since", help="Records: from this time (UTC)."),
    until: datetime | None = typer.Option(None, "--until", help="Records: before this time."),
    shards: int = typer.Option(
        4, "--shards", min=1, max=64, help="Records: time slices read in parallel."
    ),
    profile: str | None = PROFILE,
    base_url: str | None = BASE_URL,
    token_file: Path | None = TOKEN_FILE,
    sandbox_db: Path = SANDBOX_DB,
) -> None:
    """Write live objects of KIND as a plan CSV (`# kind:` line first): a backup to revert
    to, or a plan to adopt them in bulk. Planned right away, it is nothing to do. A field that
    is empty live is written as `<clear>` (where a plan can clear it), so applying the export
    later puts every field back as it was. Kinds inside another object are read through it:
    a DID's E911 and line information through the DIDs (--filter selects the DIDs), trunks
    through their trunk groups.

    Record kinds (cdr, mdr, conference.calls, conference.meetings, mediator.calls, invoice) are
    exported with cursor paging, in parallel time shards, to CSV or Parquet; a stopped export
    resumes where it stopped when run again with the same options."""
    from bulkx.records import RECORD_KINDS

    fmt, output_file = _export_output(output, output_file)
    options = target_options(profile, base_url, token_file, sandbox_db)
    if kind in RECORD_KINDS:
        records_file = _records_file(fmt, output_file)
        _export_records(RECORD_KINDS[kind], records_file, since, until, shards, filter_, options)
        return
    if fmt == "parquet":
        usage_error(f"{kind} is exported as a plan CSV; parquet is for record kinds (cdr, ...)")
    exported = _read_export(_exportable_kind(kind, endpoint), filter_, endpoint, options)
    _write_export(exported, output_file)
    unset = (
        f"; {exported.unset} left out: a required field is empty live (nothing to keep)"
        if exported.unset
        else ""
    )
    typer.echo(
        f"exported {len(exported.rows)} {kind} object(s) from {options.describe()}{unset}", err=True
    )


def _export_output(output: str | None, output_file: Path | None) -> tuple[str | None, Path | None]:
    """(format, file): `-o FILE`, the old spelling, still names the file."""
    if output is None:
        return None, output_file
    return legacy_output_file("export", output, EXPORT_FORMATS, "csv", output_file)


def _exportable_kind(kind: str, endpoint: str | None) -> Kind:
    """The kind named, if `bulkx export` can write a plan of it with these options (else a
    usage error that says why)."""
    from bulkx.diff.export import why_not_exportable
    from bulkx.kinds import KINDS

    if kind not in KINDS:
        err(f"unknown kind {kind!r}; known: {', '.join(sorted(KINDS))}")
        raise typer.Exit(exit_codes.USAGE)
    problem = why_not_exportable(KINDS[kind], endpoint)
    if problem is not None:
        err(problem)
        raise typer.Exit(exit_codes.USAGE)
    return KINDS[kind]


def _read_export(
    kind: Kind, filter_: str | None, endpoint: str | None, options: TargetOptions
) -> Exported:
    """The live objects as plan rows; an API error is an error, never a traceback."""
    from bulkx.diff.export import export_kind

    line = ReadProgressLine()

    async def read() -> Exported:
        async with open_client(options) as client:
            return await export_kind(
                client,
                kind,
                filter=filter_,
                endpoint=endpoint,
                progress=lambda done, total: line(f"DIDs ({kind.name})", done, total),
            )

    try:
        return run_on_loop(read())
    except BulkxError as error:
        err(str(error))
        raise typer.Exit(exit_codes.ERROR) from None
    finally:
        line.close()


def _write_export(exported: Exported, output_file: Path | None) -> None:
    """The plan CSV, `# kind:` line first, to stdout or `output_file`; live names are data: no
    cell a spreadsheet would run."""
    with output_stream(output_file) as out:
        out.write(f"# kind: {exported.kind}\n")
        writer = csv_writer(out)
        writer.writerow(exported.columns)
        writer.writerows(exported.rows)


def _records_file(fmt: str | None, output_file: Path | None) -> Path:
    """Where a record export goes: always a file, whose name says its format."""
    if output_file is None:
        usage_error("record exports go to a file: --output-file records.csv (or .parquet)")
    suffix = ".parquet" if output_file.suffix == ".parquet" else ".csv"
    if fmt is not None and f".{fmt}" != suffix:
        usage_error(f"-o {fmt} writes a .{fmt} file, not {output_file.name}")
    return output_file


def register(app: typer.Typer) -> None:
    app.command("plan")(plan_command)
    app.command("audit")(audit_command)
    app.command("export")(export_command)


def _export_records(
    kind: RecordKind,
    output: Path,
    since: datetime | None,
    until: datetime | None,
    shards: int,
    filter_: str | None,
    options: TargetOptions,
) -> None:
    if since is not None and until is not None and until <= since:
        err(f"--until ({until:%Y-%m-%d %H:%M}) must be after --since ({since:%Y-%m-%d %H:%M})")
        raise typer.Exit(exit_codes.USAGE)
    seen = 0

    def count(rows: int) -> None:
        nonlocal seen
        seen += rows
        if sys.stderr.isatty():
            sys.stderr.write(f"\r{seen} {kind.name} record(s)")

    from bulkx.records import export_records

    async def run() -> ExportResult:
        async with open_client(options) as client:
            return await export_records(
                client,
                kind,
                output,
                since=since and since.replace(tzinfo=UTC),
                until=until and until.replace(tzinfo=UTC),
                shards=shards,
                filter=filter_,
                on_rows=count,
            )

    try:
        result = run_on_loop(run())
    except BulkxError as error:
        hint = getattr(error, "hint", None)
        err(str(error) + (f"\n  hint: {hint}" if hint else ""))
        if output.with_name(output.name + ".parts").exists():
            err("the export stopped; run the same command again to finish it")
        raise typer.Exit(
            exit_codes.RESUMABLE if isinstance(error, ApiError) else exit_codes.ERROR
        ) from None
    except KeyboardInterrupt:
        err("interrupted; run the same command again to finish the export")
        raise typer.Exit(exit_codes.INTERRUPTED) from None
    resumed = f", {result.resumed_shards} shard(s) resumed" if result.resumed_shards else ""
    typer.echo(
        f"\n{result.rows} {kind.name} record(s) in {result.shards} shard(s){resumed}"
        f" -> {result.path}",
        err=True,
    )


def _show_batch_tasks(changeset: ChangeStream) -> None:
    """On stderr, so that -o json/csv on stdout stays one document."""
    from bulkx.engine.batch_backend import MIN_ENTRIES, planned_tasks

    planned = planned_tasks(changeset.changes)
    typer.echo(
        f"\nwith --via batch: {len(planned.tasks)} Batch task(s), each reviewed and"
        " approved by apply:",
        err=True,
    )
    if planned.per_object:
        typer.echo(
            f"  {planned.per_object} change(s) one by one: grouping them by value would"
            f" make tasks of fewer than {MIN_ENTRIES} entries",
            err=True,
        )
    for task in planned.tasks:
        sets = ", ".join(f"{name}={value}" for name, value in task.sets)
        typer.echo(
            printable(
                f"  {task.method} {task.entries} {task.type} entries"
                + (f" setting {sets}" if sets else "")
            ),
            err=True,
        )
