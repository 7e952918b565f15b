"""Checks of each step's values on their own, field by field, normalising them in place.

The type rules (integers, booleans, US states, ZIP codes, URLs, enums, E.164 numbers, JSON
objects and lists), required fields and maximum lengths, and a `count:` step's template and
criteria. Each check of a step gives a new step of its normalised, typed values; the step it
was given (frozen) is left as it was.

`StepChecks` also collects the diagnostics and says where a cell is (file:line:column), for the
checks across steps built on it in `bulkx.plan.validate`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from bulkx.escaping import CONTROL_IN_VALUE, has_control, printable
from bulkx.kinds.model import Kind, PlanField
from bulkx.kinds.registry import KINDS
from bulkx.plan import numbers
from bulkx.plan.csv_source import MAX_ROW_DIAGNOSTICS, row_numbers
from bulkx.plan.model import (
    CLEAR_MARKER,
    CLEARED,
    SOURCE_FILE,
    SOURCE_LINE,
    Diagnostic,
    Plan,
    Position,
    Step,
)
from bulkx.plan.step_builder import did_you_mean

_STATES = """AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV
NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR VI UM AA AE AP"""
US_STATES = frozenset(_STATES.split())
TRUE = ("true", "yes", "1", "y", "on")
FALSE = ("false", "no", "0", "n", "off")
ROW = "__row"
#: Types whose values are text: an empty one is no value (null).
_TEXT_TYPES = ("str", "enum", "url", "state", "zip", "alpha3", "digits")
#: A cell that clears its field: the marker in any case, spaces around it ignored.
_CLEAR_CELL = rf"(?i)^\s*{CLEAR_MARKER}\s*$"
_CONTROL_HINT = (
    "a terminal acts on it (ESC can clear the screen, CR hide a line): remove it unless the"
    " API must store it"
)


@dataclass(frozen=True)
class _Check:
    """One type rule for a field: the normalised column, and a mask of bad cells."""

    value: pl.Expr
    bad: pl.Expr
    code: str
    message: str
    hint: str


def _empty(col: pl.Expr) -> pl.Expr:
    return col.is_null() | (col == "")


def _none_if_empty(col: pl.Expr) -> pl.Expr:
    return pl.when(_empty(col)).then(None).otherwise(col)


def _regex_check(s: pl.Expr, pattern: str, code: str, what: str, hint: str) -> _Check:
    return _Check(s, ~_empty(s) & ~s.str.contains(pattern), code, f"is not {what}", hint)


# The rule of `spec`'s type over its column, as text stripped of surrounding spaces.
def _type_check(spec: PlanField) -> _Check | None:
    s = pl.col(spec.name)
    kind = spec.type
    if kind == "int":
        value = s.cast(pl.Int64, strict=False)
        return _Check(
            value,
            ~_empty(s) & value.is_null(),
            "BX103",
            "is not an integer",
            "write a whole number, e.g. 10",
        )
    if kind == "bool":
        low = s.str.to_lowercase()
        value = pl.when(low.is_in(TRUE)).then(True).when(low.is_in(FALSE)).then(False)
        return _Check(
            value.otherwise(None),
            ~_empty(s) & ~low.is_in(TRUE + FALSE),
            "BX104",
            "is not a boolean",
            "use true/false, yes/no or 1/0",
        )
    if kind == "state":
        up = s.str.to_uppercase()
        return _Check(
            up,
            ~_empty(s) & ~up.is_in(sorted(US_STATES)),
            "BX105",
            "is not a US state or territory code",
            "use the 2-letter code, e.g. NY",
        )
    if kind == "zip":
        return _regex_check(
            s, r"^\d{5}(-\d{4})?$", "BX106", "a ZIP code", "use 5 digits or ZIP+4 (12345-6789)"
        )
    if kind == "alpha3":
        up = s.str.to_uppercase()
        check = _regex_check(
            up, r"^[A-Z]{3}$", "BX107", "an ISO 3166 alpha-3 country code", "e.g. USA, CAN"
        )
        return check
    if kind == "url":
        return _regex_check(
            s,
            r"^https?://[^\s/?#]+[^\s]*$",
            "BX108",
            "an http(s) URL",
            "e.g. https://example.com/callback",
        )
    if kind == "digits":
        return _regex_check(s, r"^\d+$", "BX109", "all digits", "use digits only")
    if kind == "enum":
        return _Check(
            s,
            ~_empty(s) & ~s.is_in(list(spec.choices)),
            "BX102",
            "is not one of " + ", ".join(spec.choices),
            "",
        )
    return _Check(s, pl.lit(False), "", "", "")


def _absent(step: Step) -> pl.Series:
    """Per row: the item says `ensure: absent` (it is to be deleted)."""
    if "ensure" not in step.rows.columns:
        return pl.Series([False] * step.rows.height, dtype=pl.Boolean)
    return (step.rows["ensure"].cast(pl.String).str.strip_chars() == "absent").fill_null(False)


def _identifies(kind: Kind, name: str) -> bool:
    """The field is part of what names an object (its key or the key's scope)."""
    return name in (kind.key, kind.scope_field)


def _why_not_clearable(kind: Kind, spec: PlanField) -> tuple[str, str, str]:
    """(message, code, hint) for a clear of a field that cannot be cleared: BX112 as for any
    required field left empty, else BX116."""
    name = spec.name
    keep = "leave the cell empty (the YAML key out) to leave it as it is"
    if name in (kind.key, kind.scope_field, kind.parent_field) or spec.required:
        return f"{name} is required: it cannot be cleared", "BX112", f"fill in {name}"
    if spec.api_name is None:
        return f"{name} is not an API field: there is nothing to clear", "BX116", keep
    if spec.create_only:
        return f"{name} is set at creation only: it cannot be cleared", "BX116", keep
    message = f"{name} has no empty value to clear it to"
    if spec.choices:
        return message, "BX116", f"write one of: {', '.join(spec.choices)}; or {keep}"
    if spec.default is not None:
        default = str(spec.default).lower() if isinstance(spec.default, bool) else spec.default
        return message, "BX116", f"write {default}, or {keep}"
    return (
        f"{name} ({spec.type}) has no empty value to clear it to",
        "BX116",
        f"write a value, or {keep}",
    )


class StepChecks:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.out: list[Diagnostic] = []
        #: Per capped check: (how many problems, the first one past the cap).
        self._capped: dict[str, tuple[int, Diagnostic | None]] = {}
        #: Of the step being checked: field -> rows whose clear of it was refused (reported).
        self.refused_clears: dict[str, pl.Series] = {}

    def over_cap(self, check: str, pos: Position, code: str, severity: str = "error") -> bool:
        """Count one more problem of a check that repeats once per step, field or value (a
        thousand steps missing one field); True past MAX_ROW_DIAGNOSTICS of them: the caller
        skips it (and the cost of its hint), `flush_capped` says how many there were."""
        seen, first_hidden = self._capped.get(check, (0, None))
        if seen < MAX_ROW_DIAGNOSTICS:
            self._capped[check] = (seen + 1, None)
            return False
        hidden = first_hidden or Diagnostic(pos, "", code, severity=severity)
        self._capped[check] = (seen + 1, hidden)
        return True

    def flush_capped(self) -> None:
        for check, (seen, hidden) in self._capped.items():
            if hidden is not None:
                more = f"... and {seen - MAX_ROW_DIAGNOSTICS} more {check}"
                self.out.append(
                    Diagnostic(hidden.position, more, hidden.code, None, hidden.severity)
                )
        self._capped.clear()

    def add(
        self,
        pos: Position,
        message: str,
        code: str,
        hint: str | None = None,
        severity: str = "error",
        field_name: str | None = None,
    ) -> None:
        self.out.append(Diagnostic(pos, message, code, hint or None, severity, field_name))

    def cell(self, step: Step, row: int, file: str, line: int, name: str) -> Position:
        source = step.source
        at = source.cells.get((row, name))
        if at is not None:
            return Position(file, *at)
        column = source.csv_columns.get(file, {}).get(name)
        if column is None and f"defaults.{name}" in source.keys:
            # The value came from the step's defaults, so that is where to fix it.
            return source.keys[f"defaults.{name}"]
        return Position(file, line, column or 0)

    def report_rows(
        self, step: Step, bad: pl.DataFrame, name: str, describe: Any, severity: str = "error"
    ) -> None:
        """Diagnostics for failing rows (frame with __row, __file, __line, the field)."""
        for row in bad.head(MAX_ROW_DIAGNOSTICS).iter_rows(named=True):
            pos = self.cell(step, row[ROW], row[SOURCE_FILE], row[SOURCE_LINE], name)
            message, code, hint = describe(row)
            self.add(pos, message, code, hint, severity, field_name=name)
        if bad.height > MAX_ROW_DIAGNOSTICS:
            row = bad.row(MAX_ROW_DIAGNOSTICS, named=True)
            pos = self.cell(step, row[ROW], row[SOURCE_FILE], row[SOURCE_LINE], name)
            self.add(
                pos,
                f"... and {bad.height - MAX_ROW_DIAGNOSTICS} more rows with bad "
                f"{name} in step {step.name}",
                "BX199",
                severity=severity,
                field_name=name,
            )

    def check_controls(self, step: Step, base: pl.DataFrame, name: str) -> None:
        """A warning for each value holding a control character (ESC, BEL, CR...): bulkx
        shows them escaped, but the value reaches the API, and other tools' terminals, as is."""
        # A CSV written on Windows keeps CRLF inside a quoted multi-line cell: not a trick.
        # Only values with a control character at all are rewritten so (a rewrite of every
        # value is a copy of the column); a value without one has none once rewritten.
        control = pl.col(name).str.contains(CONTROL_IN_VALUE).fill_null(False)
        text = pl.col(name).str.replace_all("\r\n", "\n", literal=True)
        bad = base.filter(control).filter(text.str.contains(CONTROL_IN_VALUE).fill_null(False))
        self.report_rows(
            step,
            bad,
            name,
            lambda r: (
                f"{name} holds a control character: {printable(r[name])[:60]}",
                "BX115",
                _CONTROL_HINT,
            ),
            severity="warning",
        )

    # --- per field ---------------------------------------------------------------------------

    def check_step(self, step: Step) -> Step:
        """`step`'s problems, and the step of its normalised values."""
        kind = KINDS[step.kind]
        # Row numbers in the chunks of the step's columns: see `row_numbers`.
        frame = step.rows.with_columns(row_numbers(step.rows, ROW))
        present = set(step.fields)
        at = step.source.keys.get("name", step.position)
        if has_control(step.name) and not self.over_cap("step names", at, "BX115", "warning"):
            message = f"step name holds a control character: {printable(step.name)[:60]}"
            self.add(at, message, "BX115", _CONTROL_HINT, "warning")
        if step.count is None:
            deleting = bool(step.rows.height) and bool(_absent(step).all())
            for spec in kind.fields:
                if (
                    spec.required
                    and spec.name not in present
                    and not (deleting and not _identifies(kind, spec.name))
                    and not self.over_cap("steps missing a field", step.position, "BX111")
                ):
                    self.add(
                        step.position,
                        f"step {step.name}: required field {spec.name!r} is missing",
                        "BX111",
                        f"add a {spec.name} column or item key",
                    )
        frame, cleared = self.take_clears(step, frame, kind)
        new_columns: list[pl.Expr] = []
        for name in step.fields:
            spec = kind.by_name[name]
            new_columns.append(self.check_field(step, frame, spec))
        if cleared is not None:
            new_columns.append(pl.lit(cleared).alias(CLEARED))
        rows = frame.with_columns(new_columns).drop(ROW) if new_columns else step.rows
        # A field the kind gives a default (an E911 record is enabled) is part of what the
        # plan wants even where the plan does not write it, so the diff sees a live record
        # that differs. Create-only ones are left out: naming them would make live objects
        # made another way look like drift.
        defaults = [
            pl.lit(spec.default).alias(spec.name)
            for spec in kind.fields
            if spec.default is not None
            and spec.api_name is not None
            and not spec.create_only
            and spec.name not in rows.columns
        ]
        if defaults and rows.height:
            rows = rows.with_columns(defaults)
        checked = replace(step, rows=rows)
        return checked if step.count is None else self.check_template(checked, kind)

    def take_clears(
        self, step: Step, frame: pl.DataFrame, kind: Kind
    ) -> tuple[pl.DataFrame, pl.Series | None]:
        """The frame with every `<clear>` cell emptied, and per row the fields it clears
        (`name;name;`, see `CLEARED`), or None when no cell clears anything. A clear of a
        field that cannot be cleared is an error at its cell (and only that error)."""
        self.refused_clears = {}
        marks: dict[str, pl.Series] = {}
        for name in step.fields:
            # One anchored regex per column: 200,000 rows in a few ms.
            mask = frame[name].cast(pl.String).str.contains(_CLEAR_CELL).fill_null(False)
            if mask.any():
                marks[name] = mask
        if not marks:
            return frame, None
        pieces: dict[str, pl.Expr] = {}
        for name, mask in marks.items():
            if kind.can_clear(name):
                pieces[name] = pl.when(mask).then(pl.lit(f"{name};")).otherwise(pl.lit(""))
                continue
            bad = frame.filter(mask).select(
                ROW, SOURCE_FILE, SOURCE_LINE, pl.lit(CLEAR_MARKER).alias(name)
            )
            why = _why_not_clearable(kind, kind.by_name[name])
            self.report_rows(step, bad, name, lambda _r, why=why: why)
            self.refused_clears[name] = bad[ROW]
        emptied = frame.with_columns(
            pl.when(mask).then(None).otherwise(pl.col(name)).alias(name)
            for name, mask in marks.items()
        )
        if not pieces:
            return emptied, None
        return emptied, frame.select(pl.concat_str(list(pieces.values())))[:, 0]

    def check_field(self, step: Step, frame: pl.DataFrame, spec: PlanField) -> pl.Expr:
        name = spec.name
        # The stripped column once, shared by every check and the typed value.
        values = numbers.stripped(frame[name])
        base = frame.select(ROW, SOURCE_FILE, SOURCE_LINE).with_columns(values.alias(name))
        if spec.required:
            self.check_required(step, base, name)
        if spec.type not in ("object", "list"):  # those are JSON text: escaped already
            self.check_controls(step, base, name)
        if spec.type == "e164":
            return self.check_e164(step, base, values, name)
        if spec.type == "object":
            return self.check_object(step, base, name)
        if spec.type == "list":
            return self.check_list(step, base, name)
        check = _type_check(spec)
        assert check is not None
        bad = base.filter(check.bad)
        if bad.height:
            choices = spec.choices

            def describe(row: dict[str, Any]) -> tuple[str, str, str]:
                hint = check.hint
                if choices:  # the allowed values, always; the nearest first when one is close
                    allowed = f"one of: {', '.join(choices)}"
                    close = did_you_mean(row[name], choices)
                    hint = f"{close} ({allowed})" if close else allowed
                return f"{name} {row[name]!r} {check.message}", check.code, hint

            self.report_rows(step, bad, name, describe)
        if spec.max_length is not None:
            long = base.filter(pl.col(name).str.len_chars() > spec.max_length)
            self.report_rows(
                step,
                long,
                name,
                lambda r: (
                    f"{name} is {len(r[name])} characters, longer than {spec.max_length}",
                    "BX110",
                    f"shorten it to at most {spec.max_length} characters",
                ),
            )
        typed = base.select(check.value.alias(name)).to_series()
        # Empty text is no value. Rewritten only when there is some: a rewrite is a copy.
        if spec.type in _TEXT_TYPES and (typed == "").any():
            typed = typed.to_frame().select(_none_if_empty(pl.col(name)).alias(name)).to_series()
        return pl.lit(typed)

    def check_e164(self, step: Step, base: pl.DataFrame, values: pl.Series, name: str) -> pl.Expr:
        """Phone numbers `values` (stripped) checked; their normalised column."""
        result = numbers.normalise_e164(values)
        # Prefixed, so that a field called `number` or `problem` cannot clash with them.
        problem = result["problem"].alias("__e164_problem")
        # Only the bad rows get their problem beside them: the problems of every row beside
        # `base` (in other chunks) had polars copy `base` into one chunk (~30 MB a million).
        has_problem = problem.is_not_null()
        bad = base.clear()
        if has_problem.any():
            bad = base.filter(has_problem).with_columns(problem.filter(has_problem))

        def e164(row: dict[str, Any]) -> tuple[str, str, str]:
            message, hint = numbers.MESSAGES[row["__e164_problem"]]
            return f"{name} {row[name]!r} {message}", "BX101", hint

        self.report_rows(step, bad, name, e164)
        return pl.lit(result["number"].alias(name))

    def check_required(self, step: Step, base: pl.DataFrame, name: str) -> None:
        missing = base.filter(_empty(pl.col(name)))
        refused = self.refused_clears.get(name)
        if refused is not None:  # reported already: "cannot be cleared"
            missing = missing.filter(~pl.col(ROW).is_in(refused.implode()))
        if not _identifies(KINDS[step.kind], name):
            # An item to delete is named by its key; its other fields do not matter.
            missing = missing.filter(~_absent(step).gather(missing[ROW]))
        self.report_rows(
            step,
            missing,
            name,
            lambda _r: (f"{name} is required", "BX112", f"fill in {name} for this row"),
        )

    def check_object(self, step: Step, base: pl.DataFrame, name: str) -> pl.Expr:
        canonical: dict[str, str | None] = {}
        for text in base[name].drop_nulls().unique().to_list():
            try:
                parsed = json.loads(text) if text else None
            except ValueError:
                parsed = ...
            ok = parsed is None or isinstance(parsed, dict)
            canonical[text] = json.dumps(parsed, sort_keys=True) if ok and parsed else None
            if not ok:
                bad = base.filter(pl.col(name) == text)
                self.report_rows(
                    step,
                    bad,
                    name,
                    lambda _r: (f"{name} is not a JSON object", "BX113", 'e.g. {"key": "value"}'),
                )
        return (
            pl.col(name)
            .cast(pl.String)
            .str.strip_chars()
            .replace_strict(canonical, default=None, return_dtype=pl.String)
            .alias(name)
        )

    def check_list(self, step: Step, base: pl.DataFrame, name: str) -> pl.Expr:
        """A YAML list (JSON text by now) or a CSV cell of `;`-separated values, as JSON text."""
        canonical: dict[str, str | None] = {}
        for text in base[name].drop_nulls().unique().to_list():
            parsed: Any = None
            if text.startswith("["):
                try:
                    parsed = json.loads(text)
                except ValueError:
                    parsed = ...
            elif text:
                parsed = [part.strip() for part in text.split(";") if part.strip()]
            ok = parsed is None or (
                isinstance(parsed, list)
                and all(
                    isinstance(v, str | int | float) and not isinstance(v, bool) for v in parsed
                )
            )
            canonical[text] = json.dumps([str(v) for v in parsed]) if ok and parsed else None
            choices = KINDS[step.kind].by_name[name].choices
            unknown = [str(v) for v in parsed if str(v) not in choices] if ok and parsed else []
            if choices and unknown:  # a list of documented values (a container's classifications)
                allowed = ", ".join(choices)
                self.report_rows(
                    step,
                    base.filter(pl.col(name) == text),
                    name,
                    lambda _r, first=unknown[0], allowed=allowed: (
                        f"{name} value {first!r} is not one of {allowed}",
                        "BX102",
                        f"one of: {allowed}",
                    ),
                )
            if not ok:
                bad = base.filter(pl.col(name) == text)
                self.report_rows(
                    step,
                    bad,
                    name,
                    lambda _r: (
                        f"{name} is not a list of values",
                        "BX114",
                        'e.g. ["1800", "1888"], or in a CSV cell 1800;1888',
                    ),
                )
        return (
            pl.col(name)
            .cast(pl.String)
            .str.strip_chars()
            .replace_strict(canonical, default=None, return_dtype=pl.String)
            .alias(name)
        )

    def check_template(self, step: Step, kind: Kind) -> Step:
        """A `count:` step's template and criteria checked; the step with them normalised."""
        source = step.source
        template: dict[str, Any] = {}
        values = {k: v for k, v in step.template.items() if k in kind.by_name and k != kind.key}
        if values:
            one = pl.DataFrame(
                {k: [v] for k, v in values.items()}, schema=dict.fromkeys(values, pl.String)
            )
            probe = Step(
                step.kind,
                step.name,
                step.position,
                one.with_columns(
                    pl.lit(step.position.file).alias(SOURCE_FILE),
                    pl.lit(step.position.line, dtype=pl.Int64).alias(SOURCE_LINE),
                ),
            )
            before = len(self.out)
            typed = self.check_step_fields(probe, kind).rows.row(0, named=True)
            # Template problems point at the template's own key, not at the step.
            for i in range(before, len(self.out)):
                name = self.out[i].field_name
                if name in values:
                    at = source.keys.get(f"template.{name}", self.out[i].position)
                    self.out[i] = replace(self.out[i], position=at)
            template = {k: typed[k] for k in values}
        crit = dict(step.criteria)
        if "state" in crit and str(crit["state"]).upper() not in US_STATES:
            self.add(
                source.keys.get("criteria.state", step.position),
                f"criteria state {crit['state']!r} is not a US state code",
                "BX150",
                "use the 2-letter code, e.g. NY",
            )
        for k, width in (("npa", 3), ("nxx", 3)):
            if k in crit and not (str(crit[k]).isdigit() and len(str(crit[k])) == width):
                self.add(
                    source.keys.get(f"criteria.{k}", step.position),
                    f"criteria {k} {crit[k]!r} is not {width} digits",
                    "BX150",
                    f'quote it: {k}: "516"',
                )
        normalised = {k: str(v).upper() if k == "state" else str(v) for k, v in crit.items()}
        return replace(step, template=template or step.template, criteria=normalised)

    def check_step_fields(self, step: Step, kind: Kind) -> Step:
        """`step`'s fields checked (no required-field or default rules: a template's); the step
        of their normalised values."""
        # A template's clear is nothing to send: a number rented has nothing to clear yet.
        frame, _ = self.take_clears(step, step.rows.with_row_index(ROW), kind)
        exprs = [self.check_field(step, frame, kind.by_name[n]) for n in step.fields]
        return replace(step, rows=frame.with_columns(exprs).drop(ROW))
