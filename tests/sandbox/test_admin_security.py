"""The sandbox's own security (issue 15, item 2), against a sandbox served on 127.0.0.1.

- The admin API (`/_sandbox/...`) needs the sandbox's own token as a Bearer.
- A request whose Host is not a loopback name is refused (421), API and admin alike: a web page
  cannot reach the sandbox through DNS rebinding.
- `--token` is the only token: the default token and password, and tokens configured by earlier
  runs on the same db, stop working unless the defaults are kept on purpose.
- `/_sandbox/state` never returns a secret; a bad `limit` is a 400.
- The token can come from BULKX_SANDBOX_TOKEN or --token-file, off the command line.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bulkx.sandbox.app import SandboxConfig, open_world
from bulkx.sandbox.guard import MISDIRECTED, host_is_loopback
from bulkx.sandbox.server import is_loopback
from bulkx.sandbox.world import DEFAULT_LOGIN, DEFAULT_PASSWORD, DEFAULT_TOKEN
from tests.conftest import TOKEN, Sandbox, serve_sandbox
from tests.sandbox.support import error_of, ok

pytestmark = pytest.mark.timeout(60)

served = contextlib.contextmanager(serve_sandbox)
WHOAMI = "/core/v2/oauth/whoami"

#: Every admin route, with a body the route would accept.
ADMIN_CALLS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/_sandbox/state", None),
    ("GET", "/_sandbox/state?collection=tokens", None),
    ("GET", "/_sandbox/requests", None),
    ("DELETE", "/_sandbox/requests", None),
    ("GET", "/_sandbox/faults", None),
    ("PUT", "/_sandbox/faults", {"spec": "http_5xx=1", "seed": 1}),
    ("DELETE", "/_sandbox/faults", None),
    ("GET", "/_sandbox/rate_limit", None),
    ("PUT", "/_sandbox/rate_limit", {"rate": 0.01, "burst": 1}),
    ("DELETE", "/_sandbox/rate_limit", None),
]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(login: str, password: str) -> httpx.BasicAuth:
    return httpx.BasicAuth(login, password)


# --- the admin credential --------------------------------------------------------------------


def test_the_admin_api_takes_only_the_sandboxs_own_token(
    sandbox: Sandbox, core: httpx.Client
) -> None:
    # A token issued through the API, with every scope, is still not the admin credential.
    form = {"grant_type": "password", "name": "all scopes"}
    issued = ok(core.post("/oauth/token", data=form))["access_token"]
    refused: list[dict[str, Any]] = [
        {},
        {"headers": bearer("not-the-token")},
        {"headers": bearer(issued)},
        {"headers": {"Authorization": TOKEN}},  # no scheme
        {"auth": basic(DEFAULT_LOGIN, TOKEN)},  # the partner login is not it either
        {"headers": {"Authorization": "Bearer"}},
    ]
    with httpx.Client(base_url=sandbox.url, timeout=10) as client:
        for method, path, body in ADMIN_CALLS:
            for how in refused:
                answer = client.request(method, path, json=body, **how)
                assert answer.status_code == 401, (method, path, how, answer.text)
                assert answer.headers["www-authenticate"].startswith("Bearer")
                assert "Bearer" in error_of(answer, 401)["errors"][0]["message"]
        # Nothing was switched on by the refused calls.
        assert client.get("/_sandbox/faults", headers=sandbox.admin_headers).json()["spec"] == ""
        assert client.get("/_sandbox/rate_limit", headers=sandbox.admin_headers).json()["rate"] == 0
        for method, path, body in ADMIN_CALLS:
            answer = client.request(method, path, json=body, headers=sandbox.admin_headers)
            assert answer.status_code == 200, (method, path, answer.text)
        client.delete("/_sandbox/faults", headers=sandbox.admin_headers)
        client.delete("/_sandbox/rate_limit", headers=sandbox.admin_headers)
    ok(core.get("/oauth/whoami"))


# --- the Host header ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:{port}",
        "127.0.0.1.nip.io:{port}",
        "sandbox.localhost:{port}",  # *.localhost is up to a resolver: refused
        "localhost.:{port}",
        "localhost.localdomain:{port}",
        "10.0.0.5:{port}",
        "127.0.0.1:{port}:1",
        "127.0.0.1:port",
        "[::1",
        "",
    ],
)
def test_a_host_that_is_not_loopback_is_refused(sandbox: Sandbox, host: str) -> None:
    port = sandbox.url.rsplit(":", 1)[1]
    headers = {**sandbox.admin_headers, "Host": host.format(port=port)}
    for path in (WHOAMI, "/_sandbox/state", "/_sandbox/faults", "/conference/v2/accounts"):
        answer = httpx.get(f"{sandbox.url}{path}", headers=headers, timeout=10)
        body = error_of(answer, MISDIRECTED)
        assert "DNS rebinding" in body["errors"][0]["message"]
    faults = httpx.put(
        f"{sandbox.url}/_sandbox/faults", json={"spec": "reset=1"}, headers=headers, timeout=10
    )
    assert faults.status_code == MISDIRECTED
    with sandbox.admin() as admin:
        assert admin.get("/_sandbox/faults").json()["spec"] == ""


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:{port}",
        "localhost:{port}",
        "LOCALHOST:{port}",
        "[::1]:{port}",
        "127.0.0.1",
        "localhost",
        "127.0.0.2:{port}",
    ],
)
def test_loopback_hosts_are_answered(sandbox: Sandbox, host: str) -> None:
    port = sandbox.url.rsplit(":", 1)[1]
    headers = {**sandbox.admin_headers, "Host": host.format(port=port)}
    ok(httpx.get(f"{sandbox.url}{WHOAMI}", headers=headers, timeout=10))
    ok(httpx.get(f"{sandbox.url}/_sandbox/faults", headers=headers, timeout=10))


def test_a_request_without_a_host_is_refused(sandbox: Sandbox) -> None:
    host, port = sandbox.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"GET {WHOAMI} HTTP/1.0\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 421"), answer[:200]
    assert b"no Host header" in answer


def test_loopback_decisions() -> None:
    for value in ("127.0.0.1", "127.0.0.1:8765", "[::1]:1", "[::1]", "localhost:80", "127.9.9.9"):
        assert host_is_loopback(value), value
    # An IPv6 address in a Host header is bracketed: a bare ::1 is malformed.
    for value in ("a.localhost", "localhost.", "0.0.0.0:1", "[::1", "::1", "127.0.0.1:x", ""):
        assert not host_is_loopback(value), value
    # Where to bind: *.localhost is not resolved into a loopback promise.
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("[::1]")
    assert not is_loopback("sandbox.localhost") and not is_loopback("0.0.0.0")
    assert not is_loopback("example.com")


# --- --token is the only token -----------------------------------------------------------------


def _whoami(sandbox: Sandbox, **how: Any) -> int:
    return httpx.get(f"{sandbox.url}{WHOAMI}", timeout=10, **how).status_code


def test_a_token_of_its_own_is_the_only_one(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    # The db was made with the defaults (as `sandbox seed` or the embedded sandbox make it),
    # then served once with another token.
    open_world(SandboxConfig(db=db, seed=3)).store.close()
    open_world(SandboxConfig(db=db, token="an-earlier-token")).store.close()
    with served(SandboxConfig(db=db, token=TOKEN)) as sandbox:
        assert _whoami(sandbox, headers=bearer(DEFAULT_TOKEN)) == 401
        assert _whoami(sandbox, headers=bearer("an-earlier-token")) == 401
        assert _whoami(sandbox, auth=basic(DEFAULT_LOGIN, DEFAULT_PASSWORD)) == 401
        assert _whoami(sandbox, headers=bearer(TOKEN)) == 200
        assert _whoami(sandbox, auth=basic(DEFAULT_LOGIN, TOKEN)) == 200
        admin = httpx.get(f"{sandbox.url}/_sandbox/faults", headers=bearer(DEFAULT_TOKEN))
        assert admin.status_code == 401
        grant = {"grant_type": "password", "username": DEFAULT_LOGIN}
        token_url = f"{sandbox.url}/core/v2/oauth/token"
        refused = httpx.post(token_url, data={**grant, "password": DEFAULT_PASSWORD})
        assert refused.status_code == 401
        issued = ok(httpx.post(token_url, data={**grant, "password": TOKEN}))["access_token"]
        # Tokens issued through the API stay valid.
        assert _whoami(sandbox, headers=bearer(issued)) == 200
    # A later serve with the earlier token makes that one the only one again.
    with served(SandboxConfig(db=db, token="an-earlier-token")) as sandbox:
        assert _whoami(sandbox, headers=bearer("an-earlier-token")) == 200
        assert _whoami(sandbox, headers=bearer(TOKEN)) == 401
        assert _whoami(sandbox, headers=bearer(issued)) == 200


def test_the_defaults_are_kept_only_when_asked(tmp_path: Path) -> None:
    config = SandboxConfig(db=tmp_path / "s.db", token=TOKEN, keep_default_credentials=True)
    with served(config) as sandbox:
        assert _whoami(sandbox, headers=bearer(DEFAULT_TOKEN)) == 200
        assert _whoami(sandbox, auth=basic(DEFAULT_LOGIN, DEFAULT_PASSWORD)) == 200
        assert _whoami(sandbox, headers=bearer(TOKEN)) == 200
        ok(httpx.get(f"{sandbox.url}/_sandbox/faults", headers=bearer(DEFAULT_TOKEN)))
    # Without a token of its own, the defaults are the sandbox's credentials.
    with served(SandboxConfig(db=tmp_path / "d.db")) as sandbox:
        assert _whoami(sandbox, headers=bearer(DEFAULT_TOKEN)) == 200
        assert _whoami(sandbox, auth=basic(DEFAULT_LOGIN, DEFAULT_PASSWORD)) == 200
        ok(httpx.get(f"{sandbox.url}/_sandbox/faults", headers=bearer(DEFAULT_TOKEN)))


# --- /_sandbox/state ---------------------------------------------------------------------------


def test_state_never_returns_a_secret(sandbox: Sandbox, core: httpx.Client) -> None:
    secrets = {TOKEN, "partner-pw-5531", "sip-pw-8802"}
    ok(core.post("/partners", json={"login": "state_sub", "password": "partner-pw-5531"}))
    issued = ok(core.post("/oauth/token", data={"grant_type": "password", "name": "state"}))
    secrets |= {issued["access_token"], issued["refresh_token"]}
    endpoint = ok(core.post("/endpoints", json={"name": "state-conf", "type": "conference_v2"}))
    secrets.add(endpoint["properties"]["password"])
    sip = {"name": "state-sip", "out_sip_username": "u", "out_sip_password": "sip-pw-8802"}
    ok(core.post("/endpoints", json=sip))
    with sandbox.admin() as admin:
        counts = ok(admin.get("/_sandbox/state"))["counts"]
        dumps = {
            name: admin.get("/_sandbox/state", params={"collection": name, "limit": 100_000})
            for name in counts
        }
    text = "".join(answer.text for answer in dumps.values())
    assert all(answer.status_code == 200 for answer in dumps.values())
    for secret in secrets:
        assert secret not in text, secret
    tokens = dumps["tokens"].json()["items"]
    assert tokens and all(t["access_token"] == "REDACTED" for t in tokens)
    partners = dumps["partners"].json()["items"]
    assert {p["password"] for p in partners} == {"REDACTED"}
    endpoints = {e["name"]: e for e in dumps["endpoints"].json()["items"]}
    assert endpoints["state-conf"]["properties"]["password"] == "REDACTED"
    assert endpoints["state-sip"]["out_sip_password"] == "REDACTED"
    # What a checker compares stays: sids, names, logins.
    assert endpoints["state-conf"]["endpoint_sid"] == endpoint["endpoint_sid"]
    assert "state_sub" in {p["login"] for p in partners}


@pytest.mark.parametrize("limit", ["abc", "-1", "1.5", "99999999999"])
def test_state_with_a_bad_limit_is_a_400(sandbox: Sandbox, limit: str) -> None:
    with sandbox.admin() as admin:
        answer = admin.get("/_sandbox/state", params={"collection": "dids", "limit": limit})
    body = error_of(answer, 400)
    assert body["errors"][0]["field"] == "limit"
    assert "limit must be" in body["message"]


# --- the token off the command line ----------------------------------------------------------

BULKX = [sys.executable, "-m", "bulkx"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def _serving(
    args: list[str], env: dict[str, str], output: list[str]
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`bulkx sandbox serve` in its own process; its stderr lands in `output` when it stops."""
    port = _free_port()
    command = [*BULKX, "sandbox", "serve", "--port", str(port), *args]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}{WHOAMI}", timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "the sandbox did not start"
                time.sleep(0.1)
        yield base, proc
    finally:
        proc.send_signal(signal.SIGINT)
        output.append(proc.communicate(timeout=20)[1])


def test_the_token_comes_from_a_file_and_stays_off_the_command_line(tmp_path: Path) -> None:
    secret = "file-token-5a9d0c"
    token_file = tmp_path / "token"
    token_file.write_text(secret + "\n")
    token_file.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if k != "BULKX_SANDBOX_TOKEN"}
    args = ["--db", str(tmp_path / "s.db"), "--token-file", str(token_file)]
    stderr: list[str] = []
    with _serving(args, env, stderr) as (base, proc):
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert secret.encode() not in cmdline
        assert httpx.get(f"{base}{WHOAMI}", headers=bearer(secret)).status_code == 200
        assert httpx.get(f"{base}{WHOAMI}", headers=bearer(DEFAULT_TOKEN)).status_code == 401
        assert httpx.get(f"{base}/_sandbox/state", headers=bearer(secret)).status_code == 200
        assert httpx.get(f"{base}/_sandbox/state").status_code == 401
    assert stderr and secret not in stderr[0] and "Traceback" not in stderr[0]
    assert "visible" not in stderr[0]
    # --token still works, with a warning that `ps` shows it.
    argv_args = ["--db", str(tmp_path / "s.db"), "--token", secret]
    with _serving(argv_args, env, stderr) as (base, _proc):
        assert httpx.get(f"{base}{WHOAMI}", headers=bearer(secret)).status_code == 200
    assert "--token is visible to every local user in `ps`" in stderr[1]


def test_bad_token_options_are_usage_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    spaced = tmp_path / "spaced"
    spaced.write_text("two words\n")
    db = ["--db", str(tmp_path / "s.db")]
    cases = [
        ["--token", "x", "--token-file", str(spaced)],
        ["--token-file", str(empty)],
        ["--token-file", str(spaced)],
        ["--token-file", str(tmp_path / "missing")],
        ["--token", " "],
    ]
    env = {k: v for k, v in os.environ.items() if k != "BULKX_SANDBOX_TOKEN"}
    for case in cases:
        result = subprocess.run(
            [*BULKX, "sandbox", "serve", "--port", str(_free_port()), *db, *case],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert result.returncode == 2, (case, result.stderr)
        assert "error:" in result.stderr and "Traceback" not in result.stderr
