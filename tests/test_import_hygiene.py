"""The core stays headless and the sandbox stays independent of the client side.

The import contracts of pyproject.toml check the source; the tests here check what importing
loads at run time, and that the contracts keep up with the modules of bulkx/.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from importlinter.cli import lint_imports

import bulkx

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
    """The layering of pyproject.toml's [tool.importlinter] (what `make lint` runs)."""
    assert lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True) == 0


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


#: What every command would pay at start-up if it were imported eagerly (~1 s and ~70 MB).
HEAVY = ("bulkx.sandbox", "textual", "polars", "aiohttp", "httpx", "rich", "phonenumbers")


def _modules_after_command(tmp_path: Path, *args: str) -> set[str]:
    code = (
        "import sys\nfrom bulkx.cli.main import app\n"
        f"try:\n    app({list(args)!r})\nexcept SystemExit:\n    pass\n"
        "sys.stderr.flush()\nprint('\\n'.join(sorted(sys.modules)), file=sys.__stdout__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout
    return set(out.split())


@pytest.mark.parametrize("args", [("--help",), ("--version",), ("runs",), ("status", "x")])
def test_the_light_commands_start_without_the_heavy_libraries(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    loaded = _modules_after_command(tmp_path, *args)
    assert "bulkx.cli.main" in loaded
    assert sorted(m for m in loaded if m.split(".")[0] in HEAVY or m.startswith(HEAVY)) == []
