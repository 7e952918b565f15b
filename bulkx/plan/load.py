"""Read a plan (YAML and/or CSV) into plain data, with a position for every problem.

Loading checks structure only: readable files, known kinds, keys and columns. Value checks
(numbers, enums, references, duplicates) belong to `bulkx.plan.validate`. Rows are kept as
strings here; `validate` writes the normalised, typed values back.

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

from bulkx.plan.csv_source import KIND_LINE, MAX_ROW_DIAGNOSTICS, SourceReader
from bulkx.plan.model import SOURCE_FILE, SOURCE_LINE, Diagnostic, Plan, Position, Step
from bulkx.plan.step_builder import (
    StepBuilder,
    StepSource,
    did_you_mean,
    plain,
    remember,
    scalar,
    source_of,
)
from bulkx.resources.kinds import KINDS

__all__ = [
    "CRITERIA_KEYS",
    "MAX_ROW_DIAGNOSTICS",
    "STEP_KEYS",
    "TOP_KEYS",
    "PlanLoader",
    "StepSource",
    "did_you_mean",
    "load_plan",
    "source_of",
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


def _pos(shown: str, lc: tuple[int, int]) -> Position:
    return Position(shown, lc[0] + 1, lc[1] + 1)


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

    def run(self) -> Plan | None:
        if self.kind_option is not None and self.kind_option not in KINDS:
            self.error(
                Position(self.shown, 0),
                f"unknown kind {self.kind_option!r}",
                "BX020",
                did_you_mean(self.kind_option, KINDS) or _kinds_hint(),
            )
            return None
        text = self.read_text(self.path, self.shown, Position(self.shown, 0))
        if text is None:
            return None
        first = text.lstrip("\ufeff").split("\n", 1)[0].strip()
        is_csv = self.path.suffix.lower() in (".csv", ".txt") or bool(KIND_LINE.match(first))
        if self.kind_option is not None and self.path.suffix.lower() not in (".yaml", ".yml"):
            is_csv = True
        if is_csv:
            self.load_csv_plan(text, first)
        else:
            self.load_yaml_plan(text)
        if any(d.severity == "error" for d in self.diagnostics) and not self.steps:
            return None
        return Plan(
            self.shown, tuple(self.steps), self.digest.hexdigest(),
            sources=tuple(self.sources), kind=self.kind_option,
        )  # fmt: skip

    def load_csv_plan(self, text: str, first: str) -> None:
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
        read = self.read_csv(text, self.shown)
        if read is None:
            return
        builder = StepBuilder(self, kind)
        builder.add_csv(read[0], self.shown, read[1], {}, set())
        self.finish(builder, kind.name, Position(self.shown, 1))

    def load_yaml_plan(self, text: str) -> None:
        yaml = YAML(typ="rt")
        try:
            doc = yaml.load(text)
        except Exception as exc:  # ruamel raises many types, all meaning "not valid YAML"
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 0)
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            self.error(
                Position(self.shown, line, col),
                f"YAML syntax error: {problem}",
                "BX005",
                "check indentation and quoting around this point",
            )
            return
        if isinstance(doc, CommentedMap):
            for key in doc:
                if key not in TOP_KEYS:
                    self.error(
                        _pos(self.shown, doc.lc.key(key)),
                        f"unknown top-level key {key!r}",
                        "BX006",
                        did_you_mean(key, TOP_KEYS) or "allowed: version, steps",
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
                return
        elif isinstance(doc, CommentedSeq):
            steps = doc
        else:
            self.error(
                Position(self.shown, 1, 1),
                "a plan is a mapping with 'steps' or a list",
                "BX006",
                "start with 'version: 1' and 'steps:'",
            )
            return
        for i, step in enumerate(steps):
            at = _pos(self.shown, steps.lc.item(i))
            if not isinstance(step, CommentedMap):
                self.error(at, "a step must be a mapping with a 'kind'", "BX007")
                continue
            self.load_step(step, at, i)

    def load_step(self, node: CommentedMap, at: Position, index: int) -> None:
        shown = self.shown
        for key in node:
            if key not in STEP_KEYS:
                self.error(
                    _pos(shown, node.lc.key(key)),
                    f"unknown step key {key!r}",
                    "BX007",
                    did_you_mean(key, STEP_KEYS) or f"allowed: {', '.join(STEP_KEYS)}",
                )
        kind_name = node.get("kind")
        if kind_name is None:
            self.error(at, "step has no 'kind'", "BX007", _kinds_hint())
            return
        kind = KINDS.get(str(kind_name))
        if kind is None:
            self.error(
                _pos(shown, node.lc.value("kind")),
                f"unknown kind {kind_name!r}",
                "BX020",
                did_you_mean(kind_name, KINDS) or _kinds_hint(),
            )
            return
        builder = StepBuilder(self, kind)
        for key in ("defaults", "columns", "criteria", "template"):
            sub = node.get(key)
            if isinstance(sub, CommentedMap):
                for k in sub:
                    builder.source.keys[f"{key}.{k}"] = _pos(shown, sub.lc.value(k))
            elif sub is not None:
                self.error(_pos(shown, node.lc.value(key)), f"'{key}' must be a mapping", "BX007")
        for key in ("count", "key", "source", "items", "name"):
            if key in node:
                builder.source.keys[key] = _pos(shown, node.lc.value(key))
        if "key" in node and node["key"] != kind.key:
            self.error(
                builder.source.keys["key"],
                f"key of {kind.name} is {kind.key!r}, not {node['key']!r}",
                "BX007",
                f"write key: {kind.key} or leave it out",
            )
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
        count = node.get("count")
        criteria = node.get("criteria") or {}
        template = node.get("template") or {}
        if "count" in node:
            if kind.name != "did":
                self.error(
                    builder.source.keys["count"],
                    "count: is only for kind did",
                    "BX008",
                    "list the items instead",
                )
                count = None
            elif isinstance(count, bool) or not isinstance(count, int) or count < 1:
                self.error(
                    builder.source.keys["count"],
                    f"count must be a positive integer, not {count!r}",
                    "BX008",
                )
                count = None
                builder.failed = True
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
        elif criteria or template:
            self.error(
                at, "criteria/template need count:", "BX008", "add count: N to rent N numbers"
            )
        if "items" not in node and "source" not in node and "count" not in node:
            self.error(
                at,
                f"step {kind.name} has no items, source or count",
                "BX007",
                "add items: [...] or source: file.csv",
            )
            builder.failed = True
        name = str(node.get("name") or f"{kind.name}#{index + 1}")
        frame = builder.apply_defaults(builder.frame(), defaults, shown)
        self.finish(
            builder,
            name,
            at,
            frame=frame,
            count=count if "count" in node else None,
            criteria={str(k): plain(v) for k, v in dict(criteria).items()}
            if isinstance(criteria, Mapping)
            else {},
            template={str(k): scalar(v) for k, v in dict(template).items()}
            if isinstance(template, Mapping)
            else {},
        )

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
        text = self.read_text(path, value, at)
        read = None if text is None else self.read_csv(text, shown)
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
        step = Step(builder.kind.name, name, at, rows, count, criteria or {}, template or {})
        remember(step, builder.source)
        self.steps.append(step)


def _kinds_hint() -> str:
    return f"known kinds: {', '.join(sorted(KINDS))}"


def load_plan(path: str | Path, *, kind: str | None = None) -> tuple[Plan | None, list[Diagnostic]]:
    """Load a YAML or CSV plan. Bad input gives diagnostics, never an exception."""
    loader = PlanLoader(Path(path), kind)
    plan = loader.run()
    return plan, loader.diagnostics
