"""`bulkx plan` reads live state as apply writes it: paced, retried, and stopped by an outage.

Each test serves a sandbox on 127.0.0.1 holding ported numbers, and runs the real `bulkx plan`
against it over HTTP with a plan that sets their E911 addresses (one GET per number: the API
has no list of E911 records).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bulkx.sandbox.app import SandboxApp, SandboxConfig, create_app
from bulkx.sandbox.resources.numbers import seed_ported
from bulkx.sandbox.server import serve_in_thread

REPO = Path(__file__).resolve().parents[1]
TOKEN = "test-token-0123456789"
NUMBERS = 240


@dataclass
class Served:
    app: SandboxApp
    base: str
    plan: Path
    cwd: Path

    def log(self) -> list[dict[str, Any]]:
        return self.app.controls.log.entries(0, 1_000_000)

    def e911_reads(self) -> list[dict[str, Any]]:
        return [e for e in self.log() if e["path"].endswith("/emergency")]


def _e911_plan(path: Path, numbers: list[str]) -> Path:
    rows = "".join(f"{n},1 Main St,New York,NY,10001\n" for n in numbers)
    path.write_text(f"# kind: did_emergency\nphonenumber,address_1,city,state,zip\n{rows}")
    return path


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    app = create_app(SandboxConfig(db=tmp_path / "served.db", seed=7, token=TOKEN))
    numbers = [f"1201314{i:04d}" for i in range(NUMBERS)]
    seed_ported(app.world, [(n, f"line {i}") for i, n in enumerate(numbers)])
    plan = _e911_plan(tmp_path / "e911.csv", numbers)
    with serve_in_thread(app) as server:
        yield Served(app, f"{server.url}/core/v2", plan, tmp_path)
    app.world.store.close()


def _command(served: Served, *args: str) -> list[str]:
    return [sys.executable, "-m", "bulkx", "plan", *args, "--base-url", served.base]


def _env() -> dict[str, str]:
    # The code of this checkout, whatever the working directory (a temporary one: journals).
    return {**os.environ, "CARRIERX_TOKEN": TOKEN, "PYTHONPATH": str(REPO)}


def plan(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(served, str(served.plan), *args),
        capture_output=True,
        text=True,
        cwd=served.cwd,
        env=_env(),
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def _assert_human(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert "RetryBudget" not in stderr
    assert TOKEN not in stderr


def test_an_outage_while_reading_e911_stops_with_exit_5_and_one_clear_line(
    served: Served,
) -> None:
    # Slow enough answers that the outage begins in the middle of the E911 reads.
    served.app.controls.set_faults("latency=40ms")
    proc = subprocess.Popen(
        _command(served, str(served.plan), "--stop-after-outage", "1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=served.cwd,
        env=_env(),
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not any(e["status"] == 200 for e in served.e911_reads()):
            assert proc.poll() is None and time.monotonic() < deadline, "no E911 read seen"
            time.sleep(0.005)
        served.app.controls.set_faults("outage=60s@0s")
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 5, err
    _assert_human(err)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    message = errors[0]
    assert message.startswith(
        "error: reading live state stopped: the API answered nothing but errors for 1 s (last: 503 "
    ), message
    assert message.endswith("nothing was changed, run it again later")
    assert len(message) < 250  # the request's path, not its whole query string
    statuses = [e["status"] for e in served.e911_reads()]
    assert 200 in statuses and 503 in statuses  # stopped in the middle, not before the reads
    assert sum(s == 200 for s in statuses) < NUMBERS
    assert out == ""  # no plan is shown from half a read


def test_15_percent_5xx_while_reading_is_retried_and_the_plan_completes_with_progress(
    served: Served,
) -> None:
    served.app.controls.set_faults("http_5xx=0.15", seed=3)
    result = plan(served)
    assert result.returncode == 0, result.stderr
    _assert_human(result.stderr)
    assert f"0 to create, 0 to rent, {NUMBERS} to update, 0 to release" in result.stdout
    reads = served.e911_reads()
    assert sum(e["status"] >= 500 for e in reads) >= 10  # the faults were met, and retried
    answered = {e["path"] for e in reads if e["status"] == 200}
    assert len(answered) == NUMBERS  # each number's E911 read until it was answered
    assert sum(e["status"] == 200 for e in reads) == NUMBERS  # and never twice
    lines = result.stderr.splitlines()
    assert f"reading live state: {NUMBERS}/{NUMBERS} DIDs" in lines
    assert f"reading live state: {NUMBERS}/{NUMBERS} DIDs (E911)" in lines


def test_429s_while_reading_are_honoured_and_paced(served: Served) -> None:
    served.app.controls.set_rate_limit(80, burst=10)
    started = time.monotonic()
    result = plan(served, "--detailed-exitcode")
    took = time.monotonic() - started
    assert result.returncode == 2, result.stderr  # changes to make
    _assert_human(result.stderr)
    assert f"{NUMBERS} to update" in result.stdout
    log = served.log()
    throttled = [e for e in log if e["status"] == 429]
    assert throttled  # the limit was met...
    assert len(throttled) < len(log) / 4  # ...and learned, not hammered
    assert took < 30


def test_a_count_step_the_inventory_cannot_meet_warns_and_exits_2_with_detailed_exitcode(
    served: Served,
) -> None:
    count_plan = served.cwd / "no-inventory.yaml"
    count_plan.write_text(
        "version: 1\nsteps:\n  - kind: did\n    name: nowhere\n    count: 50\n"
        '    criteria:\n      npa: "999"\n'
    )
    command = _command(served, str(count_plan))
    plain = subprocess.run(
        command, capture_output=True, text=True, cwd=served.cwd, env=_env(), timeout=60
    )
    assert plain.returncode == 0, plain.stderr
    warning = "warning: step nowhere rents 50 numbers matching npa=999 but only 0 are available"
    assert warning in plain.stderr.splitlines()
    assert "rent 50 did (npa=999) (0 available)" in plain.stdout
    detailed = subprocess.run(
        [*command, "--detailed-exitcode"],
        capture_output=True,
        text=True,
        cwd=served.cwd,
        env=_env(),
        timeout=60,
    )
    assert detailed.returncode == 2, detailed.stderr
    assert warning in detailed.stderr.splitlines()
    as_json = subprocess.run(
        [*command, "-o", "json"],
        capture_output=True,
        text=True,
        cwd=served.cwd,
        env=_env(),
        timeout=60,
    )
    assert as_json.stdout.lstrip().startswith("{")  # the warning stays on stderr
    assert warning in as_json.stderr.splitlines()
