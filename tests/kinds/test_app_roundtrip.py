"""FlexML and Mediator kinds end to end through `bulkx apply` on a served sandbox."""

from __future__ import annotations

from pathlib import Path

from tests.kinds.cli import Bulkx, actions, write

ROUTE = """
steps:
  - kind: endpoint
    items: [{name: APP, type: TYPE}]
  - kind: trunk_group
    items: [{name: APP-route}]
  - kind: trunk
    items: [{trunk_group: APP-route, name: APP, endpoint: APP}]
  - kind: did
    items: [{phonenumber: "ONE", trunk_group: APP-route}, {phonenumber: "TWO",
             trunk_group: APP-route}]
"""


def numbers(bulkx: Bulkx) -> tuple[str, str]:
    blocks = bulkx.sandbox.world.inventory.blocks
    return f"{blocks[3].prefix}1234", f"{blocks[5].prefix}4321"


def route(app: str, kind: str, one: str, two: str) -> str:
    text = ROUTE.replace("APP", app).replace("TYPE", kind)
    return text.replace("ONE", one).replace("TWO", two)


FLEXML_DIDS = """
  - kind: flexml.did
    items:
      - {endpoint: ivr, phonenumber: "ONE", url: "https://ivr.example.com/one"}
      - {endpoint: ivr, phonenumber: "TWO", url: "https://ivr.example.com/two", method: GET,
         status_callback_url: "https://ivr.example.com/status"}
"""

FLEXML_ACCOUNT = """
steps:
  - kind: flexml.account
    items: [{endpoint: ivr, name: IVR, url: "https://ivr.example.com/default", method: GET,
             error_handler: none}]
  - kind: flexml.did
    items: [{endpoint: ivr, phonenumber: "ONE", url: "https://ivr.example.com/uno"}]
"""


def test_flexml_dids_and_account(tmp_path: Path, bulkx: Bulkx) -> None:
    one, two = numbers(bulkx)
    setup = route("ivr", "flexml", one, two) + FLEXML_DIDS.replace("ONE", one).replace("TWO", two)
    create = write(tmp_path / "create.yaml", setup)
    assert ("update", "flexml.did", f"ivr/{one}") in actions(bulkx.changes(create))
    bulkx.apply(create)
    dids = {d["phonenumber"]: d for d in bulkx.get("/dids", "/flexml/v1", "ivr")}
    assert dids[one]["url"] == "https://ivr.example.com/one"
    assert (dids[two]["method"], dids[two]["status_callback_url"]) == (
        "GET",
        "https://ivr.example.com/status",
    )

    account = write(tmp_path / "account.yaml", FLEXML_ACCOUNT.replace("ONE", one))
    assert actions(bulkx.changes(account)) == [
        ("update", "flexml.account", "ivr"),
        ("update", "flexml.did", f"ivr/{one}"),
    ]
    bulkx.apply(account)
    (found,) = bulkx.get("/accounts", "/flexml/v1", "ivr")
    assert (found["name"], found["url"], found["method"], found["error_handler"]) == (
        "IVR",
        "https://ivr.example.com/default",
        "GET",
        "none",
    )


MEDIATOR = """
  - kind: mediator.did
    items: [{endpoint: relay, phonenumber: "ONE"}, {endpoint: relay, phonenumber: "TWO"}]
  - kind: mediator.binding
    items:
      - {endpoint: relay, name: support, destination_did: "+1 646 555 0199", redirect_did: "ONE",
         maximum_ttl: -1, attributes: {ringback: "on"}}
  - kind: mediator.dialout
    items:
      - {endpoint: relay, stage_one_destination_did: "+1 646 555 0150",
         stage_two_destination_did: "+1 646 555 0151", redirect_did: "TWO", delay: 30}
"""

MEDIATOR_UPDATE = """
steps:
  - kind: mediator.binding
    items:
      - {endpoint: relay, name: support, destination_did: "+1 646 555 0198", redirect_did: "TWO",
         origination_did: "+1 917 555 0111", dtmf: "1,2"}
      - {endpoint: relay, name: sales, destination_did: "+1 646 555 0197"}
  - kind: mediator.dialout
    items:
      - {endpoint: relay, stage_one_destination_did: "+1 646 555 0150",
         stage_two_destination_did: "+1 646 555 0152", delay: 0}
"""

MEDIATOR_DELETE = """
steps:
  - kind: mediator.binding
    items: [{endpoint: relay, name: support, ensure: absent}, {endpoint: relay, name: sales,
             ensure: absent}]
  - kind: mediator.dialout
    items: [{endpoint: relay, stage_one_destination_did: "+1 646 555 0150", ensure: absent}]
"""


def test_mediator_bindings_and_dialouts(tmp_path: Path, bulkx: Bulkx) -> None:
    one, two = numbers(bulkx)
    setup = route("relay", "mediator", one, two) + MEDIATOR.replace("ONE", one).replace("TWO", two)
    create = write(tmp_path / "create.yaml", setup)
    bulkx.apply(create)
    (binding,) = bulkx.get("/bindings", "/mediator/v1", "relay")
    assert (binding["redirect_did"], binding["maximum_ttl"], binding["attributes"]) == (
        one,
        -1,
        {"ringback": "on"},
    )
    (dialout,) = bulkx.get("/dialouts", "/mediator/v1", "relay")
    assert (dialout["redirect_did"], dialout["delay"]) == (two, 30)

    update = write(tmp_path / "update.yaml", MEDIATOR_UPDATE.replace("TWO", two))
    assert actions(bulkx.changes(update)) == [
        ("create", "mediator.binding", "relay/sales"),
        ("update", "mediator.binding", "relay/support"),
        ("update", "mediator.dialout", "relay/16465550150"),
    ]
    bulkx.apply(update)
    bindings = {b["name"]: b for b in bulkx.get("/bindings", "/mediator/v1", "relay")}
    assert bindings["support"]["redirect_did"] == two
    assert bindings["support"]["origination_did"] == "19175550111"
    assert bindings["sales"]["redirect_did"] in (one, two)  # picked by the API

    bulkx.apply(write(tmp_path / "delete.yaml", MEDIATOR_DELETE), "--allow-release")
    assert bulkx.get("/bindings", "/mediator/v1", "relay") == []
    assert bulkx.get("/dialouts", "/mediator/v1", "relay") == []


def test_a_mediator_did_not_routed_to_the_endpoint_is_blocked(tmp_path: Path, bulkx: Bulkx) -> None:
    one, two = numbers(bulkx)
    bulkx.apply(write(tmp_path / "route.yaml", route("relay", "mediator", one, two)))
    audit = write(
        tmp_path / "audit.yaml",
        MEDIATOR.split("  - kind: mediator.binding")[0]
        .replace("ONE", one)
        .replace("TWO", "12125550100"),
    )
    (blocked,) = bulkx.changes(audit)
    assert (blocked["action"], blocked["key"]) == ("blocked", "relay/12125550100")
    assert "trunk_group" in blocked["hint"]


def test_mediator_dids_export_as_a_plan_that_checks_their_routing(
    tmp_path: Path, bulkx: Bulkx
) -> None:
    one, two = numbers(bulkx)
    bulkx.apply(write(tmp_path / "route.yaml", route("relay", "mediator", one, two)))
    exported = bulkx.run("export", "mediator.did", "--endpoint", "relay", "-o", "dids.csv")
    assert exported.exit_code == 0, exported.output
    text = Path("dids.csv").read_text()
    assert text == f"# kind: mediator.did\nendpoint,phonenumber\nrelay,{one}\nrelay,{two}\n"
    assert bulkx.changes(Path("dids.csv")) == []

    refused = bulkx.run("export", "mediator.did")
    assert refused.exit_code == 2 and "--endpoint" in refused.output
