"""Check a loaded plan's values, all problems in one pass, and normalise them in place.

Every check is a polars expression over a whole step; Python only touches the failing rows
(at most MAX_ROW_DIAGNOSTICS per check) and distinct values (enums, references, prefixes).

Reference rule: a value that no step of the plan defines may still name a live object, so an
undefined reference is a *warning* -- unless the field is a required parent link (a trunk's
`trunk_group`) and the plan has no step of the referenced kind at all, which is an error: such
a plan almost always forgot the step.
"""

from __future__ import annotations

import graphlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import polars as pl

from bulkx.plan import numbers
from bulkx.plan.load import MAX_ROW_DIAGNOSTICS, did_you_mean, source_of
from bulkx.plan.model import SOURCE_FILE, SOURCE_LINE, Diagnostic, Plan, Position, Step
from bulkx.resources.kinds import KINDS
from bulkx.resources.model import Kind, PlanField

_STATES = """AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV
NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR VI UM AA AE AP"""
US_STATES = frozenset(_STATES.split())
TRUE = ("true", "yes", "1", "y", "on")
FALSE = ("false", "no", "0", "n", "off")
_ROW = "__row"


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


def _regex_check(s: pl.Expr, pattern: str, code: str, what: str, hint: str) -> _Check:
    return _Check(s, ~_empty(s) & ~s.str.contains(pattern), code, f"is not {what}", hint)


def _type_check(spec: PlanField) -> _Check | None:
    s = pl.col(spec.name).cast(pl.String).str.strip_chars()
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


class _Validator:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.out: list[Diagnostic] = []

    def add(
        self,
        pos: Position,
        message: str,
        code: str,
        hint: str | None = None,
        severity: str = "error",
    ) -> None:
        self.out.append(Diagnostic(pos, message, code, hint or None, severity))

    def cell(self, step: Step, row: int, file: str, line: int, name: str) -> Position:
        source = source_of(step)
        at = source.cells.get((row, name))
        if at is not None:
            return Position(file, *at)
        column = source.csv_columns.get(file, {}).get(name)
        if column is None and f"defaults.{name}" in source.keys:
            # The value came from the step's defaults, so that is where to fix it.
            return source.keys[f"defaults.{name}"]
        return Position(file, line, column or 0)

    def report_rows(self, step: Step, bad: pl.DataFrame, name: str, describe: Any) -> None:
        """Diagnostics for failing rows (frame with __row, __file, __line, the field)."""
        for row in bad.head(MAX_ROW_DIAGNOSTICS).iter_rows(named=True):
            pos = self.cell(step, row[_ROW], row[SOURCE_FILE], row[SOURCE_LINE], name)
            message, code, hint = describe(row)
            self.add(pos, message, code, hint)
        if bad.height > MAX_ROW_DIAGNOSTICS:
            row = bad.row(MAX_ROW_DIAGNOSTICS, named=True)
            pos = self.cell(step, row[_ROW], row[SOURCE_FILE], row[SOURCE_LINE], name)
            self.add(
                pos,
                f"... and {bad.height - MAX_ROW_DIAGNOSTICS} more rows with bad "
                f"{name} in step {step.name}",
                "BX199",
            )

    # --- per field ---------------------------------------------------------------------------

    def check_step(self, step: Step) -> None:
        kind = KINDS[step.kind]
        frame = step.rows.with_row_index(_ROW)
        present = set(step.fields)
        if step.count is None:
            deleting = bool(step.rows.height) and bool(_absent(step).all())
            for spec in kind.fields:
                if (
                    spec.required
                    and spec.name not in present
                    and not (deleting and not _identifies(kind, spec.name))
                ):
                    self.add(
                        step.position,
                        f"step {step.name}: required field {spec.name!r} is missing",
                        "BX111",
                        f"add a {spec.name} column or item key",
                    )
        new_columns: list[pl.Expr] = []
        for name in step.fields:
            spec = kind.by_name[name]
            new_columns.append(self.check_field(step, frame, spec))
        rows = frame.with_columns(new_columns).drop(_ROW) if new_columns else step.rows
        # A field the kind gives a default (an E911 record is enabled) is part of what the
        # plan wants even where the plan does not write it, so the diff sees a live record
        # that differs. Create-only ones are left out: naming them would make live objects
        # made another way look like drift.
        defaults = [
            pl.lit(spec.default).alias(spec.name)
            for spec in kind.fields
            if spec.default is not None and spec.api_name is not None
            and not spec.create_only and spec.name not in rows.columns
        ]  # fmt: skip
        if defaults and rows.height:
            rows = rows.with_columns(defaults)
        object.__setattr__(step, "rows", rows)  # normalised values are part of the contract
        if step.count is not None:
            self.check_template(step, kind)

    def check_field(self, step: Step, frame: pl.DataFrame, spec: PlanField) -> pl.Expr:
        name = spec.name
        raw = pl.col(name).cast(pl.String).str.strip_chars()
        base = frame.select(_ROW, SOURCE_FILE, SOURCE_LINE, raw.alias(name))
        if spec.required:
            missing = base.filter(_empty(pl.col(name)))
            if not _identifies(KINDS[step.kind], name):
                # An item to delete is named by its key; its other fields do not matter.
                missing = missing.filter(~_absent(step).gather(missing[_ROW]))
            self.report_rows(
                step,
                missing,
                name,
                lambda _r: (f"{name} is required", "BX112", f"fill in {name} for this row"),
            )
        if spec.type == "e164":
            result = numbers.normalise_e164(frame[name])
            # Prefixed, so that a field called `number` or `problem` cannot clash with them.
            problem = result["problem"].alias("__e164_problem")
            checked = pl.concat([base, problem.to_frame()], how="horizontal")
            bad = checked.filter(pl.col("__e164_problem").is_not_null())

            def e164(row: dict[str, Any]) -> tuple[str, str, str]:
                message, hint = numbers.MESSAGES[row["__e164_problem"]]
                return f"{name} {row[name]!r} {message}", "BX101", hint

            self.report_rows(step, bad, name, e164)
            value = result["number"].alias(name)
            return pl.lit(value)
        if spec.type == "object":
            return self.check_object(step, base, name)
        if spec.type == "list":
            return self.check_list(step, base, name)
        check = _type_check(spec)
        assert check is not None
        checked = base.with_columns(check.bad.alias("__bad"))
        bad = checked.filter(pl.col("__bad"))
        if bad.height:
            choices = spec.choices

            def describe(row: dict[str, Any]) -> tuple[str, str, str]:
                hint = check.hint
                if choices:
                    hint = did_you_mean(row[name], choices) or f"one of: {', '.join(choices)}"
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
        typed = check.value
        if spec.type in ("str", "enum", "url", "state", "zip", "alpha3", "digits"):
            typed = pl.when(_empty(typed)).then(None).otherwise(typed)
        return typed.alias(name)

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
                and all(isinstance(v, str | int | float) and not isinstance(v, bool)
                        for v in parsed)
            )  # fmt: skip
            canonical[text] = json.dumps([str(v) for v in parsed]) if ok and parsed else None
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

    def check_template(self, step: Step, kind: Kind) -> None:
        source = source_of(step)
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
            self.check_step_fields(probe, kind)
            # Template problems point at the template's own key, not at the step.
            for i in range(before, len(self.out)):
                d = self.out[i]
                for k in values:
                    if f"{k} " in d.message or d.message.startswith(k):
                        at = source.keys.get(f"template.{k}", d.position)
                        self.out[i] = Diagnostic(at, d.message, d.code, d.hint, d.severity)
                        break
            typed = probe.rows.row(0, named=True)
            object.__setattr__(step, "template", {k: typed[k] for k in values})
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
        object.__setattr__(step, "criteria", normalised)

    def check_step_fields(self, step: Step, kind: Kind) -> None:
        frame = step.rows.with_row_index(_ROW)
        exprs = [self.check_field(step, frame, kind.by_name[n]) for n in step.fields]
        object.__setattr__(step, "rows", frame.with_columns(exprs).drop(_ROW))

    # --- across steps ------------------------------------------------------------------------

    def scope(self, kind: Kind) -> list[str]:
        """Fields that, with the key, identify an object (trunks are per trunk group...)."""
        return [kind.scope_field] if kind.scope_field else []

    def keyed(self, kind: Kind, columns: list[str]) -> pl.DataFrame | None:
        frames = []
        for index, step in enumerate(self.plan.steps):
            if step.kind != kind.name or not all(c in step.rows.columns for c in columns):
                continue
            frames.append(
                step.rows.with_row_index(_ROW).select(
                    pl.lit(index, dtype=pl.Int64).alias("__step"),
                    _ROW,
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
        frame = frame.filter(pl.col(kind.key).is_not_null())
        dups = frame.filter(pl.struct(columns).is_duplicated())
        if not dups.height:
            return
        dups = dups.sort("__step", _ROW)
        first = dups.unique(subset=columns, keep="first", maintain_order=True)
        seen = {tuple(r[c] for c in columns): r for r in first.iter_rows(named=True)}
        later = dups.join(first.select("__step", _ROW), on=["__step", _ROW], how="anti")
        for row in later.head(MAX_ROW_DIAGNOSTICS).iter_rows(named=True):
            orig = seen[tuple(row[c] for c in columns)]
            step = self.plan.steps[row["__step"]]
            first_step = self.plan.steps[orig["__step"]]
            where = self.cell(
                first_step, orig[_ROW], orig[SOURCE_FILE], orig[SOURCE_LINE], kind.key
            )
            self.add(
                self.cell(step, row[_ROW], row[SOURCE_FILE], row[SOURCE_LINE], kind.key),
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
        """kind -> natural key -> indexes of the steps defining it."""
        out: dict[str, dict[str, list[int]]] = {}
        for index, step in enumerate(self.plan.steps):
            key = KINDS[step.kind].key
            keys = out.setdefault(step.kind, {})
            if key in step.rows.columns:
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
                    fatal = (
                        spec.required
                        and spec.name == kind.parent_field
                        and spec.reference not in defined
                    )
                    pos = (
                        source_of(step).keys.get(f"template.{spec.name}", step.position)
                        if row < 0
                        else self.cell(step, row, file, line, spec.name)
                    )
                    self.add(
                        pos,
                        f"{spec.name} {value!r}: no {spec.reference} step in this plan "
                        "defines it" + ("" if fatal else " (it must already exist)"),
                        "BX130",
                        f"add {_article(spec.reference)} {spec.reference} step with "
                        f"{KINDS[spec.reference].key}: {value}"
                        + did_you_mean_suffix(value, defined.get(spec.reference)),
                        "error" if fatal else "warning",
                    )
        return graph

    def reference_values(self, step: Step, name: str) -> Iterable[tuple[str, int, str, int]]:
        """Distinct referenced values with their first row (row -1: the step's template)."""
        if name in step.template and step.template[name] not in (None, ""):
            yield str(step.template[name]), -1, step.position.file, step.position.line
        if name not in step.rows.columns:
            return
        firsts = (
            step.rows.with_row_index(_ROW)
            .filter(pl.col(name).is_not_null())
            .unique(subset=[name], keep="first", maintain_order=True)
        )
        for row in firsts.iter_rows(named=True):
            yield str(row[name]), row[_ROW], row[SOURCE_FILE], row[SOURCE_LINE]

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
                        step.rows.with_row_index(_ROW).select(
                            pl.lit(index, dtype=pl.Int64).alias("__step"),
                            _ROW,
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
        codes = codes.filter(pl.struct("endpoint", "code").is_duplicated()).sort("__step", _ROW)
        first: dict[tuple[str, str], dict[str, Any]] = {}
        for row in codes.iter_rows(named=True):
            ident = (row["endpoint"], row["code"])
            step = self.plan.steps[row["__step"]]
            pos = self.cell(step, row[_ROW], row[SOURCE_FILE], row[SOURCE_LINE], row["field"])
            if ident not in first:
                first[ident] = {**row, "pos": pos}
                continue
            orig = first[ident]
            self.add(
                pos,
                f"access code {row['code']} of room {row['name']!r} collides with "
                f"{orig['field']} of room {orig['name']!r} at {orig['pos']} (endpoint "
                f"{row['endpoint']})",
                "BX140",
                "access codes must be unique across all rooms of an endpoint",
            )

    def run(self) -> list[Diagnostic]:
        for step in self.plan.steps:
            self.check_step(step)
        for kind in {KINDS[s.kind].name: KINDS[s.kind] for s in self.plan.steps}.values():
            self.check_duplicates(kind)
        self.check_cycles(self.check_references())
        for kind in {KINDS[s.kind].name: KINDS[s.kind] for s in self.plan.steps}.values():
            if kind.unique_across:
                self.check_access_codes(kind)
        return self.out


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def did_you_mean_suffix(value: str, known: dict[str, list[int]] | None) -> str:
    hint = did_you_mean(value, known or {})
    return f" ({hint})" if hint else ""


def validate(plan: Plan) -> list[Diagnostic]:
    """All value problems of `plan`; its steps' rows are replaced by normalised, typed rows."""
    # A bad default is one problem reported from every row it fills: say it once.
    return list(dict.fromkeys(_Validator(plan).run()))


def step_order(plan: Plan) -> list[Step]:
    """Steps in dependency order (referenced objects first). Assumes a valid plan."""
    validator = _Validator(plan)
    graph = validator.check_references()
    return [plan.steps[i] for i in graph.static_order()]


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return sorted(diagnostics, key=lambda d: (d.position, d.code))
