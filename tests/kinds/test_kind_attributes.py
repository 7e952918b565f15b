"""What a kind used to be special-cased for by name is data on its `Kind`: renting, the verb
that ends one, the `ensure` that keeps one as it is, the permission it needs, and how its live
objects are read. The layers read those attributes; none compares a kind's name."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, get_args

import pytest
from typer.main import get_command

from bulkx.api import CarrierX, Secret, Target
from bulkx.cli.main import app
from bulkx.cli.options import ALLOW_FLAGS
from bulkx.diff.read import kinds_to_read, plan_keys, read_live_state
from bulkx.kinds import KINDS, Kind
from bulkx.kinds.model import ALLOWANCES, RELEASE, Nesting, Permission, granted_permissions
from bulkx.kinds.registry import nested_kinds, records_of
from bulkx.plan.model import ValidPlan
from bulkx.plan.validate import load_valid
from tests.conftest import Sandbox
from tests.kinds.cli import Bulkx

REPO = Path(__file__).resolve().parents[2]


def test_no_layer_branches_on_a_kind_name() -> None:
    branch = re.compile(r"kind\.name\s*[!=]=")
    found = [
        f"{path.relative_to(REPO)}:{number}"
        for package in ("plan", "diff", "engine", "api")
        for path in sorted((REPO / "bulkx" / package).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if branch.search(line)
    ]
    assert found == []


@pytest.mark.parametrize(
    ("name", "reads"),
    [
        ("did", "by_key"),
        ("did_emergency", "per_parent"),
        ("did_messaging", "per_parent"),
        ("trunk_group", "whole"),
        ("trunk", "nested"),
        ("endpoint", "whole"),
        ("shortener.link", "parent_scoped"),
        ("storage.file", "parent_scoped"),
        ("sms.message", "by_key"),
        ("push.notification", "journals"),
        ("flexml.call", "per_endpoint"),
        ("conference_v2.meeting_room", "per_endpoint"),
        ("mediator.did", "per_endpoint"),
    ],
)
def test_how_each_kind_is_read(name: str, reads: str) -> None:
    assert KINDS[name].reads == reads


def test_a_dids_records_and_a_trunk_groups_trunks_are_its_children() -> None:
    assert [k.name for k in records_of("did")] == [
        "did_emergency",
        "did_line_information",
        "did_messaging",
    ]
    assert [k.progress_label for k in records_of("did")] == [
        "E911",
        "line information",
        "messaging",
    ]
    assert [k.name for k in nested_kinds("trunk_group")] == ["trunk"]
    assert records_of("endpoint") == () and nested_kinds("did") == ()


def test_only_numbers_are_rented_released_and_adopted() -> None:
    did = KINDS["did"]
    assert did.rentable and did.listed_by_key
    assert (did.delete_verb.base, did.delete_verb.past) == ("release", "released")
    assert did.existing_ensure == "adopted" and did.noun == "number"
    others = [kind for kind in KINDS.values() if kind.name != "did"]
    assert not any(kind.rentable or kind.listed_by_key for kind in others)
    assert {kind.delete_verb.base for kind in others} == {"delete"}
    assert {kind.existing_ensure for kind in others} == {None}


def test_a_permission_is_named_and_the_cli_spells_it_as_its_flag(bulkx: Bulkx) -> None:
    confirmed = {k.name: k.confirmation.permission for k in KINDS.values() if k.confirmation}
    assert confirmed["partner"] == "partners"
    assert confirmed["conference_v2.call"] == "calls"
    assert {confirmed[n] for n in ("sms.message", "tts.text", "flexml.call")} == {"send"}
    # The core decides on permissions; a run's --allow-* options give them.
    assert granted_permissions() == frozenset()
    assert granted_permissions(allow_send=True) == {"send"}
    every = granted_permissions(allow_partners=True, allow_send=True, allow_calls=True)
    assert every == set(get_args(Permission))
    assert set(ALLOWANCES) == {*get_args(Permission), "release"}
    # Only the CLI spells them: one flag for each, and each an option of `bulkx apply`.
    assert set(ALLOW_FLAGS) == set(ALLOWANCES)
    apply = get_command(app).commands["apply"]  # type: ignore[attr-defined]
    options = {name for param in apply.params for name in param.opts}
    assert set(ALLOW_FLAGS.values()) <= options
    help_text = bulkx.run("apply", "--help", target=False).output
    for flag in ALLOW_FLAGS.values():
        assert re.search(rf"{flag}\b", help_text), flag


def test_a_blocked_send_names_the_flag_that_allows_it(bulkx: Bulkx, tmp_path: Path) -> None:
    plan = tmp_path / "tts.yaml"
    plan.write_text(
        "version: 1\nsteps:\n"
        "  - {kind: storage.container, name: boxes, items: [{name: voice}]}\n"
        "  - kind: tts.text\n    name: hello\n"
        "    items: [{ref: hi-1, container: voice, text: Hello}]\n"
    )
    shown = bulkx.run("plan", str(plan))
    assert shown.exit_code == 0, shown.output
    hint = "hint: nothing is sent unless sending is allowed (pass --allow-send)"
    assert hint in shown.output, shown.output
    # Machines read what it needs; the hint the core writes names no flag.
    (blocked,) = [c for c in bulkx.changes(plan) if c["action"] == "blocked"]
    assert blocked["needs"] == "send" and "--allow" not in blocked["hint"]
    as_csv = bulkx.run("plan", str(plan), "-o", "csv")
    assert "the plan would send this tts.text (--allow-send)" in as_csv.output, as_csv.output
    assert not [c for c in bulkx.changes(plan, "--allow-send") if c["action"] == "blocked"]


def _kind(**changes: Any) -> Kind:
    return replace(KINDS["trunk"], **changes)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"parent": None, "parent_field": None}, "a nested kind names its parent"),
        (
            {"nested_in": None},
            "a path under its parent's sid is nested or a singleton sub-record",
        ),
        ({"existing_ensure": "adopted"}, "existing_ensure 'adopted' is no `ensure` choice"),
    ],
)
def test_inconsistent_reads_are_refused(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        _kind(**changes)


def test_only_a_core_kind_is_read_by_key() -> None:
    with pytest.raises(ValueError, match="only a Core kind is read by key"):
        replace(KINDS["mediator.binding"], listed_by_key=True)


def _plan(path: Path, text: str) -> ValidPlan:
    path.write_text(text)
    plan, diagnostics = load_valid(path)
    assert plan is not None, diagnostics
    return plan


def test_kinds_to_read_groups_a_plans_kinds_by_strategy(tmp_path: Path) -> None:
    plan = _plan(
        tmp_path / "plan.yaml",
        "version: 1\nsteps:\n"
        "  - kind: did_emergency\n    name: e911\n"
        "    items: [{phonenumber: '12015550100', address_1: 1 Main St, city: X, state: NY,"
        " zip: '10001'}]\n"
        "  - {kind: trunk, name: trunks, items: [{trunk_group: east, name: t1}]}\n"
        "  - kind: shortener.link\n    name: links\n"
        "    items: [{domain: a.example, short_name: s, destination_url: 'https://x.io/'}]\n",
    )
    kinds = kinds_to_read(plan.steps, plan_keys(plan.steps))
    names = {strategy: [k.name for k in found] for strategy, found in kinds.items()}
    assert names == {
        "whole": ["endpoint", "shortener.domain", "trunk_group"],  # what the items name
        "by_key": ["did"],  # the record's parent, read by the record's keys
        "per_parent": ["did_emergency"],
        "nested": ["trunk"],
        "parent_scoped": ["shortener.link"],
    }


class Recording:
    """A real client's reads, with each list's path and query arguments noted."""

    def __init__(self, client: CarrierX) -> None:
        self.client = client
        self.lists: list[tuple[str, Mapping[str, Any] | None]] = []

    async def list_all(self, api: str, path: str, **kwargs: Any) -> list[dict[str, Any]]:
        self.lists.append((path, kwargs.get("params")))
        return await self.client.list_all(api, path, **kwargs)

    async def get(self, api: str, path: str, **kwargs: Any) -> Any:
        return await self.client.get(api, path, **kwargs)


def test_trunks_are_read_inside_their_groups_list(sandbox: Sandbox, tmp_path: Path) -> None:
    with sandbox.core() as core:
        for group, trunks in (("east", ["t1", "t2"]), ("west", ["t1"])):
            made = core.post("/trunk_groups", json={"name": group}).json()
            for trunk in trunks:
                path = f"/trunk_groups/{made['trunk_group_sid']}/trunks"
                core.post(path, json={"name": trunk}).raise_for_status()
    plan = _plan(
        tmp_path / "plan.yaml",
        "version: 1\nsteps:\n"
        "  - {kind: trunk, name: trunks, items: [{trunk_group: east, name: t1}]}\n",
    )

    async def read() -> tuple[Any, Recording]:
        target = Target(sandbox.core_url, is_sandbox=True, label="sandbox")
        async with CarrierX(target, Secret(sandbox.token)) as client:
            reader = Recording(client)
            return await read_live_state(reader, plan), reader

    live, reader = asyncio.run(read())
    assert set(live.objects["trunk"]) == {"east/t1", "east/t2", "west/t1"}
    # One list for the groups and their trunks (none per group); and the endpoints trunks name.
    assert reader.lists == [("/endpoints", None), ("/trunk_groups", {"with_trunks": "true"})]


def test_a_nesting_names_the_parents_field_and_the_query_that_fills_it() -> None:
    nesting = KINDS["trunk"].nested_in
    assert isinstance(nesting, Nesting)
    assert (nesting.api_field, dict(nesting.params)) == ("trunks", {"with_trunks": "true"})
    assert KINDS["did"].delete_verb == RELEASE
