"""The content and account kinds' definitions: keys and scopes, write-only passwords, uploads
compared by MD5, and sub-partners that need --allow-partners (no I/O but local files)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bulkx.cli.render import blocked_hint
from bulkx.diff.changes import Blocked, Create, NoOp, Release, Update
from bulkx.diff.engine import diff, kind_order
from bulkx.diff.state import LiveObject, LiveState
from bulkx.engine.operations import operations
from bulkx.engine.requests import Request, UnresolvedReference, request_for
from bulkx.kinds import KINDS
from bulkx.kinds.model import Confirmation, granted_permissions
from bulkx.plan.model import Position, ValidPlan
from tests.kinds.test_requests_and_diff import _plan, create, resolver, update


def test_links_and_files_are_keyed_within_their_domain_and_container() -> None:
    link, file = KINDS["shortener.link"], KINDS["storage.file"]
    assert (link.scope_field, file.scope_field) == ("domain", "container")
    assert link.natural_key({"domain": "go.example.com", "short_name": "promo"}) == (
        "go.example.com/promo"
    )
    assert file.natural_key({"container": "prompts", "name": "a.wav"}) == "prompts/a.wav"
    order = kind_order(
        [
            "storage.file",
            "shortener.link",
            "storage.container",
            "push.device",
            "shortener.domain",
            "push.application",
        ]
    )
    for parent, child in (
        ("shortener.domain", "shortener.link"),
        ("storage.container", "storage.file"),
        ("push.application", "push.device"),
    ):
        assert order.index(parent) < order.index(child)


def test_a_device_is_keyed_by_its_token_under_another_plan_name() -> None:
    device = KINDS["push.device"]
    assert device.key_field == "token"
    body = device.to_api({"device_token": "abc", "application": "a-1", "type": "ios"})
    assert body == {"token": "abc", "application_sid": "a-1", "type": "ios"}
    assert device.from_api({**body, "device_sid": "d-1"})["device_token"] == "abc"


def test_every_new_kind_can_be_created_updated_and_deleted() -> None:
    for name in (
        "shortener.domain",
        "shortener.link",
        "push.application",
        "push.device",
        "storage.container",
        "storage.file",
        "partner",
        "oauth.login",
    ):
        assert KINDS[name].operations == {"create", "update", "delete"}, name
    assert KINDS["partner"].confirmation == Confirmation("partners")
    assert all(KINDS[n].confirmation is None for n in ("shortener.domain", "storage.file"))


@pytest.mark.parametrize("name", ["partner", "oauth.login"])
def test_passwords_come_from_the_environment_and_only_on_create(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPPORT_PW", "hunter2-long")
    values = {"login": "acme_support", "password_env": "SUPPORT_PW", "token_scopes": ["x.read"]}
    values = {k: v for k, v in values.items() if k in KINDS[name].by_name}
    made = request_for(create(name, **values), resolver())
    assert made is not None and made.body is not None
    assert made.body["password"] == "hunter2-long" and "password_env" not in made.body
    changed = request_for(update(name, "s-1", **values), resolver())
    assert changed is not None and changed.body is not None and "password" not in changed.body
    monkeypatch.delenv("SUPPORT_PW")
    # Unset: nothing is sent, and the API says the password is required.
    unset = request_for(create(name, **values), resolver())
    assert unset is not None and unset.body is not None and "password" not in unset.body


def test_a_password_is_never_compared(tmp_path: Path) -> None:
    plan = _plan(
        tmp_path,
        """
steps:
  - kind: oauth.login
    items: [{login: acme_support, password_env: SUPPORT_PW, token_scopes: [phonenumber.read]}]
""",
    )
    live = LiveState()
    live.add(
        KINDS["oauth.login"],
        "acme_support",
        LiveObject("l-1", {"login": "acme_support", "token_scopes": ["phonenumber.read"]}),
    )
    assert [type(c) for c in diff(plan, live)] == [NoOp]


def test_a_file_is_uploaded_as_its_bytes_with_its_fields_as_query(tmp_path: Path) -> None:
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "hi.wav").write_bytes(b"RIFF....")
    values = {"container": "prompts", "name": "hi.wav", "path": "media/hi.wav", "lifecycle_ttl": 60}
    at = Position(str(tmp_path / "plan.yaml"), 3)
    change = Create("storage.file", "prompts/hi.wav", "s", at, values)
    sids = resolver(**{"storage_DOT_container__prompts": "c-1"})
    assert request_for(change, sids) == Request(
        "core",
        "POST",
        "/storage/files",
        None,
        None,
        {"container_sid": "c-1", "name": "hi.wav", "lifecycle_ttl": "60"},
        b"RIFF....",
    )

    (tmp_path / "media" / "hi.wav").unlink()  # gone between the plan and the apply
    with pytest.raises(UnresolvedReference, match="cannot read the local file"):
        request_for(change, sids)


FILES = """
steps:
  - kind: storage.container
    items: [{name: prompts}]
  - kind: storage.file
    items: [{container: prompts, name: hi.wav, path: media/hi.wav, string_key_1: greeting}]
"""


def _files(tmp_path: Path, content: bytes) -> tuple[ValidPlan, LiveState]:
    (tmp_path / "media").mkdir(exist_ok=True)
    (tmp_path / "media" / "hi.wav").write_bytes(content)
    plan = _plan(tmp_path, FILES)
    live = LiveState()
    live.add(KINDS["storage.container"], "prompts", LiveObject("c-1", {"name": "prompts"}))
    live.add(
        KINDS["storage.file"],
        "prompts/hi.wav",
        LiveObject(
            "f-1",
            {
                "container": "prompts",
                "name": "hi.wav",
                "string_key_1": "greeting",
                "path": hashlib.md5(b"v1").hexdigest(),
            },
        ),
    )
    return plan, live


def test_a_file_with_the_same_content_is_left_alone(tmp_path: Path) -> None:
    plan, live = _files(tmp_path, b"v1")
    assert [type(c) for c in diff(plan, live)] == [NoOp, NoOp]


def test_a_file_with_new_content_is_blocked_never_replaced_implicitly(tmp_path: Path) -> None:
    plan, live = _files(tmp_path, b"v2")
    _, changed = diff(plan, live)
    assert isinstance(changed, Blocked)
    assert f"the plan says 'media/hi.wav (md5 {hashlib.md5(b'v2').hexdigest()})'" in (
        changed.reason
    )


def test_a_file_missing_locally_is_blocked_unless_it_is_to_be_absent(tmp_path: Path) -> None:
    plan, live = _files(tmp_path, b"v1")
    (tmp_path / "media" / "hi.wav").unlink()
    _, missing = diff(plan, live)
    assert isinstance(missing, Blocked) and missing.reason == "no local file 'media/hi.wav'"
    absent = _plan(tmp_path, FILES.replace("string_key_1: greeting", "ensure: absent"))
    _, gone = diff(absent, live, allow_release=True)
    assert isinstance(gone, Release) and gone.sid == "f-1"


PARTNERS = """
steps:
  - kind: partner
    items: [{login: acme-reseller, name: ACME}, {login: old-reseller, ensure: absent},
            {login: kept-reseller, name: Kept}]
"""


def test_sub_partners_are_created_and_deleted_only_with_allow_partners(tmp_path: Path) -> None:
    plan = _plan(tmp_path, PARTNERS)
    live = LiveState()
    for login, name in (("old-reseller", "Old"), ("kept-reseller", "Kept (old)")):
        live.add(KINDS["partner"], login, LiveObject(f"p-{login}", {"login": login, "name": name}))
    created, deleted, updated = diff(plan, live, allow_release=True)
    assert isinstance(created, Blocked) and isinstance(deleted, Blocked)
    assert created.reason == "the plan would create this partner"
    assert created.hint == "a partner is created or deleted only with the 'partners' permission"
    assert (created.needs, deleted.needs) == ("partners", "partners")
    assert blocked_hint(created).endswith("(pass --allow-partners)")  # the CLI's word for it
    assert isinstance(updated, Update)  # an update needs no confirmation
    confirmed = granted_permissions(allow_partners=True)
    created, deleted, _ = diff(plan, live, allow_release=True, confirmed=confirmed)
    assert isinstance(created, Create) and isinstance(deleted, Release)
    # Deleting stays behind --allow-release too, as every delete does.
    _, deleted, _ = diff(plan, live, confirmed=confirmed)
    assert isinstance(deleted, Blocked) and deleted.needs == "release"
    assert "--allow-release" not in (deleted.hint or "")  # the core names no flag
    assert blocked_hint(deleted).endswith("(pass --allow-release)")


def test_a_link_is_deleted_before_its_domain(tmp_path: Path) -> None:
    plan = _plan(
        tmp_path,
        """
steps:
  - kind: shortener.domain
    items: [{domain_name: go.example.com, ensure: absent}]
  - kind: shortener.link
    items: [{domain: go.example.com, short_name: promo, ensure: absent}]
""",
    )
    live = LiveState()
    live.add(
        KINDS["shortener.domain"],
        "go.example.com",
        LiveObject("d-1", {"domain_name": "go.example.com"}),
    )
    live.add(
        KINDS["shortener.link"],
        "go.example.com/promo",
        LiveObject("l-1", {"domain": "go.example.com", "short_name": "promo"}),
    )
    ops = operations(diff(plan, live, allow_release=True), plan.digest)
    by_kind = {op.kind: op for op in ops}
    assert by_kind["shortener.link"].op_key in by_kind["shortener.domain"].depends_on
