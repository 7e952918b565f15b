"""Limits remembered per target, and a ceiling that holds at the wire (issue 18, items 3 and
4): the real `bulkx` command against a sandbox served on 127.0.0.1, counted from the
sandbox's own request log."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bulkx.api.auth import Secret
from bulkx.sandbox.app import SandboxApp, SandboxConfig, create_app
from bulkx.sandbox.resources.numbers import seed_rented
from bulkx.sandbox.server import serve_in_thread
from tests.engine.test_rate_ceiling import most_in_any_second

TOKEN = "limits-token-0123456789"
MUTATING = ("POST", "PUT", "PATCH", "DELETE")


def bulkx(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "BULKX_HOME"}
    return subprocess.run(
        [sys.executable, "-m", "bulkx", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={**env, "CARRIERX_TOKEN": TOKEN},
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[SandboxApp, str, list[str]]]:
    app = create_app(SandboxConfig(db=tmp_path / "served.db", seed=3, token=TOKEN))
    numbers = seed_rented(app.world, 450)  # as many as the learning run sends
    with serve_in_thread(app) as server:
        yield app, f"{server.url}/core/v2", numbers


def rename_csv(path: Path, numbers: list[str], name: str) -> Path:
    path.write_text("# kind: did\nphonenumber,name\n" + "".join(f"{n},{name}\n" for n in numbers))
    return path


def log_since(app: SandboxApp, seq: int) -> list[dict[str, Any]]:
    return app.controls.log.entries(seq, 1_000_000)


def test_a_learned_limit_is_remembered_shown_used_and_forgotten(
    tmp_path: Path, served: tuple[SandboxApp, str, list[str]]
) -> None:
    app, base, served_numbers = served
    # A limit a loaded client still goes over: learning needs 429s. It is learned within the
    # first few hundred requests (to within 5% in trials); 450 leave it room.
    limit, numbers = 100, served_numbers[:450]
    app.controls.set_rate_limit(limit, burst=10)
    since = app.controls.log.last_seq
    first = bulkx(
        tmp_path,
        "apply",
        str(rename_csv(tmp_path / "a.csv", numbers, "first")),
        "--base-url",
        base,
        "--yes",
    )
    assert first.returncode == 0, first.stderr
    learning = [e["status"] for e in log_since(app, since)].count(429)
    # Kept beside the run journals, by target and credential fingerprint, never the token.
    kept = tmp_path / ".bulkx" / "limits.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert TOKEN not in kept.read_text()
    [entry] = json.loads(kept.read_text())["limits"]
    assert entry["target"] == base and entry["credential"] == Secret(TOKEN).fingerprint()
    # Near the server's limit, never over it by much. How near is bench rows 1 and 12's to
    # measure: under the suite's load a first spell once fitted 0.80 of it (CI, 2026-12-08).
    assert 0.6 * limit <= entry["limit"] <= 1.1 * limit
    assert entry["burst"] is not None and entry["burst"] >= 0

    shown = json.loads(bulkx(tmp_path, "config", "-o", "json").stdout)
    [listed] = shown["remembered_limits"]
    assert (listed["target"], listed["limit"]) == (base, entry["limit"])
    assert "limit" in bulkx(tmp_path, "config").stdout.split()

    # The next run starts paced at the remembered limit, from its first request: no unpaced
    # burst, and none of the 429s the first run learned the limit from. Its start is what is
    # checked: three seconds of it at the limit, not the whole run again.
    since = app.controls.log.last_seq
    second = bulkx(
        tmp_path,
        "apply",
        str(rename_csv(tmp_path / "b.csv", numbers[:300], "second")),
        "--base-url",
        base,
        "--yes",
    )
    assert second.returncode == 0, second.stderr
    log = log_since(app, since)
    assert learning > 0 and [e["status"] for e in log].count(429) < learning
    head = [e["time"] for e in log if e["method"] == "PATCH"][:60]
    assert head[-1] - head[0] >= 0.8 * 59 / entry["limit"]  # paced, not sent all at once

    forgot = bulkx(tmp_path, "config", "forget-limits", base + "/")
    assert forgot.returncode == 0 and "forgot 1 remembered limit" in forgot.stdout
    assert json.loads(kept.read_text())["limits"] == []
    again = bulkx(tmp_path, "config", "forget-limits", base)
    assert again.returncode == 2 and "no limit is remembered" in again.stderr
    assert "Traceback" not in again.stderr


@pytest.mark.parametrize("via", ["api", "batch"])
def test_a_ceiling_holds_in_every_second_at_the_wire(
    tmp_path: Path, served: tuple[SandboxApp, str, list[str]], via: str
) -> None:
    app, base, numbers = served
    rate = 40 if via == "api" else 4
    since = app.controls.log.last_seq
    ran = bulkx(
        tmp_path,
        "apply",
        str(rename_csv(tmp_path / "c.csv", numbers[:160], "capped")),  # 4 s at 40 a second
        "--base-url",
        base,
        "--yes",
        "--rate",
        str(rate),
        "--via",
        via,
    )
    assert ran.returncode == 0, ran.stderr
    log = [e for e in log_since(app, since) if not e["path"].startswith("/_sandbox")]
    writes = [e["time"] for e in log if e["method"] in MUTATING]
    assert len(writes) >= (160 if via == "api" else 2)
    # Every request, the Batch API's task reads and polls too.
    assert most_in_any_second([e["time"] for e in log]) <= rate
