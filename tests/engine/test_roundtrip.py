"""Plan, carry the changes out, plan again: nothing left to do. Every example plan, every kind.

This is the "no spurious diffs" property against the real sandbox: what the diff reads back
after the API applied a change is what the plan asked for, after normalisation.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from bulkx.api import CarrierX, Secret, Target
from bulkx.diff.changes import Changeset, NoOp
from bulkx.diff.engine import diff
from bulkx.diff.read import read_live_state
from bulkx.plan.load import load_plan
from bulkx.plan.model import Plan
from bulkx.plan.validate import validate
from bulkx.sandbox.app import SandboxConfig, create_app
from bulkx.sandbox.controls import SandboxTransport
from bulkx.sandbox.resources.numbers import seed_ported
from bulkx.sandbox.seeding import read_ported_csv
from tests.engine.applier import apply_in_order

REPO = Path(__file__).resolve().parents[2]


def _plan(path: Path) -> Plan:
    plan, diagnostics = load_plan(path)
    assert plan is not None, diagnostics
    problems = [d for d in diagnostics + validate(plan) if d.severity == "error"]
    assert problems == []
    return plan


async def _changeset(client: CarrierX, plan: Plan) -> tuple[Changeset, object]:
    live = await read_live_state(client, plan)
    return Changeset(plan.path, plan.digest, "sandbox", tuple(diff(plan, live))), live


@pytest.mark.parametrize("name", ["port-in.yaml", "new-site.yaml", "e911-correction.yaml"])
def test_applying_a_plan_leaves_nothing_to_do(tmp_path: Path, name: str) -> None:
    workspace = tmp_path / "repo"
    shutil.copytree(REPO / "plans", workspace / "plans")
    shutil.copytree(REPO / "samples", workspace / "samples")
    app = create_app(SandboxConfig(db=tmp_path / "world.db", seed=3, token="t"))
    numbers, problems = read_ported_csv(workspace / "samples" / "ported-numbers.csv")
    assert problems == []
    seed_ported(app.world, numbers)

    async def scenario() -> None:
        target = Target("http://127.0.0.1/core/v2", is_sandbox=True, label="sandbox")
        async with CarrierX(target, Secret("t"), transport=SandboxTransport(app)) as client:
            plan = _plan(workspace / "plans" / name)
            first, live = await _changeset(client, plan)
            assert first.has_changes
            assert not first.blocked
            sent = await apply_in_order(client, first, live)  # type: ignore[arg-type]
            assert sent > 0
            again, _ = await _changeset(client, _plan(workspace / "plans" / name))
            leftover = [c for c in again.changes if not isinstance(c, NoOp)]
            assert leftover == []

    asyncio.run(scenario())
