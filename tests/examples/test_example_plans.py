"""Each example plan that says how to rehearse it does so cleanly: on a freshly seeded sandbox,
`bulkx validate` finds nothing, `bulkx apply --yes` applies it all, and `bulkx plan` is then
left with nothing to do."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bulkx.cli.main import app
from bulkx.sandbox.app import SandboxConfig
from tests.conftest import TOKEN, serve_sandbox
from tests.kinds.cli import Bulkx

ROOT = Path(__file__).resolve().parents[2]
#: "# Rehearse: bulkx sandbox seed --ported samples/x.csv" then "#   bulkx apply plans/y.yaml".
REHEARSAL = re.compile(r"^#\s+(?:Rehearse:\s+)?bulkx (.+)$", re.MULTILINE)
EXAMPLES = sorted(p for p in (ROOT / "plans").glob("*.yaml") if "Rehearse:" in p.read_text())


def rehearsal(plan: Path) -> list[list[str]]:
    """The commands the plan's header gives, as argument lists."""
    return [line.split() for line in REHEARSAL.findall(plan.read_text())]


def test_the_api_sections_each_have_an_example() -> None:
    assert {p.name for p in EXAMPLES} >= {
        "routing.yaml",
        "conference-v1.yaml",
        "flexml.yaml",
        "mediator.yaml",
    }
    for plan in EXAMPLES:
        commands = rehearsal(plan)
        assert commands[-1][:3] == ["apply", f"plans/{plan.name}", "--yes"], plan.name
        assert all(c[:2] == ["sandbox", "seed"] for c in commands[:-1]), plan.name


@pytest.mark.parametrize("plan", EXAMPLES, ids=lambda p: p.name)
def test_example_plan_applies_cleanly_on_a_fresh_sandbox(
    plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # the rehearsal's paths are relative to the checkout
    config = SandboxConfig(db=tmp_path / "sandbox.db", token=TOKEN)
    for command in rehearsal(plan)[:-1]:
        seeded = CliRunner().invoke(app, [*command, "--db", str(config.db)])
        assert seeded.exit_code == 0, seeded.output
    with contextlib.contextmanager(serve_sandbox)(config) as sandbox:
        bulkx = Bulkx(sandbox)
        check = bulkx.run("validate", str(plan), target=False)
        assert check.exit_code == 0 and "plan is valid" in check.output, check.output
        flags = rehearsal(plan)[-1][3:]  # e.g. --allow-send: what the header says to run
        allowed = [flag for flag in flags if flag.startswith("--allow-")]  # `plan` takes these
        assert bulkx.changes(plan, *allowed), "a fresh sandbox has everything still to do"
        monkeypatch.chdir(tmp_path)  # the run's journal goes here, not into the checkout
        result = bulkx.run("apply", str(plan), "--yes", *flags)
        assert result.exit_code == 0, result.output
        assert bulkx.changes(plan, *allowed) == []
