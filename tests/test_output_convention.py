"""One output convention (issue 17, item 5), as an operator meets it on the real commands against
the embedded sandbox: `-o` is a format everywhere (unknown ones refused, exit 2, naming the
choices), `--output-file` writes the data atomically and nothing to stdout, the old `-o PATH`
spellings still work with a deprecation note, a closed stdout pipe exits 0 quietly (and never
stops a run), and `report --failed` lists failures only while `--not-attempted` lists the rest."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bulkx.cli.main import app

REPO = Path(__file__).resolve().parents[1]
PLAN = "plans/port-in.yaml"
NUMBERS = "samples/ported-numbers.csv"
NOT_IN_INVENTORY = "+1 (212) 555-0199"


def bulkx(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bulkx", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=180,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "BULKX_HOME": ".bulkx"},
    )


def seeded_world(folder: Path) -> Path:
    for name in ("plans", "samples"):
        shutil.copytree(REPO / name, folder / name)  # the links' targets, not the links
    seeded = bulkx(folder, "sandbox", "seed", "--ported", NUMBERS)
    assert seeded.returncode == 0, seeded.stderr
    return folder


def rename_plan(folder: Path, name: str) -> Path:
    """A DID plan whose first item cannot be rented (not in the inventory), then every ported
    number renamed."""
    with (REPO / NUMBERS).open() as numbers:
        ported = [row["phonenumber"] for row in csv.DictReader(numbers)]
    plan = folder / f"{name}.csv"
    lines = ["# kind: did", "phonenumber,name", f"{NOT_IN_INVENTORY},fax"]
    plan.write_text("\n".join([*lines, *(f'"{number}",{name}' for number in ported)]) + "\n")
    return plan


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sandbox after a port-in, and one run stopped at its first failure: one item failed,
    the others never attempted."""
    folder = seeded_world(tmp_path_factory.mktemp("output"))
    plan = rename_plan(folder, "renamed")
    stopped = bulkx(folder, "apply", plan.name, "--yes", "--fail-fast", "--concurrency", "1")
    assert stopped.returncode == 5, stopped.stderr
    return folder


@pytest.fixture
def cli(world: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(world)
    monkeypatch.setenv("BULKX_HOME", ".bulkx")
    return CliRunner()


def run_id(world: Path) -> str:
    return next((world / ".bulkx" / "runs").glob("*.db")).stem


def invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(app, list(args))


#: Each command, the arguments it needs, its formats (default first) and its exit code.
COMMANDS: dict[str, tuple[tuple[str, ...], tuple[str, ...], int]] = {
    "validate": ((PLAN,), ("table", "json", "jsonl"), 0),
    "plan": ((PLAN,), ("table", "json", "jsonl", "csv"), 0),
    "audit": ((PLAN,), ("table", "json", "jsonl", "csv"), 2),  # the port-in is not applied
    "export": (("did",), ("csv",), 0),
    "runs": ((), ("table", "json", "jsonl", "csv"), 0),
    "status": (("RUN",), ("table", "json"), 0),
    "report": (("RUN",), ("csv", "json", "jsonl"), 0),
    "lookup": ((NUMBERS,), ("csv", "json", "jsonl"), 0),
    "kinds": ((), ("table", "json", "jsonl", "csv"), 0),
    "config": ((), ("table", "json"), 0),
}
CASES = [(command, fmt) for command, (_, formats, _) in COMMANDS.items() for fmt in formats]


def command_line(world: Path, command: str) -> list[str]:
    args, _, _ = COMMANDS[command]
    return [command, *(run_id(world) if a == "RUN" else a for a in args)]


def check_format(fmt: str, text: str, *, versioned: bool = True) -> None:
    """`text` is well-formed `fmt`; machine documents carry schema_version."""
    assert text.strip(), "no output"
    if fmt == "json":
        document = json.loads(text)
        if isinstance(document, dict) and versioned:
            assert document["schema_version"] == 1
    elif fmt == "jsonl":
        lines = [json.loads(line) for line in text.splitlines()]
        assert lines[0]["schema_version"] == 1 and "type" in lines[0]
        assert all(isinstance(line, dict) for line in lines)
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(text.split("\n", 1)[1] if text[0] == "#" else text)))
        assert rows and len({len(row) for row in rows}) == 1, "ragged CSV"


@pytest.mark.parametrize(("command", "fmt"), CASES)
def test_every_command_writes_each_of_its_formats(
    cli: CliRunner, world: Path, command: str, fmt: str
) -> None:
    result = invoke(cli, *command_line(world, command), "-o", fmt)
    assert result.exit_code == COMMANDS[command][2], result.output
    # `bulkx config -o json` keys each setting by name (no schema_version yet).
    check_format(fmt, result.stdout, versioned=command != "config")


@pytest.mark.parametrize("command", [c for c in COMMANDS if c not in ("export", "lookup")])
def test_an_unknown_format_is_refused_naming_the_choices(
    cli: CliRunner, world: Path, command: str
) -> None:
    result = invoke(cli, *command_line(world, command), "-o", "yaml")
    assert result.exit_code == 2
    assert f"'yaml' is not a format of this command; choose {'|'.join(COMMANDS[command][1])}" in (
        result.stderr
    )
    assert result.stdout == "" and "Traceback" not in result.stderr


def test_text_is_table_wherever_there_is_a_table(cli: CliRunner, world: Path) -> None:
    for command in ("validate", "plan", "status", "runs", "kinds", "config"):
        as_text = invoke(cli, *command_line(world, command), "-o", "text")
        as_table = invoke(cli, *command_line(world, command), "-o", "table")
        assert as_text.exit_code == as_table.exit_code == 0, as_text.output
        assert as_text.stdout == as_table.stdout


@pytest.mark.parametrize(
    ("command", "fmt"),
    [
        ("validate", "json"),
        ("plan", "csv"),
        ("export", "csv"),
        ("runs", "json"),
        ("status", "json"),
        ("report", "jsonl"),
        ("lookup", "csv"),
        ("kinds", "table"),
    ],
)
def test_output_file_holds_what_stdout_would(
    cli: CliRunner, world: Path, command: str, fmt: str
) -> None:
    printed = invoke(cli, *command_line(world, command), "-o", fmt)
    target = world / f"{command}.out"
    written = invoke(cli, *command_line(world, command), "-o", fmt, "--output-file", str(target))
    assert written.exit_code == printed.exit_code == 0, written.output
    assert written.stdout == ""
    assert f"wrote {target}" in written.stderr
    assert target.read_text() == printed.stdout
    assert not list(world.glob(f".{target.name}.*")), "a temporary file was left behind"


def test_json_lines_keep_each_rows_own_fields(cli: CliRunner) -> None:
    """A kind's fields have a `type` of their own: the line keeps it (the header says what the
    lines are)."""
    head, first, *_ = invoke(cli, "kinds", "did", "-o", "jsonl").stdout.splitlines()
    assert json.loads(head) == {"type": "kinds", "schema_version": 1, "kind": "did"}
    assert json.loads(first)["field"] == "phonenumber" and json.loads(first)["type"] == "e164"
    as_json = json.loads(invoke(cli, "kinds", "did", "-o", "json").stdout)
    assert as_json[0] == json.loads(first)  # -o json stays the list it always was


def test_an_output_file_that_cannot_be_written_is_a_usage_error(cli: CliRunner) -> None:
    result = invoke(cli, "kinds", "--output-file", "no-such-folder/kinds.txt")
    assert result.exit_code == 2
    assert "cannot write no-such-folder/kinds.txt" in result.stderr
    assert "Traceback" not in result.stderr


def test_old_o_path_spellings_still_write_the_file_with_a_note(cli: CliRunner, world: Path) -> None:
    exported = invoke(cli, "export", "did", "-o", "old-export.csv")
    assert exported.exit_code == 0, exported.output
    assert (world / "old-export.csv").read_text().startswith("# kind: did\n")
    assert "`bulkx export -o old-export.csv` is deprecated" in exported.stderr
    assert "--output-file old-export.csv" in exported.stderr and exported.stdout == ""
    looked_up = invoke(cli, "lookup", NUMBERS, "-o", "old-lookup.csv")
    assert looked_up.exit_code == 0, looked_up.output
    assert (world / "old-lookup.csv").read_text().startswith("line,input,phonenumber,")
    assert "--output-file old-lookup.csv" in looked_up.stderr
    both = invoke(cli, "export", "did", "-o", "a.csv", "--output-file", "b.csv")
    assert both.exit_code == 2 and "name the file once, with --output-file" in both.stderr
    assert not (world / "a.csv").exists() and not (world / "b.csv").exists()
    parquet = invoke(cli, "export", "did", "-o", "parquet")
    assert parquet.exit_code == 2 and "parquet is for record kinds" in parquet.stderr


def test_runs_as_json_lines_and_csv(cli: CliRunner, world: Path) -> None:
    document = json.loads(invoke(cli, "runs", "-o", "json").stdout)
    [run] = document["runs"]
    assert run["run_id"] == run_id(world) and run["state"] == "interrupted"
    assert run["counts"]["failed"] == 1 and run["plan"] == "renamed.csv"
    lines = [json.loads(line) for line in invoke(cli, "runs", "-o", "jsonl").stdout.splitlines()]
    assert [line["type"] for line in lines] == ["runs", "run"]
    assert lines[1]["run_id"] == run["run_id"]
    rows = list(csv.DictReader(io.StringIO(invoke(cli, "runs", "-o", "csv").stdout)))
    assert rows[0]["run_id"] == run["run_id"] and rows[0]["failed"] == "1"
    assert int(rows[0]["total"]) == sum(run["counts"].values())


def test_report_failed_lists_failures_only_and_not_attempted_the_rest(
    cli: CliRunner, world: Path
) -> None:
    run = run_id(world)
    counts = json.loads(invoke(cli, "status", run, "-o", "json").stdout)["counts"]
    assert counts["failed"] == 1 and counts["pending"] > 1, counts

    def csv_rows(*options: str) -> list[str]:
        result = invoke(cli, "report", run, *options)
        assert result.exit_code == 0, result.output
        return result.stdout.splitlines()

    failed = csv_rows("--failed")
    assert failed[:2] == ["# kind: did", "phonenumber,name,error"]
    assert len(failed) == 3 and failed[2].startswith("12125550199,fax,")
    unreached = csv_rows("--not-attempted")
    assert len(unreached) == 2 + counts["pending"]
    # Pending, or (the one a worker had taken next when the run stopped) about to be sent.
    endings = (",renamed,pending", ",renamed,the run stopped before this was sent")
    assert all(row.endswith(endings) for row in unreached[2:])
    assert csv_rows("--retry") == ["# kind: did", "phonenumber,name", "12125550199,fax"]
    retry_rest = csv_rows("--retry", "--not-attempted")
    assert retry_rest[1] == "phonenumber,name" and len(retry_rest) == 2 + counts["pending"]
    both = json.loads(
        invoke(cli, "report", run, "--failed", "--not-attempted", "-o", "json").stdout
    )
    assert len(both["items"]) == 1 + counts["pending"]
    everything = csv_rows()
    assert len(everything) == 1 + sum(counts.values())


def test_status_watch_takes_no_format(cli: CliRunner, world: Path) -> None:
    result = invoke(cli, "status", run_id(world), "--watch", "-o", "json")
    assert result.exit_code == 2 and "--watch prints text lines" in result.stderr


def closed_early(cwd: Path, *args: str, read_first_line: bool = False) -> tuple[int, str]:
    """Run bulkx with stdout a pipe its reader closes (at once, or after one line, as `head -1`
    does); its exit code and stderr."""
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "bulkx", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "BULKX_HOME": ".bulkx"},
        )
        assert process.stdout is not None
        if read_first_line:
            process.stdout.readline()
        process.stdout.close()
        code = process.wait(timeout=180)
        stderr.seek(0)
        return code, stderr.read()


@pytest.mark.parametrize(
    "args",
    [
        ("report", "RUN"),
        ("report", "RUN", "-o", "json"),
        ("plan", PLAN, "-o", "json"),
        ("runs",),
        ("status", "RUN"),
        ("kinds", "-o", "json"),
        ("export", "did"),
        ("validate", PLAN, "-o", "jsonl"),
        ("lookup", NUMBERS, "-o", "jsonl"),
    ],
)
def test_a_closed_pipe_exits_0_quietly(world: Path, args: tuple[str, ...]) -> None:
    line = [run_id(world) if a == "RUN" else a for a in args]
    code, stderr = closed_early(world, *line)
    assert code == 0, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
    assert "Broken pipe" not in stderr and "BrokenPipeError" not in stderr


def test_head_of_a_report_exits_0(world: Path) -> None:
    code, stderr = closed_early(world, "report", run_id(world), read_first_line=True)
    assert code == 0 and stderr == ""


def test_a_run_is_not_stopped_by_its_stdout_reader_going_away(tmp_path: Path) -> None:
    folder = seeded_world(tmp_path)
    plan = rename_plan(folder, "desk")
    code, stderr = closed_early(folder, "apply", plan.name, "--yes", "--events", "-")
    # The run's own exit code (one item failed), not the broken pipe's.
    assert code == 3, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
    [run] = json.loads(bulkx(folder, "runs", "-o", "json").stdout)["runs"]
    assert run["counts"]["failed"] == 1
    assert run["counts"]["succeeded"] == sum(run["counts"].values()) - 1
