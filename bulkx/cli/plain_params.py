"""String, flag, path and number parameters coerced without pydantic, exactly as typer does.

typer 0.2x coerces every value that is not a flag given as one (defaults included) through a
pydantic TypeAdapter, built when the parameter is first processed. Importing pydantic and
building the adapters costs about 0.1 s: a third of the 0.3 s that `bulkx runs` and `status`
may take (issue 17), and some 0.05 s of what `bulkx apply` and `resume` take before their first
request (issue 18: `--concurrency`, `--rate` and `--stop-after-outage` are numbers). None of it
is needed for:
- a `str` given a string, a flag given True, False or nothing: typer's adapter returns it as
  it is;
- a `Path` given a path: checked by `coerce_cli_path`, which this calls too;
- an `int` or `float` given as one (an int for a float becomes a float, as pydantic makes it),
  or as a string in its plain decimal spelling ("16", "-3", "0.5"), inside the parameter's
  min and max: `int()` and `float()` read that spelling as pydantic does.
Any other value (a float in exponent form, "016", " 7", a number out of range) or parameter
(a clamped range, a parser, a choice, a date) keeps typer's own coercion, and its messages.

This leans on typer's internals (`_TyperParameter._runtime_param`, `RuntimeParam`): main.py
imports it only if they exist, and tests/test_import_hygiene.py fails (pydantic loaded by
`bulkx runs`) when a typer release changes them, so the loss is seen, never a wrong value."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from typer._click import Command, Context
from typer._coercion import RuntimeParam, build_runtime_param
from typer._param_types import coerce_cli_path
from typer.core import _TyperParameter

# The shape relied on, as typer 0.2x has it; another shape means typer's own coercion throughout.
if [field.name for field in fields(RuntimeParam)] != ["parameter_info", "annotation"] or not (
    hasattr(_TyperParameter, "get_runtime_param")
):
    raise ImportError("typer's coercion internals are not the ones bulkx.cli.plain_params knows")


#: The spellings of a number read here (pydantic reads them the same); others go to typer.
_PLAIN_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_PLAIN_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})(?:\.[0-9]{1,17})?")


def _plain_number(value: Any, number_type: Any, low: Any, high: Any) -> int | float | None:
    """`value` as an `int` or `float` (`number_type`) when it plainly is one, between `low` and
    `high` (None: unbounded); else None."""
    spelling = _PLAIN_INT if number_type is int else _PLAIN_FLOAT
    given_as_one = type(value) is number_type or (number_type is float and type(value) is int)
    if not (given_as_one or (isinstance(value, str) and spelling.fullmatch(value))):
        return None
    number: int | float = number_type(value)
    if (low is not None and number < low) or (high is not None and number > high):
        return None
    return number


@dataclass(frozen=True)
class PlainValue(RuntimeParam):
    """The coercion of a `str`, `bool`, `Path`, `int` or `float` parameter, for a value already
    of that type (a path or a number given as a string)."""

    def _coerce_value(self, value: Any, param: _TyperParameter, ctx: Context) -> Any:
        if isinstance(value, str) and self.annotation is str:
            return value
        if isinstance(value, bool) and self.annotation is bool:
            return value
        if isinstance(value, str | Path) and self.annotation is Path:
            return coerce_cli_path(
                Path(value), self.parameter_info, path_type=Path, param=param, ctx=ctx
            )
        if self.annotation in (int, float):
            info = self.parameter_info
            number = _plain_number(value, self.annotation, info.min, info.max)
            if number is not None:
                return number
        # Not plainly of its type (bytes, a default of another type): typer's own coercion.
        typer_own = build_runtime_param(param.type_descriptor)
        return typer_own._coerce_value(value, param=param, ctx=ctx)


def _is_plain(param: _TyperParameter) -> bool:
    described = param.type_descriptor
    info = described.parameter_info
    if described.file_annotation is not None or info.parser is not None:
        return False
    if described.annotation in (int, float):
        return not info.clamp
    return described.annotation in (str, bool) or (
        described.annotation is Path and info.path_type is None
    )


def prime(command: Command, ctx: Context) -> None:
    """Give the plain `str`, `bool`, `Path`, `int` and `float` parameters of `command`, its help
    option included, the coercion above before typer builds its pydantic one. `ctx` is the context
    `command` is parsed in, or its parent's (the help option's names come from there, unless
    the command names its own)."""
    params = list(command.params)
    if "help_option_names" not in command.context_settings:
        help_option = command.get_help_option(ctx)
        params += [help_option] if help_option is not None else []
    typer_params = [p for p in params if isinstance(p, _TyperParameter)]
    for param in typer_params:
        if param._runtime_param is None and _is_plain(param):
            described = param.type_descriptor
            param._runtime_param = PlainValue(described.parameter_info, described.annotation)
