"""The key figures the monitor and `status --watch` share, from journal data to numbers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bulkx.journal import Journal, Operation, RunInfo, Sample
from bulkx.tui.figures import (
    StepFigures,
    duration,
    figures,
    is_live_api,
    status_line,
    throughput,
)
from bulkx.tui.redact import REDACTED, redact
from bulkx.tui.source import FAILURES_SHOWN, JournalSource
from tests.tui.conftest import NOW, STARTED, FrozenClock, SiteRun


def _sample(
    second: int, done: int, failed: int = 0, throttled: int = 0, retries: int = 0
) -> Sample:
    at = (STARTED + timedelta(seconds=second)).isoformat().replace("+00:00", "Z")
    return Sample(at, done, failed, 2, 10.0, throttled, retries)


def _info(*, is_sandbox: bool, base_url: str | None) -> RunInfo:
    return RunInfo(
        "r",
        "2026-01-01T00:00:00Z",
        "p.yaml",
        "d",
        "label",
        is_sandbox,
        "running",
        None,
        {"base_url": base_url},
        None,
    )


def test_rates_come_from_consecutive_samples_and_a_resume_is_not_a_negative_rate() -> None:
    samples = [_sample(0, 0), _sample(1, 4), _sample(2, 10, 2), _sample(3, 1), _sample(4, 5)]
    flow = throughput(samples)
    assert flow.rates == (4.0, 8.0, 4.0)  # the drop from 12 to 1 is a new process, skipped
    assert flow.current == pytest.approx(16 / 3)


def test_recent_429s_and_retries_count_the_last_minute_of_the_newest_process() -> None:
    old = [_sample(s, s, throttled=s // 10, retries=s // 5) for s in range(0, 120)]
    flow = throughput(old)
    assert flow.throttled_recently == 119 // 10 - 59 // 10
    assert flow.retries_recently == 119 // 5 - 59 // 5
    resumed = [*old, _sample(121, 0, throttled=0), _sample(122, 3, throttled=2, retries=1)]
    flow = throughput(resumed)
    assert (flow.throttled_recently, flow.retries_recently) == (2, 1)
    assert flow.throttled[-1] is True


def test_no_samples_no_rate() -> None:
    flow = throughput([])
    assert flow.rates == () and flow.current is None


def test_step_columns_fold_unknown_into_in_flight_and_cancelled_into_skipped() -> None:
    step = StepFigures.of(
        "s",
        {
            "succeeded": 5,
            "in_flight": 1,
            "unknown": 2,
            "pending": 3,
            "failed": 4,
            "skipped": 1,
            "cancelled": 6,
        },
    )
    assert (step.done, step.in_flight, step.queued, step.failed, step.skipped) == (5, 3, 3, 4, 7)
    assert step.total == 22 and step.left == 6


@pytest.mark.parametrize(
    ("is_sandbox", "base_url", "live"),
    [
        (True, None, False),
        (False, "http://127.0.0.1:8765/core/v2", False),
        (False, "http://localhost:9/core/v2", False),
        (False, "https://api.localhost/core/v2", True),  # a resolver decides: the loud label
        (False, "https://api.carrierx.com/core/v2", True),
        (False, None, True),  # not the sandbox and no URL on record: assume the worst
    ],
)
def test_the_live_api_is_told_apart_from_sandboxes(
    is_sandbox: bool, base_url: str | None, live: bool
) -> None:
    assert is_live_api(_info(is_sandbox=is_sandbox, base_url=base_url)) is live


def test_durations_read_well() -> None:
    assert [duration(s) for s in (None, 4.4, 75, 3600 * 2 + 125, 86_400 * 3 + 7200)] == [
        "—",
        "4s",
        "1m 15s",
        "2h 02m",
        "3d 2h",
    ]


def test_credentials_are_redacted_at_any_depth() -> None:
    body = {
        "name": "room",
        "properties": {"login": "site", "password": "s3cr3t", "nested": [{"api_key": "k"}]},
        "headers": {"Authorization": "Bearer abc"},
        "note": "Bearer xyz",
        "secret": "",
    }
    assert redact(body) == {
        "name": "room",
        "properties": {"login": REDACTED, "password": REDACTED, "nested": [{"api_key": REDACTED}]},
        "headers": {"Authorization": REDACTED},
        "note": REDACTED,
        "secret": "",
    }


def test_figures_of_the_site_run(site_run: SiteRun) -> None:
    snapshot = JournalSource(site_run.root, site_run.journal.run_id).read(NOW)
    numbers = figures(snapshot)
    assert numbers.state == "running" and not numbers.finished and not numbers.live_api
    assert numbers.elapsed == 75
    assert (numbers.total.done, numbers.total.failed, numbers.total.in_flight) == (117, 5, 4)
    assert numbers.eta is not None and numbers.eta > 0
    assert [s.step for s in numbers.steps] == sorted(s.step for s in numbers.steps)
    line = status_line(snapshot, numbers)
    assert line.startswith("running  done 117/322  in flight 4  queued 196  failed 5  skipped 0")
    assert "elapsed 1m 15s" in line


def test_a_read_is_bounded_however_large_the_run(
    tmp_path: Path, journal_clock: FrozenClock
) -> None:
    """20,000 operations, 1,000 of them failed: one read brings back counts (all of them) and
    only the newest rows of each kind."""
    journal = Journal.create(
        tmp_path,
        plan_path="p.csv",
        plan_digest="d",
        target_label="t",
        is_sandbox=True,
        options={},
        changeset_json="{}",
    )
    ops = [
        Operation(
            f"k{i}",
            "numbers",
            "did",
            f"1516{i:07d}",
            "create",
            f"p.csv:{i + 2}",
            (),
            {"values": {"phonenumber": f"1516{i:07d}"}},
        )
        for i in range(20_000)
    ]
    ids = journal.add_ops(ops)
    with journal.batch():
        journal.start(ids[:1000])
        for op_id in ids[:1000]:
            journal.fail(op_id, "422 no")
        for i in range(400):
            journal.event("error", f"failure {i}")
            journal.sample(done=i, failed=0, in_flight=0)
    snapshot = JournalSource(tmp_path, journal.run_id).read(NOW)
    journal.close()
    assert snapshot.counts["failed"] == 1000 and snapshot.counts["pending"] == 19_000
    assert len(snapshot.failures) == FAILURES_SHOWN
    assert snapshot.failures[0].op_id == ids[999]  # newest first
    assert len(snapshot.events) == 50 and snapshot.events[-1].message == "failure 399"
    assert len(snapshot.samples) == 300 and snapshot.samples[-1].done == 399
