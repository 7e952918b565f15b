"""String, flag and path parameters coerced without pydantic, exactly as typer coerces them.

typer 0.2x coerces every value that is not a flag given as one (defaults included) through a
pydantic TypeAdapter, built when the parameter is first processed. Importing pydantic and
building the adapters costs about 0.1 s: a third of the 0.3 s that `bulkx runs` and `status`
may take (issue 17). A `str` parameter given a string, a flag given True, False or nothing, or
a `Path` given a path needs none of it: typer's adapter returns the string or flag as it is,
and checks a path with `coerce_cli_path`, which this calls too. Any other value or parameter
keeps typer's own coercion.

This leans on typer's internals (`_TyperParameter._runtime_param`, `RuntimeParam`): main.py
imports it only if they exist, and tests/test_import_hygiene.py fails (pydantic loaded by
`bulkx runs`) when a typer release changes them, so the loss is seen, never a wrong value."""

from __future__ import annotations

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


@dataclass(frozen=True)
class PlainValue(RuntimeParam):
    """The coercion of a `str`, `bool` or `Path` parameter, for a value already of that type
    (or a path given as a string)."""

    def _coerce_value(self, value: Any, param: _TyperParameter, ctx: Context) -> Any:
        if isinstance(value, str) and self.annotation is str:
            return value
        if isinstance(value, bool) and self.annotation is bool:
            return value
        if isinstance(value, str | Path) and self.annotation is Path:
            return coerce_cli_path(
                Path(value), self.parameter_info, path_type=Path, param=param, ctx=ctx
            )
        # Not plainly of its type (bytes, a default of another type): typer's own coercion.
        typer_own = build_runtime_param(param.type_descriptor)
        return typer_own._coerce_value(value, param=param, ctx=ctx)


def _is_plain(param: _TyperParameter) -> bool:
    described = param.type_descriptor
    info = described.parameter_info
    if described.file_annotation is not None or info.parser is not None:
        return False
    return described.annotation in (str, bool) or (
        described.annotation is Path and info.path_type is None
    )


def prime(command: Command, ctx: Context) -> None:
    """Give the plain `str`, `bool` and `Path` parameters of `command`, its help option
    included, the coercion above before typer builds its pydantic one. `ctx` is the context
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
