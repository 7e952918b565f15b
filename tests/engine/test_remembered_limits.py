"""Limits remembered per target (issue 18, item 3): a run starts at the pace an earlier run
learned, keeps learning from there, and the workspace keeps only a fingerprint of the token."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import pytest

from bulkx.api.auth import Secret
from bulkx.engine.throttle import (
    FITTED_HEADROOM,
    LEARN_BY,
    PROBE_AFTER,
    REMEMBERED_GUESS_PROBE_AFTER,
    REMEMBERED_PROBE_AFTER,
    AdaptiveLimiter,
)
from bulkx.journal import limits
from tests.engine.test_throttle import FakeTime, _limiter, _spell


@pytest.mark.parametrize("fitted", [False, True])
def test_a_remembered_limit_starts_the_pace_under_it_and_is_probed_later(fitted: bool) -> None:
    time = FakeTime()
    limiter = _limiter(time)
    limiter.start_from(100.0, fitted=fitted)

    async def scenario() -> None:
        assert limiter.rate == pytest.approx(100.0 * FITTED_HEADROOM)
        start = time.now
        for _ in range(50):
            await limiter.acquire()
        # Paced from the first request: 50 requests take about 50 / 98 s, no burst first.
        assert time.now - start == pytest.approx(49 / (100 * FITTED_HEADROOM), rel=0.05)
        time.now += PROBE_AFTER + 1
        await limiter.acquire()
        # Not after PROBE_AFTER: it came from an earlier run's 429s.
        assert limiter.rate == pytest.approx(100.0 * FITTED_HEADROOM)
        time.now += REMEMBERED_GUESS_PROBE_AFTER
        await limiter.acquire()
        if fitted:  # the spells agreed on it narrowly: probed only later still
            assert limiter.rate == pytest.approx(100.0 * FITTED_HEADROOM)
            time.now += REMEMBERED_PROBE_AFTER
            await limiter.acquire()
        assert limiter.rate is not None and limiter.rate > 100.0 * FITTED_HEADROOM

    asyncio.run(scenario())


def test_a_429_under_a_remembered_limit_corrects_it_downward() -> None:
    time = FakeTime()
    limiter = _limiter(time)
    limiter.start_from(100.0)  # the account's limit has since dropped to 60/s

    async def scenario() -> None:
        await limiter.acquire()
        _spell(time, limiter, count=200, rate=98)
        await limiter.acquire()
        assert limiter.rate is not None and limiter.rate < 98

    asyncio.run(scenario())


def test_a_ceiling_still_caps_a_remembered_limit() -> None:
    limiter = AdaptiveLimiter(40.0)
    limiter.start_from(100.0)
    assert limiter.rate == 40.0


def test_remembered_per_target_and_credential_with_no_token(tmp_path: Path) -> None:
    token = Secret("a-real-looking-token-123456")
    mine, other = token.fingerprint(), Secret("another-token").fingerprint()
    assert len(mine) == 16 and mine != other and "123456" not in mine
    limits.remember(tmp_path, "https://api.example/core/v2", mine, 97.4321)
    assert limits.recall(tmp_path, "https://api.example/core/v2", other) is None
    assert limits.recall(tmp_path, "sandbox:/x.db", mine) is None
    found = limits.recall(tmp_path, "https://api.example/core/v2", mine)
    assert found is not None and found.limit == 97.432 and not found.fitted
    limits.remember(tmp_path, "https://api.example/core/v2", mine, 97.4, 9.5, fitted=True)
    found = limits.recall(tmp_path, "https://api.example/core/v2", mine)
    assert found is not None and (found.limit, found.burst, found.fitted) == (97.4, 9.5, True)
    text = limits.limits_path(tmp_path).read_text()
    assert "a-real-looking-token" not in text
    assert stat.S_IMODE(limits.limits_path(tmp_path).stat().st_mode) == 0o600


def test_forget_and_old_or_damaged_entries(tmp_path: Path) -> None:
    limits.remember(tmp_path, "t1", "c", 10.0)
    limits.remember(tmp_path, "t2", "c", 20.0)
    assert limits.forget(tmp_path, "t1") == 1
    assert [e.target for e in limits.remembered(tmp_path)] == ["t2"]
    document = json.loads(limits.limits_path(tmp_path).read_text())
    document["limits"][0]["learned_at"] -= limits.MAX_AGE + 1
    limits.limits_path(tmp_path).write_text(json.dumps(document))
    assert limits.recall(tmp_path, "t2", "c") is None  # too old: learned again
    limits.limits_path(tmp_path).write_text("{not json")
    assert limits.remembered(tmp_path) == []
    assert limits.forget(tmp_path) == 0


def test_a_run_starts_at_the_remembered_limit_and_remembers_what_it_learns(
    tmp_path: Path,
) -> None:
    from bulkx.engine.read_policy import PaceMemory
    from tests.engine.test_throttle import _against_a_token_bucket

    memory = PaceMemory(tmp_path, "http://127.0.0.1:9/core/v2", Secret("t").fingerprint())
    fresh = memory.limiter(None)
    assert fresh.rate is None  # nothing remembered: unpaced until the server objects
    learner = memory.limiter(None)
    time = FakeTime()
    learner._clock, learner._sleep = time.clock, time.sleep
    _against_a_token_bucket(500, 50, 800, 10, learner, time)
    found = memory.recall()
    assert found is not None and found.limit == pytest.approx(500, rel=0.02)
    assert found.burst is not None and 40 <= found.burst <= 55
    again = memory.limiter(None)
    assert again.rate == pytest.approx(found.limit * FITTED_HEADROOM)
    assert again.estimated_burst == found.burst
    assert memory.limiter(300.0).rate == 300.0  # a ceiling still caps it


def test_limits_of_another_version_or_nonsense_are_skipped(tmp_path: Path) -> None:
    limits.remember(tmp_path, "t", "c", 50.0, burst=5.0)
    document = json.loads(limits.limits_path(tmp_path).read_text())
    document["limits"] += [
        {"target": "t2", "credential": "c", "limit": "NaN", "learned_at": 1e12},
        {"target": "t3", "credential": "c", "limit": -1, "learned_at": 1e12},
        {"target": "t4"},
        "not an entry",
        {"target": "t5", "credential": "c", "limit": 7, "learned_at": 1e12, "future": 1},
    ]
    limits.limits_path(tmp_path).write_text(json.dumps(document))
    assert [(e.target, e.burst) for e in limits.remembered(tmp_path)] == [("t", 5.0), ("t5", None)]
    limits.limits_path(tmp_path).write_text("[1, 2]")
    assert limits.remembered(tmp_path) == []


def test_a_workspace_that_cannot_be_written_only_means_learning_again(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    limits.remember(blocked / "home", "t", "c", 10.0)  # no error: best effort
    assert limits.recall(blocked / "home", "t", "c") is None


def test_the_limit_is_learning_from_the_start_and_from_a_429_until_settled() -> None:
    time = FakeTime()
    limiter = _limiter(time)

    async def scenario() -> list[bool]:
        seen = [limiter.learning]  # nothing sent yet
        await limiter.acquire()
        time.now += LEARN_BY - 0.1
        seen.append(limiter.learning)  # no 429 yet: the first spell may still be going
        time.now += 0.2
        seen.append(limiter.learning)  # none by LEARN_BY: unlimited until the server objects
        await limiter.acquire()
        _spell(time, limiter, count=200, rate=400)
        seen.append(limiter.learning)  # a 429 came: learning until the pace settles
        return seen

    assert asyncio.run(scenario()) == [True, True, False, True]
    settled = _limiter(FakeTime())
    settled.start_from(100.0, fitted=True)
    assert not settled.learning
    assert not _limiter(FakeTime(), ceiling=50.0).learning  # a ceiling is not learned
