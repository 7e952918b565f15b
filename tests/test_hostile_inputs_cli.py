"""Hostile plans and names through the real `bulkx` command (issue 15 items 4, 5, 7, 9):
positioned errors with exit 2 and no traceback; no formula in a CSV cell, no control byte on
the terminal, no token echoed from a base URL."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bulkx.cli.main import app as bulkx_app
from bulkx.plan.csv_source import MAX_HEADER_CHARS
from bulkx.plan.load import load_plan

REPO = Path(__file__).resolve().parents[1]
FORMULA = '=HYPERLINK("http://evil.example/","x")'
DDE = "=cmd|' /C calc'!A0"


def bulkx(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bulkx", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )


def _bomb() -> str:
    lines = ["steps:", "  - kind: did", "    items:"]
    previous = '"lol"'
    for level in range(9):
        lines += [
            f'      - phonenumber: "151620655{70 + level}"',
            f"        name: &a{level} [{', '.join([previous] * 9)}]",
        ]
        previous = f"*a{level}"
    return "\n".join(lines) + "\n"


TG = "steps:\n  - kind: trunk_group\n"
DID = "steps:\n  - kind: did\n"
# fmt: off
CASES = {
    "typo in an item's only key": ("p.yaml", TG + "    items: [{nam: tg1}]\n", "p.yaml:3:14:"),
    "rename onto a column the CSV has": (
        "p.yaml", DID + "    source: a.csv\n    columns: {name: x}\n", "p.yaml:4:21:",
    ),
    "custom tag on steps": (
        "p.yaml", "version: 1\nsteps: !foo\n  - kind: did\n    count: 2\n", "p.yaml:2:8:",
    ),
    "custom tag on the root": ("p.yaml", "!foo\n- kind: did\n  count: 2\n", "p.yaml:1:1:"),
    "absurd count": ("p.yaml", DID + "    count: 1000000000000\n", "p.yaml:3:12:"),
    "device as source": ("p.yaml", DID + "    source: /dev/zero\n", "p.yaml:3:13:"),
    "fifo as source": ("p.yaml", DID + "    source: pipe.csv\n", "p.yaml:3:13:"),
    "alias bomb": ("p.yaml", _bomb(), "p.yaml:21:15:"),
    "huge header": (
        "p.csv", "# kind: did\nphonenumber," + "x" * MAX_HEADER_CHARS + "\n1,2\n", "p.csv:2:0:",
    ),
    "late NUL byte": (
        "p.csv",
        "# kind: did\nphonenumber\n" + "15162065575\n" * 800 + "1516206\x005576\n",
        "p.csv:803:0:",
    ),
    "unterminated quote": (
        "p.csv", '# kind: did\nphonenumber,name\n15162065575,"abc', "p.csv:3:2:",
    ),
}
# fmt: on


@pytest.mark.parametrize("case", sorted(CASES))
def test_validate_gives_a_positioned_error_and_exit_2(tmp_path: Path, case: str) -> None:
    name, text, position = CASES[case]
    (tmp_path / name).write_text(text)
    (tmp_path / "a.csv").write_text("phonenumber,name,x\n15162065575,a,b\n")
    os.mkfifo(tmp_path / "pipe.csv")
    started = time.perf_counter()
    result = bulkx(tmp_path, "validate", name)
    assert time.perf_counter() - started < 30
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert any(line.startswith(position) for line in result.stdout.splitlines()), result.stdout


def test_a_hundred_thousand_unknown_columns_print_a_bounded_report(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("# kind: did\n" + ",".join("c" * 100_000) + "\n")
    result = bulkx(tmp_path, "validate", "p.csv")
    assert result.returncode == 2
    assert len(result.stdout.splitlines()) < 10  # one error: too many columns


def test_plan_shows_control_characters_escaped(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(
        'steps:\n  - kind: trunk_group\n    name: "step\\e[2J"\n    items:\n'
        '      - name: "tg\\e]0;pwned\\a\\e[2J"\n      - name: "hidden\\rshown"\n'
    )
    validated = bulkx(tmp_path, "validate", "p.yaml")
    assert validated.returncode == 0
    assert validated.stdout.count("warning: ") == 3 and "\x1b" not in validated.stdout
    result = bulkx(tmp_path, "plan", "p.yaml", "--sandbox-db", str(tmp_path / "w.db"))
    assert result.returncode == 0, result.stderr
    for raw in ("\x1b", "\x07", "\r"):
        assert raw not in result.stdout + result.stderr
    assert "+ trunk_group tg\\x1b]0;pwned\\x07\\x1b[2J" in result.stdout
    assert "+ trunk_group hidden\\x0dshown" in result.stdout
    assert "step\\x1b[2J" in result.stdout


def test_plan_csv_quotes_formulas_and_keeps_numbers(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(
        f"steps:\n  - kind: trunk_group\n    items:\n      - name: '{FORMULA}'\n"
        f"      - name: \"{DDE}\"\n      - name: '+15551234567'\n"
    )
    result = bulkx(tmp_path, "plan", "p.yaml", "-o", "csv", "--sandbox-db", str(tmp_path / "w.db"))
    assert result.returncode == 0, result.stderr
    keys = [row["key"] for row in csv.DictReader(io.StringIO(result.stdout))]
    assert keys == ["'" + FORMULA, "'" + DDE, "+15551234567"]


def _seeded(tmp_path: Path) -> Path:
    """`bulkx sandbox seed` in-process: the setting, not the command under test."""
    db = tmp_path / "world.db"
    ported = str(REPO / "samples" / "ported-numbers.csv")
    seeded = CliRunner().invoke(bulkx_app, ["sandbox", "seed", "--ported", ported, "--db", str(db)])
    assert seeded.exit_code == 0, seeded.output
    return db


def test_export_quotes_formulas_and_round_trips_as_a_plan(tmp_path: Path) -> None:
    db = _seeded(tmp_path)
    names = {"12013140409": FORMULA, "16314282286": "-note", "12019588935": "+15551234567"}
    rows = "".join(f'{n},adopted,"{v.replace(chr(34), 2 * chr(34))}"\n' for n, v in names.items())
    (tmp_path / "names.csv").write_text(f"# kind: did\nphonenumber,ensure,name\n{rows}")
    applied = bulkx(tmp_path, "apply", "names.csv", "--yes", "--sandbox-db", str(db))
    assert applied.returncode == 0, applied.stderr
    exported = bulkx(tmp_path, "export", "did", "--sandbox-db", str(db), "-o", "dids.csv")
    assert exported.returncode == 0, exported.stderr
    by_number = {
        r["phonenumber"]: r["name"]
        for r in csv.DictReader(io.StringIO((tmp_path / "dids.csv").read_text().split("\n", 1)[1]))
    }
    assert by_number["12013140409"] == "'" + FORMULA
    assert by_number["16314282286"] == "'-note"
    assert by_number["12019588935"] == "+15551234567"
    plan, _ = load_plan(tmp_path / "dids.csv")
    assert plan is not None
    loaded = dict(zip(plan.steps[0].rows["phonenumber"], plan.steps[0].rows["name"], strict=True))
    assert all(loaded[n] == v for n, v in names.items())
    audit = bulkx(tmp_path, "audit", "dids.csv", "--sandbox-db", str(db))
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_report_csv_and_retry_quote_formulas_and_retry_reads_back(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text(f'# kind: did\nphonenumber,name\n+1 (212) 555-0199,"{DDE}"\n')
    db = tmp_path / "w.db"
    result = bulkx(tmp_path, "apply", "p.csv", "--yes", "--sandbox-db", str(db))
    assert result.returncode == 3, result.stderr  # not in the inventory: it fails
    run_id = next(x for x in result.stderr.splitlines() if x.startswith("run id: ")).split()[-1]
    everything = bulkx(tmp_path, "report", run_id)
    assert DDE not in everything.stdout.replace("'" + DDE, "")
    retry = bulkx(tmp_path, "report", run_id, "--retry")
    assert retry.stdout == f"# kind: did\nphonenumber,name\n12125550199,'{DDE}\n"
    (tmp_path / "retry.csv").write_text(retry.stdout)
    plan, diagnostics = load_plan(tmp_path / "retry.csv")
    assert plan is not None and diagnostics == []
    assert plan.steps[0].rows["name"].to_list() == [DDE]


def test_the_retry_of_failed_rentals_is_a_plan_that_validates_and_rents_again(
    tmp_path: Path,
) -> None:
    # Issue 15 item 9: the retry of a failed count-based rental was an empty CSV (a rental has
    # no number until it is made), which `bulkx validate` refused.
    (tmp_path / "rent.yaml").write_text(
        "steps:\n  - kind: did\n    name: rent-none\n    count: 2\n"
        "    criteria: {npa: '999'}\n    template: {name: 'rented: \"x\"'}\n"
        "  - kind: trunk_group\n    items: [{name: tg-ok}]\n"
    )
    db = tmp_path / "w.db"
    result = bulkx(tmp_path, "apply", "rent.yaml", "--yes", "--sandbox-db", str(db))
    assert result.returncode == 3, result.stderr  # no number in NPA 999: both rentals fail
    run_id = next(x for x in result.stderr.splitlines() if x.startswith("run id: ")).split()[-1]
    retry = bulkx(tmp_path, "report", run_id, "--retry")
    assert retry.returncode == 0, retry.stderr
    (tmp_path / "retry.yaml").write_text(retry.stdout)
    plan, diagnostics = load_plan(tmp_path / "retry.yaml")
    assert plan is not None and diagnostics == []
    (step,) = plan.steps  # the failures only: the trunk group was made
    assert (step.kind, step.count) == ("did", 2)
    assert bulkx(tmp_path, "validate", "retry.yaml").returncode == 0


def test_a_token_in_the_base_url_is_not_echoed(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("steps:\n  - kind: trunk_group\n    items: [{name: a}]\n")
    for url in (
        "https://api.example.com/core/v2?token=SECRET-CANARY-123",
        "https://api.example.com/wrong/v2?token=SECRET-CANARY-123",
        "https://api.exa mple.com/core/v2?token=SECRET-CANARY-123",
    ):
        result = bulkx(
            tmp_path, "plan", "p.yaml", "--base-url", url, env={"CARRIERX_TOKEN": "tok-0123456789"}
        )
        assert result.returncode == 6, result.stderr
        assert "SECRET-CANARY" not in result.stdout + result.stderr
        assert "?REDACTED" in result.stderr


def test_the_workspace_the_embedded_sandbox_creates_is_private_under_umask_000(
    tmp_path: Path,
) -> None:
    # Issue 15 item 9: `.bulkx/` came out 0777 under umask 000 when the sandbox made it first.
    (tmp_path / "g.csv").write_text("# kind: did_group\nname\ng1\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BULKX_", "CARRIERX_"))}
    planned = subprocess.run(
        [sys.executable, "-m", "bulkx", "plan", "g.csv"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env=env,
        preexec_fn=lambda: os.umask(0),  # only the child's umask, before exec
    )
    assert planned.returncode == 0, planned.stderr
    assert (tmp_path / ".bulkx").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / ".bulkx" / "sandbox.db").stat().st_mode & 0o077 == 0
