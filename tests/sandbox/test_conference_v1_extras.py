"""The rest of the Conference v1 quick reference (issue 16 item 7): `GET /callFlows`,
`GET /callFlows/{id}`, `POST /subscribers/logout` and a subscriber's media files.

The Call Flow object is documented (https://docs.carrierx.com/conference/conf-v1-api/call-flows/
call-flow); the other methods are listed without objects, so their shapes are the assumptions
CONFERENCE_V1_CALL_FLOW_NAMES, CONFERENCE_V1_LOGOUT_STATUS and CONFERENCE_V1_FILE_*.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bulkx.sandbox import assumptions
from tests.conftest import Sandbox, module_sandbox
from tests.sandbox.support import error_fields, ok

pytestmark = pytest.mark.timeout(30)

ATTRIBUTE_KEYS = {"description", "enumValues", "group", "name", "type", "value"}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    yield from module_sandbox(tmp_path_factory, "conference_v1_extras", seed=4)


@pytest.fixture(scope="module")
def conf(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with sandbox.core() as core:
        endpoint = ok(core.post("/endpoints", json={"name": "legacy", "type": "conference"}))
    props = endpoint["properties"]
    with sandbox.app_client("/conference/v1", props["login"], props["password"]) as client:
        yield client


@pytest.fixture(scope="module")
def me(conf: httpx.Client) -> dict[str, Any]:
    found: dict[str, Any] = ok(conf.get("/subscribers/whoami"))
    return found


def test_call_flows(conf: httpx.Client) -> None:
    flows = ok(conf.get("/callFlows"))
    assert flows["count"] == flows["total"] == len(assumptions.CONFERENCE_V1_CALL_FLOW_NAMES)
    assert [f["name"] for f in flows["items"]] == list(assumptions.CONFERENCE_V1_CALL_FLOW_NAMES)
    for flow in flows["items"]:
        # The Call Flow object's fields, each template an Attribute object.
        assert set(flow) == {"attributeTemplates", "id", "name", "path"}
        assert isinstance(flow["id"], int) and flow["path"].endswith(flow["name"])
        assert flow["attributeTemplates"]
        assert all(set(t) == ATTRIBUTE_KEYS for t in flow["attributeTemplates"])
        assert ok(conf.get(f"/callFlows/{flow['id']}")) == flow
    assert conf.get("/callFlows/99").status_code == 404
    named = ok(conf.get("/callFlows", params={"filter": 'name eq "open"'}))["items"]
    assert [f["name"] for f in named] == ["open"]


def test_logout_answers_no_content(conf: httpx.Client) -> None:
    r = conf.post("/subscribers/logout", json={})
    assert r.status_code == assumptions.CONFERENCE_V1_LOGOUT_STATUS == 204
    assert r.content == b""
    assert conf.get("/subscribers/whoami").status_code == 200  # nothing else changes


def test_media_files(conf: httpx.Client, me: dict[str, Any]) -> None:
    files = f"/subscribers/{me['sid']}/files"
    raw = conf.post(
        files,
        params={"fileName": "hold.wav"},
        content=b"RIFF" + b"\0" * 60,
        headers={"Content-Type": "audio/wav"},
    )
    assert raw.status_code == assumptions.CONFERENCE_V1_FILE_UPLOAD_STATUS, raw.text
    hold = raw.json()
    assert set(hold) == set(assumptions.CONFERENCE_V1_FILE_FIELDS)
    assert (hold["name"], hold["size"], hold["contentType"]) == ("hold.wav", 64, "audio/wav")
    multipart = conf.post(files, files={"file": ("welcome.mp3", b"ID3...", "audio/mpeg")})
    assert multipart.status_code == 201, multipart.text
    assert multipart.json()["name"] == "welcome.mp3"
    listed = ok(conf.get(files))
    assert [f["name"] for f in listed["items"]] == ["hold.wav", "welcome.mp3"]
    # The same name again replaces the file.
    again = conf.post(files, params={"fileName": "hold.wav"}, content=b"x" * 10)
    assert again.status_code == 201 and again.json()["size"] == 10
    assert ok(conf.get(files))["total"] == 2
    assert conf.delete(f"{files}/welcome.mp3").status_code == 204
    assert conf.delete(f"{files}/welcome.mp3").status_code == 404
    assert [f["name"] for f in ok(conf.get(files))["items"]] == ["hold.wav"]
    assert conf.delete(files).status_code == 204
    assert ok(conf.get(files))["items"] == []


def test_media_files_errors(conf: httpx.Client, me: dict[str, Any]) -> None:
    files = f"/subscribers/{me['sid']}/files"
    assert error_fields(conf.post(files, content=b"no name"), 422) == {"fileName"}
    r = conf.post(files, params={"fileName": "a/b.wav"}, content=b"x")
    assert error_fields(r, 422) == {"fileName"}
    assert conf.get("/subscribers/no-such-subscriber/files").status_code == 404
    # Another subscriber's files are their own.
    bob = ok(conf.post("/subscribers", json={"name": "Bob"}))
    bobs = f"/subscribers/{bob['sid']}/files"
    assert conf.post(bobs, params={"fileName": "bob.wav"}, content=b"b").status_code == 201
    assert [f["name"] for f in ok(conf.get(files))["items"]] == []
    assert [f["name"] for f in ok(conf.get(bobs))["items"]] == ["bob.wav"]
