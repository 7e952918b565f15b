"""Documented value lists (issue 16, item 2): every field with one is checked twice, offline by
`bulkx validate` (bulkx/kinds: `PlanField.choices`) and by the sandbox (a 422 naming the
field). The two declarations are written independently (the sandbox imports nothing of the
client), so this test holds each to the other, and every enum field of a kind to a sandbox check.

The lists, and the pages they come from:
- accesscontrol_rule field/operation/quantifier:
  https://docs.carrierx.com/voice/core-api/access-control/access-control-rule
- trunk codec/allow_forward/asn_mode: https://docs.carrierx.com/voice/core-api/trunk-groups/trunk
- trunk_group hard_failure_last_resort:
  https://docs.carrierx.com/voice/core-api/trunk-groups/trunk-group
- endpoint type: https://docs.carrierx.com/voice/core-api/endpoints/endpoint
- did_messaging type: https://docs.carrierx.com/voice/core-api/phone-numbers/did-messaging-enablement
- storage.container allowed/blocked_classifications:
  https://docs.carrierx.com/voice/core-api/storage/container
- the others: see bulkx/sandbox/assumptions/ and the reference, one entry each.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bulkx.kinds import KINDS
from bulkx.sandbox.app import registry
from bulkx.sandbox.resources import conference_v2, messaging, routing, storage

#: (kind, plan field) -> the sandbox's list for the same API field.
_SANDBOX = registry().resources


def _choices(resource: str, field: str) -> tuple[Any, ...]:
    return _SANDBOX[resource].by_name[field].choices or ()


SANDBOX_LISTS: dict[tuple[str, str], tuple[Any, ...]] = {
    ("accesscontrol_rule", "field"): _choices("accesscontrol_rule", "field"),
    ("accesscontrol_rule", "operation"): _choices("accesscontrol_rule", "operation"),
    ("accesscontrol_rule", "quantifier"): _choices("accesscontrol_rule", "quantifier"),
    ("trunk", "codec"): routing.TRUNK.by_name["codec"].choices or (),
    ("trunk", "allow_forward"): routing.TRUNK.by_name["allow_forward"].choices or (),
    ("trunk", "asn_mode"): routing.TRUNK.by_name["asn_mode"].choices or (),
    ("trunk_group", "hard_failure_last_resort"): _choices(
        "trunk_group", "hard_failure_last_resort"
    ),
    ("endpoint", "type"): _choices("endpoint", "type"),
    ("did_line_information", "class_of_service"): _choices(
        "did_line_information", "class_of_service"
    ),
    ("did_line_information", "privacy"): _choices("did_line_information", "privacy"),
    ("did_line_information", "screening"): _choices("did_line_information", "screening"),
    ("did_messaging", "type"): _choices("did_messaging", "type"),
    ("partner", "payment_type"): _choices("partner", "payment_type"),
    ("push.device", "type"): _choices("push_device", "type"),
    ("push.device", "environment"): _choices("push_device", "environment"),
    ("push.notification", "priority"): _choices("push_notification", "priority"),
    ("shortener.domain", "secure"): _choices("shortener_domain", "secure"),
    ("shortener.domain", "expired_mode"): _choices("shortener_domain", "expired_mode"),
    ("shortener.domain", "not_found_mode"): _choices("shortener_domain", "not_found_mode"),
    ("shortener.link", "mode"): _choices("shortener_link", "mode"),
    ("storage.container", "type"): _choices("storage_container", "type"),
    ("storage.container", "allowed_classifications"): storage.CLASSIFICATIONS,
    ("storage.container", "blocked_classifications"): storage.CLASSIFICATIONS,
    ("flexml.account", "method"): _choices("flexml_account", "method"),
    ("flexml.account", "status_callback_method"): _choices(
        "flexml_account", "status_callback_method"
    ),
    ("flexml.account", "error_handler"): _choices("flexml_account", "error_handler"),
    ("flexml.did", "method"): _choices("flexml_did", "method"),
    ("flexml.did", "status_callback_method"): _choices("flexml_did", "status_callback_method"),
    ("flexml.call", "method"): _choices("flexml_call", "method"),
    ("verification.sms", "code_type"): tuple(messaging._CODE_ALPHABETS),
    ("conference_v2.call", "role"): conference_v2.ROLES,
}


def _client_enums() -> list[tuple[str, str]]:
    return sorted(
        (kind.name, spec.name)
        for kind in KINDS.values()
        for spec in kind.fields
        if spec.choices and spec.api_name is not None  # `ensure` is the plan's own
    )


def test_every_enum_field_of_a_kind_is_checked_by_the_sandbox_too() -> None:
    assert _client_enums() == sorted(SANDBOX_LISTS)


@pytest.mark.parametrize("where", sorted(SANDBOX_LISTS), ids="{0[0]}.{0[1]}".format)
def test_the_client_and_the_sandbox_allow_the_same_values(where: tuple[str, str]) -> None:
    kind, field = where
    client = set(KINDS[kind].by_name[field].choices)
    sandbox = {value for value in SANDBOX_LISTS[where] if value is not None}
    assert client == sandbox


CLASSIFICATIONS = "archive, document, executable, media, unknown"


def _validate(plan: Path) -> tuple[int, list[dict[str, Any]]]:
    done = subprocess.run(
        [sys.executable, "-m", "bulkx", "validate", plan.name, "-o", "json"],
        capture_output=True,
        text=True,
        cwd=plan.parent,
        timeout=120,
    )
    return done.returncode, json.loads(done.stdout)["diagnostics"]


def test_validate_refuses_an_invalid_enum_offline_with_its_position_and_values(
    tmp_path: Path,
) -> None:
    (tmp_path / "rules.csv").write_text(
        "name,field,operation,quantifier,entries\nno-premium,called,prefix,some,1900\n"
    )
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "version: 1\n"
        "steps:\n"
        "  - kind: accesscontrol_rule\n"
        "    items:\n"
        "      - {name: a, field: called, operation: bogus, quantifier: any, entries: ['1']}\n"
        "  - kind: accesscontrol_rule\n"
        "    source: rules.csv\n"
        "  - kind: did_messaging\n"
        "    items:\n"
        "      - {phonenumber: '+1 201 314 0409', type: a3p}\n"
        "  - kind: storage.container\n"
        "    items:\n"
        "      - {name: prompts, allowed_classifications: [media, audio]}\n"
    )
    code, diagnostics = _validate(plan)
    assert code == 2
    found = {(d["file"], d["line"], d["column"], d["message"]): d["hint"] for d in diagnostics}
    assert found == {
        (
            "plan.yaml",
            5,
            45,
            "operation 'bogus' is not one of exact, prefix, regexp",
        ): "one of: exact, prefix, regexp",
        (
            "rules.csv",
            2,
            4,
            "quantifier 'some' is not one of all, any, none",
        ): "one of: all, any, none",
        (
            "plan.yaml",
            10,
            48,
            "type 'a3p' is not one of a2p, p2p",
        ): "did you mean 'a2p'? (one of: a2p, p2p)",
        (
            "plan.yaml",
            13,
            50,
            "allowed_classifications value 'audio' is not one of " + CLASSIFICATIONS,
        ): "one of: " + CLASSIFICATIONS,
    }
    assert all(d["code"] == "BX102" and d["severity"] == "error" for d in diagnostics)
