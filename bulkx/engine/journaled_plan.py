"""The plan a run applies, loaded back from the files its journal keeps (`sources`): what a
resume needs to go on preparing a run whose preparation a crash cut short. No plan file, no
working directory: the files are laid out in a temporary directory as apply read them,
loaded and validated as apply did, and their positions named as apply named them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path, PurePath

import polars as pl

from bulkx.errors import JournalError
from bulkx.journal.view import JournalView
from bulkx.plan.model import SOURCE_FILE, ValidPlan
from bulkx.plan.validate import load_valid


def _depth_above(paths: Sequence[str]) -> int:
    """How far above its own directory a plan's relative sources reach (`../x.csv`: 1)."""
    deepest = 0
    for path in paths:
        parts = PurePath(os.path.normpath(path)).parts
        if not PurePath(path).is_absolute():
            deepest = max(deepest, len(parts) - len([p for p in parts if p != ".."]))
    return deepest


def _lay_out(directory: Path, plan_path: str, sources: Sequence[tuple[str, bytes]]) -> Path:
    """Write the plan (the first source) and the files it names (relative to it) under
    `directory`; the plan's path there. A source named by an absolute path is read from
    there again (the digest check catches a change)."""
    (_, plan_bytes), *others = sources
    named = [path for path, _ in others]
    base = directory.joinpath(*(["up"] * _depth_above(named)))
    plan_file = base / PurePath(plan_path).name
    plan_file.parent.mkdir(parents=True, exist_ok=True)
    plan_file.write_bytes(plan_bytes)
    for path, data in others:
        if PurePath(path).is_absolute():
            continue
        target = Path(os.path.normpath(base / path))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return plan_file


def _renamed(plan: ValidPlan, names: Mapping[str, str], plan_path: str) -> ValidPlan:
    """`plan` with its files named as apply named them (its operations' positions)."""
    steps = tuple(
        replace(
            step,
            position=replace(step.position, file=names.get(step.position.file, plan_path)),
            rows=step.rows.with_columns(pl.col(SOURCE_FILE).replace(dict(names))),
        )
        for step in plan.steps
    )
    return replace(plan, path=plan_path, steps=steps)


def journaled_plan(journal: JournalView, kind: str | None) -> ValidPlan:
    """The run's plan, from its journal; `kind`: the kind a CSV-only plan was applied as.
    Refused (JournalError) when the files no longer make the plan the run was prepared from."""
    info = journal.run()
    sources = journal.sources()
    if not sources:
        raise JournalError(f"run {info.run_id} keeps no plan files (an older bulkx wrote it)")
    with tempfile.TemporaryDirectory(prefix="bulkx-plan-") as directory:
        plan_file = _lay_out(Path(directory), info.plan_path, sources)
        plan, diagnostics = load_valid(plan_file, kind=kind)
        errors = [d for d in diagnostics if d.severity == "error"]
        if plan is None:
            problem = errors[0].message if errors else "it cannot be read"
            raise JournalError(f"the plan run {info.run_id} keeps no longer loads: {problem}")
        names = {str(plan_file): info.plan_path}
        for path, _ in sources[1:]:
            names[os.path.normpath(plan_file.parent / path)] = os.path.normpath(
                PurePath(info.plan_path).parent / path
            )
    if plan.digest != info.plan_digest:
        raise JournalError(f"the plan files run {info.run_id} keeps do not match its digest")
    return _renamed(plan, names, info.plan_path)
