"""Read a plan (YAML and/or CSV) into plain data, with a position for every problem.

Loading checks structure only: readable files, known kinds, keys and columns. Value checks
(numbers, enums, references, duplicates) belong to `bulkx.plan.validate`. Rows are kept as
strings here; `validate` makes a new plan of normalised, typed values from them.

This module reads the plan itself: a CSV plan of one kind, or a YAML plan's top-level keys and
steps (step keys, `count:`/`criteria:`/`template:`). Reading files and parsing CSV (with its
`file:line:field` positions) is `bulkx.plan.csv_source`; building one step's rows from items,
CSV sources and defaults is `bulkx.plan.step_builder`. YAML lines/columns come from ruamel's
round-trip nodes.
"""

from __future__ import annotations

import contextlib
import os
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from bulkx.kinds.registry import KINDS
from bulkx.plan.csv_source import KIND_LINE, MAX_ROW_DIAGNOSTICS, SourceReader
from bulkx.plan.model import (
    SOURCE_FILE,
    SOURCE_LINE,
    Diagnostic,
    Plan,
    Position,
    Step,
    StepSource,
)
from bulkx.plan.step_builder import (
    StepBuilder,
    did_you_mean,
    plain,
    scalar,
)
from bulkx.plan.yaml_guard import check_document

__all__ = [
    "CRITERIA_KEYS",
    "MAX_ROW_DIAGNOSTICS",
    "STEP_KEYS",
    "TOP_KEYS",
    "PlanLoader",
    "StepSource",
    "did_you_mean",
    "load_plan",
]

TOP_KEYS = ("version", "steps")
STEP_KEYS = (
    "kind",
    "name",
    "key",
    "items",
    "source",
    "defaults",
    "columns",
    "count",
    "criteria",
    "template",
)
CRITERIA_KEYS = ("state", "npa", "nxx", "locality", "country_code")
#: The most numbers a plan rents by `count:` (all its steps together). CarrierX documents no
#: ceiling (Rent DID takes one number per request), so this is bulkx's: twice its largest
#: benchmarked run, some $60,000 a month at $0.60 a number. More is a typo (or a spare zero)
#: far more often than an intent; split a real need over plans.
MAX_RENT_COUNT = 100_000
#: Steps in one plan. Each is checked and read on its own (a few milliseconds, a few requests);
#: real plans have a handful, as one step holds any number of items.
MAX_STEPS = 1000


def _pos(shown: str, lc: Any, fallback: Position | None = None) -> Position:
    """The position of ruamel's (line, column), 0-based; `fallback` (else the file's start)
    where ruamel kept none (a tagged node's children)."""
    if isinstance(lc, tuple | list) and len(lc) == 2 and all(isinstance(n, int) for n in lc):
        return Position(shown, lc[0] + 1, lc[1] + 1)
    return fallback or Position(shown, 1, 1)


def _template_columns(defaults: Any) -> set[str]:
    wanted: set[str] = set()
    if isinstance(defaults, Mapping):
        for value in defaults.values():
            if isinstance(value, str):
                with contextlib.suppress(ValueError):
                    wanted.update(n for _, n, _, _ in string.Formatter().parse(value) if n)
    return wanted


class PlanLoader(SourceReader):
    def __init__(self, path: Path, kind: str | None) -> None:
        super().__init__()
        self.path = path
        self.shown = str(path)
        self.kind_option = kind
        self.steps: list[Step] = []
        #: Numbers rented by the `count:` steps read so far (MAX_RENT_COUNT bounds them).
        self.rented = 0

    def run(self) -> Plan | None:
        if self.kind_option is not None and self.kind_option not in KINDS:
            self.error(
                Position(self.shown, 0),
                f"unknown kind {self.kind_option!r}",
                "BX020",
                did_you_mean(self.kind_option, KINDS) or _kinds_hint(),
            )
            return None
        data = self.read_source(self.path, self.shown, Position(self.shown, 0))
        if data is None:
            return None
        first = _first_line(data)
        is_csv = self.path.suffix.lower() in (".csv", ".txt") or bool(KIND_LINE.match(first))
        if self.kind_option is not None and self.path.suffix.lower() not in (".yaml", ".yml"):
            is_csv = True
        if is_csv:
            self.load_csv_plan(data, first)
        else:
            # A CSV is parsed from its bytes; a YAML plan (small) from its text.
            self.load_yaml_plan(self.decode(data, self.shown) or "")
        self.flush_capped()
        if any(d.severity == "error" for d in self.diagnostics) and not self.steps:
            return None
        return Plan(
            self.shown,
            tuple(self.steps),
            self.digest.hexdigest(),
            sources=tuple(self.sources),
            kind=self.kind_option,
        )

    def load_csv_plan(self, data: bytes, first: str) -> None:
        match = KIND_LINE.match(first)
        name = self.kind_option or (match.group(1) if match else None)
        if name is None:
            self.error(
                Position(self.shown, 1),
                "a CSV plan needs a kind",
                "BX020",
                "pass --kind did, or make the first line '# kind: did'",
            )
            return
        kind = KINDS.get(name)
        if kind is None:
            self.error(
                Position(self.shown, 1, 1),
                f"unknown kind {name!r}",
                "BX020",
                did_you_mean(name, KINDS) or _kinds_hint(),
            )
            return
        read = self.read_csv(data, self.shown)
        if read is None:
            return
        builder = StepBuilder(self, kind)
        builder.add_csv(read[0], self.shown, read[1], {}, set())
        self.finish(builder, kind.name, Position(self.shown, 1))

    def load_yaml_plan(self, text: str) -> None:
        doc = self.parse_yaml(text)
        if doc is None:
            return
        refused = check_document(doc, self.shown)
        if refused is not None:
            self.diagnostics.append(refused)
            return
        steps = self.steps_of(doc)
        if steps is None:
            return
        if len(steps) > MAX_STEPS:
            self.error(
                _pos(self.shown, steps.lc.item(MAX_STEPS)),
                f"the plan has {len(steps):,} steps (at most {MAX_STEPS:,})",
                "BX006",
                "a step takes any number of items: merge steps of one kind, or split the plan",
            )
            return
        for i, step in enumerate(steps):
            at = _pos(self.shown, steps.lc.item(i))
            if not isinstance(step, CommentedMap):
                self.error(at, "a step must be a mapping with a 'kind'", "BX007", check="steps")
                continue
            self.load_step(step, at, i)

    def parse_yaml(self, text: str) -> Any:
        """The round-trip document, or None and a positioned syntax error."""
        try:
            return YAML(typ="rt").load(text)
        except Exception as exc:  # ruamel raises many types, all meaning "not valid YAML"
            self.error(*_syntax_error(self.shown, exc))
            return None

    def steps_of(self, doc: Any) -> CommentedSeq | None:
        """The plan's list of steps (a mapping's `steps:`, or the document itself), its
        top-level keys checked; None (and an error) if there is none."""
        if isinstance(doc, CommentedSeq):
            return doc
        if not isinstance(doc, CommentedMap):
            self.error(
                Position(self.shown, 1, 1),
                "a plan is a mapping with 'steps' or a list",
                "BX006",
                "start with 'version: 1' and 'steps:'",
            )
            return None
        for key in doc:
            if key not in TOP_KEYS:
                self.error(
                    _pos(self.shown, doc.lc.key(key)),
                    f"unknown top-level key {key!r}",
                    "BX006",
                    did_you_mean(key, TOP_KEYS) or "allowed: version, steps",
                    check="unknown top-level keys",
                )
        version = doc.get("version", 1)
        if version != 1:
            at = _pos(self.shown, doc.lc.value("version"))
            self.error(at, f"unsupported plan version {version!r}", "BX006", "use version: 1")
        steps = doc.get("steps")
        if not isinstance(steps, CommentedSeq):
            where = doc.lc.value("steps") if "steps" in doc else (doc.lc.line, doc.lc.col)
            self.error(
                _pos(self.shown, where),
                "'steps' must be a list of steps",
                "BX006",
                "steps:\n  - kind: did\n    items: [...]",
            )
            return None
        return steps

    def load_step(self, node: CommentedMap, at: Position, index: int) -> None:
        shown = self.shown
        self.unknown_step_keys(node, at)
        kind_name = node.get("kind")
        if kind_name is None:
            self.error(
                at, "step has no 'kind'", "BX007", _kinds_hint(), check="steps without a kind"
            )
            return
        kind = KINDS.get(str(kind_name))
        if kind is None:
            self.error(
                _pos(shown, node.lc.value("kind"), at),
                f"unknown kind {kind_name!r}",
                "BX020",
                did_you_mean(kind_name, KINDS) or _kinds_hint(),
                check="unknown kinds",
            )
            return
        builder = StepBuilder(self, kind)
        self.step_keys(builder, node, at)
        if "items" in node:
            builder.add_items(node["items"], shown, builder.source.keys["items"])
        defaults = node.get("defaults") if isinstance(node.get("defaults"), CommentedMap) else {}
        renames = node.get("columns") if isinstance(node.get("columns"), CommentedMap) else {}
        if "source" in node:
            self.add_source(
                builder,
                node["source"],
                builder.source.keys["source"],
                renames,
                _template_columns(defaults),
            )
        count = self.load_count(builder, node, at)
        criteria = node.get("criteria") or {}
        template = node.get("template") or {}
        if "items" not in node and "source" not in node and "count" not in node:
            self.error(
                at,
                f"step {kind.name} has no items, source or count",
                "BX007",
                "add items: [...] or source: file.csv",
                check="steps with no items, source or count",
            )
            builder.failed = True
        name = str(node.get("name") or f"{kind.name}#{index + 1}")
        frame = builder.apply_defaults(builder.frame(), defaults, shown)
        self.finish(
            builder,
            name,
            at,
            frame=frame,
            count=count,
            criteria={str(k): plain(v) for k, v in dict(criteria).items()}
            if isinstance(criteria, Mapping)
            else {},
            template={str(k): scalar(v) for k, v in dict(template).items()}
            if isinstance(template, Mapping)
            else {},
        )

    def unknown_step_keys(self, node: CommentedMap, at: Position) -> None:
        for key in node:
            if key not in STEP_KEYS:
                self.error(
                    _pos(self.shown, node.lc.key(key), at),
                    f"unknown step key {key!r}",
                    "BX007",
                    did_you_mean(key, STEP_KEYS) or f"allowed: {', '.join(STEP_KEYS)}",
                    check="unknown step keys",
                )

    def step_keys(self, builder: StepBuilder, node: CommentedMap, at: Position) -> None:
        """The position of each step key (and sub-key), and the checks of their shapes."""
        shown, kind = self.shown, builder.kind
        for key in ("defaults", "columns", "criteria", "template"):
            sub = node.get(key)
            if isinstance(sub, CommentedMap):
                for k in sub:
                    builder.source.keys[f"{key}.{k}"] = _pos(shown, sub.lc.value(k), at)
            elif sub is not None:
                where = _pos(shown, node.lc.value(key), at)
                self.error(where, f"'{key}' must be a mapping", "BX007")
        for key in ("count", "key", "source", "items", "name"):
            if key in node:
                builder.source.keys[key] = _pos(shown, node.lc.value(key), at)
        if "key" in node and node["key"] != kind.key:
            self.error(
                builder.source.keys["key"],
                f"key of {kind.name} is {kind.key!r}, not {node['key']!r}",
                "BX007",
                f"write key: {kind.key} or leave it out",
            )

    def load_count(self, builder: StepBuilder, node: CommentedMap, at: Position) -> int | None:
        """A `count:` step's count (None if it has none or a bad one), its criteria's and
        template's keys checked."""
        kind = builder.kind
        count = node.get("count")
        criteria = node.get("criteria") or {}
        template = node.get("template") or {}
        if "count" not in node:
            if criteria or template:
                self.error(
                    at, "criteria/template need count:", "BX008", "add count: N to rent N numbers"
                )
            return None
        where = builder.source.keys["count"]
        checked: int | None = None
        if not kind.rentable:
            self.error(where, "count: is only for kind did", "BX008", "list the items instead")
        elif isinstance(count, bool) or not isinstance(count, int) or count < 1:
            self.error(where, f"count must be a positive integer, not {count!r}", "BX008")
            builder.failed = True
        else:
            checked = self.check_rent_ceiling(count, where, builder)
        for k in criteria if isinstance(criteria, Mapping) else ():
            if k not in CRITERIA_KEYS:
                self.error(
                    builder.source.keys[f"criteria.{k}"],
                    f"unknown criterion {k!r}",
                    "BX008",
                    did_you_mean(k, CRITERIA_KEYS) or f"criteria: {', '.join(CRITERIA_KEYS)}",
                )
        for k in template if isinstance(template, Mapping) else ():
            if k not in kind.by_name or k == kind.key:
                builder.unknown_field(str(k), builder.source.keys[f"template.{k}"])
        return checked

    def check_rent_ceiling(self, count: int, where: Position, builder: StepBuilder) -> int | None:
        """`count` if the plan's rentals stay within MAX_RENT_COUNT, else an error and None."""
        self.rented += count
        if self.rented <= MAX_RENT_COUNT:
            return count
        hint = (
            f"bulkx rents at most {MAX_RENT_COUNT:,} numbers per plan (CarrierX sets no"
            " documented limit; this one guards against a spare zero): check the count, or"
            " split the rental over several plans"
        )
        if count > MAX_RENT_COUNT:
            message = f"count {count:,} is more numbers than one plan may rent"
        else:
            message = f"count: steps rent {self.rented:,} numbers in all, more than one plan may"
        self.error(where, message, "BX008", hint)
        builder.failed = True
        return None

    def add_source(
        self,
        builder: StepBuilder,
        value: Any,
        at: Position,
        renames: Mapping[str, Any],
        wanted: set[str],
    ) -> None:
        if not isinstance(value, str) or not value:
            self.error(at, "source must be a CSV file path", "BX007", "e.g. source: dids.csv")
            builder.failed = True
            return
        path = self.path.parent / value
        shown = os.path.normpath(path)
        data = self.read_source(path, value, at)
        read = None if data is None else self.read_csv(data, shown)
        if read is None:
            builder.failed = True
            return
        renames = {str(k): str(v) for k, v in renames.items()}
        for plan_name in renames:
            if plan_name not in builder.kind.by_name:
                self.error(
                    builder.source.keys.get(f"columns.{plan_name}", at),
                    f"columns: {plan_name!r} is not a field of {builder.kind.name}",
                    "BX010",
                    did_you_mean(plan_name, builder.kind.by_name),
                )
        builder.add_csv(read[0], shown, read[1], renames, wanted)

    def finish(
        self,
        builder: StepBuilder,
        name: str,
        at: Position,
        *,
        frame: pl.DataFrame | None = None,
        count: Any = None,
        criteria: Mapping[str, Any] | None = None,
        template: Mapping[str, Any] | None = None,
    ) -> None:
        if builder.failed:
            return
        rows = builder.frame() if frame is None else frame
        rows = rows.select([c for c in rows.columns if not c.startswith("__tpl_")])
        ordered = [f.name for f in builder.kind.fields if f.name in rows.columns]
        rows = rows.select([*ordered, SOURCE_FILE, SOURCE_LINE])
        step = Step(
            builder.kind.name,
            name,
            at,
            rows,
            count,
            criteria or {},
            template or {},
            source=builder.source,
        )
        self.steps.append(step)


def _first_line(data: bytes) -> str:
    """The first line of a plan's bytes (valid UTF-8), stripped, past any BOM."""
    end = data.find(b"\n")
    head = data if end < 0 else data[:end]
    return head.decode("utf-8").lstrip("\ufeff").strip()


def _kinds_hint() -> str:
    return f"known kinds: {', '.join(sorted(KINDS))}"


def load_plan(path: str | Path, *, kind: str | None = None) -> tuple[Plan | None, list[Diagnostic]]:
    """Load a YAML or CSV plan. Bad input gives diagnostics, never an exception."""
    loader = PlanLoader(Path(path), kind)
    plan = loader.run()
    return plan, loader.diagnostics


#: ruamel's names for what can be left open, in a plan author's words.
_CONSTRUCTS = {
    "quoted scalar": "quoted value",
    "flow sequence": "[ ] list",
    "flow mapping": "{ } mapping",
}


def _syntax_error(shown: str, exc: Exception) -> tuple[Position, str, str, str]:
    """Where a YAML syntax error is, what it is, and a hint. A construct left open (a quote,
    a bracket) is only noticed at the end of the file: its start is the place to look, so
    that is the position, and where the parser gave up is the note."""
    problem_mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    hint = "check indentation and quoting around this point"
    mark = problem_mark or context_mark
    gave_up_at_the_end = "end of stream" in problem or "<stream end>" in problem
    opened_earlier = context_mark is not None and context_mark.line != getattr(
        problem_mark, "line", None
    )
    if context_mark is not None and context and gave_up_at_the_end and opened_earlier:
        mark = context_mark
        construct = context.removeprefix("while scanning ").removeprefix("while parsing ")
        for jargon, plain in _CONSTRUCTS.items():
            construct = construct.replace(jargon, plain)
        ended = f" (the parser reached line {problem_mark.line + 1})" if problem_mark else ""
        problem = f"{construct} that starts here is never closed{ended}"
        hint = "close the quote or bracket that starts here"
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 0)
    return Position(shown, line, col), f"YAML syntax error: {problem}", "BX005", hint
