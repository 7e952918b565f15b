"""A loaded plan as plain data: steps of one kind each, their items in a polars frame.

Items live in a DataFrame (one row per item, one column per plan field, normalised values)
rather than in a million dicts: validation is vectorised over it, and the diff and the executor
iterate it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the frames come from the loader; a plan's record types need no polars
    import polars as pl

#: Columns every step frame carries besides the plan fields: where each item came from.
SOURCE_FILE = "__file"
SOURCE_LINE = "__line"
SOURCE_COLUMNS = (SOURCE_FILE, SOURCE_LINE)
#: What a plan writes to clear a field: a CSV cell (any case, spaces around it ignored), or a
#: YAML value (where null does the same). An empty cell leaves the field as it is.
CLEAR_MARKER = "<clear>"
#: After validation, the fields each row clears, as `name;name;` (a column only when some row
#: clears one): their values are null in the frame like unset ones, and `Step.items` tells
#: them apart.
CLEARED = "__cleared"
META_COLUMNS = (*SOURCE_COLUMNS, CLEARED)


@dataclass(frozen=True, order=True)
class Position:
    """A place in a plan file; line and column are 1-based (column 0: the whole line)."""

    file: str
    line: int
    column: int = 0

    def __str__(self) -> str:
        if self.line == 0:  # the file as a whole (it is missing, unreadable, empty)
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a plan, where it is, and what to do about it."""

    position: Position
    message: str
    code: str = "BX100"
    hint: str | None = None
    severity: str = "error"
    #: The plan field the problem is in, if it is in one: what a `count:` step's template
    #: check needs to point at the template's own key. Not part of the diagnostic's identity.
    field_name: str | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        text = f"{self.position}: {self.message}"
        return text + (f" (hint: {self.hint})" if self.hint else "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.position.file,
            "line": self.position.line,
            "column": self.position.column,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
        }


@dataclass(frozen=True)
class Item:
    values: Mapping[str, Any]
    position: Position


@dataclass(frozen=True)
class StepSource:
    """Where a step's cells came from, for positioned diagnostics after loading. The loader
    fills it while it builds the step; validation only reads it."""

    #: (row index, field) -> (line, column) of YAML item values.
    cells: dict[tuple[int, str], tuple[int, int]] = field(default_factory=dict)
    #: file -> plan field -> 1-based CSV field number.
    csv_columns: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Step-level keys ("count", "criteria.state", "template.trunk_group") -> position.
    keys: dict[str, Position] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    """One step of a plan: a kind, and what should exist of it."""

    kind: str
    #: The step's name (YAML `name:`, else `<kind>#<n>`), used in reports and references.
    name: str
    position: Position
    #: One row per item: plan-field columns (normalised) plus SOURCE_COLUMNS.
    rows: pl.DataFrame
    #: Renting by criteria: rent `count` numbers matching `criteria` (e.g. {"state": "NY",
    #: "npa": "516"}), with `template` values applied to each.
    count: int | None = None
    criteria: Mapping[str, Any] = field(default_factory=dict)
    template: Mapping[str, Any] = field(default_factory=dict)
    #: Where the step's cells and keys are in the plan's files (empty for a step built in code).
    source: StepSource = field(default_factory=StepSource, compare=False, repr=False)

    @property
    def fields(self) -> list[str]:
        return [c for c in self.rows.columns if c not in META_COLUMNS]

    def __len__(self) -> int:
        return self.rows.height

    def items(self) -> Iterator[Item]:
        """Each item's values; object and list fields (canonical JSON text in the frame)
        decoded. A field the item clears is there with the value None; one it leaves as it is
        is not there at all."""
        from bulkx.kinds import KINDS

        kind = KINDS.get(self.kind)
        objects = {f.name for f in kind.fields if f.type in ("object", "list")} if kind else set()
        names = self.fields
        clears = CLEARED in self.rows.columns
        for row in self.rows.iter_rows(named=True):
            values = {n: row[n] for n in names if row[n] is not None}
            for name in objects & values.keys():
                if isinstance(values[name], str):
                    values[name] = json.loads(values[name])
            if clears and row[CLEARED]:
                values.update(dict.fromkeys(row[CLEARED].split(";")[:-1]))
            yield Item(values, Position(row[SOURCE_FILE], row[SOURCE_LINE]))


@dataclass(frozen=True)
class Plan:
    path: str
    steps: tuple[Step, ...]
    #: sha256 of the plan's files, so a saved changeset can tell it was made from this plan.
    digest: str = ""
    #: The files read, as (path shown, bytes): what a run's journal keeps of the plan.
    sources: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    #: The kind given for a CSV-only plan (`--kind`), if any.
    kind: str | None = None

    def steps_of(self, kind: str) -> list[Step]:
        return [s for s in self.steps if s.kind == kind]


@dataclass(frozen=True)
class ValidPlan(Plan):
    """A plan validation found no error in, its values normalised (E.164 numbers, typed
    values, the kind's defaults filled in): what `diff` and `prepare` take, so that a plan is
    validated before anything is diffed. `bulkx.plan.validate.validate` makes them; a test
    that builds its steps' frames normalised by hand may too."""

    @classmethod
    def of(cls, checked: Plan) -> ValidPlan:
        """The valid plan of `checked`, a plan `validate` normalised and found no error in."""
        return cls(**{f.name: getattr(checked, f.name) for f in fields(checked)})
