"""`bulkx revert RUN_ID` (issue 19 part 1): the plan that undoes a run, from its journal, checked
against live state. Against a served sandbox on 127.0.0.1, with the real `bulkx` command."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from bulkx.cli.main import app as bulkx_app
from bulkx.sandbox.app import SandboxConfig, create_app
from bulkx.sandbox.resources.numbers import seed_ported
from bulkx.sandbox.server import serve_in_thread

KINDS_WITH_STATE = ("did", "trunk_group", "trunk", "did_emergency")


def bulkx(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command, in `cwd` (its journals under `cwd/.bulkx`), with the sandbox token."""
    env = {k: v for k, v in os.environ.items() if k != "BULKX_HOME"}
    return subprocess.run(
        [sys.executable, "-m", "bulkx", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={**env, "CARRIERX_TOKEN": "sandbox-token"},
        stdin=subprocess.DEVNULL,
    )


def _serve(tmp_path: Path, count: int) -> Iterator[tuple[str, list[str], Path]]:
    """A sandbox on 127.0.0.1 holding `count` ported numbers, the first half of them on trunk
    group tg-old; the Core base URL, the numbers, and a working directory."""
    app = create_app(SandboxConfig(db=tmp_path / "served.db", seed=3))
    numbers = [f"1201206{i:04d}" for i in range(count)]
    seed_ported(app.world, [(number, f"line {i}") for i, number in enumerate(numbers)])
    work = tmp_path / "work"
    work.mkdir()
    with serve_in_thread(app) as server:
        base = f"{server.url}/core/v2"
        _put_on_a_trunk_group(base, "tg-old", numbers[: count // 2])
        yield base, numbers, work


def _put_on_a_trunk_group(base: str, name: str, numbers: list[str]) -> None:
    """The world the tests start from, made through the API (not a `bulkx apply`: a setting,
    not what is tested, and a process of its own for each test)."""
    with httpx.Client(base_url=base, headers={"Authorization": "Bearer sandbox-token"}) as core:
        created = core.post("/trunk_groups", json={"name": name})
        assert created.status_code == 200, created.text
        group = created.json()["trunk_group_sid"]
        for number in numbers:
            found = core.get("/phonenumber/dids", params={"filter": f'phonenumber eq "{number}"'})
            sid = found.json()["items"][0]["did_sid"]
            moved = core.patch(f"/phonenumber/dids/{sid}", json={"trunk_group_sid": group})
            assert moved.status_code == 200, moved.text


@pytest.fixture
def served_200(tmp_path: Path) -> Iterator[tuple[str, list[str], Path]]:
    """200 numbers: the size of the revert that is compared field for field."""
    yield from _serve(tmp_path, 200)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, list[str], Path]]:
    """20 numbers, enough for the other tests: every `bulkx export` of the state compared reads
    each number and its sub-records, so a smaller world keeps them quick."""
    yield from _serve(tmp_path, 20)


def _plan(steps: list[tuple[str, str, str]]) -> str:
    text = "version: 1\nsteps:\n"
    for kind, name, items in steps:
        text += f"  - kind: {kind}\n    name: {name}\n    defaults: {{}}\n    items:\n{items}"
    return text.replace("    defaults: {}\n", "")


def _apply(work: Path, base: str, name: str, text: str, *options: str) -> str:
    """Apply a plan written to `name`; its run id."""
    (work / name).write_text(text)
    applied = bulkx(work, "apply", name, "--yes", "--base-url", base, *options)
    assert applied.returncode == 0, applied.stderr
    return applied.stderr.split("run id: ")[1].split()[0]


def _state(
    work: Path, base: str, kinds: tuple[str, ...] = KINDS_WITH_STATE
) -> dict[str, list[str]]:
    """Every object of the kinds the tests touch, field by field, as `bulkx export` writes.
    The export runs in-process (the same command, read-only): a new interpreter for each kind
    of each state compared was most of this module's time."""
    found = {}
    for kind in kinds:
        exported = CliRunner().invoke(
            bulkx_app, ["export", kind, "--base-url", base], env={"CARRIERX_TOKEN": "sandbox-token"}
        )
        assert exported.exit_code == 0, exported.output
        found[kind] = sorted(exported.stdout.splitlines())
    return found


def _undo(work: Path, base: str, run_id: str, *options: str) -> str:
    """`bulkx revert RUN_ID` to undo.yaml, checked, then applied; the undo run's id."""
    reverted = bulkx(work, "revert", run_id, "--output-file", "undo.yaml", *options)
    assert reverted.returncode == 0, reverted.stderr
    validated = CliRunner().invoke(bulkx_app, ["validate", str(work / "undo.yaml")])  # read-only
    assert validated.exit_code == 0, validated.output
    flags = ["--allow-release"] if "ensure" in (work / "undo.yaml").read_text() else []
    return _apply(work, base, "undo.yaml", (work / "undo.yaml").read_text(), *flags)


def _rename(numbers: list[str], group: str, prefix: str = "renamed") -> str:
    return "".join(
        f'      - {{phonenumber: "{n}", ensure: adopted, name: {prefix}-{i},'
        f" trunk_group: {group}}}\n"
        for i, n in enumerate(numbers)
    )


def test_a_reverted_run_leaves_live_state_as_before_field_for_field(
    served_200: tuple[str, list[str], Path],
) -> None:
    base, numbers, work = served_200
    before = _state(work, base)
    run_id = _apply(
        work,
        base,
        "run.yaml",
        _plan(
            [
                ("trunk_group", "new-group", "      - {name: tg-new}\n"),
                ("trunk", "new-trunk", "      - {trunk_group: tg-new, name: t1, priority: 1}\n"),
                ("did", "move", _rename(numbers, "tg-new")),
            ]
        ),
    )
    assert _state(work, base) != before

    plan = bulkx(work, "revert", run_id)  # to stdout, as `bulkx revert RUN_ID > undo.yaml`
    assert plan.returncode == 0, plan.stderr
    assert "Puts back 202 item(s): 200 set back" in plan.stdout and "drift" not in plan.stderr
    _undo(work, base, run_id)
    assert _state(work, base) == before


def test_an_item_changed_since_is_drift_left_alone_unless_forced(
    served: tuple[str, list[str], Path],
) -> None:
    base, numbers, work = served
    before = _state(work, base)
    run_id = _apply(
        work, base, "run.yaml", _plan([("did", "move", _rename(numbers[:20], "tg-old"))])
    )
    theirs = f'      - {{phonenumber: "{numbers[3]}", name: theirs}}\n'
    _apply(work, base, "other.yaml", _plan([("did", "someone", theirs)]))

    reverted = bulkx(work, "revert", run_id)
    assert reverted.returncode == 0, reverted.stderr
    assert "drift: 1 item(s) changed since" in reverted.stderr and numbers[3] in reverted.stderr
    assert "Puts back 19 item(s)" in reverted.stdout
    assert f'"phonenumber": "{numbers[3]}"' not in reverted.stdout.split("version: 1")[1]
    forced = bulkx(work, "revert", run_id, "--force")
    assert forced.returncode == 0 and "Puts back 20 item(s)" in forced.stdout

    _undo(work, base, run_id)  # without --force: the other change stays
    after = _state(work, base)
    assert after["did"] != before["did"]
    assert [line for line in after["did"] if line not in before["did"]] == [
        line.replace("line 3,", "theirs,") for line in before["did"] if numbers[3] in line
    ]


def test_a_run_with_releases_exits_3_unless_partial(served: tuple[str, list[str], Path]) -> None:
    base, numbers, work = served
    items = (
        _rename(numbers[:5], "tg-old")
        + f'      - {{phonenumber: "{numbers[-1]}", ensure: absent}}\n'
    )
    run_id = _apply(work, base, "run.yaml", _plan([("did", "mixed", items)]), "--allow-release")

    refused = bulkx(work, "revert", run_id)
    assert refused.returncode == 3 and refused.stdout == ""
    assert "1 operation(s)" in refused.stderr and "released" in refused.stderr
    partial = bulkx(work, "revert", run_id, "--partial", "--output-file", "undo.yaml")
    assert partial.returncode == 0, partial.stderr
    text = (work / "undo.yaml").read_text()
    assert "# Cannot be undone (1):" in text and f"did {numbers[-1]} (release" in text
    assert "Puts back 5 item(s)" in text


def test_a_revert_run_can_itself_be_reverted(served: tuple[str, list[str], Path]) -> None:
    base, numbers, work = served
    _apply(work, base, "b.yaml", _plan([("trunk_group", "b", "      - {name: tg-b}\n")]))
    # Half of the numbers moved are on tg-old, half on no trunk group.
    run_id = _apply(
        work, base, "run.yaml", _plan([("did", "move", _rename(numbers[5:15], "tg-b"))])
    )
    result = _state(work, base)
    undo_id = _undo(work, base, run_id)
    assert _state(work, base) != result
    _undo(work, base, undo_id)
    assert _state(work, base) == result


def test_a_run_through_batch_tasks_is_reverted(served: tuple[str, list[str], Path]) -> None:
    base, numbers, work = served
    before = _state(work, base)
    moved = _plan([("did", "move", _rename(numbers[:10], "tg-old", "b"))])
    run_id = _apply(work, base, "run.yaml", moved, "--via", "batch")
    assert _state(work, base) != before
    reverted = bulkx(work, "revert", run_id, "--output-file", "undo.yaml")
    assert reverted.returncode == 0, reverted.stderr
    assert "--via batch" in (work / "undo.yaml").read_text()  # the apply it suggests
    _apply(work, base, "undo.yaml", (work / "undo.yaml").read_text(), "--via", "batch")
    assert _state(work, base) == before


def test_an_unknown_run_is_a_usage_error(tmp_path: Path) -> None:
    missing = bulkx(tmp_path, "revert", "20260101-000000-dead")
    assert (
        missing.returncode == 2 and "no run" in missing.stderr and "Traceback" not in missing.stderr
    )


SUB_RECORD_KINDS = (*KINDS_WITH_STATE, "did_group", "endpoint", "did_line_information")
BEFORE = """version: 1
steps:
  - {kind: did_group, name: g, items: [{name: grp-a}, {name: grp-b}]}
  - kind: endpoint
    name: ep
    items: [{name: pbx-a, type: third_party}, {name: pbx-b, type: third_party}]
  - kind: trunk
    name: trunks
    items: [{trunk_group: tg-old, name: t1, priority: 1, weight: 10, endpoint: pbx-a, codec: ulaw}]
  - kind: did
    name: d
    items:
      - {phonenumber: "NUMBER", did_group: grp-a, attributes: {team: red},
         callback_url: "https://a.example/cb"}
  - kind: did_emergency
    name: e
    items:
      - {phonenumber: "NUMBER", address_1: "1 Main St", address_2: "Floor 3", city: Newark,
         state: NJ, zip: "07102", country_code: USA, enabled: true}
  - kind: did_line_information
    name: li
    items: [{phonenumber: "NUMBER", caller_name: ACME, class_of_service: business}]
"""
RUN = """version: 1
steps:
  - kind: trunk
    name: trunks
    items: [{trunk_group: tg-old, name: t1, priority: 2, weight: 20, endpoint: pbx-b, codec: alaw}]
  - kind: did
    name: d
    items:
      - {phonenumber: "NUMBER", did_group: grp-b, attributes: {team: blue, x: 1}, callback_url: ~}
  - kind: did_emergency
    name: e
    items:
      - {phonenumber: "NUMBER", address_1: "2 Side St", city: Hoboken, state: NJ, zip: "07030"}
  - kind: did_line_information
    name: li
    items: [{phonenumber: "NUMBER", caller_name: ~, class_of_service: residential}]
  - {kind: did_group, name: g2, items: [{name: grp-c, callback_url: "https://c.example"}]}
  - {kind: did, name: rented, count: 2, criteria: {npa: 516}, defaults: {did_group: grp-c}}
"""


def test_trunks_sub_records_rents_and_objects_go_back_field_for_field(
    served: tuple[str, list[str], Path],
) -> None:
    """A trunk in its trunk group, a DID's references, object and clears, its E911 address
    (corrected, suite kept) and line information (read as sub-records of the DIDs), a new DID
    group, and numbers rented by criteria into it."""
    base, numbers, work = served
    _apply(work, base, "pre.yaml", BEFORE.replace("NUMBER", numbers[0]))
    before = _state(work, base, SUB_RECORD_KINDS)
    run_id = _apply(work, base, "run.yaml", RUN.replace("NUMBER", numbers[0]))
    assert _state(work, base, SUB_RECORD_KINDS) != before
    _undo(work, base, run_id)
    assert _state(work, base, SUB_RECORD_KINDS) == before
