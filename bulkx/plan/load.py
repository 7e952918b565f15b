"""Read a plan (YAML and/or CSV) into plain data, with a position for every problem.

Loading checks structure only: readable files, known kinds, keys and columns. Value checks
(numbers, enums, references, duplicates) belong to `bulkx.plan.validate`. Rows are kept as
strings here; `validate` writes the normalised, typed values back.

Positions: YAML lines/columns come from ruamel's round-trip nodes. CSV positions are
`file:line:field` where `line` is the physical line (header = line 1, or 2 after a `# kind:`
line) and `field` the 1-based field number. A quoted cell spanning lines is supported through a
slower pure-Python path, so line numbers stay physical.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import hashlib
import io
import json
import os
import re
import string
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from bulkx.plan.model import SOURCE_FILE, SOURCE_LINE, Diagnostic, Plan, Position, Step
from bulkx.resources.kinds import KINDS
from bulkx.resources.model import Kind

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
#: Cap per-check diagnostics so a million bad rows do not print a million lines.
MAX_ROW_DIAGNOSTICS = 50
_KIND_LINE = re.compile(r"^#\s*kind\s*:\s*(\S+)\s*$")


@dataclass
class StepSource:
    """Where a step's cells came from, for positioned diagnostics after loading."""

    #: (row index, field) -> (line, column) of YAML item values.
    cells: dict[tuple[int, str], tuple[int, int]] = field(default_factory=dict)
    #: file -> plan field -> 1-based CSV field number.
    csv_columns: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Step-level keys ("count", "criteria.state", "template.trunk_group") -> position.
    keys: dict[str, Position] = field(default_factory=dict)


# Step is a frozen contract type; positions live beside it rather than in it.
_SOURCES: dict[int, StepSource] = {}


def source_of(step: Step) -> StepSource:
    return _SOURCES.get(id(step)) or StepSource()


def _remember(step: Step, source: StepSource) -> None:
    _SOURCES[id(step)] = source
    weakref.finalize(step, _SOURCES.pop, id(step), None)


def did_you_mean(word: str, choices: Any) -> str | None:
    for choice in choices:
        if str(choice).lower() == str(word).lower():
            return f"did you mean {str(choice)!r}?"
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


class _Loader:
    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.digest = hashlib.sha256()
        #: Every file read, as (path shown, bytes): a run's journal keeps them.
        self.sources: list[tuple[str, bytes]] = []

    def error(
        self, pos: Position, message: str, code: str, hint: str | None = None, *, warn: bool = False
    ) -> None:
        self.diagnostics.append(
            Diagnostic(pos, message, code, hint, "warning" if warn else "error")
        )

    # --- files -------------------------------------------------------------------------------

    def read_text(self, path: Path, shown: str, at: Position) -> str | None:
        if not path.exists():
            self.error(
                at, f"no such file: {shown}", "BX001", "check the path (relative to the plan)"
            )
            return None
        if path.is_dir():
            self.error(
                at, f"{shown} is a directory, not a plan file", "BX001", "name a .yaml or .csv file"
            )
            return None
        try:
            data = path.read_bytes()
        except OSError as exc:
            self.error(at, f"cannot read {shown}: {exc.strerror or exc}", "BX001")
            return None
        self.digest.update(data)
        self.sources.append((shown, data))
        return self.decode(data, shown)

    def decode(self, data: bytes, shown: str) -> str | None:
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        if b"\x00" in data[:8192]:
            line = data[: data.index(b"\x00")].count(b"\n") + 1
            self.error(
                Position(shown, line),
                "binary data (NUL byte), not a text plan",
                "BX002",
                "plans are UTF-8 YAML or CSV files",
            )
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            self.error(
                Position(shown, line, column),
                f"invalid UTF-8 (byte 0x{data[exc.start]:02x})",
                "BX002",
                "save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
            )
            return None
        if not text.strip():
            self.error(Position(shown, 1), "empty file", "BX003", "a plan needs at least one step")
            return None
        return text

    # --- CSV ---------------------------------------------------------------------------------

    def read_csv(self, text: str, shown: str) -> tuple[pl.DataFrame, int] | None:
        """Rows as strings plus __file/__line, and the header's line number."""
        lines_before = 0
        while True:
            end = text.find("\n")
            first = text if end < 0 else text[:end]
            if first.strip() == "" or _KIND_LINE.match(first.strip()):
                lines_before += 1
                text = "" if end < 0 else text[end + 1 :]
                if end < 0:
                    break
                continue
            break
        header_line = lines_before + 1
        if not text.strip():
            self.error(
                Position(shown, header_line),
                "CSV has no header line",
                "BX003",
                "the first line names the columns, e.g. phonenumber,name",
            )
            return None
        stripped = re.sub(r'"[^"]*"?', '""', text)
        if stripped.count("\n") == text.count("\n"):
            frame = self._csv_fast(text, stripped, shown, header_line)
        else:
            frame = self._csv_slow(text, shown, header_line)
        return None if frame is None else (frame, header_line)

    def _ragged(self, shown: str, bad: list[tuple[int, int]], total: int, width: int) -> None:
        # Ragged rows are reported and left out; the rest of the file is still checked.
        for line, n in bad[:MAX_ROW_DIAGNOSTICS]:
            self.error(
                Position(shown, line),
                f"row has {n} fields, the header has {width}",
                "BX004",
                "check for a missing or extra comma, or quote cells with commas",
            )
        if total > MAX_ROW_DIAGNOSTICS:
            self.error(
                Position(shown, bad[MAX_ROW_DIAGNOSTICS][0]),
                f"... and {total - MAX_ROW_DIAGNOSTICS} more ragged rows",
                "BX004",
            )

    def _csv_fast(
        self, text: str, stripped: str, shown: str, header_line: int
    ) -> pl.DataFrame | None:
        # No quoted newline: record i is physical line header_line + 1 + i, and field counts
        # can be taken from the quote-stripped text without a CSV parser.
        lines = pl.Series("l", stripped.split("\n"), dtype=pl.String).str.strip_suffix("\r")
        counts = lines.str.count_matches(",") + 1
        width = int(counts[0])
        numbered = pl.DataFrame({"n": counts, "blank": lines.str.strip_chars() == ""})
        numbered = numbered.with_row_index("i").slice(1)
        bad = numbered.filter((pl.col("n") != width) & ~pl.col("blank"))
        first_bad = bad.head(MAX_ROW_DIAGNOSTICS + 1).iter_rows()
        self._ragged(shown, [(header_line + i, n) for i, n, _ in first_bad], bad.height, width)
        try:
            frame = pl.read_csv(
                io.BytesIO(text.encode()),
                infer_schema=False,
                raise_if_empty=False,
                truncate_ragged_lines=True,
            )
        except Exception as exc:  # polars' CSV errors have no common base worth naming
            self.error(
                Position(shown, header_line), f"cannot parse CSV: {exc}".splitlines()[0], "BX004"
            )
            return None
        frame = frame.with_columns(
            pl.lit(shown).alias(SOURCE_FILE),
            (pl.int_range(pl.len(), dtype=pl.Int64) + header_line + 1).alias(SOURCE_LINE),
        )
        if bad.height:
            frame = frame.filter(~pl.col(SOURCE_LINE).is_in(bad["i"] + header_line))
        # By position, not by name: a header cell such as `*` or `^x$` is a wildcard or a
        # regex to pl.col().
        data_cols = [i for i, c in enumerate(frame.columns) if c not in (SOURCE_FILE, SOURCE_LINE)]
        if not data_cols:
            return frame
        blank = pl.all_horizontal(
            [pl.nth(i).is_null() | (pl.nth(i).str.strip_chars() == "") for i in data_cols]
        )
        return frame.filter(~blank)

    def _csv_slow(self, text: str, shown: str, header_line: int) -> pl.DataFrame | None:
        reader = csv.reader(io.StringIO(text, newline=""))
        rows: list[list[str]] = []
        lines: list[int] = []
        bad: list[tuple[int, int]] = []
        header: list[str] | None = None
        start = 1
        try:
            for record in reader:
                at = header_line - 1 + start
                start = reader.line_num + 1
                if header is None:
                    header = record
                    continue
                if not record or all(not c.strip() for c in record):
                    continue
                if len(record) != len(header):
                    bad.append((at, len(record)))
                    continue
                rows.append(record)
                lines.append(at)
        except csv.Error as exc:
            self.error(
                Position(shown, header_line - 1 + reader.line_num), f"bad CSV: {exc}", "BX004"
            )
            return None
        if header is None:
            return None
        self._ragged(shown, bad, len(bad), len(header))
        names = _dedupe(header)
        columns = {n: [r[i] for r in rows] for i, n in enumerate(names)}
        frame = pl.DataFrame(columns, schema=dict.fromkeys(names, pl.String))
        return frame.with_columns(
            pl.lit(shown).alias(SOURCE_FILE), pl.Series(SOURCE_LINE, lines, dtype=pl.Int64)
        )


def _dedupe(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, -1) + 1
        out.append(n if seen[n] == 0 else f"{n}_duplicated_{seen[n] - 1}")
    return out


def _scalar(value: Any) -> str | None:
    """An item value as the string a CSV cell would hold (validate types it later)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(_plain(value), sort_keys=True)
    return str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


class _StepBuilder:
    """One step: inline items, CSV source, renames and defaults, into one string frame."""

    def __init__(self, loader: _Loader, kind: Kind) -> None:
        self.loader = loader
        self.kind = kind
        self.source = StepSource()
        self.frames: list[pl.DataFrame] = []
        self.rows = 0
        #: A source could not be read: the step is left out (its error is reported).
        self.failed = False

    def unknown_field(self, name: str, pos: Position, what: str = "field") -> None:
        hint = did_you_mean(name, self.kind.by_name) or (
            f"fields of {self.kind.name}: {', '.join(self.kind.by_name)}"
        )
        self.loader.error(pos, f"unknown {what} {name!r} for kind {self.kind.name}", "BX010", hint)

    def add_items(self, items: Any, shown: str, pos: Position) -> None:
        if not isinstance(items, CommentedSeq):
            self.loader.error(
                pos,
                "items must be a list of mappings",
                "BX011",
                "write items: as '- field: value' entries",
            )
            return
        records: list[dict[str, str | None]] = []
        lines: list[int] = []
        for i, item in enumerate(items):
            line, col = items.lc.item(i)
            if not isinstance(item, CommentedMap):
                self.loader.error(
                    Position(shown, line + 1, col + 1),
                    "an item must be a mapping",
                    "BX011",
                    "e.g. - {phonenumber: '+15162065575'}",
                )
                continue
            record: dict[str, str | None] = {}
            row = self.rows + len(records)
            for key, value in item.items():
                kline, kcol = item.lc.key(key)
                name = str(key)
                if name not in self.kind.by_name:
                    self.unknown_field(name, Position(shown, kline + 1, kcol + 1))
                    continue
                vline, vcol = item.lc.value(key)
                self.source.cells[(row, name)] = (vline + 1, vcol + 1)
                record[name] = _scalar(value)
            records.append(record)
            lines.append(item.lc.line + 1)
        if records:
            names = list(dict.fromkeys(k for r in records for k in r))
            frame = pl.DataFrame(
                {n: [r.get(n) for r in records] for n in names},
                schema=dict.fromkeys(names, pl.String),
            ).with_columns(
                pl.lit(shown).alias(SOURCE_FILE), pl.Series(SOURCE_LINE, lines, dtype=pl.Int64)
            )
            self.frames.append(frame)
            self.rows += frame.height

    def add_csv(
        self,
        frame: pl.DataFrame,
        shown: str,
        header_line: int,
        renames: Mapping[str, str],
        wanted: set[str],
    ) -> None:
        header = [c for c in frame.columns if c not in (SOURCE_FILE, SOURCE_LINE)]
        by_csv = {csv_name: plan for plan, csv_name in renames.items()}
        for plan_name, csv_name in renames.items():
            if csv_name not in header:
                self.loader.error(
                    self.source.keys.get(f"columns.{plan_name}", Position(shown, 1)),
                    f"column {csv_name!r} is not in {shown}",
                    "BX012",
                    did_you_mean(csv_name, header),
                )
        columns: dict[str, int] = {}
        keep: list[pl.Expr] = []
        for number, name in enumerate(header, start=1):
            plan_name = by_csv.get(name, name)
            if "_duplicated_" in name:
                self.loader.error(
                    Position(shown, header_line, number),
                    "duplicate column header",
                    "BX012",
                    "each column name must appear once",
                )
                continue
            if plan_name in self.kind.by_name:
                columns[plan_name] = number
                keep.append(pl.col(name).alias(plan_name))
            elif name in wanted:
                keep.append(pl.col(name).alias(f"__tpl_{name}"))
            else:
                self.unknown_field(name, Position(shown, header_line, number), "column")
        self.source.csv_columns[shown] = columns
        self.frames.append(frame.select([*keep, pl.col(SOURCE_FILE), pl.col(SOURCE_LINE)]))
        self.rows += frame.height

    def frame(self) -> pl.DataFrame:
        if not self.frames:
            return pl.DataFrame(schema={SOURCE_FILE: pl.String, SOURCE_LINE: pl.Int64})
        return pl.concat(self.frames, how="diagonal_relaxed")

    def apply_defaults(
        self, frame: pl.DataFrame, defaults: Mapping[str, Any], shown: str
    ) -> pl.DataFrame:
        exprs: list[pl.Expr] = []
        for name, value in defaults.items():
            pos = self.source.keys.get(f"defaults.{name}", Position(shown, 1))
            if name not in self.kind.by_name:
                self.unknown_field(str(name), pos)
                continue
            text = _scalar(value)
            if text is None:
                continue
            expr = self.template(text, frame, pos)
            if expr is None:
                continue
            if name in frame.columns:
                current = pl.col(name)
                expr = pl.when(current.is_null() | (current == "")).then(expr).otherwise(current)
            exprs.append(expr.alias(str(name)))
        if exprs and frame.height:
            frame = frame.with_columns(exprs)
        elif exprs:
            frame = frame.with_columns([e.cast(pl.String) for e in exprs])
        return frame

    def template(self, text: str, frame: pl.DataFrame, pos: Position) -> pl.Expr | None:
        """`"{name} line"` as a vectorised concatenation of literals and row columns."""
        try:
            parts = list(string.Formatter().parse(text))
        except ValueError as exc:
            self.loader.error(
                pos,
                f"bad template {text!r}: {exc}",
                "BX013",
                "write {column} to insert a column; {{ and }} for braces",
            )
            return None
        pieces: list[pl.Expr] = []
        ok = True
        for literal, name, spec, conversion in parts:
            if literal:
                pieces.append(pl.lit(literal))
            if name is None:
                continue
            if spec or conversion:
                self.loader.error(
                    pos,
                    f"template field {{{name}}}: format specs are not supported",
                    "BX013",
                    "use plain {column} placeholders",
                )
                ok = False
                continue
            column = name if name in frame.columns else f"__tpl_{name}"
            if column not in frame.columns:
                known = [c for c in frame.columns if not c.startswith("__")]
                self.loader.error(
                    pos,
                    f"template names unknown column {{{name}}}",
                    "BX013",
                    did_you_mean(name, known) or f"columns: {', '.join(known)}",
                )
                ok = False
                continue
            pieces.append(pl.col(column).fill_null(""))
        if not ok:
            return None
        if not pieces:
            return pl.lit("")
        return pl.concat_str(pieces)


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


class PlanLoader(_Loader):
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
        is_csv = self.path.suffix.lower() in (".csv", ".txt") or bool(_KIND_LINE.match(first))
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
        match = _KIND_LINE.match(first)
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
        builder = _StepBuilder(self, kind)
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
        builder = _StepBuilder(self, kind)
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
            criteria={str(k): _plain(v) for k, v in dict(criteria).items()}
            if isinstance(criteria, Mapping)
            else {},
            template={str(k): _scalar(v) for k, v in dict(template).items()}
            if isinstance(template, Mapping)
            else {},
        )

    def add_source(
        self,
        builder: _StepBuilder,
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
        builder: _StepBuilder,
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
        _remember(step, builder.source)
        self.steps.append(step)


def _kinds_hint() -> str:
    return f"known kinds: {', '.join(sorted(KINDS))}"


def load_plan(path: str | Path, *, kind: str | None = None) -> tuple[Plan | None, list[Diagnostic]]:
    """Load a YAML or CSV plan. Bad input gives diagnostics, never an exception."""
    loader = PlanLoader(Path(path), kind)
    plan = loader.run()
    return plan, loader.diagnostics
