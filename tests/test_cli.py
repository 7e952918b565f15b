"""The `bulkx` command as a user runs it: subprocesses, real files, real sockets."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

BULKX = [sys.executable, "-m", "bulkx"]
REPO = Path(__file__).resolve().parents[1]


def run(
    *args: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BULKX, *args], capture_output=True, text=True, cwd=cwd or REPO, timeout=timeout
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "sandbox" in result.stdout and "demo" in result.stdout


def test_demo_runs_end_to_end_and_prints_a_summary(tmp_path: Path) -> None:
    result = run(
        "demo",
        "--workdir",
        str(tmp_path / "demo"),
        "--ported",
        str(REPO / "samples" / "ported-numbers.csv"),
    )
    assert result.returncode == 0, result.stderr
    assert "Summary" in result.stdout
    assert "plans/port-in.yaml        123 succeeded, 0 failed" in result.stdout
    assert "plans/new-site.yaml       522 succeeded, 0 failed" in result.stdout
    assert "meeting rooms              20" in result.stdout
    assert result.stderr.count("planned again: 0 change(s) left") == 2
    assert "Traceback" not in result.stderr
    assert "demo-token" not in result.stdout + result.stderr
    assert len(list((tmp_path / "demo" / "runs").glob("*.db"))) == 2


def test_seed_puts_ported_numbers_on_the_account_once(tmp_path: Path) -> None:
    db = tmp_path / "world.db"
    ported = tmp_path / "ported.csv"
    ported.write_text("phonenumber,name\n+1 (516) 206-5575,front desk\n212-555-0142,fax\n")
    first = run("sandbox", "seed", "--ported", str(ported), "--db", str(db))
    assert first.returncode == 0, first.stderr
    assert "seeded 2 ported number(s)" in first.stderr
    again = run("sandbox", "seed", "--ported", str(ported), "--db", str(db))
    assert "seeded 0 ported number(s)" in again.stderr and "2 were there already" in again.stderr
    info = run("sandbox", "info", "--db", str(db))
    assert "dids: 2" in info.stdout


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b"\xff\xfe\x00binary\x00junk", "not UTF-8"),
        (b"name\nbob\n", "no phone number column"),
        (b"phonenumber\n12345\n", ":2:1: '12345' is not a valid phone number"),
        (b"phonenumber,name\n15162065575\n", ":2:1: 1 fields, the header has 2"),
        (b"phonenumber\n15162065575\n+1 516 206 5575\n", "repeats row 2"),
    ],
)
def test_seed_rejects_bad_files_clearly_and_seeds_nothing(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    db = tmp_path / "world.db"
    result = run("sandbox", "seed", "--ported", str(bad), "--db", str(db))
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert not db.exists()


def test_serve_answers_over_http_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "BULKX_SANDBOX_TOKEN": "cli-secret-token"}
    proc = subprocess.Popen(
        [
            *BULKX,
            "sandbox",
            "serve",
            "--port",
            str(port),
            "--db",
            str(tmp_path / "s.db"),
            "--rate-limit",
            "100",
            "--faults",
            "latency=1ms",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(
                    f"{base}/core/v2/oauth/whoami",
                    headers={"Authorization": "Bearer cli-secret-token"},
                )
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.json()["name"] == "Sandbox Partner"
        assert httpx.get(f"{base}/_sandbox/faults").status_code == 401  # the admin API needs it
        admin = {"Authorization": "Bearer cli-secret-token"}
        faults = httpx.get(f"{base}/_sandbox/faults", headers=admin)
        assert faults.json()["spec"].startswith("latency=")
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "cli-secret-token" not in err
    assert f"http://127.0.0.1:{port}/core/v2" in err


def test_serve_refuses_a_non_loopback_host_and_a_bad_fault_spec(tmp_path: Path) -> None:
    remote = run("sandbox", "serve", "--host", "0.0.0.0", "--db", str(tmp_path / "s.db"))
    assert remote.returncode == 2 and "loopback" in remote.stderr
    faults = run("sandbox", "serve", "--faults", "bogus=1", "--db", str(tmp_path / "s.db"))
    assert faults.returncode == 2 and "bogus" in faults.stderr


@pytest.mark.parametrize(
    ("option", "value"), [("--rate-limit", "-5"), ("--burst", "-3"), ("--port", "0")]
)
def test_serve_refuses_a_negative_limit_or_burst_and_port_0(
    tmp_path: Path, option: str, value: str
) -> None:
    """A negative limit was served as none while the banner said "rate limit -5/s"; port 0
    was bound to a free port the banner gave as 0."""
    refused = run("sandbox", "serve", option, value, "--db", str(tmp_path / "s.db"))
    assert refused.returncode == 2
    assert f"Invalid value for '{option}'" in refused.stderr
    assert not (tmp_path / "s.db").exists()


def test_serve_reports_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("sandbox", "serve", "--port", str(port), "--db", str(tmp_path / "s.db"))
    assert result.returncode == 6
    assert "in use" in result.stderr
