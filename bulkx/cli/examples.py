"""The Examples section of every command's `--help`, in one place so they read as a set.

Each example is a command a carrier engineer would type, run against the embedded sandbox by
default. `attach` hangs them on the Typer app as epilogs; click's `\\b` marker keeps each
example on its own line (click otherwise rewraps the epilog as one paragraph).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import typer

#: Command path -> (what it does, the command).
EXAMPLES: Mapping[str, Sequence[tuple[str, str]]] = {
    "demo": [
        ("the main job on the embedded sandbox, start to end", "bulkx demo"),
    ],
    "validate": [
        ("every problem at once, file:line:column", "bulkx validate plans/port-in.yaml"),
        ("a CSV plan names its kind", "bulkx validate numbers.csv --kind did"),
        ("as JSON, for an editor or CI", "bulkx validate plans/port-in.yaml -o json"),
    ],
    "schema": [
        ("a JSON Schema for editors", "bulkx schema > bulkx-plan.schema.json"),
    ],
    "plan": [
        ("what apply would do (the dry-run)", "bulkx plan plans/port-in.yaml"),
        (
            "save it; apply it later only if nothing drifted",
            "bulkx plan plans/port-in.yaml --save port-in.json",
        ),
        ("the Batch tasks --via batch would create", "bulkx plan plans/port-in.yaml --via batch"),
        ("a page for the change ticket", "bulkx plan plans/port-in.yaml -o html > audit.html"),
        ("against a real target", "bulkx plan plans/port-in.yaml --profile prod"),
    ],
    "audit": [
        (
            "live state against the plan, as a report",
            "bulkx audit plans/port-in.yaml -o csv --output-file audit.csv",
        ),
    ],
    "export": [
        (
            "back up E911 records before a correction",
            "bulkx export did_emergency --output-file e911-backup.csv",
        ),
        ("DIDs of one state", "bulkx export did --filter 'state eq \"NY\"' > ny-dids.csv"),
        (
            "an app API kind, through its endpoint",
            "bulkx export conference_v2.meeting_room --endpoint conf2",
        ),
        (
            "call records since a date",
            "bulkx export cdr --since 2026-12-01 --output-file cdr.parquet",
        ),
    ],
    "apply": [
        ("journaled and resumable; asks first", "bulkx apply plans/port-in.yaml"),
        ("unattended, at a contracted rate", "bulkx apply plans/port-in.yaml --yes --rate 40"),
        ("a changeset saved by plan --save", "bulkx apply port-in.json --yes"),
        ("watch and steer it in the monitor", "bulkx apply plans/port-in.yaml --tui"),
    ],
    "resume": [
        ("go on where a run stopped (no plan file needed)", "bulkx resume RUN_ID --yes"),
        ("from a journal file, slower than it ran", "bulkx resume path/to/RUN_ID.db --rate 20"),
    ],
    "revert": [
        ("the plan that undoes a run, to review then apply", "bulkx revert RUN_ID > undo.yaml"),
        (
            "to a file, even though some of the run cannot be undone",
            "bulkx revert RUN_ID --partial --output-file undo.yaml",
        ),
        ("set back items changed since by someone else too", "bulkx revert RUN_ID --force"),
    ],
    "runs": [
        ("every run, newest last", "bulkx runs"),
        ("as JSON, for a script", "bulkx runs -o json"),
    ],
    "status": [
        ("counts, state and the exit code so far", "bulkx status RUN_ID"),
        ("as JSON, while the run goes on", "bulkx status RUN_ID -o json"),
    ],
    "report": [
        ("every item with its outcome", "bulkx report RUN_ID > outcome.csv"),
        ("the failed items as a plan to retry", "bulkx report RUN_ID --retry > retry.csv"),
        ("the items a stopped run never reached", "bulkx report RUN_ID --not-attempted"),
        ("every item as JSON, to a file", "bulkx report RUN_ID -o json --output-file run.json"),
        (
            "the run as a page: outcome, chart, what a revert could undo",
            "bulkx report RUN_ID -o html --output-file run.html",
        ),
    ],
    "watch": [
        ("the monitor of a running (or finished) run", "bulkx watch RUN_ID"),
    ],
    "lookup": [
        ("check numbers before a port-in", "bulkx lookup samples/ported-numbers.csv"),
        (
            "with per-minute rates, to a file",
            "bulkx lookup samples/ported-numbers.csv --rates --output-file lookup.csv",
        ),
    ],
    "kinds": [
        ("every kind a plan can name", "bulkx kinds"),
        ("one kind's fields, types and allowed values", "bulkx kinds did_emergency"),
        ("as JSON", "bulkx kinds trunk -o json"),
    ],
    "config": [
        ("each effective setting and where it comes from", "bulkx config"),
        ("a profile's", "bulkx config --profile prod -o json"),
    ],
    "config forget-limits": [
        ("learn every target's rate limit afresh", "bulkx config forget-limits"),
    ],
    "sandbox serve": [
        ("serve the sandbox on 127.0.0.1 for other tools", "bulkx sandbox serve --port 8787"),
    ],
    "sandbox seed": [
        (
            "put ported numbers on the account",
            "bulkx sandbox seed --ported samples/ported-numbers.csv",
        ),
    ],
    "sandbox info": [
        ("what the sandbox holds", "bulkx sandbox info"),
    ],
    "sandbox assumptions": [
        ("where the sandbox guesses CarrierX behaviour", "bulkx sandbox assumptions"),
    ],
}


def epilog(path: str) -> str | None:
    """The Examples section for the command at `path` ("plan", "sandbox serve")."""
    examples = EXAMPLES.get(path)
    if not examples:
        return None
    lines = ["\b", "Examples:"]
    for what, command in examples:
        lines += [f"  # {what}", f"  {command}"]
    return "\n".join(lines)


def attach(app: typer.Typer, prefix: str = "") -> None:
    """Give every command registered on `app` (and on its sub-apps) its Examples section,
    unless it was given an epilog of its own."""
    for info in app.registered_commands:
        name = info.name or (info.callback.__name__ if info.callback else "")
        if info.epilog is None:
            info.epilog = epilog(f"{prefix}{name}")
    for group in app.registered_groups:
        if group.typer_instance is not None and group.name:
            if not isinstance(group.epilog, str):  # a group run on its own (`bulkx config`)
                group.epilog = epilog(f"{prefix}{group.name}")
            attach(group.typer_instance, f"{prefix}{group.name} ")
