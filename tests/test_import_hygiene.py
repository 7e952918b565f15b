"""The core stays headless and the sandbox stays independent of the client side.

The import contracts of pyproject.toml check the source; the tests here check what importing
loads at run time, and that the contracts keep up with the modules of bulkx/.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer.core
import typer.main
from typer._coercion import build_runtime_param
from typer.core import _TyperParameter

import bulkx
from bulkx.cli.main import COMMANDS, app
from bulkx.cli.plain_params import PlainValue, _is_plain

PACKAGE = Path(bulkx.__file__).parent
PYPROJECT = PACKAGE.parent / "pyproject.toml"
CLIENT_SIDE = ("bulkx.plan", "bulkx.diff", "bulkx.engine", "bulkx.journal", "bulkx.api")
UI_LIBRARIES = ("typer", "rich", "textual")


def _modules_loaded_by(module: str) -> set[str]:
    """Modules that importing `module` adds, beyond what its third-party libraries load.

    httpx imports its own command line (click, rich, pygments) when those are installed, so
    they are in the baseline; what matters is that bulkx itself pulls in no UI library.
    """
    code = (
        "import sys, httpx, uvicorn, starlette.applications, phonenumbers; "
        f"before = set(sys.modules); import {module}; "
        "print('\\n'.join(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


def test_sandbox_loads_no_client_side_and_no_ui_library() -> None:
    loaded = _modules_loaded_by("bulkx.sandbox.app")
    assert "bulkx.sandbox.app" in loaded
    assert not {m for m in loaded if m.startswith(CLIENT_SIDE)}
    assert not {m for m in loaded if m.split(".")[0] in UI_LIBRARIES}


def test_the_import_contracts_hold() -> None:
    """The layering of pyproject.toml's [tool.importlinter] (what `make lint` runs), in a child
    process: import-linter configures logging with `dictConfig`, which disables every logger
    that exists already (bulkx.api's too, so a later test in this process saw no log lines)."""
    code = (
        "from importlinter.cli import lint_imports; "
        f"raise SystemExit(lint_imports(config_filename={str(PYPROJECT)!r},"
        " no_cache=True, no_logo=True))"
    )
    linted = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert " 0 broken" in linted.stdout


def _contract(contract_id: str) -> dict[str, Any]:
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["id"] == contract_id]
    return dict(contract)


def _top_level_modules() -> set[str]:
    names = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    names |= {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    return {f"bulkx.{name}" for name in names}


def test_a_new_module_is_covered_by_the_contracts_from_the_start() -> None:
    """The contracts name modules one by one: a module added to bulkx/ must join them, or be
    named here as shared with the sandbox or part of the user interface."""
    every = _top_level_modules()
    sandbox_shares = {"bulkx.defaults", "bulkx.errors"}
    user_interface = {"bulkx.cli", "bulkx.tui", "bulkx.__main__"}
    forbidden_to_sandbox = set(_contract("sandbox-standalone")["forbidden_modules"])
    assert forbidden_to_sandbox == every - sandbox_shares - {"bulkx.sandbox"}
    assert set(_contract("core-headless")["source_modules"]) == every - user_interface


#: What every command would pay at start-up if it were imported eagerly (~1 s and ~70 MB), and
#: what typer's coercion would import (pydantic, ~0.1 s) without bulkx.cli.plain_params.
HEAVY = (
    "bulkx.sandbox",
    "textual",
    "polars",
    "aiohttp",
    "httpx",
    "rich",
    "phonenumbers",
    "pydantic",
    "asyncio",
    "ruamel",
)
#: The modules of the commands: `--help` lists them all without importing one.
COMMAND_MODULES = {f"bulkx.cli.{entry.module}" for entry in COMMANDS.values()}


def _modules_after_command(cwd: Path, *args: str) -> set[str]:
    code = (
        "import sys\nfrom bulkx.cli.main import app\n"
        f"try:\n    app({list(args)!r})\nexcept SystemExit:\n    pass\n"
        "sys.stderr.flush()\nprint('\\n'.join(sorted(sys.modules)), file=sys.__stdout__)"
    )
    env = {**os.environ, "BULKX_HOME": str(cwd / ".bulkx")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=cwd, env=env
    ).stdout
    return set(out.split())


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A folder with one finished run of a two-row plan on the embedded sandbox: (folder, id)."""
    folder = tmp_path_factory.mktemp("one-run")
    (folder / "small.csv").write_text("phonenumber,name\n+1 212 555 0100,a\n+1 212 555 0101,b\n")
    applied = subprocess.run(
        [sys.executable, "-m", "bulkx", "apply", "small.csv", "--kind", "did", "--yes"],
        capture_output=True,
        text=True,
        cwd=folder,
        env={**os.environ, "BULKX_HOME": str(folder / ".bulkx")},
        timeout=120,
        check=False,
    )
    assert "run id: " in applied.stderr, applied.stderr
    return folder, applied.stderr.split("run id: ")[1].split()[0]


def _heavy(loaded: set[str]) -> list[str]:
    return sorted(m for m in loaded if m.split(".")[0] in HEAVY or m.startswith(HEAVY))


@pytest.mark.parametrize("args", [("--help",), ("--version",), ("runs",), ("status", "RUN")])
def test_the_light_commands_start_without_the_heavy_libraries(
    finished_run: tuple[Path, str], args: tuple[str, ...]
) -> None:
    folder, run_id = finished_run
    loaded = _modules_after_command(folder, *(run_id if a == "RUN" else a for a in args))
    assert _heavy(loaded) == []
    if not args[0].startswith("--"):
        assert "bulkx.journal.reader" in loaded  # it did read the run's journal


def test_runs_and_status_of_an_unknown_run_start_without_the_heavy_libraries(
    tmp_path: Path,
) -> None:
    assert _heavy(_modules_after_command(tmp_path, "runs")) == []  # no journal at all
    assert _heavy(_modules_after_command(tmp_path, "status", "nope")) == []


def test_validate_loads_the_plan_machinery_only(finished_run: tuple[Path, str]) -> None:
    """An offline check: the plan machinery (polars, phonenumbers, the YAML parser), and no
    API client, sandbox, engine, journal, monitor, asyncio or pydantic."""
    folder, _ = finished_run
    loaded = _modules_after_command(folder, "validate", "small.csv", "--kind", "did")
    assert "bulkx.plan.validate" in loaded
    offline = ("bulkx.engine", "bulkx.sandbox", "bulkx.api", "bulkx.journal", "bulkx.tui")
    assert sorted(m for m in loaded if m.startswith(offline)) == []
    plan_machinery = {"polars", "phonenumbers", "ruamel"}
    assert sorted({m.split(".")[0] for m in _heavy(loaded)} - plan_machinery) == []


def test_apply_and_resume_send_without_pydantic(finished_run: tuple[Path, str]) -> None:
    """Their numbers (`--concurrency`, `--rate`, `--stop-after-outage`, defaults included) are
    coerced without typer's pydantic adapters, which cost 0.1-0.3 s before the first request."""
    folder, run_id = finished_run
    numbers = ("--concurrency", "4", "--rate", "50", "--stop-after-outage", "30")
    applied = _modules_after_command(
        folder, "apply", "small.csv", "--kind", "did", "--yes", *numbers
    )
    assert "bulkx.engine.run" in applied  # it did plan a run against the sandbox
    resumed = _modules_after_command(folder, "resume", run_id, "--yes", *numbers)
    assert "bulkx.engine.run" in resumed
    assert [m for m in applied | resumed if m.split(".")[0] == "pydantic"] == []
    # A resume sends from its journal: no plan frames, so no polars (~0.3 s of imports).
    assert [m for m in resumed if m.split(".")[0] == "polars"] == []


@pytest.mark.parametrize("args", [("--help",), ("--version",)])
def test_help_and_version_import_no_command_module(tmp_path: Path, args: tuple[str, ...]) -> None:
    assert sorted(_modules_after_command(tmp_path, *args) & COMMAND_MODULES) == []


def test_a_command_imports_its_own_module_only(finished_run: tuple[Path, str]) -> None:
    folder, run_id = finished_run
    loaded = _modules_after_command(folder, "status", run_id) & COMMAND_MODULES
    # `status` writes with the report module's table writers.
    assert sorted(loaded) == ["bulkx.cli.report_commands", "bulkx.cli.runs_commands"]


def _built_root() -> typer.core.TyperGroup:
    """The root group with every command built (each module imported)."""
    root = typer.main.get_command(app)
    assert isinstance(root, typer.core.TyperGroup)
    context = root.context_class(root)
    for name in root.list_commands(context):
        assert root.get_command(context, name) is not None, name
    return root


def test_the_help_table_names_every_command_with_its_own_first_line() -> None:
    """`bulkx --help` lists the commands from main.COMMANDS, without importing them: what it
    prints must be what the commands themselves would print."""
    root = _built_root()
    assert set(root.commands) == set(COMMANDS), "a command missing from main.COMMANDS, or gone"
    for name, entry in COMMANDS.items():
        built = root.commands[name]
        assert built.callback is None or built.callback.__module__ == f"bulkx.cli.{entry.module}"
        assert built.get_short_help_str(10_000) == entry.help, name


def test_help_lists_the_commands_as_typer_would() -> None:
    """The lazy listing (nothing imported) against typer's own, from the built commands."""
    shown = subprocess.run(
        [sys.executable, "-m", "bulkx", "--help"], capture_output=True, text=True, check=True
    ).stdout
    root = _built_root()
    context = root.context_class(root, info_name="bulkx")
    formatter = context.make_formatter()
    typer.core.TyperGroup.format_commands(root, context, formatter)
    assert formatter.getvalue() in shown
    assert formatter.getvalue().count("\n") == len(COMMANDS) + 1


def test_a_mistyped_command_is_still_helped(tmp_path: Path) -> None:
    typo = subprocess.run(
        [sys.executable, "-m", "bulkx", "statu"], capture_output=True, text=True, cwd=tmp_path
    )
    assert typo.returncode == 2
    assert "No such command 'statu'. Did you mean 'status'?" in typo.stderr


PLAIN_VALUES = ["table", "", "-", "a b", "ü", "--x", "RUN-1"]
#: Numbers as a command line gives them: plain spellings, and ones typer's coercion must read.
NUMBERS = ["16", "0", "-3", "256", "257", "0.5", "0.01", "0.009", "1.0", "40", "016", " 7", "7 "]
NUMBERS += ["1e3", "1_000", "+5", "inf", "nan", "-0", "abc", "", "9" * 30, "3.", ".5", "1.5.2"]


def _plain_params() -> list[_TyperParameter]:
    """Every parameter, across the commands, that bulkx.cli.plain_params coerces."""
    root = _built_root()
    found: list[_TyperParameter] = []

    def walk(command: Any) -> None:
        context = command.context_class(command)
        params = [*command.params, command.get_help_option(context)]
        found.extend(p for p in params if isinstance(p, _TyperParameter) and _is_plain(p))
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(root)
    return found


def test_plain_values_are_coerced_as_typer_coerces_them(tmp_path: Path) -> None:
    """Without pydantic, the same values: strings as given, flags as given, paths checked by
    typer's own rules (a directory where a file is wanted is refused the same way)."""
    params = _plain_params()
    assert {p.type_descriptor.annotation for p in params} == {str, bool, Path, int, float}
    # Numbers with a minimum or a maximum are among them (`apply --concurrency` 1-256).
    assert any(p.type_descriptor.parameter_info.max is not None for p in params)
    (tmp_path / "file.csv").write_text("x\n")
    paths = ["out.csv", str(tmp_path), str(tmp_path / "file.csv"), Path("p.csv"), "-"]
    values: dict[Any, list[Any]] = {
        str: PLAIN_VALUES,
        bool: [True, False, None],
        Path: paths,
        int: [*NUMBERS, 7, 0, -1, 300, True, 2.0],
        float: [*NUMBERS, 2.5, 7, 0, 0.001, 1e9, True],
    }
    for param in params:
        context = typer.Context(typer.main.get_command(app))
        plain = PlainValue(param.type_descriptor.parameter_info, param.type_descriptor.annotation)
        typer_own = build_runtime_param(param.type_descriptor)
        for value in values[param.type_descriptor.annotation]:
            assert _outcome(plain, value, param, context) == _outcome(
                typer_own, value, param, context
            ), (param.name, value)


def _outcome(coercion: Any, value: Any, param: Any, context: Any) -> Any:
    try:
        coerced = coercion.coerce(value, param=param, ctx=context)
        return type(coerced), repr(coerced)  # 5 == 5.0 and nan != nan: compare their spellings
    except typer.BadParameter as refused:
        return ("refused", refused.format_message())
