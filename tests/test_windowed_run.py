"""A real run through a tiny window (BULKX_WINDOW=3): trunk groups, then trunks in them, then
numbers routed to them and their line information; a failure whose dependents are loaded long
after it left the window; killed with kill -9 and resumed. Against a served sandbox on
127.0.0.1, with the real `bulkx` command."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bulkx.engine.window import WINDOW_ENV
from bulkx.journal import JournalReader
from bulkx.sandbox.app import SandboxApp, SandboxConfig, create_app
from bulkx.sandbox.resources.numbers import seed_ported
from bulkx.sandbox.seeding import read_ported_csv
from bulkx.sandbox.server import serve_in_thread
from tests.test_run_is_its_journal import bulkx, counts, killed_apply

REPO = Path(__file__).resolve().parents[1]
GROUPS = 6
#: Not on the account nor in the inventory: renting each fails (a 404 from the API).
NOT_OURS = ("+12125550199", "+12125550198")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[SandboxApp, str]]:
    """A sandbox on 127.0.0.1 holding the ported numbers, each request 60 ms slow."""
    app = create_app(SandboxConfig(db=tmp_path / "served.db", seed=3, faults="latency=60ms"))
    ported, _ = read_ported_csv(REPO / "samples" / "ported-numbers.csv")
    seed_ported(app.world, ported)
    with serve_in_thread(app) as server:
        yield app, f"{server.url}/core/v2"


def write_plan(path: Path) -> Path:
    """6 trunk groups; a trunk in each; a number nobody can rent, 24 ported numbers routed to
    the groups and a second number nobody can rent; line information for both unrentable
    numbers and six of the others. Each unrentable number's line information depends on its
    rent, and comes 26 and 2 operations after it."""
    with (REPO / "samples" / "ported-numbers.csv").open() as rows:
        numbers = [row["phonenumber"] for row in csv.DictReader(rows)][:24]
    lines = ["version: 1", "steps:", "  - kind: trunk_group", "    name: groups", "    items:"]
    lines += [f"      - name: tg-{g}" for g in range(GROUPS)]
    lines += ["  - kind: trunk", "    name: trunks", "    items:"]
    lines += [f"      - {{trunk_group: tg-{g}, name: trunk-{g}}}" for g in range(GROUPS)]
    lines += ["  - kind: did", "    name: numbers", "    items:"]
    lines += [f"      - {{phonenumber: '{NOT_OURS[0]}', trunk_group: tg-0}}"]
    lines += [
        f"      - {{phonenumber: '{n}', trunk_group: tg-{i % GROUPS}}}"
        for i, n in enumerate(numbers)
    ]
    lines += [f"      - {{phonenumber: '{NOT_OURS[1]}', trunk_group: tg-1}}"]
    lines += [
        "  - kind: did_line_information",
        "    name: cnam",
        "    defaults: {caller_name: ACME Corp}",
        "    items:",
    ]
    lines += [f"      - {{phonenumber: '{n}'}}" for n in (*NOT_OURS, *numbers[:6])]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_run_through_a_tiny_window_killed_and_resumed(
    tmp_path: Path, served: tuple[SandboxApp, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, base = served
    monkeypatch.setenv(WINDOW_ENV, "3")  # for the apply and the resume: 3 loaded at most
    write_plan(tmp_path / "w.yaml")
    # 20 settled: the first unrentable number (the 13th operation) failed before the kill,
    # with the line information that depends on it not even loaded.
    run_id = killed_apply(tmp_path, 20, "w.yaml", "--yes", "--base-url", base, "--concurrency", "2")
    app.controls.clear_faults()  # the latency was to kill it mid-run; the resume needs none
    with JournalReader.open(tmp_path / ".bulkx", run_id) as reader:
        failed = reader.ops("failed", limit=5)
        # Only the first: the second is far ahead, for the resume to meet.
        assert [op.key for op in failed] == ["12125550199"]
        assert reader.counts()["skipped"] == 0

    resumed = bulkx(tmp_path, "resume", run_id, "--yes")
    assert resumed.returncode == 3, resumed.stderr  # two failures, nothing else wrong
    assert counts(tmp_path, run_id) == {
        **dict.fromkeys(counts(tmp_path, run_id), 0),
        "succeeded": 42,
        "failed": 2,
        "skipped": 2,
    }
    with JournalReader.open(tmp_path / ".bulkx", run_id) as reader:
        skipped = {(op.kind, op.key): op.error for op in reader.ops("skipped")}
    # One skipped because the journal said its rent failed in the killed process; the other
    # because the resume saw it fail, long before the line information was loaded.
    assert skipped == {
        ("did_line_information", "12125550199"): "a dependency failed: 12125550199",
        ("did_line_information", "12125550198"): "a dependency failed: 12125550198",
    }

    # Nothing was created twice: what was in flight at the kill was looked up, not resent.
    creates = [e["path"] for e in app.controls.log.entries(0, 100_000) if e["method"] == "POST"]
    assert sum(path.endswith("/trunk_groups") for path in creates) == GROUPS
    assert sum(path.endswith("/trunks") for path in creates) == GROUPS
    planned = bulkx(tmp_path, "plan", "w.yaml", "--base-url", base, "-o", "json")
    left = [c for c in json.loads(planned.stdout)["changes"] if c["action"] != "noop"]
    assert sorted((c["kind"], c["key"]) for c in left) == [
        ("did", "12125550198"),
        ("did", "12125550199"),
        ("did_line_information", "12125550198"),
        ("did_line_information", "12125550199"),
    ]
