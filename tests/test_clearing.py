"""Clearing a field, and backing up first (issue 17, item 4).

An empty CSV cell (or a YAML key left out) leaves a field as it is; `<clear>` in a CSV cell, or
a YAML null, clears it. A clear is validated offline (never of a required field), shown by the
diff as `old -> (cleared)`, sent as the API's empty value for the field, and written back by
`bulkx export` so that an export applied later reverts a correction. All against a served
sandbox, through the real command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Sandbox
from tests.kinds.cli import Bulkx, write

SETUP = """
steps:
  - kind: trunk_group
    items: [{name: acme-sip}]
  - kind: did
    items:
      - {phonenumber: "ONE", name: HQ line 1, trunk_group: acme-sip, callback_url:
         "https://cb.example.com/one"}
      - {phonenumber: "TWO", name: HQ line 2, trunk_group: acme-sip}
  - kind: did_emergency
    items:
      - {phonenumber: "ONE", caller_name: ACME, address_1: 1 Main St, address_2: Floor 3,
         city: New York, state: NY, zip: "10001"}
      - {phonenumber: "TWO", caller_name: ACME, address_1: 9 Elm St, address_2: Suite 100,
         city: Albany, state: NY, zip: "12207"}
  - kind: did_line_information
    items: [{phonenumber: "ONE", caller_name: ACME, extended_first_name: Ana,
             extended_last_name: Lima}]
"""

HEADER = "# kind: did_emergency\nphonenumber,address_1,address_2,city,state,zip\n"


@pytest.fixture
def bulkx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> Bulkx:
    monkeypatch.chdir(tmp_path)
    return Bulkx(sandbox)


@pytest.fixture
def numbers(bulkx: Bulkx, tmp_path: Path) -> tuple[str, str]:
    """Two DIDs with E911 addresses (a suite each) and line information, made by apply."""
    blocks = bulkx.sandbox.world.inventory.blocks
    one, two = f"{blocks[2].prefix}1234", f"{blocks[4].prefix}4321"
    text = SETUP.replace('"ONE"', f'"{one}"').replace('"TWO"', f'"{two}"')
    bulkx.apply(write(tmp_path / "setup.yaml", text))
    return one, two


def _record(bulkx: Bulkx, number: str, record: str) -> Any:
    (did,) = bulkx.get(f"/phonenumber/dids?filter=phonenumber+eq+{number}")
    return bulkx.get(f"/phonenumber/dids/{did['did_sid']}/{record}")


def _address(bulkx: Bulkx, number: str) -> dict[str, Any]:
    location: dict[str, Any] = _record(bulkx, number, "emergency")["locations"][0]
    return location


def test_clear_cell_empties_the_suite_and_an_empty_cell_keeps_it(
    bulkx: Bulkx, numbers: tuple[str, str], tmp_path: Path
) -> None:
    one, two = numbers
    fix = write(
        tmp_path / "fix.csv",
        HEADER + f"{one},1 Main St,<clear>,New York,NY,10001\n{two},10 Elm St,,Albany,NY,12207\n",
    )
    bulkx.validate(fix)
    shown = bulkx.run("plan", str(fix))
    assert shown.exit_code == 0, shown.output
    assert "address_2: Floor 3 -> (cleared)" in shown.stdout
    assert "address_2" not in shown.stdout.split(f"did_emergency {two}")[1]
    (cleared, moved) = sorted(bulkx.changes(fix), key=lambda c: c["key"] != one)
    assert cleared["changes"] == [{"field": "address_2", "old": "Floor 3", "new": None}]
    assert moved["changes"] == [{"field": "address_1", "old": "9 Elm St", "new": "10 Elm St"}]

    bulkx.apply(fix)
    # The documented empty address line is "" (docs.carrierx.com/voice/core-api/phone-numbers/
    # did-emergency/get); the other number's suite went out with its new street, unchanged.
    assert _address(bulkx, one)["address_2"] == ""
    assert (_address(bulkx, two)["address_1"], _address(bulkx, two)["address_2"]) == (
        "10 Elm St",
        "Suite 100",
    )


@pytest.mark.parametrize("written", ["~", "null", "", '""'])
def test_a_yaml_null_clears(
    written: str, bulkx: Bulkx, numbers: tuple[str, str], tmp_path: Path
) -> None:
    one, _ = numbers
    plan = write(
        tmp_path / "fix.yaml",
        f"""steps:
  - kind: did_emergency
    items:
      - phonenumber: "{one}"
        address_1: 1 Main St
        address_2: {written}
        city: New York
        state: NY
        zip: "10001"
""",
    )
    (change,) = bulkx.changes(plan)
    assert change["changes"] == [{"field": "address_2", "old": "Floor 3", "new": None}]
    bulkx.apply(plan)
    assert _address(bulkx, one)["address_2"] == ""


def test_clears_of_a_did_and_its_line_information(
    bulkx: Bulkx, numbers: tuple[str, str], tmp_path: Path
) -> None:
    one, _ = numbers
    dids = write(
        tmp_path / "dids.csv",
        f"# kind: did\nphonenumber,name,trunk_group,callback_url\n{one},<clear>,<clear>,<clear>\n",
    )
    (change,) = bulkx.changes(dids)
    assert {c["field"]: (c["old"], c["new"]) for c in change["changes"]} == {
        "name": ("HQ line 1", None),
        "trunk_group": ("acme-sip", None),
        "callback_url": ("https://cb.example.com/one", None),
    }
    bulkx.apply(dids)
    (did,) = bulkx.get(f"/phonenumber/dids?filter=phonenumber+eq+{one}")
    # An unnamed DID reads "N/A"; no trunk group and no callback are null.
    assert (did["name"], did["trunk_group_sid"], did["callback_url"]) == ("N/A", None, None)

    line = write(
        tmp_path / "line.csv",
        f"# kind: did_line_information\nphonenumber,extended_first_name,extended_last_name\n"
        f"{one}, <CLEAR> ,\n",
    )
    bulkx.apply(line)
    record = _record(bulkx, one, "line_information")
    assert (record["extended_first_name"], record["extended_last_name"]) == ("", "Lima")


def test_a_clear_of_a_field_that_cannot_be_cleared_is_a_positioned_error(
    bulkx: Bulkx, tmp_path: Path
) -> None:
    plan = write(
        tmp_path / "bad.csv",
        "# kind: did_emergency\nphonenumber,address_1,city,state,zip,enabled\n"
        "+1 516 206 5575,<clear>,Town,NY,10001,true\n"
        "+1 516 206 5576,2 Main St,Town,NY,10001,<clear>\n",
    )
    result = bulkx.run("validate", str(plan), target=False)
    assert result.exit_code == 2
    assert f"{plan}:3:2: address_1 is required: it cannot be cleared" in result.output
    assert f"{plan}:4:6: enabled has no empty value to clear it to" in result.output
    assert "write true" in result.output
    assert result.output.count("is required") == 1  # not also the plain "is required"
    yaml = write(
        tmp_path / "bad.yaml",
        "steps:\n  - kind: did_line_information\n    items:\n"
        "      - {phonenumber: '+1 516 206 5575', privacy: ~}\n",
    )
    refused = bulkx.run("validate", str(yaml), target=False)
    assert refused.exit_code == 2
    assert f"{yaml}:4:51: privacy has no empty value to clear it to" in refused.output
    assert "write one of: public, private" in refused.output


def test_an_export_is_a_backup_that_reverts_a_correction(
    bulkx: Bulkx, numbers: tuple[str, str], tmp_path: Path
) -> None:
    one, two = numbers
    backup = tmp_path / "e911-backup.csv"
    exported = bulkx.run("export", "did_emergency", "-o", str(backup))
    assert exported.exit_code == 0, exported.output
    assert bulkx.changes(backup) == []
    before = {n: _address(bulkx, n) for n in numbers}

    # A correction: a suite emptied, another one added where there was none before.
    bulkx.apply(
        write(tmp_path / "fix.csv", HEADER + f"{one},1 Main St,<clear>,New York,NY,10001\n")
    )
    bulkx.apply(write(tmp_path / "add.csv", HEADER + f"{two},9 Elm St,,Albany,NY,12207\n"))
    bulkx.apply(write(tmp_path / "new.csv", HEADER + f"{one},1 Main St,Rear,New York,NY,10001\n"))
    reverting = bulkx.changes(backup)
    assert [c["changes"] for c in reverting] == [
        [{"field": "address_2", "old": "Rear", "new": "Floor 3"}]
    ]
    bulkx.apply(backup)
    assert {n: _address(bulkx, n) for n in numbers} == before

    # An empty live suite is exported as <clear>: reverting to it empties the suite again.
    cleared = write(tmp_path / "fix2.csv", HEADER + f"{two},9 Elm St,<clear>,Albany,NY,12207\n")
    bulkx.apply(cleared)
    second = tmp_path / "second-backup.csv"
    assert bulkx.run("export", "did_emergency", "-o", str(second)).exit_code == 0
    assert f"{two},ACME,True,9 Elm St,<clear>,Albany," in second.read_text()
    bulkx.apply(write(tmp_path / "suite.csv", HEADER + f"{two},9 Elm St,Suite 7,Albany,NY,12207\n"))
    bulkx.apply(second)
    assert _address(bulkx, two)["address_2"] == ""


def test_the_kinds_reference_says_what_an_empty_cell_means() -> None:
    from typer.testing import CliRunner

    from bulkx.cli.main import app

    result = CliRunner().invoke(app, ["kinds", "did_emergency", "-o", "json"])
    assert result.exit_code == 0, result.output
    empty = {row["field"]: row["empty"] for row in json.loads(result.stdout)}
    assert empty["address_2"] == 'left as it is; <clear> sends ""'
    assert empty["address_1"] == "left as it is (cannot be cleared)"
    assert empty["enabled"] == "left as it is (no such column: true); cannot be cleared"
    assert empty["phonenumber"] == "-"
    did = {
        r["field"]: r["empty"]
        for r in json.loads(CliRunner().invoke(app, ["kinds", "did", "-o", "json"]).stdout)
    }
    assert did["trunk_group"] == "left as it is; <clear> sends null"
    assert did["name"] == 'left as it is; <clear> sends "N/A"'


def test_a_journaled_clear_is_retried_as_a_clear(
    bulkx: Bulkx, numbers: tuple[str, str], tmp_path: Path
) -> None:
    """`report --retry` writes a run's items back as a plan: a clear stays `<clear>`."""
    from bulkx.journal import JournalReader
    from bulkx.report import failed_csv

    one, _ = numbers
    fix = write(tmp_path / "fix.csv", HEADER + f"{one},1 Main St,<clear>,New York,NY,10001\n")
    applied = bulkx.run("apply", str(fix), "--yes")
    assert applied.exit_code == 0, applied.output
    run_id = next(x for x in applied.output.splitlines() if x.startswith("run id: ")).split()[-1]
    with JournalReader.open(tmp_path / ".bulkx", run_id) as journal:
        retry = failed_csv(journal.ops(), retry=True)
    lines = retry.splitlines()
    assert lines[0] == "# kind: did_emergency"
    row = dict(zip(lines[1].split(","), lines[2].split(","), strict=True))
    assert (row["phonenumber"], row["address_2"], row["address_1"]) == (one, "<clear>", "1 Main St")
