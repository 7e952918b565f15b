"""Errors a person can act on (issue 17, item 6): an unreachable host is an environment problem
(exit 6, with a hint), a long query string is cut in messages, a missing plan says so plainly."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from bulkx.errors import QUERY_SHOWN, ApiError, AuthError


def bulkx(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bulkx", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "CARRIERX_TOKEN": "t0ken-never-shown"},
    )


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_host_nothing_answers_on_is_exit_6_with_a_hint(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("phonenumber,name\n+15162065575,x\n")
    base = f"http://127.0.0.1:{_closed_port()}/core/v2"
    ran = bulkx(tmp_path, "plan", "d.csv", "--kind", "did", "--base-url", base)
    assert ran.returncode == 6, ran.stderr
    assert f"cannot reach 127.0.0.1:{base.split(':')[2].split('/')[0]}" in ran.stderr
    assert "check the base URL or profile (`bulkx config`), DNS, and any proxy" in ran.stderr
    assert "Traceback" not in ran.stderr and "t0ken-never-shown" not in ran.stderr


def test_an_error_shows_the_method_path_and_a_shortened_query() -> None:
    numbers = ",".join(f'"+1516206{n:04d}"' for n in range(200))
    url = f"https://api.carrierx.com/core/v2/phonenumber/dids?filter=phonenumber in ({numbers})"
    text = str(AuthError(message="Unauthorized", status=401, method="GET", url=url))
    assert text.startswith("GET https://api.carrierx.com/core/v2/phonenumber/dids?filter=")
    assert len(text) < 200 and "more characters)" in text and text.endswith("401 Unauthorized")
    short = "https://api.carrierx.com/core/v2/phonenumber/dids?limit=5"
    assert str(ApiError(message="x", method="GET", url=short)) == f"GET {short}: x"
    assert QUERY_SHOWN < 100


def test_a_missing_plan_says_no_such_file_without_a_position(tmp_path: Path) -> None:
    ran = bulkx(tmp_path, "validate", "nope.yaml")
    assert ran.returncode == 2
    assert ran.stdout.splitlines()[0].startswith("nope.yaml: no such file")
    assert ":0:0" not in ran.stdout + ran.stderr
