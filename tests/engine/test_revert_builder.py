"""From a run's operations to its revert (`bulkx.engine.revert`): what each kind of operation
becomes, built from the changes the diff journals (no live state here; `tests/test_revert.py`
runs the whole command against a served sandbox)."""

from __future__ import annotations

from typing import Any

from bulkx.engine.revert import Revert, RevertBuilder
from bulkx.engine.revert_drift import load_plan_text
from bulkx.engine.revert_text import after_plan_text, revert_plan_text
from bulkx.journal.states import Operation


def _op(kind: str, key: str, action: str, change: dict[str, Any], step: str = "s") -> Operation:
    return Operation(
        "k" + key + action,
        step,
        kind,
        key,
        action,
        "p.yaml:3",
        (),
        {"kind": kind, "key": key, "action": action, **change},
    )


def _update(
    kind: str, key: str, values: dict[str, Any], *changes: tuple[str, Any, Any]
) -> Operation:
    listed = [{"field": f, "old": old, "new": new} for f, old, new in changes]
    return _op(kind, key, "update", {"values": values, "changes": listed})


def _revert(*ops: Operation) -> Revert:
    return RevertBuilder(Revert("RUN", "p.yaml", "sandbox")).add(ops)


def test_an_update_goes_back_to_the_first_old_value_of_each_field() -> None:
    number = {"phonenumber": "12015550100", "ensure": "adopted"}
    revert = _revert(
        _update("did", "12015550100", {**number, "name": "b"}, ("name", "a", "b")),
        _update(
            "did",
            "12015550100",
            {**number, "name": "c", "trunk_group": "tg"},
            ("name", "b", "c"),
            ("trunk_group", None, "tg"),
        ),
    )
    [item] = revert.items
    assert item.values == {**number, "name": "a", "trunk_group": None}  # null: a clear
    assert item.after == {**number, "name": "c", "trunk_group": "tg"}


def test_creates_are_removed_and_releases_and_sends_cannot_be_undone() -> None:
    revert = _revert(
        _op("trunk_group", "tg", "create", {"values": {"name": "tg"}}),
        _op("trunk", "tg/t1", "create", {"values": {"name": "t1", "trunk_group": "tg"}}),
        _op("did", "12015550101", "release", {"sid": "x", "values": {}}),
        _op("sms.message", "hello-1", "create", {"values": {}}),
    )
    assert [item.values for item in revert.items] == [
        {"name": "tg", "ensure": "absent"},
        {"name": "t1", "trunk_group": "tg", "ensure": "absent"},
    ]
    assert [(c.kind, c.reason.split(":")[0]) for c in revert.irreversible] == [
        ("did", "released"),
        ("sms.message", "sent"),
    ]
    assert revert.allowances() == ["release"]


def test_an_e911_address_set_where_there_was_none_cannot_be_undone() -> None:
    values = {
        "phonenumber": "12015550102",
        "address_1": "1 Main St",
        "city": "Newark",
        "state": "NJ",
        "zip": "07102",
    }
    changes = [("address_1", None, "1 Main St"), ("city", None, "Newark")]
    revert = _revert(_update("did_emergency", "12015550102", values, *changes))
    assert revert.items == []
    assert "address_1 was empty before the run" in revert.irreversible[0].reason


def test_an_e911_correction_names_every_required_field() -> None:
    values = {
        "phonenumber": "12015550103",
        "address_1": "2 Side St",
        "city": "Newark",
        "state": "NJ",
        "zip": "07102",
    }
    revert = _revert(
        _update("did_emergency", "12015550103", values, ("address_1", "1 Main St", "2 Side St"))
    )
    assert revert.items[0].values == {**values, "address_1": "1 Main St"}


def test_a_reference_to_an_object_the_run_deleted_is_not_set_back() -> None:
    number = {"phonenumber": "12015550104", "ensure": "adopted"}
    revert = _revert(
        _update(
            "did",
            "12015550104",
            {**number, "name": "n", "trunk_group": "tg-b"},
            ("name", "m", "n"),
            ("trunk_group", "tg-a", "tg-b"),
        ),
        _op("trunk_group", "tg-a", "release", {"sid": "x", "values": {"name": "tg-a"}}),
    )
    assert revert.items[0].values == {**number, "name": "m"}
    assert revert.kept[0][2:] == ("trunk_group", "it named trunk_group tg-a, which the run deleted")


def test_the_sub_record_of_a_number_the_run_rented_goes_with_it() -> None:
    values = {
        "phonenumber": "12015550105",
        "address_1": "1 Main St",
        "city": "Newark",
        "state": "NJ",
        "zip": "07102",
    }
    revert = _revert(
        _op("did", "12015550105", "create", {"values": {"phonenumber": "12015550105"}}),
        _update("did_emergency", "12015550105", values, ("address_1", None, "1 Main St")),
    )
    assert [item.kind for item in revert.items] == ["did"] and revert.irreversible == []


def test_the_plan_text_is_a_plan_with_its_header_and_hostile_values_kept_as_values() -> None:
    hostile = 'x"\n  - kind: did\x1b[2J'
    number = {"phonenumber": "12015550106"}
    revert = _revert(_update("did", "12015550106", number, ("name", hostile, "clean")))
    revert.plan_path = "p.yaml\n- kind: did"
    made = "2026-12-07T12:00:00+00:00"
    text = revert_plan_text(revert, made_at=made, apply_hint="bulkx apply x")
    assert text.startswith("# Undoes run RUN (plan p.yaml\\x0a- kind: did)") and "\x1b" not in text
    [step] = load_plan_text(text, "undo.yaml").steps
    assert [item.values for item in step.items()] == [
        {**number, "ensure": "adopted", "name": hostile}
    ]
    assert '"name": "clean"' in after_plan_text(revert.items)


def test_a_revert_names_what_its_apply_must_be_allowed_to_do() -> None:
    """The permissions, as the kinds name them (the CLI spells each as its --allow-* flag):
    removing a sub-partner it made needs releasing and partners; setting back a live call's
    mute needs calls (its kind confirms updates too)."""
    renamed = _update("did", "12015550100", {"phonenumber": "12015550100"}, ("name", "a", "b"))
    assert _revert(renamed).allowances() == []
    partner = _op("partner", "r1", "create", {"values": {"login": "r1", "name": "R"}})
    assert _revert(partner).allowances() == ["release", "partners"]
    call = {"endpoint": "conf2", "call_sid": "c1", "muted": True}
    muted = _update("conference_v2.call", "conf2/c1", call, ("muted", False, True))
    revert = _revert(muted, partner)
    assert [item.values for item in revert.items] == [
        {"endpoint": "conf2", "call_sid": "c1", "muted": False},
        {"login": "r1", "ensure": "absent"},
    ]
    assert revert.allowances() == ["release", "calls", "partners"]
