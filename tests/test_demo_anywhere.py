"""`bulkx demo` from any folder (issue 17, item 3): the installed command, run in an empty
folder, finds the example plans that ship with bulkx, seeds and applies them on the sandbox world
and journal root the other commands use by default, and leaves the README's next commands
working. A second demo changes nothing; the demo never contacts a configured API."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest
from typer.testing import CliRunner

from bulkx.cli.main import app as bulkx_app
from bulkx.examples import shipped_files, shipped_root
from bulkx.plan.load import load_plan
from bulkx.sandbox.app import SandboxApp, SandboxConfig, create_app
from bulkx.sandbox.seeding import read_ported_csv
from bulkx.sandbox.server import serve_in_thread

REPO = Path(__file__).resolve().parents[1]
#: The console script pip installed next to this interpreter: the command a user types.
BULKX = Path(sys.executable).with_name("bulkx")


def bulkx(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BULKX_", "CARRIERX_"))}
    clean["XDG_CONFIG_HOME"] = str(cwd / "xdg")  # never the real user's profiles
    return subprocess.run(
        [str(BULKX), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        env={**clean, **env},
        stdin=subprocess.DEVNULL,
    )


def ported_numbers() -> int:
    numbers, problems = read_ported_csv(shipped_root() / "samples" / "ported-numbers.csv")
    assert not problems
    return len(numbers)


def rented_by_new_site() -> int:
    plan, _ = load_plan(shipped_root() / "plans" / "new-site.yaml")
    assert plan is not None
    return sum(step.count or 0 for step in plan.steps)


def csv_rows(text: str) -> list[dict[str, str]]:
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


def journals(folder: Path) -> list[Path]:
    return sorted((folder / ".bulkx" / "runs").glob("*.db"))


@pytest.fixture(scope="module")
def after_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """An empty folder in which `bulkx demo` has run once: (the folder, the demo's stdout)."""
    folder = tmp_path_factory.mktemp("empty")
    result = bulkx(folder, "demo")
    assert result.returncode == 0, result.stderr
    return folder, result.stdout


def test_the_demo_runs_in_an_empty_folder(after_demo: tuple[Path, str]) -> None:
    folder, stdout = after_demo
    assert "Summary" in stdout
    assert "plans/port-in.yaml        123 succeeded, 0 failed" in stdout
    dids = ported_numbers() + rented_by_new_site()
    assert f"DIDs on the account     {dids:>5}" in stdout
    # What it leaves behind: the examples it ran (so the next commands read the same files),
    # the default sandbox world, and its two runs in the default journal root.
    for name, content in shipped_files().items():
        assert (folder / name).read_bytes() == content, name
    assert (folder / ".bulkx" / "sandbox.db").is_file()
    assert len(journals(folder)) == 2
    assert "`bulkx plan plans/port-in.yaml`" in stdout


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["sandbox", "seed", "--ported", "samples/ported-numbers.csv"], "were there already"),
        (["validate", "plans/port-in.yaml"], "plan is valid"),
        (["plan", "plans/port-in.yaml"], "0 to create, 0 to rent, 0 to update, 0 to release"),
        (["audit", "plans/port-in.yaml"], ""),
        (["apply", "plans/port-in.yaml", "--yes"], "Nothing to do"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_the_readme_commands_after_the_demo_work(
    after_demo: tuple[Path, str], command: list[str], expected: str
) -> None:
    folder, _ = after_demo
    result = bulkx(folder, *command)
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout + result.stderr
    assert "blocked" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_plan_after_the_demo_finds_everything_in_place(after_demo: tuple[Path, str]) -> None:
    folder, _ = after_demo
    result = bulkx(folder, "plan", "plans/port-in.yaml", "-o", "csv")
    assert result.returncode == 0, result.stderr
    rows = csv_rows(result.stdout)
    assert {row["action"] for row in rows} == {"noop"}
    assert sum(row["kind"] == "did" for row in rows) == ported_numbers()


def test_the_demo_leaves_a_correction_to_review(after_demo: tuple[Path, str]) -> None:
    folder, _ = after_demo
    corrections = csv_rows((folder / "samples" / "e911-corrections.csv").read_text())
    result = bulkx(folder, "plan", "plans/e911-correction.yaml", "-o", "csv")
    assert result.returncode == 0, result.stderr
    updated = {row["key"] for row in csv_rows(result.stdout) if row["action"] == "update"}
    assert len(updated) == len(corrections)


def test_export_runs_status_and_report_see_the_demo(after_demo: tuple[Path, str]) -> None:
    folder, _ = after_demo
    exported = bulkx(folder, "export", "did")
    assert exported.returncode == 0, exported.stderr
    assert len(csv_rows(exported.stdout)) == ported_numbers() + rented_by_new_site()
    listed = bulkx(folder, "runs")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count("completed") == 2
    assert "plans/port-in.yaml" in listed.stdout and "plans/new-site.yaml" in listed.stdout
    assert "embedded sandbox" in listed.stdout  # journaled on the world, not the demo's port
    for journal in journals(folder):
        status = bulkx(folder, "status", journal.stem)
        assert status.returncode == 0, status.stderr
        assert "completed" in status.stdout
        report = bulkx(folder, "report", journal.stem, "-o", "csv")
        assert report.returncode == 0, report.stderr
        assert {row["state"] for row in csv_rows(report.stdout)} == {"succeeded"}


def test_a_second_demo_undoes_nothing_done_since(
    tmp_path: Path, after_demo: tuple[Path, str]
) -> None:
    # A copy of the folder the first demo ran in (that demo is checked above), so the
    # engineer's own work below changes only this test's world.
    folder, _ = after_demo
    work = tmp_path / "again"
    shutil.copytree(folder, work)
    # The engineer's own work on the sandbox since: a correction applied, a number added.
    corrected = bulkx(work, "apply", "plans/e911-correction.yaml", "--yes")
    assert corrected.returncode == 0, corrected.stderr
    corrections = csv_rows((work / "samples" / "e911-corrections.csv").read_text())
    (work / "mine.csv").write_text("phonenumber\n+1 (516) 206-5575\n")
    ported, db = work / "mine.csv", work / ".bulkx" / "sandbox.db"
    seeded = CliRunner().invoke(  # in-process: the setting, not the command under test
        bulkx_app, ["sandbox", "seed", "--ported", str(ported), "--db", str(db)]
    )
    assert seeded.exit_code == 0, seeded.output
    plans_before = {p: p.read_bytes() for p in (work / "plans").iterdir()}

    again = bulkx(work, "demo")

    assert again.returncode == 0, again.stderr
    # port-in would put the old E911 addresses back: it is left unapplied, and says why.
    assert f"plans/port-in.yaml       not applied: {len(corrections)} change(s)" in again.stdout
    assert "`bulkx plan plans/port-in.yaml` shows them" in again.stderr
    assert "plans/new-site.yaml      nothing left to do" in again.stdout
    assert len(journals(work)) == 3  # the two demo runs and the correction; none added
    dids = ported_numbers() + rented_by_new_site() + 1
    assert f"DIDs on the account     {dids:>5}" in again.stdout
    still = bulkx(work, "plan", "plans/e911-correction.yaml")
    assert still.returncode == 0, still.stderr
    assert "0 to create, 0 to rent, 0 to update, 0 to release" in still.stdout + still.stderr
    assert {p: p.read_bytes() for p in (work / "plans").iterdir()} == plans_before


def test_a_folder_with_its_own_plans_is_left_alone(tmp_path: Path) -> None:
    mine = tmp_path / "plans" / "ours.yaml"
    mine.parent.mkdir()
    mine.write_text("steps: []\n")
    result = bulkx(tmp_path, "demo")
    assert result.returncode == 0, result.stderr
    assert [p.name for p in (tmp_path / "plans").iterdir()] == ["ours.yaml"]
    assert not (tmp_path / "samples").exists()
    # It ran the installed examples, and says where they are for the next commands.
    assert f"bulkx plan {shipped_root() / 'plans' / 'port-in.yaml'}" in result.stdout


@pytest.fixture
def live_stand_in(tmp_path: Path) -> Iterator[tuple[SandboxApp, str]]:
    """A server standing in for a real API the engineer has configured."""
    app = create_app(SandboxConfig(db=tmp_path / "live.db", seed=3))
    with serve_in_thread(app) as server:
        yield app, f"{server.url}/core/v2"


def test_the_demo_never_contacts_a_configured_api(
    tmp_path: Path, live_stand_in: tuple[SandboxApp, str]
) -> None:
    app, base = live_stand_in
    work = tmp_path / "work"
    work.mkdir()
    (work / "bulkx.toml").write_text(
        f'default_profile = "prod"\n[profiles.prod]\nbase_url = "{base}"\n'
    )
    before = app.controls.log.last_seq
    result = bulkx(
        work,
        "demo",
        BULKX_BASE_URL=base,
        BULKX_PROFILE="prod",
        CARRIERX_TOKEN="live-token-do-not-use",
    )
    assert result.returncode == 0, result.stderr
    assert app.controls.log.last_seq == before
    assert app.world.store.counts()["dids"] == 0
    assert (work / ".bulkx" / "sandbox.db").is_file()


def test_an_unusable_sandbox_world_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "notes.db").write_text("my notes, not a database\n")
    result = bulkx(tmp_path, "demo", "--sandbox-db", "notes.db")
    assert result.returncode == 2, result.stderr
    assert "notes.db is not a sandbox world" in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "notes.db").read_text() == "my notes, not a database\n"


def test_the_checkout_examples_are_the_shipped_ones() -> None:
    """One copy: the checkout's plans/ and samples/ are the package's, and the package data
    globs take every file in them (a file they missed would be absent after pip install)."""
    for directory in ("plans", "samples"):
        assert (REPO / directory).resolve() == (shipped_root() / directory).resolve()
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["bulkx.examples"]
    for name in shipped_files():
        assert any(PurePosixPath(name).match(pattern) for pattern in globs), name
