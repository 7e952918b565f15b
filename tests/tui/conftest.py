"""Monitor test helpers: a run journal with fixed contents and fixed times, and a frozen clock.

The journal is written through the real `Journal` API (so it is a journal the engine could have
written); only its clock is replaced, so every timestamp, and the figures derived from them,
is the same on every run of the tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

import bulkx.journal.store as store
from bulkx.journal import Journal, Operation

RUN_ID = "20261127-221503-ab12"
STARTED = datetime(2026, 11, 27, 22, 15, 3, tzinfo=UTC)
#: What the app's clock says: 75 s into the run.
NOW = STARTED + timedelta(seconds=75)
NUMBERS = 300


@dataclass
class FrozenClock:
    """Stands in for the journal's `now_iso`: time moves only when a test says so."""

    at: datetime = STARTED

    def set(self, seconds: float) -> None:
        self.at = STARTED + timedelta(seconds=seconds)

    def iso(self) -> str:
        return self.at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture
def journal_clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    clock = FrozenClock()
    monkeypatch.setattr(store, "now_iso", clock.iso)
    return clock


@pytest.fixture(autouse=True)
def _colour(monkeypatch: pytest.MonkeyPatch) -> None:
    """Snapshots are taken in colour whatever the developer's shell says."""
    monkeypatch.delenv("NO_COLOR", raising=False)


def _op(
    i: int,
    step: str,
    kind: str,
    key: str,
    position: str,
    request: dict[str, object],
    depends_on: tuple[str, ...] = (),
) -> Operation:
    return Operation(f"op-{i:05d}", step, kind, key, "create", position, depends_on, request)


def site_ops() -> list[Operation]:
    """A new site: a trunk group, 120 numbers, a conference endpoint and its 20 rooms."""
    # fmt: off
    ops = [
        _op(0, "site-sip", "trunk_group", "site-516-sip", "plans/new-site.yaml:4",
            {"action": "create", "kind": "trunk_group", "values": {"name": "site-516-sip"}}),
        _op(1, "site-conference", "endpoint", "site-516-rooms", "plans/new-site.yaml:20",
            {"action": "create", "kind": "endpoint",
             "values": {"name": "site-516-rooms", "type": "conference_v2"}}),
    ]
    # fmt: on
    for n in range(NUMBERS):
        number = f"1516555{n:04d}"
        ops.append(
            _op(
                2 + n,
                "site-516-numbers",
                "did",
                number,
                f"samples/site-numbers.csv:{n + 2}",
                {
                    "action": "create",
                    "kind": "did",
                    "values": {
                        "phonenumber": number,
                        "name": f"desk {n}",
                        "trunk_group": "site-516-sip",
                    },
                },
                ("op-00000",),
            )
        )
    for n in range(20):
        ops.append(
            _op(
                1000 + n,
                "site-rooms",
                "conference_v2.meeting_room",
                f"room-{n:02d}",
                f"plans/new-site.yaml:{31 + n}",
                {
                    "action": "create",
                    "kind": "conference_v2.meeting_room",
                    "values": {"endpoint": "site-516-rooms", "name": f"room-{n:02d}"},
                },
                ("op-00001",),
            )
        )
    return ops


@dataclass
class SiteRun:
    root: Path
    journal: Journal
    ids: dict[str, int] = field(default_factory=dict)

    def id_of(self, key: str) -> int:
        return self.ids[key]


#: The numbers (by position) whose rental fails, and why.
# fmt: off
FAILING = {7: "422 phonenumber: 15165550007 is not in the inventory",
           19: "422 phonenumber: 15165550019 is not in the inventory",
           33: "409 conflict: 15165550033 is assigned to another account",
           41: "422 trunk_group: site-516-sip has no trunk yet",
           58: "422 phonenumber: 15165550058 is not in the inventory"}
# fmt: on


def build_site_run(
    root: Path, clock: FrozenClock, *, finish: bool = False, live: bool = False
) -> SiteRun:
    """75 s into applying the site: numbers half done, five of them failed (one after three
    attempts), the endpoint created (its response carries a generated password), the rooms
    queued, and a burst of 429s at the 40th second that lowered the pace."""
    journal = _site_journal(root, live)
    ops = site_ops()
    ids = dict(zip((op.key for op in ops), journal.add_ops(ops), strict=True))
    run = SiteRun(root, journal, ids)
    journal.set_run_state("running")
    journal.event("info", "executing 322 operation(s), pid 4242")
    clock.set(1)
    journal.start([ids["site-516-sip"], ids["site-516-rooms"]])
    journal.succeed(ids["site-516-sip"], "tg-5f1e")
    journal.succeed(
        ids["site-516-rooms"],
        "ep-77a0",
        {"endpoint_sid": "ep-77a0", "properties": {"login": "site-516", "password": "s3cr3t!"}},
    )
    # One transaction for the lot: the fixture needs the rows, not 600 fsyncs.
    with journal.batch():
        done = _rent_numbers_until_75_s(journal, ids, clock)
    clock.set(75)
    journal.start([ids[f"1516555{n:04d}"] for n in range(done, done + 4)])
    if finish:
        journal.cancel([ids[f"room-{n:02d}"] for n in range(20)])
        journal.set_run_state("cancelled", 130)
    return run


def _site_journal(root: Path, live: bool) -> Journal:
    """The run's journal, against the live API or the embedded sandbox."""
    live_url = "https://api.carrierx.com/core/v2"
    return Journal.create(
        root,
        plan_path="plans/new-site.yaml",
        plan_digest="digest-new-site",
        target_label=f"LIVE API {live_url}" if live else "the embedded sandbox (.bulkx/sandbox.db)",
        is_sandbox=not live,
        options={"base_url": live_url if live else None, "sandbox_db": ".bulkx/sandbox.db"},
        changeset_json='{"changes": []}',
        run_id=RUN_ID,
    )


def _rent_numbers_until_75_s(journal: Journal, ids: dict[str, int], clock: FrozenClock) -> int:
    """Seconds 2 to 75 of renting the numbers, a sample each second; how many were settled."""
    done = 0
    throttled = retries = 0
    for second in range(2, 76):
        clock.set(second)
        # Brisk until the 429s at the 40th second, nothing while Retry-After lasts, then slower.
        rate = (2, 3, 2, 2, 1)[second % 5] if second < 40 else (1, 2, 1)[second % 3]
        for _ in range(0 if 40 <= second < 42 else rate):
            number = f"1516555{done:04d}"
            op_id = ids[number]
            journal.start([op_id])
            if done == 41:  # twice throttled, then refused
                journal.retry(op_id, "429 Too Many Requests")
                journal.start([op_id])
                journal.retry(op_id, "429 Too Many Requests")
                journal.start([op_id])
                retries += 2
            if done in FAILING:
                journal.fail(op_id, FAILING[done])
                journal.event("error", f"did {number}: {FAILING[done]}")
            else:
                journal.succeed(op_id, f"did-{done:04d}")
            done += 1
        if second == 40:
            throttled += 6
            journal.event("warning", "429 from the API, Retry-After 2 s; pacing at 12.0/s")
        succeeded = done - sum(1 for n in FAILING if n < done)
        journal.sample(
            done=succeeded,
            failed=done - succeeded,
            in_flight=4,
            rate_limit=20.0 if second < 40 else 12.0,
            throttled=throttled,
            retries=retries,
        )
    return done


@pytest.fixture
def site_run(tmp_path: Path, journal_clock: FrozenClock) -> Iterator[SiteRun]:
    """The site run, with its writer lock held (so it reads as a live run) until the test ends."""
    run = build_site_run(tmp_path / "bulkx-home", journal_clock)
    yield run
    run.journal.close()


async def until(pilot: Pilot[Any], condition: Callable[[], object], within: float = 15) -> None:
    """Let the app run until `condition()` holds (reads and control writes happen off the
    event loop, so a key's effect lands a little after the key)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {within} s waiting for {condition}")
        await pilot.pause(0.02)
