"""`bulkx plan`, `audit` and `export` as a user runs them, against the embedded sandbox."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bulkx.cli.diff_commands import ReadProgressLine
from bulkx.cli.main import app as bulkx_app

REPO = Path(__file__).resolve().parents[1]


def bulkx(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bulkx", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sandbox after `bulkx sandbox seed --ported samples/ported-numbers.csv`, seeded once
    for the module (its tests only read it) and in-process: the setting, not the command under
    test (tests/test_cli.py runs that one as a process)."""
    db = tmp_path_factory.mktemp("plan-cli") / "world.db"
    ported = str(REPO / "samples" / "ported-numbers.csv")
    seeded = CliRunner().invoke(bulkx_app, ["sandbox", "seed", "--ported", ported, "--db", str(db)])
    assert seeded.exit_code == 0, seeded.output
    return db


def test_plan_shows_the_port_in_and_saves_it(world: Path, tmp_path: Path) -> None:
    saved = tmp_path / "changes.json"
    result = bulkx("plan", "plans/port-in.yaml", "--sandbox-db", str(world), "--save", str(saved))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Plan:   plans/port-in.yaml\nTarget: the embedded sandbox (")
    assert "+ trunk_group acme-sip" in out
    assert "trunk_group: null -> acme-sip" in out
    assert "3 to create, 0 to rent, 120 to update, 0 to release; 0 unchanged." in out
    # Everything but the target line (it holds a path) fits 80 columns.
    assert all(len(line) <= 80 for line in out.splitlines()[2:])
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    document = json.loads(saved.read_text())
    assert document["schema_version"] == 1
    assert len(document["changes"]) == 123


def test_machine_outputs_and_the_detailed_exit_code(world: Path) -> None:
    as_json = bulkx(
        "plan",
        "plans/port-in.yaml",
        "--sandbox-db",
        str(world),
        "-o",
        "json",
        "--detailed-exitcode",
    )
    assert as_json.returncode == 2
    summary = json.loads(as_json.stdout)["summary"]
    assert summary["ported-numbers"] == {"update": 40}
    as_csv = bulkx("plan", "plans/port-in.yaml", "--sandbox-db", str(world), "-o", "csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert {r["action"] for r in rows} == {"create", "update"}
    lines = bulkx("plan", "plans/port-in.yaml", "--sandbox-db", str(world), "-o", "jsonl")
    assert len(lines.stdout.splitlines()) == 124


def test_export_round_trips_as_an_adoption_plan_with_no_changes(
    world: Path, tmp_path: Path
) -> None:
    exported = tmp_path / "dids.csv"
    result = bulkx("export", "did", "--sandbox-db", str(world), "-o", str(exported))
    assert result.returncode == 0, result.stderr
    text = exported.read_text()
    assert text.startswith("# kind: did\nphonenumber,ensure,")
    assert text.count("\n") == 42
    assert bulkx("validate", str(exported)).returncode == 0
    audit = bulkx("audit", str(exported), "--sandbox-db", str(world))
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "0 to create, 0 to rent, 0 to update, 0 to release; 40 unchanged." in audit.stdout
    drift = bulkx("audit", "plans/port-in.yaml", "--sandbox-db", str(world))
    assert drift.returncode == 2


def test_an_invalid_plan_is_refused_before_any_request(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("# kind: did\nphonenumber,name\n12345,x\n")
    result = bulkx("plan", str(bad), "--sandbox-db", str(tmp_path / "w.db"))
    assert result.returncode == 2
    assert f"{bad}:3:1:" in result.stderr
    assert not (tmp_path / "w.db").exists()
    detailed = bulkx(
        "plan", str(bad), "--detailed-exitcode", "--sandbox-db", str(tmp_path / "w.db")
    )
    assert detailed.returncode == 1


def test_a_real_api_target_needs_https_and_a_token(tmp_path: Path) -> None:
    plain = bulkx(
        "plan",
        "plans/port-in.yaml",
        "--base-url",
        "http://api.example.com/core/v2",
        env={"CARRIERX_TOKEN": "x"},
    )
    assert plain.returncode == 6
    assert "http" in plain.stderr
    no_token = bulkx(
        "plan",
        "plans/port-in.yaml",
        "--base-url",
        "https://api.example.com/core/v2",
        env={"CARRIERX_TOKEN": ""},
    )
    assert no_token.returncode == 6
    assert "CARRIERX_TOKEN" in no_token.stderr


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_read_progress_on_a_pipe_is_a_line_every_few_seconds_and_at_each_end() -> None:
    out, clock = io.StringIO(), _Clock()
    line = ReadProgressLine(out, clock=clock)
    line("DIDs", 0, 2000)
    clock.now = 1.0
    line("DIDs", 2000, 2000)
    for done, at in ((0, 1.0), (400, 3.0), (1200, 6.5), (1300, 7.0), (2000, 9.0)):
        clock.now = at
        line("DIDs (E911)", done, 2000)
    line.close()
    assert out.getvalue().splitlines() == [
        "reading live state: 2,000/2,000 DIDs",
        "reading live state: 1,200/2,000 DIDs (E911)",
        "reading live state: 2,000/2,000 DIDs (E911)",
    ]


def test_read_progress_on_a_terminal_redraws_one_line() -> None:
    out, clock = _Terminal(), _Clock()
    line = ReadProgressLine(out, clock=clock)
    for done in (0, 1, 2):
        clock.now += 1
        line("DIDs (E911)", done, 3)
    line.close()
    assert out.getvalue() == (
        "\r\x1b[2Kreading live state: 0/3 DIDs (E911)"
        "\r\x1b[2Kreading live state: 1/3 DIDs (E911)"
        "\r\x1b[2Kreading live state: 2/3 DIDs (E911)\n"
    )
    closed = _Terminal()
    gone = ReadProgressLine(closed, clock=clock)
    closed.close()
    clock.now += 1
    gone("DIDs", 1, 2)  # a closed stderr never stops the read
    gone.close()
