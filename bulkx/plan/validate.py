"""Check a loaded plan's values, all problems in one pass, and make the valid plan of them.

`validate(plan)` gives every problem and, when none is an error, a `ValidPlan`: a new plan of
the normalised values (the loaded plan is frozen and left as it was), the one type `diff` and
`prepare` take. `load_valid` loads and validates a plan file in one call.

Every check is a polars expression over a whole step; Python only touches the failing rows
(at most MAX_ROW_DIAGNOSTICS per check) and distinct values (enums, references, prefixes).

Reference rule: a value that no step of the plan defines may still name a live object, so an
undefined reference is a *warning* -- unless the field is a required parent link (a trunk's
`trunk_group`) and the plan has no step of the referenced kind at all, which is an error: such
a plan almost always forgot the step.

Checks of each step on its own (types, required fields, `count:` templates) are
`bulkx.plan.step_checks`; this module adds the checks across steps (duplicate keys, references
and the step order they give, cycles, access codes) and runs them all.
"""

from __future__ import annotations

import graphlib
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl

from bulkx.kinds.model import Kind
from bulkx.kinds.registry import KINDS
from bulkx.plan.csv_source import MAX_ROW_DIAGNOSTICS, row_numbers
from bulkx.plan.load import load_plan
from bulkx.plan.model import SOURCE_FILE, SOURCE_LINE, Diagnostic, Plan, Step, ValidPlan
from bulkx.plan.step_builder import did_you_mean
from bulkx.plan.step_checks import FALSE, ROW, TRUE, US_STATES, StepChecks

__all__ = [
    "FALSE",
    "TRUE",
    "US_STATES",
    "ValidPlan",
    "did_you_mean_suffix",
    "load_valid",
    "normalised",
    "sort_diagnostics",
    "step_order",
    "validate",
]


class _Validator(StepChecks):
    """Every check of a plan: each step's own (`StepChecks`), then those across steps."""

    def scope(self, kind: Kind) -> list[str]:
        """Fields that, with the key, identify an object (trunks are per trunk group...)."""
        return [kind.scope_field] if kind.scope_field else []

    def keyed(self, kind: Kind, columns: list[str]) -> pl.DataFrame | None:
        frames = []
        for index, step in enumerate(self.plan.steps):
            if step.kind != kind.name or not all(c in step.rows.columns for c in columns):
                continue
            frames.append(
                step.rows.with_columns(row_numbers(step.rows, ROW)).select(
                    pl.lit(index, dtype=pl.Int64).alias("__step"),
                    ROW,
                    SOURCE_FILE,
                    SOURCE_LINE,
                    *[pl.col(c).cast(pl.String) for c in columns],
                )
            )
        return pl.concat(frames) if frames else None

    def check_duplicates(self, kind: Kind) -> None:
        columns = [*self.scope(kind), kind.key]
        frame = self.keyed(kind, columns)
        if frame is None:
            return
        dups = _duplicated_rows(frame, columns, kind.key)
        if dups is None:
            return
        dups = dups.sort("__step", ROW)
        first = dups.unique(subset=columns, keep="first", maintain_order=True)
        seen = {tuple(r[c] for c in columns): r for r in first.iter_rows(named=True)}
        later = dups.join(first.select("__step", ROW), on=["__step", ROW], how="anti")
        for row in later.head(MAX_ROW_DIAGNOSTICS).iter_rows(named=True):
            orig = seen[tuple(row[c] for c in columns)]
            step = self.plan.steps[row["__step"]]
            first_step = self.plan.steps[orig["__step"]]
            where = self.cell(first_step, orig[ROW], orig[SOURCE_FILE], orig[SOURCE_LINE], kind.key)
            self.add(
                self.cell(step, row[ROW], row[SOURCE_FILE], row[SOURCE_LINE], kind.key),
                f"duplicate {kind.name} {kind.key} {row[kind.key]!r} (also at {where})",
                "BX120",
                "each object may appear once per plan; remove or merge the rows",
            )
        if later.height > MAX_ROW_DIAGNOSTICS:
            self.add(
                self.plan.steps[0].position,
                f"... and {later.height - MAX_ROW_DIAGNOSTICS} more duplicate {kind.name} keys",
                "BX199",
            )

    def defined(self) -> dict[str, dict[str, list[int]]]:
        """kind -> natural key -> indexes of the steps defining it. Keys are indexed only for
        kinds some step names as parent or reference: a million DIDs took seconds."""
        named = {
            name
            for step in self.plan.steps
            for name in (KINDS[step.kind].parent, *(f.reference for f in KINDS[step.kind].fields))
        }
        out: dict[str, dict[str, list[int]]] = {}
        for index, step in enumerate(self.plan.steps):
            key = KINDS[step.kind].key
            keys = out.setdefault(step.kind, {})
            if key in step.rows.columns and step.kind in named:
                for value in step.rows[key].drop_nulls().unique().cast(pl.String).to_list():
                    keys.setdefault(value, []).append(index)
        return out

    def check_references(self) -> graphlib.TopologicalSorter[int]:
        defined = self.defined()
        graph: graphlib.TopologicalSorter[int] = graphlib.TopologicalSorter()
        for index, step in enumerate(self.plan.steps):
            graph.add(index)
            kind = KINDS[step.kind]
            if kind.parent:
                for other in sorted(
                    {i for ids in defined.get(kind.parent, {}).values() for i in ids}
                ):
                    if other != index:
                        graph.add(index, other)
            for spec in kind.fields:
                if spec.reference is None:
                    continue
                for value, row, file, line in self.reference_values(step, spec.name):
                    targets = defined.get(spec.reference, {}).get(value)
                    if targets:
                        graph.add(index, *[t for t in targets if t != index])
                        continue
                    # Named by no step, it must already exist: a parent too (a plan of trunks
                    # alone, as `bulkx export trunk` writes, names live trunk groups).
                    pos = (
                        step.source.keys.get(f"template.{spec.name}", step.position)
                        if row < 0
                        else self.cell(step, row, file, line, spec.name)
                    )
                    severity = "warning"
                    if self.over_cap("references no step defines", pos, "BX130", severity):
                        continue  # before the hint: did-you-mean over every key is costly
                    self.add(
                        pos,
                        f"{spec.name} {value!r}: no {spec.reference} step in this plan "
                        "defines it (it must already exist)",
                        "BX130",
                        f"add {_article(spec.reference)} {spec.reference} step with "
                        f"{KINDS[spec.reference].key}: {value}"
                        + did_you_mean_suffix(value, defined.get(spec.reference)),
                        severity,
                    )
        return graph

    def reference_values(self, step: Step, name: str) -> Iterable[tuple[str, int, str, int]]:
        """Distinct referenced values with their first row (row -1: the step's template)."""
        if name in step.template and step.template[name] not in (None, ""):
            yield str(step.template[name]), -1, step.position.file, step.position.line
        if name not in step.rows.columns:
            return
        # A mask of first occurrences, then only those rows: a filter of the non-null rows
        # first copied every column (40 MB of a million DIDs with a trunk group each).
        first = pl.col(name).is_first_distinct() & pl.col(name).is_not_null()
        numbered = step.rows.with_columns(row_numbers(step.rows, ROW))
        firsts = numbered.select(ROW, name, SOURCE_FILE, SOURCE_LINE).filter(first)
        for row in firsts.iter_rows(named=True):
            yield str(row[name]), row[ROW], row[SOURCE_FILE], row[SOURCE_LINE]

    def check_cycles(self, graph: graphlib.TopologicalSorter[int]) -> None:
        try:
            graph.prepare()
        except graphlib.CycleError as exc:
            cycle = exc.args[1]
            names = " -> ".join(self.plan.steps[i].name for i in cycle)
            self.add(
                self.plan.steps[cycle[0]].position,
                f"steps reference each other in a cycle: {names}",
                "BX131",
                "break the cycle: split a step in two",
            )

    def check_access_codes(self, kind: Kind) -> None:
        """Values of `kind.unique_across` fields are unique across a scope's objects (a
        conference endpoint's access codes), whichever of the fields holds them."""
        scope, key = kind.scope_field, kind.key
        frames = []
        for index, step in enumerate(self.plan.steps):
            if step.kind != kind.name or scope is None or scope not in step.rows.columns:
                continue
            for col in kind.unique_across:
                if col in step.rows.columns:
                    frames.append(
                        step.rows.with_row_index(ROW).select(
                            pl.lit(index, dtype=pl.Int64).alias("__step"),
                            ROW,
                            SOURCE_FILE,
                            SOURCE_LINE,
                            pl.col(scope).cast(pl.String).alias("endpoint"),
                            pl.col(col).cast(pl.String).alias("code"),
                            pl.lit(col).alias("field"),
                            pl.col(key).cast(pl.String).alias("name")
                            if key in step.rows.columns
                            else pl.lit(None, dtype=pl.String).alias("name"),
                        )
                    )
        if not frames:
            return
        codes = pl.concat(frames).filter(pl.col("code").is_not_null())
        codes = codes.filter(pl.struct("endpoint", "code").is_duplicated()).sort("__step", ROW)
        first: dict[tuple[str, str], dict[str, Any]] = {}
        for row in codes.iter_rows(named=True):
            ident = (row["endpoint"], row["code"])
            step = self.plan.steps[row["__step"]]
            pos = self.cell(step, row[ROW], row[SOURCE_FILE], row[SOURCE_LINE], row["field"])
            if ident not in first:
                first[ident] = {**row, "pos": pos}
                continue
            orig = first[ident]
            if self.over_cap("access code collisions", pos, "BX140"):
                continue
            self.add(
                pos,
                f"access code {row['code']} of room {row['name']!r} collides with "
                f"{orig['field']} of room {orig['name']!r} at {orig['pos']} (endpoint "
                f"{row['endpoint']})",
                "BX140",
                "access codes must be unique across all rooms of an endpoint",
            )

    def run(self) -> tuple[Plan, list[Diagnostic]]:
        """The plan of normalised steps, and every problem of the plan."""
        # The checks across steps compare normalised values (a number written two ways is
        # one number): they run on the new steps.
        self.plan = replace(self.plan, steps=tuple(self.check_step(s) for s in self.plan.steps))
        for kind in {KINDS[s.kind].name: KINDS[s.kind] for s in self.plan.steps}.values():
            self.check_duplicates(kind)
        self.check_cycles(self.check_references())
        for kind in {KINDS[s.kind].name: KINDS[s.kind] for s in self.plan.steps}.values():
            if kind.unique_across:
                self.check_access_codes(kind)
        self.flush_capped()
        return self.plan, self.out


def _duplicated_rows(frame: pl.DataFrame, columns: list[str], key: str) -> pl.DataFrame | None:
    """The rows of `frame` with a `key` whose `columns` repeat on another such row, or None.

    `is_duplicated` over a million keys builds a hash table of groups (+110 MB, 0.5 s). A
    sorted column of their 64-bit hashes finds the repeated hashes in 8 MB; only the rows with
    one of those are compared by value, so a hash collision costs a comparison, not a wrong
    answer (rows of equal keys have equal hashes, so all of them are among those compared)."""
    hashed = pl.struct(columns).hash() if len(columns) > 1 else pl.col(key).hash()
    hashes = frame.select(
        pl.when(pl.col(key).is_not_null()).then(hashed).otherwise(None).alias("h")
    ).to_series()
    ordered = hashes.drop_nulls().sort()
    repeated = ordered.filter(ordered == ordered.shift(1)).unique()
    del ordered
    if not len(repeated):
        return None
    candidates = frame.filter(hashes.is_in(repeated.implode()).fill_null(False))
    del hashes
    duplicated = (
        pl.struct(columns).is_duplicated() if len(columns) > 1 else pl.col(key).is_duplicated()
    )
    dups = candidates.filter(duplicated)
    return dups if dups.height else None


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def did_you_mean_suffix(value: str, known: dict[str, list[int]] | None) -> str:
    hint = did_you_mean(value, known or {})
    return f" ({hint})" if hint else ""


def normalised(plan: Plan) -> tuple[Plan, list[Diagnostic]]:
    """`plan` with its values normalised as far as they could be, and all its value problems.
    For a caller that looks at the values whatever the problems; one that goes on to diff
    wants `validate`."""
    checked, diagnostics = _Validator(plan).run()
    # A bad default is one problem reported from every row it fills: say it once.
    return checked, list(dict.fromkeys(diagnostics))


def validate(plan: Plan) -> tuple[ValidPlan | None, list[Diagnostic]]:
    """All value problems of `plan`, and the valid plan of its normalised values when none of
    them is an error (warnings do not stop a plan). `plan` itself is left as it was. The
    loader's own diagnostics are the caller's to weigh: `load_valid` weighs both."""
    checked, diagnostics = normalised(plan)
    if any(d.severity == "error" for d in diagnostics):
        return None, diagnostics
    return ValidPlan.of(checked), diagnostics


def load_valid(
    path: str | Path, *, kind: str | None = None
) -> tuple[ValidPlan | None, list[Diagnostic]]:
    """`load_plan` then `validate`: the diagnostics of both (unsorted), and the valid plan when
    neither found an error."""
    plan, diagnostics = load_plan(path, kind=kind)
    if plan is None:
        return None, diagnostics
    valid, found = validate(plan)
    diagnostics = diagnostics + found
    if any(d.severity == "error" for d in diagnostics):
        return None, diagnostics
    return valid, diagnostics


def step_order(plan: ValidPlan) -> list[Step]:
    """Steps in dependency order (referenced objects first). Assumes a valid plan."""
    validator = _Validator(plan)
    graph = validator.check_references()
    return [plan.steps[i] for i in graph.static_order()]


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return sorted(diagnostics, key=lambda d: (d.position, d.code))
