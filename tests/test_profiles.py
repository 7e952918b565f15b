"""Profiles (issue 17, item 2): named targets in ./bulkx.toml or the user's config file, chosen by
--profile or BULKX_PROFILE; BULKX_BASE_URL; `bulkx config` shows each value and its source and
never the token. The CLI runs for real, against a sandbox served on 127.0.0.1."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from bulkx.errors import ConfigError
from bulkx.profiles import load
from bulkx.sandbox.app import SandboxApp, SandboxConfig, create_app
from bulkx.sandbox.server import serve_in_thread

SECRET = "sandbox-token"


def bulkx(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BULKX_", "CARRIERX_"))}
    clean["XDG_CONFIG_HOME"] = str(cwd / "xdg")  # never the real user's config
    return subprocess.run(
        [sys.executable, "-m", "bulkx", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        env={**clean, **env},
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[SandboxApp, str]]:
    app = create_app(SandboxConfig(db=tmp_path / "served.db", seed=2))
    with serve_in_thread(app) as server:
        yield app, f"{server.url}/core/v2"


def _project(tmp_path: Path, base: str, *, rate: int = 50) -> Path:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    (work / "tokens").mkdir(exist_ok=True)
    token = work / "tokens" / "staging.token"
    token.write_text(SECRET + "\n")
    token.chmod(0o600)
    (work / "bulkx.toml").write_text(
        'default_profile = "staging"\n'
        "[profiles.staging]\n"
        f'base_url = "{base}"\n'
        'token_file = "tokens/staging.token"\n'
        f"rate = {rate}\nconcurrency = 4\n"
        "[profiles.other]\n"
        'base_url = "https://api.example.net/core/v2"\n'
    )
    (work / "tg.yaml").write_text(
        "steps:\n  - kind: trunk_group\n    items:\n      - name: tg-prof\n"
    )
    return work


def test_a_profile_is_the_target_of_plan_and_apply(
    tmp_path: Path, served: tuple[SandboxApp, str]
) -> None:
    app, base = served
    work = _project(tmp_path, base)
    before = app.controls.log.last_seq
    planned = bulkx(work, "plan", "tg.yaml")
    assert planned.returncode == 0, planned.stderr
    assert "tg-prof" in planned.stdout
    assert app.controls.log.last_seq > before  # it read the served sandbox, not a file
    applied = bulkx(work, "apply", "tg.yaml", "--yes")
    assert applied.returncode == 0, applied.stderr
    names = app.world.store.rows("SELECT json_extract(data, '$.name') FROM t_trunk_groups")
    assert ("tg-prof",) in names
    assert not (work / ".bulkx" / "sandbox.db").exists()  # the embedded sandbox was not used
    listed = bulkx(work, "runs")
    assert "staging" not in listed.stderr and SECRET not in listed.stdout
    assert SECRET not in applied.stderr + applied.stdout


def test_the_environment_and_flags_come_before_the_profile(
    tmp_path: Path, served: tuple[SandboxApp, str]
) -> None:
    _, base = served
    work = _project(tmp_path, "https://unused.example.net/core/v2")
    shown = json.loads(bulkx(work, "config", "-o", "json", BULKX_BASE_URL=base).stdout)
    assert shown["target"] == {"value": base, "source": "env BULKX_BASE_URL"}
    assert shown["concurrency"]["source"].startswith("profile staging")
    flagged = json.loads(bulkx(work, "config", "-o", "json", "--concurrency", "2").stdout)
    assert flagged["concurrency"] == {"value": 2, "source": "flag --concurrency"}
    other = json.loads(bulkx(work, "config", "-o", "json", BULKX_PROFILE="other").stdout)
    assert other["profile"] == {"value": "other", "source": "env BULKX_PROFILE"}
    assert other["target"]["value"] == "https://api.example.net/core/v2"
    assert other["rate"]["source"] == "default"


def test_config_shows_sources_and_never_the_token(tmp_path: Path) -> None:
    work = _project(tmp_path, "http://127.0.0.1:9/core/v2")
    shown = bulkx(work, "config", CARRIERX_TOKEN="other-secret-value")
    assert shown.returncode == 0, shown.stderr
    lines = {line.split()[0]: line for line in shown.stdout.splitlines()}
    assert "default_profile" in lines["profile"]
    assert "tokens/staging.token [file, mode 0600]" in lines["token"]
    assert "profile staging" in lines["rate"]
    assert SECRET not in shown.stdout and "other-secret-value" not in shown.stdout


def test_nothing_configured_means_the_embedded_sandbox(tmp_path: Path) -> None:
    shown = json.loads(bulkx(tmp_path, "config", "-o", "json").stdout)
    assert shown["target"]["value"].startswith("the embedded sandbox")
    assert shown["profile"]["value"] == "-"


def test_the_profile_rate_is_a_ceiling(tmp_path: Path) -> None:
    work = _project(tmp_path, "http://127.0.0.1:9/core/v2", rate=20)
    refused = bulkx(work, "apply", "tg.yaml", "--yes", "--rate", "100")
    assert refused.returncode == 2
    assert "above the ceiling of profile staging" in refused.stderr
    lower = json.loads(bulkx(work, "config", "-o", "json", "--rate", "5").stdout)
    assert lower["rate"] == {"value": 5.0, "source": "flag --rate"}


@pytest.mark.parametrize("rate", ["0", "-5"])
def test_a_rate_of_zero_or_less_is_refused_before_anything_runs(tmp_path: Path, rate: str) -> None:
    """It once divided by zero (`--rate 0`) or spun a core forever (`--rate -5`)."""
    work = _project(tmp_path, "http://127.0.0.1:9/core/v2")
    for args in (("apply", "tg.yaml", "--yes"), ("resume", "RUN", "--yes"), ("config",)):
        refused = bulkx(work, *args, "--rate", rate)
        assert refused.returncode == 2, (args, refused.stderr)
        assert "Invalid value for '--rate'" in refused.stderr
        assert "greater than or equal to 0.01" in refused.stderr
        assert "Traceback" not in refused.stderr


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        ("rate = 0", "rate must be at least 0.01 (per s)"),
        ("rate = -2.5", "rate must be at least 0.01 (per s)"),
        ("concurrency = 0", "concurrency must be 1-256"),
        ("concurrency = 1000", "concurrency must be 1-256"),
    ],
)
def test_a_profile_rate_or_concurrency_out_of_bounds_is_a_clear_error(
    tmp_path: Path, setting: str, said: str
) -> None:
    work = _project(tmp_path, "http://127.0.0.1:9/core/v2")
    (work / "bulkx.toml").write_text(
        f'[profiles.x]\nbase_url = "http://127.0.0.1:9/core/v2"\n{setting}\n'
    )
    for args in (("config", "--profile", "x"), ("apply", "tg.yaml", "--yes", "--profile", "x")):
        refused = bulkx(work, *args)
        assert refused.returncode == 2, (args, refused.stderr)
        assert f"[profiles.x] {said}" in refused.stderr
        assert "Traceback" not in refused.stderr


def test_an_unknown_profile_or_a_bad_file_is_a_clear_error(tmp_path: Path) -> None:
    work = _project(tmp_path, "http://127.0.0.1:9/core/v2")
    unknown = bulkx(work, "plan", "tg.yaml", "--profile", "prod")
    assert unknown.returncode == 2
    assert "no profile 'prod' (flag --profile)" in unknown.stderr
    assert "profiles defined: other, staging" in unknown.stderr
    (work / "bulkx.toml").write_text("[profiles.x]\nbase_url = 5\n")
    bad = bulkx(work, "config")
    assert bad.returncode == 2 and "base_url must be str" in bad.stderr
    (work / "bulkx.toml").write_text("[profiles\n")
    broken = bulkx(work, "config")
    assert broken.returncode == 2 and "not valid TOML" in broken.stderr
    assert "Traceback" not in unknown.stderr + bad.stderr + broken.stderr


def test_the_project_file_replaces_a_user_profile_of_the_same_name(tmp_path: Path) -> None:
    user = tmp_path / "user.toml"
    user.write_text('[profiles.p]\nbase_url = "https://user.example/core/v2"\nrate = 9\n')
    project = tmp_path / "bulkx.toml"
    project.write_text('[profiles.p]\nbase_url = "https://proj.example/core/v2"\n')
    config = load("p", project=project, user=user)
    assert config.resolve("base_url").value == "https://proj.example/core/v2"
    assert config.resolve("rate").source == "default"  # replaced whole, not merged
    project.write_text('[profiles.p]\ntoken = "abc"\n')
    with pytest.raises(ConfigError, match="unknown setting 'token'"):
        load("p", project=project, user=user)


def test_shell_completion_is_on(tmp_path: Path) -> None:
    entry = Path(sys.executable).parent / "bulkx"  # the installed command, as a shell runs it
    # Typer finds the shell from the parent process: run it from a bash that stays its parent
    # (`; true` keeps bash from exec'ing the command in its place), as a user's shell would.
    script = subprocess.run(
        ["bash", "-c", f"'{entry}' --show-completion; true"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert script.returncode == 0, script.stderr
    assert "complete" in script.stdout and "_BULKX_COMPLETE" in script.stdout


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A stand-in for an API served elsewhere than beside Core: records what reaches it and
    answers every GET with an empty list page."""

    seen: ClassVar[list[tuple[str, str, str]]] = []

    def do_GET(self) -> None:  # the stdlib names it
        self.seen.append(("GET", self.path, self.headers.get("Authorization", "")))
        body = json.dumps({"items": [], "count": 0, "has_more": False, "limit": 100}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def elsewhere() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Recorder.seen.clear()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_profile_serves_an_api_from_its_own_base_url(
    tmp_path: Path, served: tuple[SandboxApp, str], elsewhere: str
) -> None:
    app, base = served
    work = _project(tmp_path, base)
    (work / "endpoint.yaml").write_text(
        "steps:\n  - kind: endpoint\n    items:\n      - {name: acme-relay, type: mediator}\n"
    )
    assert bulkx(work, "apply", "endpoint.yaml", "--yes").returncode == 0
    toml = (work / "bulkx.toml").read_text()
    (work / "bulkx.toml").write_text(
        toml.replace(
            'token_file = "tokens/staging.token"',
            'token_file = "tokens/staging.token"\n'
            f'base_urls = {{ mediator = "{elsewhere}/relay/mediator/v1" }}',
        )
    )
    (work / "bindings.yaml").write_text(
        "steps:\n  - kind: mediator.binding\n    defaults: {endpoint: acme-relay}\n"
        "    items:\n      - {name: desk, redirect_did: 212-555-0111,"
        " destination_did: +1 646 555 0199}\n"
    )
    since = app.controls.log.last_seq
    planned = bulkx(work, "plan", "bindings.yaml")
    assert planned.returncode == 0, planned.stderr
    assert "desk" in planned.stdout
    # Mediator was asked at its own base URL, with the endpoint's credentials from Core...
    paths = [path for _, path, _ in _Recorder.seen]
    assert paths and all(path.startswith("/relay/mediator/v1/") for path in paths)
    assert all(auth.startswith("Basic ") for _, _, auth in _Recorder.seen)
    # ...and Core (the endpoint's credentials) at the profile's base URL, never for Mediator.
    logged = app.controls.log.entries(since, 1000)
    assert logged and not any("/mediator/" in e["path"] for e in logged)
    shown = json.loads(bulkx(work, "config", "-o", "json").stdout)
    assert shown["  mediator"]["value"] == f"{elsewhere}/relay/mediator/v1"
    # A flag's base URL is another deployment: the profile's per-API URLs stay out of it.
    flagged = json.loads(bulkx(work, "config", "-o", "json", "--base-url", base).stdout)
    assert "  mediator" not in flagged


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('base_urls = { voice = "https://x.example.net/voice/v1" }', "no API 'voice'"),
        ('base_urls = { mediator = "http://x.example.net/mediator/v1" }', "plain http://"),
        ('base_urls = { mediator = "https://u:p@x.example.net/m" }', "login or password"),
        ("base_urls = { mediator = 5 }", "must be URLs"),
    ],
)
def test_a_bad_per_api_base_url_is_a_clear_error(
    tmp_path: Path, setting: str, message: str
) -> None:
    work = _project(tmp_path, "https://api.example.net/core/v2")
    toml = (work / "bulkx.toml").read_text()
    (work / "bulkx.toml").write_text(
        toml.replace("concurrency = 4\n", f"concurrency = 4\n{setting}\n", 1)
    )
    shown = bulkx(work, "config")
    assert shown.returncode == 2, shown.stdout
    assert message in shown.stderr and "Traceback" not in shown.stderr
    assert "u:p" not in shown.stderr
