"""Journal test helpers: a journal under tmp_path, and operations to put in it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bulkx.journal import Journal, Operation

REPO = Path(__file__).resolve().parents[2]


def new_ops(n: int, start: int = 0, step: str = "numbers") -> list[Operation]:
    return [
        Operation(
            op_key=f"key-{i:06d}",
            step=step,
            kind="did",
            key=f"+1555{i:07d}",
            action="create",
            position=f"plan.yaml:{i + 1}",
            change={"method": "POST", "api": "core", "path": "/dids", "body": {"n": i}},
            depends_on=(f"key-{i - 1:06d}",) if i else (),
        )
        for i in range(start, start + n)
    ]


def create(root: Path, run_id: str | None = None) -> Journal:
    return Journal.create(
        root,
        plan_path="plan.yaml",
        plan_digest="digest-1",
        target_label="sandbox http://127.0.0.1:1",
        is_sandbox=True,
        options={"concurrency": 4},
        changeset_json='{"changes": []}',
        run_id=run_id,
    )


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = create(tmp_path)
    yield j
    j.close()


def python(code: str, **kwargs: object) -> subprocess.Popen[str]:
    """A child Python with this checkout importable, for lock and kill -9 tests."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(  # type: ignore[call-overload,no-any-return]
        [sys.executable, "-c", code],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )
