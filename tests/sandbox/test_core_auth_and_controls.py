"""Core authentication (Bearer, Basic, OAuth tokens and scopes) and the sandbox's operational
controls (rate limit, faults, request log, state) over real HTTP, plus garbage that must not
crash the server or the database.
"""

from __future__ import annotations

import base64
import json
import socket
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from bulkx.sandbox import assumptions
from bulkx.sandbox.faults import HTTP_5XX_STATUSES
from bulkx.sandbox.server import quiet_dropped_connections
from bulkx.sandbox.world import DEFAULT_LOGIN
from tests.conftest import TOKEN, Sandbox, module_sandbox
from tests.sandbox.support import stored

pytestmark = pytest.mark.timeout(60)

#: A sandbox with a token of its own: the default partner's password is that token (the
#: default password and token are refused; see test_a_token_of_its_own_is_the_only_one).
PARTNER_PASSWORD = TOKEN
DIDS = "/phonenumber/dids"
AVAILABLE = "/phonenumber/available_dids"


@pytest.fixture(scope="module", autouse=True)
def _quiet_uvicorn() -> None:
    quiet_dropped_connections()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    yield from module_sandbox(tmp_path_factory, "core_auth", seed=5)


@pytest.fixture(scope="module")
def core(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with sandbox.core() as client:
        yield client


@pytest.fixture
def admin(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """The admin API; faults are cleared after each test that uses it."""
    with sandbox.admin("/_sandbox") as client:
        yield client
        assert client.delete("/faults").status_code == 200


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == set(assumptions.ERROR_BODY_KEYS), body
    for item in body["errors"]:
        assert set(item) == set(assumptions.ERROR_ITEM_KEYS), item
    return body


def basic(login: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def free_number(core: httpx.Client, prefix: str) -> dict[str, Any]:
    items = ok(core.get(AVAILABLE, params={"filter": f'phonenumber like "{prefix}%"', "limit": 1}))[
        "items"
    ]
    item: dict[str, Any] = items[0]
    return item


def token_sid(sandbox: Sandbox, token: str) -> str:
    return str(sandbox.world.store.find("tokens", "c_access_token=?", [token])[0]["token_sid"])


# --- authentication ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({}, "Bearer"),
        (bearer("not-a-token"), "unknown"),
        ({"Authorization": "Bearer"}, "Bearer"),
        ({"Authorization": "Token " + TOKEN}, "Bearer"),
        ({"Authorization": "Basic !!!not-base64"}, "malformed"),
        ({"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}, "malformed"),
        ({"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:x").decode()}, "malformed"),
        (basic(DEFAULT_LOGIN, "wrong"), "password"),
        (basic("nobody", PARTNER_PASSWORD), "password"),
    ],
)
def test_unauthorized(sandbox: Sandbox, headers: dict[str, str], why: str) -> None:
    response = httpx.get(f"{sandbox.core_url}{DIDS}", headers=headers)
    body = error_of(response, 401)
    assert body["message"] == assumptions.MESSAGE_BY_STATUS[401]
    assert why in body["errors"][0]["message"]
    # Writes are refused the same way, and change nothing.
    error_of(httpx.post(f"{sandbox.core_url}{DIDS}", headers=headers, json={}), 401)


def test_basic_with_the_partner_login_works_on_core(sandbox: Sandbox) -> None:
    with httpx.Client(base_url=sandbox.core_url, auth=(DEFAULT_LOGIN, PARTNER_PASSWORD)) as client:
        page = ok(client.get(AVAILABLE, params={"limit": 2}))
        assert page["count"] == 2
        did = ok(client.post(DIDS, json={}))
        assert did["partner_sid"] == sandbox.world.partner_sid
        assert ok(client.get(f"{DIDS}/{did['did_sid']}")) == did


def test_oauth_password_grant_issues_a_working_token(sandbox: Sandbox, core: httpx.Client) -> None:
    form = {"grant_type": "password", "username": DEFAULT_LOGIN, "password": PARTNER_PASSWORD}
    # As the docs' sample does it: form-encoded, with a credential in the header.
    issued = ok(core.post("/oauth/token", data=form))
    assert issued["token_type"] == "bearer"
    assert issued["partner_sid"] == sandbox.world.partner_sid
    assert "client_secret" not in issued
    assert set(issued) >= {
        "access_token",
        "refresh_token",
        "token_sid",
        "scopes",
        "date_created",
        "date_expiration_access_token",
    }
    assert set(issued["scopes"]) == set(
        sandbox.world.partner(sandbox.world.partner_sid)["available_scopes"]
    )
    with httpx.Client(base_url=sandbox.core_url, headers=bearer(issued["access_token"])) as client:
        assert ok(client.get("/oauth/whoami"))["partner_sid"] == sandbox.world.partner_sid
        ok(client.post("/phonenumber/did_groups", json={"name": "via oauth"}))
    if assumptions.OAUTH_PASSWORD_GRANT_ALONE:
        # The password grant alone is a credential: a client's first token needs no other.
        alone = ok(httpx.post(f"{sandbox.core_url}/oauth/token", data=form))
        assert alone["access_token"] != issued["access_token"]
        ok(httpx.get(f"{sandbox.core_url}{DIDS}", headers=bearer(alone["access_token"])))
        error_of(httpx.post(f"{sandbox.core_url}/oauth/token", data={**form, "password": "x"}), 401)
        error_of(
            httpx.post(f"{sandbox.core_url}/oauth/token", data={"grant_type": "password"}), 401
        )
    body = error_of(
        core.post("/oauth/token", data={**form, "grant_type": "client_credentials"}), 422
    )
    assert body["errors"][0]["field"] == "grant_type"
    error_of(core.post("/oauth/token", data={**form, "password": "wrong"}), 401)
    error_of(core.post("/oauth/token", data={**form, "access_token_expires_in": "soon"}), 422)


def test_a_token_keeps_its_client_id_and_refresh_expiry(core: httpx.Client) -> None:
    # https://docs.carrierx.com/voice/core-api/oauth/oauth-token/generate: the request sends a
    # client_id, and the token (answered then, read later: .../oauth-token/get-by-sid) shows it,
    # with date_expiration_refresh_token equal to date_expiration_access_token (assumptions.
    # OAUTH_TOKEN_CLIENT_ID_FROM_REQUEST, OAUTH_REFRESH_TOKEN_EXPIRES_WITH_ACCESS_TOKEN).
    client_id = "5c7965f285344165b003ce1a3202e589"
    form = {
        "grant_type": "password",
        "username": DEFAULT_LOGIN,
        "password": PARTNER_PASSWORD,
        "client_id": client_id,
        "client_secret": "5033909114fe442cbbcb83b674dbf90c",
    }
    issued = ok(core.post("/oauth/token", data=form))
    read = ok(core.get(f"/oauth/tokens/{issued['token_sid']}"))
    for token in (issued, read):
        assert token["client_id"] == client_id
        expiry = token["date_expiration_access_token"]
        assert expiry and token["date_expiration_refresh_token"] == expiry
    without = {k: v for k, v in form.items() if not k.startswith("client_")}
    plain = ok(core.post("/oauth/token", data=without))
    assert ok(core.get(f"/oauth/tokens/{plain['token_sid']}"))["client_id"] is None


def test_restricted_scopes_and_revoke(sandbox: Sandbox, core: httpx.Client) -> None:
    form = {
        "grant_type": "password",
        "username": DEFAULT_LOGIN,
        "password": PARTNER_PASSWORD,
        "scopes": "phonenumber.read",
    }
    issued = ok(core.post("/oauth/token", data=form))
    assert issued["scopes"] == ["phonenumber.read"]
    token = issued["access_token"]
    with httpx.Client(base_url=sandbox.core_url, headers=bearer(token)) as client:
        assert ok(client.get(DIDS))["total"] >= 0
        assert ok(client.get(AVAILABLE, params={"limit": 1}))["count"] == 1
        body = error_of(client.post(DIDS, json={}), assumptions.MISSING_SCOPE_STATUS)
        assert "phonenumber" in body["errors"][0]["message"]
        error_of(client.post("/trunk_groups", json={}), assumptions.MISSING_SCOPE_STATUS)
        error_of(client.get("/trunk_groups"), assumptions.MISSING_SCOPE_STATUS)
        # whoami answers any valid token.
        assert ok(client.get("/oauth/whoami"))["login"] == DEFAULT_LOGIN
        # Revoked (by a token allowed to), it stops working at once.
        revoked = core.post("/oauth/revoke", data={"token": token})
        assert revoked.status_code == 204
        body = error_of(client.get(DIDS), 401)
        assert "revoked" in body["errors"][0]["message"]
    # A scope the partner does not have cannot be granted.
    error_of(core.post("/oauth/token", data={**form, "scopes": "galaxy.manage"}), 422)


def test_token_expiry(sandbox: Sandbox, core: httpx.Client) -> None:
    grant = {"grant_type": "password"}
    issued = ok(core.post("/oauth/token", data={**grant, "access_token_expires_in": "1"}))
    with httpx.Client(base_url=sandbox.core_url, headers=bearer(issued["access_token"])) as client:
        ok(client.get(DIDS))
        time.sleep(1.1)
        body = error_of(client.get(DIDS), 401)
        assert "expired" in body["errors"][0]["message"]
    for bad in ("-5", "0", "soon"):
        expiry = {**grant, "access_token_expires_in": bad}
        body = error_of(core.post("/oauth/token", data=expiry), 422)
        assert body["errors"][0]["field"] == "access_token_expires_in"


def test_a_token_needs_its_grant_type(sandbox: Sandbox, core: httpx.Client) -> None:
    # https://docs.carrierx.com/voice/core-api/oauth/oauth-token/generate: the documented request
    # is a form with grant_type=password; without one no token is issued
    # (assumptions.OAUTH_GRANT_TYPE_MISSING_STATUS), whether the body is JSON or a form.
    status = assumptions.OAUTH_GRANT_TYPE_MISSING_STATUS
    tokens = len(stored(sandbox, "tokens"))
    for answer in (
        core.post("/oauth/token", json={}),
        core.post("/oauth/token", content=b"", headers={"content-type": "application/json"}),
        core.post("/oauth/token", data={"name": "no grant"}),
        core.post("/oauth/token", data={"username": DEFAULT_LOGIN, "password": PARTNER_PASSWORD}),
    ):
        body = error_of(answer, status)
        assert [e["field"] for e in body["errors"]] == ["grant_type"]
    assert len(stored(sandbox, "tokens")) == tokens
    ok(core.post("/oauth/token", data={"grant_type": "password", "name": "granted"}))
    assert ok(core.post("/oauth/token", json={"grant_type": "password"}))["token_type"] == "bearer"


def test_whoami(sandbox: Sandbox, core: httpx.Client) -> None:
    me = ok(core.get("/oauth/whoami"))
    assert me["partner_sid"] == sandbox.world.partner_sid
    assert me["login"] == DEFAULT_LOGIN
    assert "password" not in me
    assert (
        ok(httpx.get(f"{sandbox.core_url}/oauth/whoami", auth=(DEFAULT_LOGIN, PARTNER_PASSWORD)))
        == me
    )
    error_of(httpx.get(f"{sandbox.core_url}/oauth/whoami"), 401)


# --- rate limit ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    yield from module_sandbox(tmp_path_factory, "core_limited", seed=5, rate_limit=20, burst=5)


def test_rate_limit_burst_gets_429_with_retry_after(limited: Sandbox) -> None:
    limits = httpx.Limits(max_connections=40, max_keepalive_connections=40)
    with (
        httpx.Client(
            base_url=limited.core_url, headers=bearer(limited.token), limits=limits
        ) as client,
        ThreadPoolExecutor(max_workers=40) as pool,
    ):
        responses = list(pool.map(lambda _: client.get(DIDS), range(40)))
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) == {200, 429}, statuses
    assert statuses[200] >= 5, statuses
    assert statuses[429] >= 1, statuses
    retry_after = 0
    for response in responses:
        if response.status_code == 429:
            body = error_of(response, 429)
            assert body["message"] == assumptions.MESSAGE_BY_STATUS[429]
            retry_after = int(response.headers["retry-after"])
            assert retry_after >= assumptions.RETRY_AFTER_MIN_SECONDS
        else:
            assert response.json()["items"] == []
    # The limit is per credential: another one has its own bucket.
    auth = basic(DEFAULT_LOGIN, PARTNER_PASSWORD)
    for _ in range(5):
        ok(httpx.get(f"{limited.core_url}{DIDS}", headers=auth))
    # And waiting as told lets the first one in again.
    time.sleep(retry_after)
    ok(httpx.get(f"{limited.core_url}{DIDS}", headers=bearer(limited.token)))


# --- faults --------------------------------------------------------------------------------------


def set_faults(admin: httpx.Client, spec: str) -> None:
    assert ok(admin.put("/faults", json={"spec": spec, "seed": 1}))["spec"]


def fresh(sandbox: Sandbox) -> httpx.Client:
    """A new connection per faulted request: a dropped one is gone."""
    return httpx.Client(base_url=sandbox.core_url, headers=bearer(sandbox.token), timeout=10)


def test_fault_http_5xx(sandbox: Sandbox, admin: httpx.Client, core: httpx.Client) -> None:
    item = free_number(core, "1617")
    set_faults(admin, "http_5xx=1")
    with fresh(sandbox) as client:
        for _ in range(4):
            response = client.get(DIDS)
            assert response.status_code in HTTP_5XX_STATUSES
            error_of(response, response.status_code)
        assert (
            client.post(DIDS, json={"phonenumber": item["phonenumber"]}).status_code
            in HTTP_5XX_STATUSES
        )
    admin.delete("/faults")
    # The 5xx came before the app: the number was not rented.
    ok(core.get(f"{AVAILABLE}/{item['did_sid']}"))


def test_fault_reset_changes_nothing(
    sandbox: Sandbox, admin: httpx.Client, core: httpx.Client
) -> None:
    item = free_number(core, "1702")
    set_faults(admin, "reset=1")
    with fresh(sandbox) as client, pytest.raises(httpx.TransportError):
        client.post(DIDS, json={"phonenumber": item["phonenumber"]})
    admin.delete("/faults")
    listed = ok(core.get(DIDS, params={"filter": f'phonenumber eq "{item["phonenumber"]}"'}))
    assert listed["total"] == 0
    assert ok(core.get(f"{AVAILABLE}/{item['did_sid']}")) == item
    log = ok(admin.get("/requests", params={"limit": 10_000}))["items"]
    assert any(e["fault"] == "reset" and e["method"] == "POST" for e in log)


def test_fault_execute_then_reset_applies_the_write(
    sandbox: Sandbox, admin: httpx.Client, core: httpx.Client
) -> None:
    item = free_number(core, "1704")
    set_faults(admin, "execute_then_reset=1")
    with fresh(sandbox) as client, pytest.raises(httpx.TransportError):
        client.post(DIDS, json={"phonenumber": item["phonenumber"]})
    admin.delete("/faults")
    # The response was lost, but the DID exists: a retry would be refused as already owned.
    did = ok(core.get(f"{DIDS}/{item['did_sid']}"))
    assert did["phonenumber"] == item["phonenumber"]
    assert did["status"] == "assigned"
    error_of(
        core.post(DIDS, json={"phonenumber": item["phonenumber"]}),
        assumptions.RENT_ALREADY_OWNED_STATUS,
    )


def test_fault_outage(sandbox: Sandbox, admin: httpx.Client) -> None:
    set_faults(admin, "outage=30s@0s")
    with fresh(sandbox) as client:
        body = error_of(client.get(DIDS), 503)
        assert body["message"] == assumptions.MESSAGE_BY_STATUS[503]
        error_of(client.post(DIDS, json={}), 503)
    # The admin API is not part of the outage.
    assert ok(admin.get("/state"))["partner_sid"] == sandbox.world.partner_sid
    admin.delete("/faults")
    with fresh(sandbox) as client:
        ok(client.get(DIDS))


def test_fault_unauthorized_after(sandbox: Sandbox, admin: httpx.Client) -> None:
    set_faults(admin, "unauthorized_after=2")
    with fresh(sandbox) as client:
        ok(client.get(DIDS))
        ok(client.get(DIDS))
        error_of(client.get(DIDS), 401)
        error_of(client.get(DIDS), 401)
    # Counted per credential.
    with httpx.Client(base_url=sandbox.core_url, auth=(DEFAULT_LOGIN, PARTNER_PASSWORD)) as other:
        ok(other.get(DIDS))


def test_fault_latency_is_a_lower_bound(sandbox: Sandbox, admin: httpx.Client) -> None:
    set_faults(admin, "latency=150ms")
    with fresh(sandbox) as client:
        for _ in range(3):
            started = time.perf_counter()
            ok(client.get(DIDS))
            assert time.perf_counter() - started >= 0.15


def test_fault_spec_errors(admin: httpx.Client) -> None:
    error_of(admin.put("/faults", json={"spec": "meteor=1"}), 400)
    error_of(admin.put("/faults", json={"spec": "http_5xx=2"}), 400)
    assert ok(admin.get("/faults"))["spec"] == ""


# --- request log and state ---------------------------------------------------------------


def test_request_log_has_ids_never_secrets(sandbox: Sandbox, admin: httpx.Client) -> None:
    since = ok(admin.get("/requests", params={"since": 0, "limit": 10_000}))["next_since"]
    with fresh(sandbox) as client:
        ok(client.get(DIDS, params={"limit": 3}))
        error_of(client.get(f"{DIDS}/nope"), 404)
    httpx.get(f"{sandbox.core_url}{DIDS}", auth=(DEFAULT_LOGIN, PARTNER_PASSWORD))
    httpx.get(f"{sandbox.core_url}{DIDS}", headers=bearer("wrong-secret-token-42"))
    response = admin.get("/requests", params={"since": since})
    entries = ok(response)["items"]
    assert len(entries) == 4
    for entry in entries:
        assert {"method", "path", "status", "credential", "query", "seq"} <= set(entry)
    listed, missing, by_login, wrong = entries
    bearer_id = f"token:{token_sid(sandbox, sandbox.token)}"
    assert (listed["method"], listed["path"], listed["status"], listed["credential"]) == (
        "GET",
        "/core/v2/phonenumber/dids",
        200,
        bearer_id,
    )
    assert listed["query"] == "limit=3"
    assert (missing["path"], missing["status"]) == ("/core/v2/phonenumber/dids/nope", 404)
    assert (by_login["status"], by_login["credential"]) == (200, f"login:{DEFAULT_LOGIN}")
    assert wrong["status"] == 401
    assert wrong["credential"] == "token:unknown"
    text = response.text
    for secret in (
        sandbox.token,
        PARTNER_PASSWORD,
        "wrong-secret-token-42",
        base64.b64encode(f"{DEFAULT_LOGIN}:{PARTNER_PASSWORD}".encode()).decode(),
    ):
        assert secret not in text
    # Secrets in a query string are kept out too.
    httpx.get(
        f"{sandbox.core_url}{DIDS}",
        params={"access_token": sandbox.token},
        headers=bearer(sandbox.token),
    )
    assert sandbox.token not in admin.get("/requests", params={"since": since}).text


def test_state_counts(sandbox: Sandbox, admin: httpx.Client, core: httpx.Client) -> None:
    before = ok(admin.get("/state"))
    assert before["partner_sid"] == sandbox.world.partner_sid
    assert before["inventory_size"] == sandbox.world.inventory.size
    for i in range(3):
        ok(core.post("/phonenumber/did_groups", json={"name": f"counted {i}"}))
    after = ok(admin.get("/state"))
    assert after["counts"]["did_groups"] == before["counts"]["did_groups"] + 3
    assert after["counts"]["did_groups"] == ok(core.get("/phonenumber/did_groups"))["total"]
    rows = ok(admin.get("/state", params={"collection": "did_groups"}))["items"]
    assert len(rows) == after["counts"]["did_groups"]
    error_of(admin.get("/state", params={"collection": "nope"}), 404)


# --- garbage -------------------------------------------------------------------------------------


def _raw_http(sandbox: Sandbox, request: bytes) -> bytes:
    host, port = sandbox.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _deep(depth: int) -> bytes:
    return b'{"name":' + b"[" * depth + b"]" * depth + b"}"


GARBAGE: list[tuple[str, str, dict[str, Any]]] = [
    (
        "POST",
        DIDS,
        {"content": bytes(range(256)) * 8, "headers": {"content-type": "application/json"}},
    ),
    (
        "POST",
        "/phonenumber/did_groups",
        {"content": b"\x00\x01\x02", "headers": {"content-type": "application/octet-stream"}},
    ),
    (
        "POST",
        "/phonenumber/did_groups",
        {"content": _deep(100_000), "headers": {"content-type": "application/json"}},
    ),
    (
        "POST",
        "/phonenumber/did_groups",
        {"content": _deep(900), "headers": {"content-type": "application/json"}},
    ),
    ("POST", "/trunk_groups", {"json": {"trunks": [[[[[[[[[[]]]]]]]]]], "acls": {"a": {"b": {}}}}}),
    ("POST", "/phonenumber/did_groups", {"json": [{"name": "list"}]}),
    ("POST", "/phonenumber/did_groups", {"json": {"name": "x" * 100_000}}),
    ("PATCH", f"{DIDS}/nope", {"json": None}),
    (
        "PUT",
        "/endpoints/nope",
        {"content": b"nul", "headers": {"content-type": "application/json"}},
    ),
    ("GET", "/phonenumber/did_groups", {"params": {"limit": "9" * 400}}),
    ("GET", "/phonenumber/did_groups", {"params": {"offset": "9" * 400}}),
    ("GET", AVAILABLE, {"params": {"limit": "99999999999"}}),
    ("GET", AVAILABLE, {"params": {"offset": "-1"}}),
    ("GET", "/phonenumber/did_groups", {"params": {"filter": " and ".join(["name eq x"] * 1500)}}),
    ("GET", "/phonenumber/did_groups", {"params": {"filter": "name in " + ",".join(["a"] * 5000)}}),
    ("GET", "/phonenumber/did_groups", {"params": {"filter": "name eq 'unterminated"}}),
    ("GET", "/phonenumber/did_groups", {"params": {"filter": "name.a.b.c.d eq 1"}}),
    ("GET", "/phonenumber/did_groups", {"params": {"filter": "name gt null"}}),
    ("GET", "/phonenumber/did_groups", {"params": {"filter": "); DROP TABLE t_dids; --"}}),
    ("GET", "/phonenumber/did_groups", {"params": {"order": "name; DROP TABLE t_dids"}}),
    ("GET", "/phonenumber/did_groups", {"params": {"after": "' OR 1=1 --"}}),
    ("GET", AVAILABLE, {"params": {"filter": "phonenumber nearby latlng:abc"}}),
    ("GET", AVAILABLE, {"params": {"filter": "capabilities gt banana"}}),
    ("GET", AVAILABLE, {"params": {"order": "did_sid desc"}}),  # AVAILABLE_DID_UNORDERABLE
    ("GET", AVAILABLE, {"params": {"after": "x"}}),
    ("GET", "/trunk_groups/x/trunks", {"params": {"filter": "or"}}),
    ("DELETE", "/phonenumber/did_groups", {}),
]


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    GARBAGE,
    ids=[f"{m} {p} {i}" for i, (m, p, _) in enumerate(GARBAGE)],
)
def test_garbage_is_a_client_error(
    core: httpx.Client, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    response = core.request(method, path, **kwargs)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    error_of(response, response.status_code)


def test_server_survives_garbage(sandbox: Sandbox, core: httpx.Client) -> None:
    auth = f"Authorization: Bearer {sandbox.token}\r\n".encode()
    requests = [
        # Percent-encoded bytes that are not UTF-8, in the query and in the path.
        b"GET /core/v2/phonenumber/did_groups?filter=name%20eq%20%22%ff%fe%22&limit=%ff"
        b" HTTP/1.1\r\n",
        b"GET /core/v2/phonenumber/did_groups?filter=name%20eq%20%ff HTTP/1.1\r\n",
        b"GET /core/v2/phonenumber/did_groups/%ff%fe HTTP/1.1\r\n",
        # Raw non-UTF-8 bytes in the query and the credentials.
        b"GET /core/v2/phonenumber/did_groups?filter=name eq \xff\xfe HTTP/1.1\r\n",
        b"GET /core/v2/phonenumber/did_groups HTTP/1.1\r\nAuthorization: Basic \xff\xfe\r\n",
        b"GET /core/v2/phonenumber/did_groups HTTP/1.1\r\nAuthorization: Bearer \xff\xfe\r\n",
        b"GARBAGE\r\n",
    ]
    for head in requests:
        extra = b"" if b"Authorization" in head or head.startswith(b"GARBAGE") else auth
        answer = _raw_http(
            sandbox, head + b"Host: 127.0.0.1\r\n" + extra + b"Connection: close\r\n\r\n"
        )
        status = int(answer.split(b" ", 2)[1])
        assert status < 500, answer[:300]
        if b"application/json" in answer.split(b"\r\n\r\n", 1)[0]:
            body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
            assert set(body) >= {"message"} or set(body) >= {"items"}
    # A form body that is not UTF-8, and a JSON body that is not either.
    form = b"grant_type=password&username=\xff"
    answer = _raw_http(
        sandbox,
        b"POST /core/v2/oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        + f"Content-Length: {len(form)}\r\nConnection: close\r\n\r\n".encode()
        + form,
    )
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    # Still answering, and the database is intact.
    ok(core.get("/phonenumber/did_groups"))
    ok(core.post("/phonenumber/did_groups", json={"name": "after the garbage"}))
    assert sandbox.world.store.scalar("PRAGMA integrity_check") == "ok"
    assert sandbox.world.store.scalar("SELECT count(*) FROM t_dids") >= 0
