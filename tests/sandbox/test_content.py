"""Core content objects over real HTTP: push applications and devices, shortener domains and
links, storage containers and files (both upload forms, download, quotas).

One sandbox serves the module. Storage tests delete the containers they make: a partner may hold
only STORAGE_CONTAINERS_PER_PARTNER of them.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bulkx.sandbox import assumptions
from tests.conftest import Sandbox, module_sandbox
from tests.sandbox.support import error_of, fields_of, ok

pytestmark = pytest.mark.timeout(60)

NO_SUCH_SID = "00000000-0000-4000-8000-000000000000"
CHECKSUM = assumptions.STORAGE_FILE_CHECKSUM_FIELD


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    yield from module_sandbox(tmp_path_factory, "content", seed=17)


@pytest.fixture(scope="module")
def core(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with sandbox.core() as client:
        yield client


def deleted(response: httpx.Response) -> None:
    assert response.status_code == 204, response.text


# --- push ------------------------------------------------------------------------------------

APPLICATIONS, DEVICES = "/push/applications", "/push/devices"


def test_push_applications(core: httpx.Client, sandbox: Sandbox) -> None:
    credentials = base64.b64encode(b'{"type": "service_account"}').decode()
    body = {
        "google_credentials": credentials,
        "apns_id": "",
        "apns_key_id": "",
        "apns_p8": "",
        "apns_p12": "",
        "apns_p12_password": "",
        "apns_team_id": "",
    }
    app = ok(core.post(APPLICATIONS, json=body))
    assert app["google_credentials"] == credentials
    assert app["partner_sid"] == sandbox.world.partner_sid and app["name"] == "N/A"
    if assumptions.PUSH_EMPTY_STRINGS_ARE_NULL:
        assert app["apns_id"] is None and app["apns_p12"] is None
    sid = app["application_sid"]
    assert ok(core.get(f"{APPLICATIONS}/{sid}")) == app
    assert sid in {a["application_sid"] for a in ok(core.get(APPLICATIONS))["items"]}
    assert ok(core.patch(f"{APPLICATIONS}/{sid}", json={"name": "My App"}))["name"] == "My App"
    put = ok(
        core.put(
            f"{APPLICATIONS}/{sid}",
            json={**ok(core.get(f"{APPLICATIONS}/{sid}")), "apns_topic": "com.example"},
        )
    )
    assert put["apns_topic"] == "com.example"
    body = error_of(
        core.post(
            APPLICATIONS, json={"google_credentials": "not base64!", "apns_p12_expiration": "2030"}
        ),
        422,
    )
    assert fields_of(body) == {"google_credentials", "apns_p12_expiration"}
    deleted(core.delete(f"{APPLICATIONS}/{sid}"))
    error_of(core.get(f"{APPLICATIONS}/{sid}"), 404)


def test_push_devices(core: httpx.Client) -> None:
    app = ok(core.post(APPLICATIONS, json={"name": "devices"}))
    app_sid = app["application_sid"]
    device = ok(
        core.post(DEVICES, json={"application_sid": app_sid, "type": "ios", "token": "1111"})
    )
    assert device["environment"] == "production" and device["os_version"] == ""
    sid = device["device_sid"]
    # reuse (default true) answers the same device for the same token, type and environment.
    again = ok(
        core.post(DEVICES, json={"application_sid": app_sid, "type": "ios", "token": "1111"})
    )
    assert again == device
    fresh = ok(
        core.post(
            DEVICES,
            params={"reuse": "false"},
            json={"application_sid": app_sid, "type": "ios", "token": "1111"},
        )
    )
    assert fresh["device_sid"] != sid
    dev = ok(
        core.post(
            DEVICES,
            json={
                "application_sid": app_sid,
                "type": "ios",
                "token": "1111",
                "environment": "development",
            },
        )
    )
    assert dev["device_sid"] not in (sid, fresh["device_sid"])
    assert ok(core.get(f"{DEVICES}/{sid}")) == device
    listed = ok(core.get(DEVICES, params={"filter": f'application_sid eq "{app_sid}"'}))
    assert listed["total"] == 3
    patched = ok(core.patch(f"{DEVICES}/{sid}", json={"os_version": "17.1", "token": "2222"}))
    assert patched["os_version"] == "17.1" and patched["token"] == "2222"
    assert ok(core.put(f"{DEVICES}/{sid}", json=patched)) == patched
    # Errors: required fields, enums, and an application that is not ours.
    assert fields_of(error_of(core.post(DEVICES, json={}), 422)) == set(
        assumptions.PUSH_DEVICE_REQUIRED
    )
    bad = {"application_sid": app_sid, "type": "symbian", "token": "1", "environment": "qa"}
    assert fields_of(error_of(core.post(DEVICES, json=bad), 422)) == {"type", "environment"}
    stranger = {"application_sid": NO_SUCH_SID, "type": "web", "token": "x"}
    assert fields_of(error_of(core.post(DEVICES, json=stranger), 422)) == {"application_sid"}
    error_of(core.patch(f"{DEVICES}/{sid}", json={"application_sid": NO_SUCH_SID}), 422)
    # The application cannot go while devices use it.
    error_of(core.delete(f"{APPLICATIONS}/{app_sid}"), assumptions.PUSH_APPLICATION_IN_USE_STATUS)
    for device_sid in (sid, fresh["device_sid"], dev["device_sid"]):
        deleted(core.delete(f"{DEVICES}/{device_sid}"))
    error_of(core.get(f"{DEVICES}/{sid}"), 404)
    deleted(core.delete(f"{APPLICATIONS}/{app_sid}"))


# --- shortener -------------------------------------------------------------------------------

DOMAINS, LINKS = "/shortener/domains", "/shortener/links"


def test_shortener_domains(core: httpx.Client, sandbox: Sandbox) -> None:
    domain = ok(core.post(DOMAINS, json={"domain_name": "NewDomain.com"}))
    assert domain == {
        "domain_name": "newdomain.com",
        "domain_sid": domain["domain_sid"],
        "expired_mode": "redirect_temporary",
        "expired_page": None,
        "expired_status_code": None,
        "minimum_length": 6,
        "not_found_mode": "redirect_temporary",
        "not_found_page": None,
        "not_found_status_code": None,
        "partner_sid": sandbox.world.partner_sid,
        "scope": "children",
        "secure": "disabled",
        "suffix_pattern": None,
    }
    sid = domain["domain_sid"]
    assert ok(core.get(f"{DOMAINS}/{sid}")) == domain
    assert ok(core.get(DOMAINS))["total"] >= 1
    taken = assumptions.SHORTENER_NAME_TAKEN_STATUS
    error_of(core.post(DOMAINS, json={"domain_name": "newdomain.com"}), taken)
    body = error_of(
        core.post(DOMAINS, json={"domain_name": "not a domain", "minimum_length": 0}), 422
    )
    assert fields_of(body) == {"domain_name", "minimum_length"}
    error_of(core.post(DOMAINS, json={}), 422)
    # proxy_pass and secure=required need scopes of their own.
    forbidden = assumptions.MISSING_SCOPE_STATUS
    error_of(core.patch(f"{DOMAINS}/{sid}", json={"expired_mode": "proxy_pass"}), forbidden)
    error_of(core.patch(f"{DOMAINS}/{sid}", json={"secure": "required"}), forbidden)
    patched = ok(core.patch(f"{DOMAINS}/{sid}", json={"minimum_length": 8, "secure": "optional"}))
    assert patched["minimum_length"] == 8
    assert ok(core.put(f"{DOMAINS}/{sid}", json=patched)) == patched
    deleted(core.delete(f"{DOMAINS}/{sid}"))
    error_of(core.get(f"{DOMAINS}/{sid}"), 404)


def test_shortener_links(core: httpx.Client) -> None:
    domain = ok(core.post(DOMAINS, json={"domain_name": "lnk.example"}))
    domain_sid = domain["domain_sid"]
    body = {"domain_sid": domain_sid, "destination_url": "http://destinationurl.com"}
    link = ok(core.post(LINKS, json=body))
    assert len(link["short_name"]) == assumptions.SHORTENER_GENERATED_NAME_LENGTH
    assert link["url"] == f"http://lnk.example/{link['short_name']}"
    assert link["hits"] == 0 and link["maximum_ttl"] == -1 and link["date_created"]
    sid = link["link_sid"]
    assert ok(core.get(f"{LINKS}/{sid}")) == link
    listed = ok(core.get(LINKS, params={"filter": f'domain_sid eq "{domain_sid}"'}))
    assert listed["items"] == [link]
    # reuse=true answers the link already pointing there; without it, another is made.
    assert ok(core.post(LINKS, params={"reuse": "true"}, json=body)) == link
    other = ok(core.post(LINKS, json=body))
    assert other["link_sid"] != sid
    named = ok(core.post(LINKS, json={**body, "short_name": "promo"}))
    assert named["url"] == "http://lnk.example/promo"
    taken = assumptions.SHORTENER_NAME_TAKEN_STATUS
    error_of(core.post(LINKS, json={**body, "short_name": "promo"}), taken)
    error_of(core.patch(f"{LINKS}/{sid}", json={"short_name": "promo"}), taken)
    renamed = ok(core.patch(f"{LINKS}/{sid}", json={"short_name": "spring", "maximum_ttl": 3600}))
    assert renamed["url"] == "http://lnk.example/spring" and renamed["maximum_ttl"] == 3600
    # Renaming the domain moves every link's url.
    ok(core.patch(f"{DOMAINS}/{domain_sid}", json={"domain_name": "go.example"}))
    assert ok(core.get(f"{LINKS}/{sid}"))["url"] == "http://go.example/spring"
    body_errors = error_of(core.post(LINKS, json={"destination_url": "ftp://x", "mode": "x"}), 422)
    assert fields_of(body_errors) == {"destination_url", "mode", "domain_sid"}
    error_of(core.post(LINKS, json={**body, "domain_sid": NO_SUCH_SID}), 422)
    error_of(core.patch(f"{LINKS}/{sid}", json={"domain_sid": NO_SUCH_SID}), 422)
    error_of(
        core.patch(f"{LINKS}/{sid}", json={"mode": "proxy_pass"}), assumptions.MISSING_SCOPE_STATUS
    )
    assert ok(core.put(f"{LINKS}/{sid}", json=renamed | {"url": "http://go.example/spring"}))
    in_use = assumptions.SHORTENER_DOMAIN_IN_USE_STATUS
    error_of(core.delete(f"{DOMAINS}/{domain_sid}"), in_use)
    for link_sid in (sid, other["link_sid"], named["link_sid"]):
        deleted(core.delete(f"{LINKS}/{link_sid}"))
    error_of(core.get(f"{LINKS}/{sid}"), 404)
    deleted(core.delete(f"{DOMAINS}/{domain_sid}"))


# --- storage ---------------------------------------------------------------------------------

CONTAINERS, FILES = "/storage/containers", "/storage/files"


def upload_raw(core: httpx.Client, data: bytes, **params: Any) -> httpx.Response:
    return core.post(
        FILES, params=params, content=data, headers={"content-type": "application/octet-stream"}
    )


def upload_multipart(
    core: httpx.Client, data: bytes, filename: str, file_object: dict[str, Any]
) -> httpx.Response:
    return core.post(
        FILES,
        files={"data": (filename, data, "application/octet-stream")},
        data={"file_object": json.dumps(file_object)},
    )


@pytest.fixture
def container(core: httpx.Client) -> Iterator[dict[str, Any]]:
    """A fresh container, emptied and deleted afterwards."""
    made: dict[str, Any] = ok(core.post(CONTAINERS, json={}))
    yield made
    sid = made["container_sid"]
    for file in ok(core.get(FILES, params={"filter": f'container_sid eq "{sid}"', "limit": 1000}))[
        "items"
    ]:
        deleted(core.delete(f"{FILES}/{file['file_sid']}"))
    deleted(core.delete(f"{CONTAINERS}/{sid}"))


def test_container_defaults_update_and_limit(core: httpx.Client, sandbox: Sandbox) -> None:
    first = ok(core.post(CONTAINERS, json={}))
    assert first["quota_bytes"] == 1073741824 and first["quota_files"] == 100
    assert first["total_bytes"] == 0 and first["available_bytes_percent"] == 100
    assert first["type"] == "internal" and first["durability_class"] == "unassigned"
    assert first["partner_sid"] == sandbox.world.partner_sid and list(first) == sorted(first)
    sid = first["container_sid"]
    assert ok(core.get(f"{CONTAINERS}/{sid}")) == first
    patched = ok(core.patch(f"{CONTAINERS}/{sid}", json={"name": "rec", "quota_files": 10}))
    assert patched["name"] == "rec" and patched["quota_files"] == 10
    assert ok(core.put(f"{CONTAINERS}/{sid}", json=patched)) == patched
    body = error_of(
        core.patch(
            f"{CONTAINERS}/{sid}",
            json={
                "total_bytes": 5,
                "type": "external",
                "allowed_classifications": ["music"],
                "quota_bytes": -1,
            },
        ),
        422,
    )
    assert fields_of(body) == {"total_bytes", "type", "allowed_classifications", "quota_bytes"}
    made = [first]
    while len(made) < assumptions.STORAGE_CONTAINERS_PER_PARTNER:
        made.append(ok(core.post(CONTAINERS, json={})))
    limit = error_of(core.post(CONTAINERS, json={}), assumptions.STORAGE_CONTAINER_LIMIT_STATUS)
    assert "containers" in limit["message"]
    listed = ok(core.get(CONTAINERS))
    assert listed["total"] == assumptions.STORAGE_CONTAINERS_PER_PARTNER
    for each in made:
        deleted(core.delete(f"{CONTAINERS}/{each['container_sid']}"))
    error_of(core.get(f"{CONTAINERS}/{sid}"), 404)


def test_upload_both_forms_and_download(core: httpx.Client, container: dict[str, Any]) -> None:
    csid = container["container_sid"]
    audio = b"ID3" + bytes(range(256)) * 4
    raw = ok(
        upload_raw(core, audio, container_sid=csid, name="my_audio.mp3", integer_key_1="7"), 201
    )
    assert raw["file_bytes"] == len(audio) and raw["name"] == "my_audio.mp3"
    assert raw["content_format"] == "mp3" and raw["mime_type"] == "audio/mpeg"
    assert raw["content_classification"] == "media" and raw["integer_key_1"] == 7
    assert raw["file_access_name"] == f"{raw['file_sid']}.mp3" and raw["type"] == "file"
    assert raw["lifecycle_action"] == container["default_file_lifecycle_action"]
    assert raw["publish_uri"] == f"{container['publish_domain']}/f/{raw['file_sid']}"
    if CHECKSUM:
        assert raw[CHECKSUM] == hashlib.md5(audio).hexdigest()
    text = b"hello, world\n"
    multi = ok(
        upload_multipart(core, text, "notes.txt", {"container_sid": csid, "unique": True}), 201
    )
    assert multi["name"] == "notes.txt" and multi["content_classification"] == "document"
    assert multi["unique"] is True and multi["file_bytes"] == len(text)
    # The bytes come back as uploaded, with the file's MIME type.
    download = core.get(f"{FILES}/{raw['file_sid']}/data")
    assert download.status_code == 200 and download.content == audio
    assert download.headers["content-type"].startswith("audio/mpeg")
    assert ok(core.get(f"{FILES}/{raw['file_sid']}"))["date_last_accessed"] is not None
    assert core.get(f"{FILES}/{multi['file_sid']}/data").content == text
    totals = ok(core.get(f"{CONTAINERS}/{csid}"))
    assert totals["total_files"] == 2 and totals["total_bytes"] == len(audio) + len(text)
    assert totals["available_files_percent"] == 98
    listed = ok(core.get(FILES, params={"filter": f'container_sid eq "{csid}"', "order": "name"}))
    assert [f["name"] for f in listed["items"]] == ["my_audio.mp3", "notes.txt"]
    error_of(core.get(f"{FILES}/{NO_SUCH_SID}/data"), 404)


def test_upload_errors(core: httpx.Client, container: dict[str, Any]) -> None:
    csid = container["container_sid"]
    assert fields_of(error_of(upload_raw(core, b"x", name="a.txt"), 422)) == {"container_sid"}
    stranger = error_of(upload_raw(core, b"x", container_sid=NO_SUCH_SID), 422)
    assert stranger["errors"][0]["reference_sid"] == NO_SUCH_SID
    assert fields_of(error_of(upload_raw(core, b"x", container_sid=csid, bogus="1"), 422)) == {
        "bogus"
    }
    error_of(upload_raw(core, b"x", container_sid=csid, integer_key_1="many"), 422)
    error_of(upload_raw(core, b"x", container_sid=csid, file_bytes="1"), 422)
    missing = core.post(
        FILES,
        files={"other": ("a", b"x")},
        data={"file_object": json.dumps({"container_sid": csid})},
    )
    assert fields_of(error_of(missing, 422)) == {"data"}
    broken = core.post(FILES, files={"data": ("a", b"x")}, data={"file_object": "{nope"})
    assert fields_of(error_of(broken, 400)) == {"file_object"}
    error_of(
        core.post(FILES, json={"container_sid": csid}, headers={"Authorization": "Bearer x"}), 401
    )


def test_upload_size_limit(
    core: httpx.Client, container: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(assumptions, "STORAGE_MAX_UPLOAD_BYTES", 8)
    body = error_of(upload_raw(core, b"123456789", container_sid=container["container_sid"]), 413)
    assert fields_of(body) == {"data"}
    ok(upload_raw(core, b"12345678", container_sid=container["container_sid"]), 201)


def test_quotas_and_classifications(core: httpx.Client, container: dict[str, Any]) -> None:
    csid = container["container_sid"]
    ok(core.patch(f"{CONTAINERS}/{csid}", json={"quota_files": 2, "quota_bytes": 10}))
    first = ok(upload_raw(core, b"12345", container_sid=csid, name="a.txt"), 201)
    status = assumptions.STORAGE_QUOTA_EXCEEDED_STATUS
    too_big = error_of(upload_raw(core, b"123456", container_sid=csid, name="b.txt"), status)
    assert too_big["errors"][0] == {
        "field": "quota_bytes",
        "message": too_big["message"],
        "reference_sid": csid,
    }
    ok(upload_raw(core, b"12345", container_sid=csid, name="c.txt"), 201)
    assert fields_of(error_of(upload_raw(core, b"", container_sid=csid), status)) == {"quota_files"}
    full = ok(core.get(f"{CONTAINERS}/{csid}"))
    assert full["available_files_percent"] == 0 and full["available_bytes_percent"] == 0
    # Deleting a file frees its room.
    deleted(core.delete(f"{FILES}/{first['file_sid']}"))
    error_of(core.get(f"{FILES}/{first['file_sid']}"), 404)
    error_of(core.get(f"{FILES}/{first['file_sid']}/data"), 404)
    ok(
        core.patch(
            f"{CONTAINERS}/{csid}",
            json={
                "quota_files": 10,
                "quota_bytes": 1000,
                "blocked_classifications": ["executable"],
            },
        )
    )
    rejected = assumptions.STORAGE_CLASSIFICATION_REJECTED_STATUS
    body = error_of(upload_raw(core, b"MZ", container_sid=csid, name="setup.exe"), rejected)
    assert fields_of(body) == {"content_classification"}
    ok(core.patch(f"{CONTAINERS}/{csid}", json={"allowed_classifications": ["media"]}))
    error_of(upload_raw(core, b"x", container_sid=csid, name="x.zip"), rejected)
    ok(upload_raw(core, b"x", container_sid=csid, name="x.wav"), 201)
    # A container with files cannot be deleted.
    error_of(core.delete(f"{CONTAINERS}/{csid}"), assumptions.STORAGE_CONTAINER_IN_USE_STATUS)


def test_file_update_and_move(core: httpx.Client, container: dict[str, Any]) -> None:
    csid = container["container_sid"]
    file = ok(upload_raw(core, b"abc", container_sid=csid, name="f.txt"), 201)
    sid = file["file_sid"]
    patched = ok(
        core.patch(
            f"{FILES}/{sid}", json={"name": "g.txt", "string_key_1": "k", "desired_bitrate": 128}
        )
    )
    assert patched["name"] == "g.txt" and patched["string_key_1"] == "k"
    assert patched["date_modified"] >= file["date_modified"]
    assert (
        patched["file_bytes"] == 3
        and patched[CHECKSUM or "file_bytes"] == file[CHECKSUM or "file_bytes"]
    )
    assert ok(core.put(f"{FILES}/{sid}", json=patched))["name"] == "g.txt"
    body = error_of(
        core.patch(
            f"{FILES}/{sid}",
            json={"file_bytes": 1, "desired_bitrate": 100, "mime_type": "text/html"},
        ),
        422,
    )
    assert fields_of(body) == {"file_bytes", "desired_bitrate", "mime_type"}
    assert "name" in fields_of(
        error_of(core.put(f"{FILES}/{sid}", json={"container_sid": csid}), 422)
    )
    # Moving a file counts it into the other container, under that container's quota.
    other = ok(core.post(CONTAINERS, json={"quota_files": 0}))
    osid = other["container_sid"]
    try:
        status = assumptions.STORAGE_QUOTA_EXCEEDED_STATUS
        error_of(core.patch(f"{FILES}/{sid}", json={"container_sid": osid}), status)
        ok(core.patch(f"{CONTAINERS}/{osid}", json={"quota_files": 5}))
        moved = ok(core.patch(f"{FILES}/{sid}", json={"container_sid": osid}))
        assert moved["container_sid"] == osid
        assert ok(core.get(f"{CONTAINERS}/{osid}"))["total_files"] == 1
        assert ok(core.get(f"{CONTAINERS}/{csid}"))["total_files"] == 0
        error_of(core.patch(f"{FILES}/{sid}", json={"container_sid": NO_SUCH_SID}), 422)
        deleted(core.delete(f"{FILES}/{sid}"))
        assert ok(core.get(f"{CONTAINERS}/{osid}"))["total_bytes"] == 0
    finally:
        deleted(core.delete(f"{CONTAINERS}/{osid}"))
    error_of(core.patch(f"{FILES}/{NO_SUCH_SID}", json={}), 404)
    error_of(core.delete(f"{FILES}/{NO_SUCH_SID}"), 404)
