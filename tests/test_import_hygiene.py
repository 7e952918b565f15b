"""The core stays headless and the sandbox stays independent of the client side."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import bulkx

PACKAGE = Path(bulkx.__file__).parent
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


def test_no_sandbox_module_imports_the_client_side_in_its_source() -> None:
    offenders = []
    for path in (PACKAGE / "sandbox").rglob("*.py"):
        text = path.read_text()
        offenders += [f"{path.name}: {name}" for name in CLIENT_SIDE if f"import {name}" in text
                      or f"from {name}" in text]  # fmt: skip
    assert offenders == []


def test_nothing_outside_the_cli_imports_it() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "cli" in path.relative_to(PACKAGE).parts or path.name == "__main__.py":
            continue  # `python -m bulkx` is the CLI's entry point
        text = path.read_text()
        if "from bulkx.cli" in text or "import bulkx.cli" in text:
            offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == []


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
