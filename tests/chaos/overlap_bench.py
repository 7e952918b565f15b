"""Plans that overlap, and what the sandbox holds of them: the bench of the concurrency and
lost-journal scenarios (tests/chaos/overlap_scenarios.py) and of their CLI tests.

A plan here names trunk groups, SMS messages (by `ref`, sent from a number of its own whose
messaging it enables) and a rent-by-count step. Two plans overlap when they share a trunk
group, a `ref` or the rent step's name. What exists is counted through the API, as an operator
would: every object's name (or `ref`, or the rent step's tag) must be there exactly once.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bulkx.diff.state import STEP_TAG
from bulkx.journal.claims import claims_path
from tests.chaos.lab import Lab
from tests.chaos.workload import rent_directly

#: The recipients' numbers (any valid E.164 will do: the sandbox delivers nothing).
RECIPIENT = "+1212555{:04d}"


@dataclass(frozen=True)
class OverlapPlan:
    path: Path
    groups: tuple[str, ...]
    refs: tuple[str, ...]
    rent_step: str
    rents: int


def sender(bench: Lab) -> str:
    """A number on the account for a plan to send from (its plan enables its messaging)."""
    return rent_directly(bench.app.world, 1)[0]


def write_plan(
    bench: Lab,
    name: str,
    *,
    groups: Iterable[int],
    refs: Iterable[int],
    rents: int = 0,
    rent_step: str = "shared-rent",
    prefix: str = "ov",
) -> OverlapPlan:
    """A plan of trunk groups `{prefix}-tg-N`, one SMS per `{prefix}-sms-N` from a sender of
    its own, and (if `rents`) a rent-by-count step `rent_step`."""
    directory = bench.cwd / name
    directory.mkdir(parents=True, exist_ok=True)
    group_names = tuple(f"{prefix}-tg-{n:04d}" for n in groups)
    ref_names = tuple(f"{prefix}-sms-{n:04d}" for n in refs)
    (directory / "groups.csv").write_text("name\n" + "".join(f"{g}\n" for g in group_names))
    number = sender(bench)
    (directory / "sms.csv").write_text(
        "ref,to\n" + "".join(f"{r},{RECIPIENT.format(i)}\n" for i, r in enumerate(ref_names))
    )
    steps = [
        f"  - kind: trunk_group\n    name: {name}-groups\n    source: groups.csv\n",
        f"  - kind: did_messaging\n    name: {name}-texting\n    items:\n"
        f"      - phonenumber: '{number}'\n        enabled: true\n",
        f"  - kind: sms.message\n    name: {name}-notices\n    source: sms.csv\n"
        f"    defaults:\n      from: '{number}'\n      message: hello from {name}\n",
    ]
    if rents:
        steps.append(
            f"  - kind: did\n    name: {rent_step}\n    count: {rents}\n"
            f"    criteria:\n      state: NY\n"
        )
    path = directory / "plan.yaml"
    path.write_text("version: 1\nsteps:\n" + "".join(steps))
    return OverlapPlan(path, group_names, ref_names, rent_step, rents)


def apply_args(bench: Lab, plan: OverlapPlan, *extra: str) -> tuple[str, ...]:
    return (
        "apply",
        str(plan.path),
        "--yes",
        "--allow-send",
        "--send-rate",
        "50",
        "--base-url",
        bench.base,
        *extra,
    )


# --- what exists, through the API -----------------------------------------------------------


def _list_all(bench: Lab, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    headers = {"Authorization": f"Bearer {bench.token}"}
    with httpx.Client(base_url=bench.base, headers=headers, timeout=30) as client:
        offset = 0
        while True:
            answer = client.get(path, params={"limit": 1000, "offset": offset})
            answer.raise_for_status()
            page = answer.json()
            items += page.get("items") or []
            if not page.get("has_more"):
                return items
            offset += len(page.get("items") or [])


@dataclass(frozen=True)
class Found:
    """How many times each object exists live: trunk groups by name, SMS by `ref` (their
    user_data), rented numbers by the step that rented them (its tag)."""

    groups: Counter[str]
    sends: Counter[str]
    rented: Counter[str]


def found(bench: Lab) -> Found:
    groups = Counter(str(g.get("name")) for g in _list_all(bench, "/trunk_groups"))
    sends = Counter(str(m.get("user_data")) for m in _list_all(bench, "/sms/messages"))
    rented = Counter(
        str((d.get("attributes") or {}).get(STEP_TAG))
        for d in _list_all(bench, "/phonenumber/dids")
        if (d.get("attributes") or {}).get(STEP_TAG)
    )
    return Found(groups, sends, rented)


def missing_or_repeated(bench: Lab, plans: Iterable[OverlapPlan]) -> list[str]:
    """What the union of `plans` asks for that does not exist exactly once (a rent step:
    exactly its count of numbers): [] when all is well."""
    groups: set[str] = set()
    refs: set[str] = set()
    rents: dict[str, int] = {}
    for plan in plans:
        groups.update(plan.groups)
        refs.update(plan.refs)
        if plan.rents:
            rents[plan.rent_step] = max(rents.get(plan.rent_step, 0), plan.rents)
    live = found(bench)
    problems = [f"trunk_group {g} x{live.groups[g]}" for g in sorted(groups) if live.groups[g] != 1]
    problems += [f"sms {r} sent x{live.sends[r]}" for r in sorted(refs) if live.sends[r] != 1]
    problems += [
        f"step {step} rented {live.rented[step]} numbers for count {count}"
        for step, count in sorted(rents.items())
        if live.rented[step] != count
    ]
    return problems


def repeated(bench: Lab, plans: Iterable[OverlapPlan]) -> tuple[int, int]:
    """(objects made more than once, sends repeated) of `plans`: what must be 0."""
    live = found(bench)
    listed = list(plans)
    groups = {g for plan in listed for g in plan.groups}
    refs = {r for plan in listed for r in plan.refs}
    return (
        sum(live.groups[g] - 1 for g in groups if live.groups[g] > 1),
        sum(live.sends[r] - 1 for r in refs if live.sends[r] > 1),
    )


# --- holders and refusals -------------------------------------------------------------------

#: How a refused apply names the run that holds its objects (`RunsOverlap`).
HOLDER = re.compile(r"run (\S+) \(pid (\d+)\) is working on")


def holder_named(stderr: str) -> tuple[str, int] | None:
    match = HOLDER.search(stderr)
    return (match.group(1), int(match.group(2))) if match else None


def claimed_by(bench: Lab) -> dict[str, int]:
    """run id -> pid of every run holding claims now (read-only)."""
    path = claims_path(bench.home)
    if not path.exists():
        return {}
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=5)
    try:
        return dict(conn.execute("SELECT DISTINCT run_id, pid FROM claims").fetchall())
    except sqlite3.OperationalError:  # being created
        return {}
    finally:
        conn.close()


def wait_until_reading(bench: Lab, pid: int, since: int, timeout: float = 120) -> str:
    """The run id of process `pid` once it holds its claims and has sent the sandbox a request
    (so it is past claiming: stopping it now holds no lock of the claims file)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [run for run, holder in claimed_by(bench).items() if holder == pid]
        if runs and bench.requests(since):
            return runs[0]
        time.sleep(0.02)
    raise AssertionError(f"process {pid} claimed nothing within {timeout} s")


# --- a journal that lost commits --------------------------------------------------------------


def wal_commit_ends(wal: Path) -> list[int]:
    """The byte offset just past each commit frame of the WAL's current generation (frames
    carrying the header's salts), in order: cutting the file at one keeps the commits before."""
    data = wal.read_bytes()
    if len(data) < 32:
        return []
    page = int.from_bytes(data[8:12], "big")
    salts = data[16:24]
    ends: list[int] = []
    offset = 32
    while offset + 24 + page <= len(data):
        header = data[offset : offset + 24]
        if header[8:16] != salts:
            break
        offset += 24 + page
        if int.from_bytes(header[4:8], "big"):  # "database size after commit": a commit frame
            ends.append(offset)
    return ends


def _transitions_if_cut(db: Path, wal: bytes, scratch: Path) -> int:
    """How many state changes the journal would hold with only `wal` (a copy is opened)."""
    scratch.mkdir(parents=True, exist_ok=True)
    copy = scratch / "cut.db"
    for stale in (copy, scratch / "cut.db-wal", scratch / "cut.db-shm"):
        stale.unlink(missing_ok=True)
    copy.write_bytes(db.read_bytes())
    (scratch / "cut.db-wal").write_bytes(wal)
    conn = sqlite3.connect(copy)
    try:
        return int(conn.execute("SELECT count(*) FROM transitions").fetchone()[0])
    except sqlite3.OperationalError:  # not even the tables yet
        return 0
    finally:
        conn.close()


def cut_wal(db: Path, keep: float, scratch: Path) -> tuple[int, int]:
    """Cut the `-wal` of a journal whose writer was killed at the last commit that keeps at most
    `keep` of its state changes, as a damaged disk or a careless copy would. Returns (state
    changes before, after)."""
    wal = db.with_name(db.name + "-wal")
    data = wal.read_bytes()
    ends = wal_commit_ends(wal)
    total = _transitions_if_cut(db, data, scratch)
    target = int(total * keep)
    low, high = 0, len(ends) - 1  # the last commit end keeping at most `target`
    best = 32
    while low <= high:
        middle = (low + high) // 2
        if _transitions_if_cut(db, data[: ends[middle]], scratch) <= target:
            best, low = ends[middle], middle + 1
        else:
            high = middle - 1
    os.truncate(wal, best)
    return total, _transitions_if_cut(db, data[:best], scratch)


def found_live_on_resume(db: Path) -> int:
    """Creates a resume found live before sending them (their outcome was lost)."""
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        sql = "SELECT count(*) FROM transitions WHERE detail LIKE 'found live when the resume%'"
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()
