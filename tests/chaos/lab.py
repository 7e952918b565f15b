"""The campaign's bench: a sandbox on a real socket (a thread of this process), a working
directory, and `bulkx` run as a person runs it, in its own process, against that sandbox.

bulkx runs in subprocesses so that it can be killed (SIGKILL, a crash hook) and resumed like
the real thing; the sandbox stays up across kills, like a real API would, and its store and
request log are the ground truth the checker reads.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bulkx.errors import JournalError
from bulkx.journal import JournalReader
from bulkx.sandbox.app import SandboxApp, SandboxConfig, create_app
from bulkx.sandbox.server import quiet_dropped_connections, serve_in_thread
from tests.chaos.checker import Verdict, check, read_journal
from tests.chaos.workload import Workload, build

TOKEN = "chaos-token-5d1e9a"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Faults of T1 (the research's design): 5xx, resets before and after processing, latency.
FAULTS = "latency=5ms,jitter=5ms,http_5xx=0.02,reset=0.01,execute_then_reset=0.02"


@dataclass
class Ran:
    """A finished bulkx process."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    @property
    def killed(self) -> bool:
        return self.code == -signal.SIGKILL


@dataclass
class Lab:
    app: SandboxApp
    url: str
    cwd: Path
    token: str = TOKEN
    #: The journals' root ($BULKX_HOME) of the bulkx processes started from now on.
    home: Path = field(init=False)
    #: Every bulkx process started, and how many were killed (by us or by a crash hook).
    processes: int = 0
    kills: int = 0
    crash_points: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.home = self.cwd / ".bulkx"

    @property
    def base(self) -> str:
        return f"{self.url}/core/v2"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "BULKX_CRASHPOINT"}
        return {
            **env,
            "CARRIERX_TOKEN": self.token,
            "BULKX_HOME": str(self.home),
            "NO_COLOR": "1",
            **extra,
        }

    def start(
        self, *args: str, crashpoint: str | None = None, umask: int | None = None, **env: str
    ) -> subprocess.Popen[str]:
        if crashpoint:
            env["BULKX_CRASHPOINT"] = crashpoint
        self.processes += 1
        return subprocess.Popen(
            [sys.executable, "-m", "bulkx", *args],
            cwd=self.cwd,
            env=self.env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
            preexec_fn=None if umask is None else (lambda: os.umask(umask)),
        )

    def wait(self, process: subprocess.Popen[str], timeout: float = 300) -> Ran:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            out, err = process.communicate()
            command = " ".join(str(a) for a in process.args)  # type: ignore[union-attr]
            raise AssertionError(f"{command} did not finish in {timeout} s: {err}") from None
        args = tuple(str(a) for a in process.args[3:])  # type: ignore[index]
        ran = Ran(args, process.returncode, out, err)
        if ran.killed:
            self.kills += 1
        return ran

    def run(self, *args: str, timeout: float = 300, **kwargs: Any) -> Ran:
        return self.wait(self.start(*args, **kwargs), timeout)

    def kill(self, process: subprocess.Popen[str]) -> Ran:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        return self.wait(process)

    def apply(self, workload: Workload, *extra: str, **kwargs: Any) -> subprocess.Popen[str]:
        return self.start(
            "apply", str(workload.plan), "--yes", "--base-url", self.base, *extra, **kwargs
        )

    # --- the journal ---

    def run_ids(self) -> list[str]:
        runs = self.home / "runs"
        return sorted(p.stem for p in runs.glob("*.db")) if runs.exists() else []

    def counts(self, run_id: str) -> dict[str, int]:
        try:
            with JournalReader.open(self.home, run_id) as reader:
                return reader.counts()
        except JournalError:  # being created: not readable yet
            return {}

    def integrity(self, run_id: str) -> str:
        with JournalReader.open(self.home, run_id) as reader:
            return reader.integrity_check()

    def only_run(self) -> str:
        runs = self.run_ids()
        assert len(runs) == 1, f"expected one run, found {runs}"
        return runs[0]

    def check(self, workload: Workload, run_id: str) -> Verdict:
        return check(
            workload, read_journal(self.home / "runs" / f"{run_id}.db"), self.app.world.store
        )

    # --- the sandbox ---

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        return self.app.controls.log.entries(since, 10_000_000)

    def last_seq(self) -> int:
        return self.app.controls.log.last_seq

    def faults_injected(self, since: int = 0) -> Counter[str]:
        """What the sandbox did to requests: 5xx, resets, lost answers, 429s, outages, 401s."""
        return Counter(
            e["fault"] for e in self.requests(since) if e["fault"] and e["fault"] != "latency"
        )

    def when_sending(self, action: Callable[[], None], timeout: float = 60) -> None:
        """Run `action` as soon as the first write reaches the sandbox (bulkx takes seconds to
        start; a fault schedule must begin when the run does, not when it was set)."""
        start = self.last_seq()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(e["method"] in MUTATING for e in self.requests(start)):
                action()
                return
            time.sleep(0.01)
        raise AssertionError("bulkx sent no write within the timeout")

    def workload(self, items: int, prefix: str = "chaos") -> Workload:
        return build(self.app, self.cwd / prefix, items, prefix)


@contextlib.contextmanager
def lab(
    directory: Path, *, faults: str = "", seed: int = 1, token: str = TOKEN, wrap: Any = None
) -> Iterator[Lab]:
    """A sandbox on 127.0.0.1 (faults on from the start, if any) and a working directory.

    `wrap(app)` may put test-only middleware in front of the sandbox (see `lose_first_answer`).
    """
    directory.mkdir(parents=True, exist_ok=True)
    app = create_app(
        SandboxConfig(
            db=directory / "sandbox.db", seed=4, token=token, faults=faults, fault_seed=seed
        )
    )
    quiet_dropped_connections()
    served = wrap(app) if wrap is not None else app
    with serve_in_thread(served) as server:
        yield Lab(app, server.url, directory, token)
