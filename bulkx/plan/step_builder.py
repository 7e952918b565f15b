"""One step's rows, built from a YAML step: inline items, CSV sources (with column renames),
and defaults (with `{column}` templates), into one string frame.

Where each cell came from is collected in a `StepSource`, which the loader puts in the `Step`
(`Step.source`), so that `bulkx.plan.validate` can point at the cell of every problem it finds;
`did_you_mean` is the hint both offer for a misspelt name.
"""

from __future__ import annotations

import difflib
import json
import string
from collections.abc import Mapping
from typing import Any

import polars as pl
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from bulkx.kinds.model import Kind
from bulkx.plan.csv_source import SourceReader
from bulkx.plan.model import CLEAR_MARKER, SOURCE_FILE, SOURCE_LINE, Position, StepSource


def did_you_mean(word: str, choices: Any) -> str | None:
    for choice in choices:
        if str(choice).lower() == str(word).lower():
            return f"did you mean {str(choice)!r}?"
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def scalar(value: Any) -> str | None:
    """An item value as the string a CSV cell would hold (validate types it later)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(plain(value), sort_keys=True)
    return str(value)


def plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


class StepBuilder:
    """One step: inline items, CSV source, renames and defaults, into one string frame."""

    def __init__(self, loader: SourceReader, kind: Kind) -> None:
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
        self.loader.error(
            pos,
            f"unknown {what} {name!r} for kind {self.kind.name}",
            "BX010",
            hint,
            check=f"unknown {what}s for kind {self.kind.name}",
        )

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
                    check="items that are not mappings",
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
                # A key written with no value (null, ~, "") clears the field; one left out
                # leaves it as it is.
                record[name] = CLEAR_MARKER if value is None or value == "" else scalar(value)
            records.append(record)
            lines.append(item.lc.line + 1)
        if records:
            names = list(dict.fromkeys(k for r in records for k in r))
            # One frame from all columns at once: items whose only keys were unknown give
            # rows with no field, and a frame of no columns would have no rows to add to.
            columns: dict[str, list[Any]] = {n: [r.get(n) for r in records] for n in names}
            columns[SOURCE_FILE] = [shown] * len(records)
            columns[SOURCE_LINE] = lines
            schema = {**dict.fromkeys(names, pl.String), SOURCE_FILE: pl.String}
            frame = pl.DataFrame(columns, schema={**schema, SOURCE_LINE: pl.Int64})
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
        by_csv = self.check_renames(shown, header, renames)
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
                    check="duplicate column headers",
                )
                continue
            # By position (the header comes first in the frame): a header such as `*` or
            # `^x$` is a wildcard or a regex to pl.col().
            if plan_name in columns:
                self.loader.error(
                    self.source.keys.get(
                        f"columns.{plan_name}", Position(shown, header_line, number)
                    ),
                    f"two columns of {shown} would be {plan_name!r}: {name!r} and"
                    f" {header[columns[plan_name] - 1]!r}",
                    "BX012",
                    "rename only a column the CSV does not already have under that name",
                )
            elif plan_name in self.kind.by_name:
                columns[plan_name] = number
                keep.append(pl.nth(number - 1).alias(plan_name))
            elif name in wanted:
                keep.append(pl.nth(number - 1).alias(f"__tpl_{name}"))
            else:
                self.unknown_field(name, Position(shown, header_line, number), "column")
        self.source.csv_columns[shown] = columns
        self.frames.append(frame.select([*keep, pl.col(SOURCE_FILE), pl.col(SOURCE_LINE)]))
        self.rows += frame.height

    def check_renames(
        self, shown: str, header: list[str], renames: Mapping[str, str]
    ) -> dict[str, str]:
        """CSV column -> plan field, from `columns:`; an error for a column not in the CSV and
        for one renamed twice."""
        by_csv: dict[str, str] = {}
        for plan_name, csv_name in renames.items():
            at = self.source.keys.get(f"columns.{plan_name}", Position(shown, 1))
            if csv_name not in header:
                self.loader.error(
                    at,
                    f"column {csv_name!r} is not in {shown}",
                    "BX012",
                    did_you_mean(csv_name, header),
                )
            elif csv_name in by_csv:
                self.loader.error(
                    at,
                    f"column {csv_name!r} is already renamed to {by_csv[csv_name]!r}",
                    "BX012",
                    "a CSV column can be one field: rename it once",
                )
            else:
                by_csv[csv_name] = plan_name
        return by_csv

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
            text = scalar(value)
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
