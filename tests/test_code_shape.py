"""The house rule that keeps modules and functions readable (issue 20): no module over 600
lines, no function over 60, in the package, its tests and its benchmarks."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60
#: Data, not code: the documented CarrierX sample answers the sandbox is checked against.
DATA_MODULES = {Path("tests/sandbox/documented_samples/core_samples.py")}


def _sources() -> list[Path]:
    found = []
    for folder in ("bulkx", "tests", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "results" not in path.relative_to(ROOT).parts:
                found.append(path)
    return found


def _long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    too_long = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            span = (node.end_lineno or node.lineno) - first + 1
            if span > MAX_FUNCTION_LINES:
                too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({span})")
    return too_long


def test_no_module_is_over_600_lines_and_no_function_over_60() -> None:
    sources = _sources()
    assert len(sources) > 100  # the walk found the code
    long_modules = [
        f"{path.relative_to(ROOT)} ({lines})"
        for path in sources
        if path.relative_to(ROOT) not in DATA_MODULES
        and (lines := path.read_text(encoding="utf-8").count("\n")) > MAX_MODULE_LINES
    ]
    long_functions = [name for path in sources for name in _long_functions(path)]
    assert long_modules == []
    assert long_functions == []
