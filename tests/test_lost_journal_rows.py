"""A journal that lost commits makes no duplicate (issue 15, item 6). An apply is killed half
way; its `-wal` is cut at a commit, so half of what it recorded (creates done) reads as pending
again. `bulkx resume` says the journal lost commits, looks the pending creates up live in bulk
before sending any, reconciles the ones it finds, and exits 0 with every object made once.
Real `bulkx` processes against a sandbox served on 127.0.0.1; objects counted through the API.
"""

from __future__ import annotations

import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from bulkx import exit_codes
from tests.chaos.lab import MUTATING, Lab, lab
from tests.chaos.outcome import wait_for_run
from tests.chaos.overlap_bench import (
    apply_args,
    cut_wal,
    found_live_on_resume,
    missing_or_repeated,
    write_plan,
)

pytestmark = pytest.mark.timeout(300)

GROUPS = 40


def _killed_half_way(bench: Lab, plan_args: tuple[str, ...]) -> str:
    """Start an apply, kill it (-9) once half its trunk groups are made: its run id."""
    process = bench.start(*plan_args)
    run_id = wait_for_run(bench, process)
    assert run_id is not None
    deadline = time.monotonic() + 120
    while bench.counts(run_id).get("succeeded", 0) < GROUPS // 2:
        assert process.poll() is None and time.monotonic() < deadline, "it ended too early"
        time.sleep(0.02)
    bench.kill(process)
    return run_id


def _creates(requests: list[dict[str, Any]]) -> int:
    return sum(
        1 for e in requests if e["method"] in MUTATING and e["path"].endswith("/trunk_groups")
    )


def test_a_resume_after_the_wal_was_cut_makes_no_duplicate(tmp_path: Path) -> None:
    with lab(tmp_path, faults="latency=10ms") as bench:
        plan = write_plan(bench, "wal", prefix="lost", groups=range(GROUPS), refs=range(4))
        run_id = _killed_half_way(bench, apply_args(bench, plan, "--concurrency", "2"))
        db = bench.home / "runs" / f"{run_id}.db"
        before, after = cut_wal(db, 0.5, tmp_path / "scratch")
        assert after < before  # commits were lost: done rows read as pending again

        since = bench.last_seq()
        resumed = bench.run("resume", run_id, "--yes")
        assert resumed.code == exit_codes.OK, resumed.stderr[-1500:]
        assert "lost committed changes" in resumed.stderr
        assert "Traceback" not in resumed.stderr
        # The creates it found live were reconciled, not sent: each group exists once.
        found = found_live_on_resume(db)
        assert found >= 1
        assert missing_or_repeated(bench, [plan]) == []
        assert _creates(bench.requests(since)) <= len(plan.groups) - found

        # The loss stays in the run's record: `bulkx status` shows it.
        status = bench.run("status", run_id)
        assert "lost committed changes" in status.stdout


def test_the_lookups_are_one_filtered_list_per_chunk_not_one_get_per_item(tmp_path: Path) -> None:
    with lab(tmp_path, faults="latency=10ms") as bench:
        plan = write_plan(bench, "wal", prefix="bulk", groups=range(GROUPS), refs=range(2))
        run_id = _killed_half_way(bench, apply_args(bench, plan, "--concurrency", "2"))
        cut_wal(bench.home / "runs" / f"{run_id}.db", 0.0, tmp_path / "scratch")
        since = bench.last_seq()
        resumed = bench.run("resume", run_id, "--yes")
        assert resumed.code == exit_codes.OK, resumed.stderr[-1500:]
        assert missing_or_repeated(bench, [plan]) == []
        lists = [
            urllib.parse.unquote_plus(str(e["query"]))
            for e in bench.requests(since)
            if e["method"] == "GET" and e["path"].endswith("/trunk_groups")
        ]
        # Every create is pending again, all in one chunk: ONE filtered list asks about all
        # of them (`name in (...)`); then each one found is reconciled as any lost answer is.
        found = found_live_on_resume(bench.home / "runs" / f"{run_id}.db")
        assert found >= GROUPS // 2
        assert sum(1 for query in lists if "name in (" in query) == 1, lists
        assert sum(1 for query in lists if "name eq " in query) == found, lists
