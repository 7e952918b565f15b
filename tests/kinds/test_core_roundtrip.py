"""Core kinds end to end: create, update, delete through `bulkx apply` on a served sandbox."""

from __future__ import annotations

from pathlib import Path

from tests.kinds.cli import Bulkx, actions, write

CREATE = """
steps:
  - kind: trunk_group
    items: [{name: lrn-route}]
  - kind: lrn_prefix
    items: [{prefix: "1201555", name: NJ ported, trunk_group: lrn-route}]
  - kind: accesscontrol_rule
    items:
      - {name: no-premium, field: called, operation: prefix, quantifier: any,
         entries: ["1900", "1976"]}
"""

UPDATE = """
steps:
  - kind: trunk_group
    items: [{name: lrn-route}, {name: lrn-spare}]
  - kind: lrn_prefix
    items: [{prefix: "1201555", name: NJ ported (moved), trunk_group: lrn-spare}]
  - kind: accesscontrol_rule
    source: rules.csv
"""

RULES_CSV = """name,field,operation,quantifier,entries
no-premium,called,prefix,any,1900;1976;1809
"""

DELETE = """
steps:
  - kind: lrn_prefix
    items: [{prefix: "1201555", ensure: absent}]
  - kind: accesscontrol_rule
    items: [{name: no-premium, ensure: absent}]
"""


def test_lrn_prefixes_and_access_control_rules_round_trip(tmp_path: Path, bulkx: Bulkx) -> None:
    create = write(tmp_path / "create.yaml", CREATE)
    write(tmp_path / "rules.csv", RULES_CSV)
    update = write(tmp_path / "update.yaml", UPDATE)
    delete = write(tmp_path / "delete.yaml", DELETE)

    assert actions(bulkx.changes(create)) == [
        ("create", "accesscontrol_rule", "no-premium"),
        ("create", "lrn_prefix", "1201555"),
        ("create", "trunk_group", "lrn-route"),
    ]
    bulkx.apply(create)
    rules = bulkx.get("/accesscontrol/rules")
    assert [(r["name"], r["entries"]) for r in rules] == [("no-premium", ["1900", "1976"])]

    changes = bulkx.changes(update)
    assert actions(changes) == [
        ("create", "trunk_group", "lrn-spare"),
        ("update", "accesscontrol_rule", "no-premium"),
        ("update", "lrn_prefix", "1201555"),
    ]
    by_kind = {c["kind"]: c for c in changes}
    assert by_kind["lrn_prefix"]["changes"] == [
        {"field": "name", "old": "NJ ported", "new": "NJ ported (moved)"},
        {"field": "trunk_group", "old": "lrn-route", "new": "lrn-spare"},
    ]
    bulkx.apply(update)
    (prefix,) = bulkx.get("/phonenumber/lrn_prefixes")
    groups = bulkx.get("/trunk_groups")
    assert prefix["trunk_group_sid"] == next(
        g["trunk_group_sid"] for g in groups if g["name"] == "lrn-spare"
    )

    blocked = bulkx.changes(delete)
    assert {c["action"] for c in blocked} == {"blocked"}
    assert {c["needs"] for c in blocked} == {"release"}  # the permission; the CLI names its flag
    shown = bulkx.run("plan", str(delete))
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.count("(pass --allow-release)") == 2
    bulkx.apply(delete, "--allow-release")
    assert bulkx.get("/phonenumber/lrn_prefixes") == []
    assert bulkx.get("/accesscontrol/rules") == []


SHORT_CODES = """
steps:
  - kind: did_group
    items: [{name: sms-keywords}]
  - kind: short_code
    items: [{short_code: "CODE", name: Promotions, did_group: sms-keywords,
             callback_url: "https://sms.example.com/in"}]
"""


def test_short_codes_are_updated_never_created(tmp_path: Path, bulkx: Bulkx) -> None:
    first, *_ = bulkx.get("/phonenumber/short_codes")
    code = first["short_code"]
    plan = write(tmp_path / "codes.yaml", SHORT_CODES.replace("CODE", code))
    assert actions(bulkx.changes(plan)) == [
        ("create", "did_group", "sms-keywords"),
        ("update", "short_code", code),
    ]
    bulkx.apply(plan)
    (found,) = [c for c in bulkx.get("/phonenumber/short_codes") if c["short_code"] == code]
    assert (found["name"], found["callback_url"]) == ("Promotions", "https://sms.example.com/in")
    (group,) = bulkx.get("/phonenumber/did_groups")
    assert found["did_group_sid"] == group["did_group_sid"]

    missing = write(tmp_path / "missing.yaml", SHORT_CODES.replace("CODE", "99999999"))
    blocked = [c for c in bulkx.changes(missing) if c["kind"] == "short_code"]
    assert [c["action"] for c in blocked] == ["blocked"]
    assert "provisioned by CarrierX" in blocked[0]["hint"]
