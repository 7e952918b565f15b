"""Helpers: write plan files into tmp_path and load + validate them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bulkx.plan.load import load_plan
from bulkx.plan.model import Diagnostic, Plan
from bulkx.plan.validate import normalised

Check = Callable[..., tuple[Plan | None, list[Diagnostic]]]


def check_file(path: Path, kind: str | None = None) -> tuple[Plan | None, list[Diagnostic]]:
    """The loaded plan with its values normalised (whatever its problems: tests look at the
    values of plans with errors too), and the diagnostics of loading and validating it."""
    plan, diagnostics = load_plan(path, kind=kind)
    if plan is not None:
        plan, found = normalised(plan)
        diagnostics = diagnostics + found
    return plan, diagnostics


@pytest.fixture
def check(tmp_path: Path) -> Check:
    """check(text_or_bytes, name="plan.yaml", kind=None, **other_files) -> (plan, diagnostics)."""

    def run(
        content: str | bytes, name: str = "plan.yaml", kind: str | None = None, **files: str
    ) -> tuple[Plan | None, list[Diagnostic]]:
        for other, text in files.items():
            (tmp_path / other.replace("_csv", ".csv")).write_text(text)
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return check_file(path, kind)

    return run


def where(diagnostics: list[Diagnostic]) -> list[tuple[str, int, int, str]]:
    """(file name, line, column, code) of each diagnostic, for exact-position asserts."""
    return sorted(
        (Path(d.position.file).name, d.position.line, d.position.column, d.code)
        for d in diagnostics
    )
