"""Content and account kinds end to end: create, change, then delete through `bulkx apply` on a
served sandbox, with `bulkx plan` left with nothing to do after each apply."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.kinds.cli import Bulkx, actions, write

CREATE = """
steps:
  - kind: shortener.domain
    items: [{domain_name: go.example.com}]
  - kind: shortener.link
    items: [{domain: go.example.com, short_name: promo, destination_url: "https://example.com/a"}]
  - kind: push.application
    items: [{name: field-app, apns_topic: com.example.field}]
  - kind: push.device
    items: [{device_token: tok-1, application: field-app, type: ios}]
  - kind: storage.container
    items: [{name: prompts, quota_files: 10}]
  - kind: storage.file
    items: [{container: prompts, name: hello.txt, path: media/hello.txt}]
  - kind: oauth.login
    items: [{login: OWN_support, password_env: BULKX_TEST_SUPPORT_PW,
             token_scopes: ["phonenumber.read"]}]
  - kind: partner
    items: [{login: acme-reseller, password_env: BULKX_TEST_PARTNER_PASSWORD,
             name: ACME Reseller}]
"""

CHANGE = """
steps:
  - kind: shortener.domain
    items: [{domain_name: go.example.com, secure: optional}]
  - kind: shortener.link
    items: [{domain: go.example.com, short_name: promo, destination_url: "https://example.com/b"}]
  - kind: push.application
    items: [{name: field-app, apns_topic: com.example.field2}]
  - kind: push.device
    items: [{device_token: tok-1, application: field-app, type: ios, os_version: "18.1"}]
  - kind: storage.container
    items: [{name: prompts, quota_files: 20}]
  - kind: storage.file
    items: [{container: prompts, name: hello.txt, path: media/hello.txt, string_key_1: v2}]
  - kind: oauth.login
    items: [{login: OWN_support, token_scopes: ["phonenumber.read", "phonenumber.update"]}]
  - kind: partner
    items: [{login: acme-reseller, name: ACME Reseller Inc}]
"""

DELETE = """
steps:
  - kind: shortener.domain
    items: [{domain_name: go.example.com, ensure: absent}]
  - kind: shortener.link
    items: [{domain: go.example.com, short_name: promo, ensure: absent}]
  - kind: push.application
    items: [{name: field-app, ensure: absent}]
  - kind: push.device
    items: [{device_token: tok-1, application: field-app, type: ios, ensure: absent}]
  - kind: storage.container
    items: [{name: prompts, ensure: absent}]
  - kind: storage.file
    items: [{container: prompts, name: hello.txt, path: media/hello.txt, ensure: absent}]
  - kind: oauth.login
    items: [{login: OWN_support, token_scopes: [], ensure: absent}]
  - kind: partner
    items: [{login: acme-reseller, ensure: absent}]
"""

EVERY_KIND = [
    "oauth.login",
    "partner",
    "push.application",
    "push.device",
    "shortener.domain",
    "shortener.link",
    "storage.container",
    "storage.file",
]


def _assert_created(bulkx: Bulkx, own: str) -> str:
    """What the create plan made, as the API reads it; the stored file's md5."""
    (link,) = bulkx.get("/shortener/links")
    assert (link["url"], link["destination_url"]) == (
        "http://go.example.com/promo",
        "https://example.com/a",
    )
    (stored,) = bulkx.get("/storage/files")
    assert stored["file_md5"] == hashlib.md5(b"hello, caller\n").hexdigest()
    assert stored["name"] == "hello.txt" and stored["file_bytes"] == 14
    with bulkx.sandbox.core() as core:
        data = core.get(f"/storage/files/{stored['file_sid']}/data")
    assert data.content == b"hello, caller\n"
    (device,) = bulkx.get("/push/devices")
    (application,) = bulkx.get("/push/applications")
    assert device["application_sid"] == application["application_sid"]
    (login,) = bulkx.get("/oauth/logins")
    assert "password" not in login
    assert _stored_password(bulkx, "partner_logins", f"{own}_support") == "s3cret-login-pw"
    assert _stored_password(bulkx, "partners", "acme-reseller") == "s3cret-partner-pw"
    return str(stored["file_md5"])


def _assert_every_kind_updated(bulkx: Bulkx, change: Path, own: str) -> None:
    changes = bulkx.changes(change)
    assert actions(changes) == [
        ("update", kind, key)
        for kind, key in [
            ("oauth.login", f"{own}_support"),
            ("partner", "acme-reseller"),
            ("push.application", "field-app"),
            ("push.device", "tok-1"),
            ("shortener.domain", "go.example.com"),
            ("shortener.link", "go.example.com/promo"),
            ("storage.container", "prompts"),
            ("storage.file", "prompts/hello.txt"),
        ]
    ]
    # The password is never compared: a plan without it changes only the scopes.
    (login_change,) = [c for c in changes if c["kind"] == "oauth.login"]
    assert [c["field"] for c in login_change["changes"]] == ["token_scopes"]
    _apply(bulkx, change)
    (link,) = bulkx.get("/shortener/links")
    assert link["destination_url"] == "https://example.com/b"
    assert _stored_password(bulkx, "partner_logins", f"{own}_support") == "s3cret-login-pw"


def _assert_every_kind_deleted(bulkx: Bulkx, delete: Path) -> None:
    gone = bulkx.changes(delete, "--allow-release")
    assert {c["action"] for c in gone if c["kind"] != "partner"} == {"release"}
    (kept,) = [c for c in gone if c["kind"] == "partner"]
    assert kept["action"] == "blocked" and kept["needs"] == "partners"
    _apply(bulkx, delete, "--allow-release", "--allow-partners")
    for path in (
        "/shortener/domains",
        "/shortener/links",
        "/push/applications",
        "/push/devices",
        "/storage/containers",
        "/storage/files",
        "/oauth/logins",
    ):
        assert bulkx.get(path) == [], path
    assert "acme-reseller" not in {p["login"] for p in bulkx.get("/partners")}


def test_content_and_account_kinds_round_trip(
    tmp_path: Path, bulkx: Bulkx, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BULKX_TEST_SUPPORT_PW", "s3cret-login-pw")
    monkeypatch.setenv("BULKX_TEST_PARTNER_PASSWORD", "s3cret-partner-pw")
    own = bulkx.get("/oauth/whoami")["login"]
    (tmp_path / "media").mkdir()
    sample = tmp_path / "media" / "hello.txt"
    sample.write_bytes(b"hello, caller\n")
    create = write(tmp_path / "create.yaml", CREATE.replace("OWN", own))
    change = write(tmp_path / "change.yaml", CHANGE.replace("OWN", own))
    delete = write(tmp_path / "delete.yaml", DELETE.replace("OWN", own))

    # A sub-partner is created only with --allow-partners.
    (guarded,) = [c for c in bulkx.changes(create) if c["kind"] == "partner"]
    assert guarded["action"] == "blocked" and guarded["needs"] == "partners"
    planned = bulkx.run("plan", str(create), "--allow-partners")
    assert planned.exit_code == 0 and "s3cret" not in planned.output
    assert [a for a, _, _ in actions(bulkx.changes(create, "--allow-partners"))] == ["create"] * 8
    _apply(bulkx, create, "--allow-partners")
    stored_md5 = _assert_created(bulkx, own)
    _assert_every_kind_updated(bulkx, change, own)

    # New content under the same name: blocked (the API cannot rewrite a file's bytes).
    sample.write_bytes(b"hello again\n")
    (replaced,) = bulkx.changes(change)
    assert (replaced["kind"], replaced["action"]) == ("storage.file", "blocked")
    new_md5 = hashlib.md5(b"hello again\n").hexdigest()
    assert replaced["reason"] == (
        "cannot change on an existing object: path is"
        f" '{stored_md5}', the plan says 'media/hello.txt (md5 {new_md5})'"
    )
    _assert_every_kind_deleted(bulkx, delete)


def test_a_missing_local_file_is_blocked_not_uploaded(tmp_path: Path, bulkx: Bulkx) -> None:
    plan = write(
        tmp_path / "files.yaml",
        """
steps:
  - kind: storage.container
    items: [{name: prompts}]
  - kind: storage.file
    items: [{container: prompts, name: gone.wav, path: nowhere/gone.wav}]
""",
    )
    (blocked,) = [c for c in bulkx.changes(plan) if c["kind"] == "storage.file"]
    assert blocked["action"] == "blocked" and "nowhere/gone.wav" in blocked["reason"]


def _stored_password(bulkx: Bulkx, collection: str, login: str) -> str:
    """The password the sandbox keeps (the API never answers with one)."""
    (found,) = bulkx.sandbox.world.store.find(collection, "c_login=?", [login])
    return str(found["password"])


def _apply(bulkx: Bulkx, plan: Path, *flags: str) -> None:
    """`bulkx.apply`, failing with the failed operations' errors rather than just their count."""
    result = bulkx.run("apply", str(plan), "--yes", *flags)
    if result.exit_code != 0 and "run id: " in result.output:
        run_id = result.output.split("run id: ")[1].split()[0]
        failed = bulkx.run("report", run_id, "--failed", "-o", "json", target=False)
        raise AssertionError(failed.output)
    assert result.exit_code == 0, result.output
    assert bulkx.changes(plan, *flags) == []
