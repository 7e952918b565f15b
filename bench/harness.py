"""What every benchmark row needs: a sandbox in its own process, `bulkx` run as a user runs it,
and the sandbox's request log as the ground truth of what was sent and when.

The sandbox runs as `bulkx sandbox serve` in a subprocess so that client and server each have
their own core and their own GIL (in one process they share one, and the client looks slower
than it is). Peak RSS of a child comes from `wait4`, so it is exact and costs nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bulkx.sandbox.app import SandboxConfig, open_world
from bulkx.sandbox.resources.numbers import seed_rented

TOKEN = "bench-token"
REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def seed_dids(db: Path, count: int, *, seed: int = 1, every: int = 1) -> list[str]:
    """A sandbox world in `db` whose account holds `count` rented numbers (returned)."""
    world = open_world(SandboxConfig(db=db, seed=seed, token=TOKEN))
    try:
        return seed_rented(world, count, every=every)
    finally:
        world.store.close()


def seed_many_dids(db: Path, count: int, *, seed: int = 1, chunk: int = 20_000) -> list[str]:
    """`seed_dids(db, count)` for big worlds: the same numbers (every number of each inventory
    block, in order), written chunk by chunk in one transaction, so a million DID documents
    never sit in the bench's memory at once (~2.5 GB as dicts; 1,000,000 take ~40 s)."""
    world = open_world(SandboxConfig(db=db, seed=seed, token=TOKEN))
    store, inventory, partner = world.store, world.inventory, world.partner_sid
    if count > inventory.size:
        store.close()
        raise ValueError(f"the inventory holds {inventory.size:,} numbers, not {count:,}")
    numbers: list[str] = []
    rows: list[tuple[str, str, dict[str, Any]]] = []
    try:
        with store.transaction():
            for block in inventory.blocks:
                for line in range(min(10_000, count - len(numbers))):
                    number = f"{block.prefix}{line:04d}"
                    did = inventory.describe(number, block)
                    did.update(status="assigned", partner_sid=partner)
                    rows.append((str(did["did_sid"]), partner, did))
                    numbers.append(number)
                    if len(rows) >= chunk:
                        store.insert_many("dids", rows)
                        rows = []
            store.insert_many("dids", rows)
    finally:
        store.close()
    return numbers


def write_rename_plan(path: Path, numbers: Sequence[str], name: str = "renamed") -> Path:
    """A CSV plan renaming every number: one PATCH each, the simplest write there is."""
    with path.open("w") as out:
        out.write("# kind: did\nphonenumber,name\n")
        out.writelines(f"{number},{name}\n" for number in numbers)
    return path


def memory_mb(pid: int | str = "self") -> tuple[float, float] | None:
    """(VmHWM, VmRSS) of a process in MB: its peak and current RSS; None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(("VmHWM:", "VmRSS:")):
            with contextlib.suppress(ValueError, IndexError):
                found[line[:5]] = int(line.split()[1]) / 1024
    if "VmHWM" not in found:
        return None  # a zombie: its memory is gone
    return found["VmHWM"], found.get("VmRSS", 0.0)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU a process has used so far, or None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class PeakWatch:
    """Samples a child's VmHWM (and its CPU time, to tell CPU-bound from waiting) every 20 ms
    until it exits.

    Not the child's rusage: Linux carries the RSS the parent had at fork over into the
    child's ru_maxrss (the forked copy's counters survive exec as a floor), so a child of a
    big benchmark process would report the benchmark's memory as its own. VmHWM belongs to
    the image exec started; sampling misses at most the last 20 ms of growth.
    """

    def __init__(self, pid: int) -> None:
        import threading

        self.pid = pid
        self.peak = 0.0
        #: (wall clock time.time(), CPU seconds used so far)
        self.cpu: list[tuple[float, float]] = []
        #: (wall clock time.time(), RSS in MB): when the memory was taken
        self.rss: list[tuple[float, float]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.is_set():
            now = time.time()
            memory = memory_mb(self.pid)
            if memory is not None:
                self.peak = max(self.peak, memory[0])
                self.rss.append((now, memory[1]))
            used = cpu_seconds(self.pid)
            if used is not None:
                self.cpu.append((time.time(), used))
            self._done.wait(0.02)

    def busy(self, start: float, end: float) -> float:
        """Share of one core the process used between two wall-clock times."""
        inside = [(t, c) for t, c in self.cpu if start <= t <= end]
        if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
            return 0.0
        return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])

    def rss_at(self, when: float) -> float:
        """RSS in MB at the last sample up to wall-clock time `when` (0 before the first)."""
        before = [mb for t, mb in self.rss if t <= when]
        return before[-1] if before else 0.0

    def peak_at(self) -> float:
        """Wall-clock time of the highest RSS sample (when the peak was reached)."""
        return max(self.rss, key=lambda s: s[1])[0] if self.rss else 0.0

    def own_cpu(self) -> float:
        """CPU seconds this watch's sampling thread has used in the bench's process: taken
        out of what an in-process measurement counts as the client's (row 5)."""
        ident = self._thread.ident
        if ident is None or not self._thread.is_alive():
            return 0.0
        return time.clock_gettime(time.pthread_getcpuclockid(ident))

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return self.peak


@dataclass
class Sandbox:
    """A `bulkx sandbox serve` subprocess on 127.0.0.1 and its admin API."""

    process: subprocess.Popen[bytes]
    port: int
    admin: httpx.Client = field(init=False)
    watch: PeakWatch = field(init=False)

    def __post_init__(self) -> None:
        # The admin API takes the sandbox's own token as a Bearer, like Core.
        auth = {"Authorization": f"Bearer {TOKEN}"}
        self.admin = httpx.Client(base_url=self.url, headers=auth, timeout=120)
        self.watch = PeakWatch(self.process.pid)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def core_url(self) -> str:
        return f"{self.url}/core/v2"

    def clear_log(self) -> int:
        """Forget the request log; returns the seq the next request will follow."""
        return int(self.admin.delete("/_sandbox/requests").json()["next_since"])

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        """Every logged request after `since` (arrival time, method, path, status, fault)."""
        entries: list[dict[str, Any]] = []
        while True:
            page = self.admin.get("/_sandbox/requests", params={"since": since, "limit": 10_000})
            items = page.json()["items"]
            entries += items
            if len(items) < 10_000:
                return entries
            since = items[-1]["seq"]

    def set_faults(self, spec: str, seed: int = 0) -> None:
        self.admin.put("/_sandbox/faults", json={"spec": spec, "seed": seed}).raise_for_status()

    def set_rate_limit(self, rate: float, burst: int | None = None) -> None:
        body: dict[str, Any] = {"rate": rate}
        if burst is not None:
            body["burst"] = burst
        self.admin.put("/_sandbox/rate_limit", json=body).raise_for_status()

    def collection(self, name: str, limit: int = 1_000_000) -> list[dict[str, Any]]:
        response = self.admin.get("/_sandbox/state", params={"collection": name, "limit": limit})
        response.raise_for_status()
        return list(response.json()["items"])


@contextlib.contextmanager
def sandbox_process(
    db: Path, *, rate_limit: float = 0.0, burst: int = 0, faults: str = "", fault_seed: int = 0
) -> Iterator[Sandbox]:
    """`bulkx sandbox serve` on a free loopback port, stopped (SIGINT, then SIGKILL) on exit."""
    port = free_port()
    args = [
        PYTHON,
        "-m",
        "bulkx",
        "sandbox",
        "serve",
        "--port",
        str(port),
        "--db",
        str(db),
        "--fault-seed",
        str(fault_seed),
    ]
    if rate_limit:
        args += ["--rate-limit", str(rate_limit)]
    if burst:
        args += ["--burst", str(burst)]
    if faults:
        args += ["--faults", faults]
    # The token by environment, not on argv where `ps` shows it.
    env = {**os.environ, "BULKX_SANDBOX_TOKEN": TOKEN}
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    sandbox = Sandbox(process, port)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                err = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"the sandbox did not start: {err}")
            with contextlib.suppress(httpx.TransportError):
                if sandbox.admin.get("/_sandbox/state").status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not answer within 60 s")
            time.sleep(0.05)
        yield sandbox
    finally:
        sandbox.admin.close()
        sandbox.watch.stop()
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stderr:
            process.stderr.close()


@dataclass
class Finished:
    code: int
    seconds: float
    peak_rss_mb: float
    #: CPU seconds (user + system) the child used.
    cpu_s: float
    stdout: str
    stderr: str
    watch: PeakWatch | None = None


def bulkx_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "BULKX_CRASHPOINT"}
    return {**env, "CARRIERX_TOKEN": TOKEN, "BULKX_HOME": str(home), **extra}


_watches: dict[int, PeakWatch] = {}


def start_bulkx(
    args: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    capture: bool = True,
    stdout: Path | None = None,
) -> subprocess.Popen[bytes]:
    """`python -m bulkx ARGS` in its own session, watched (PeakWatch). Output goes to pipes
    (`capture`) or nowhere; `stdout` sends standard output to a file instead (a big plan's
    output never passes through the bench's memory)."""
    pipe = subprocess.PIPE if capture else subprocess.DEVNULL
    with contextlib.ExitStack() as files:
        out: Any = pipe if stdout is None else files.enter_context(stdout.open("wb"))
        process = subprocess.Popen(
            [PYTHON, "-m", "bulkx", *args],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=pipe,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    _watches[process.pid] = PeakWatch(process.pid)
    return process


def finish(process: subprocess.Popen[bytes], started: float) -> Finished:
    """Wait for `process`: its exit code, CPU time (rusage) and peak RSS (see PeakWatch).

    Output is drained by threads while we wait, so a chatty child never blocks on a full pipe.
    """
    import threading

    chunks: dict[str, bytes] = {"out": b"", "err": b""}

    def drain(name: str, stream: Any) -> None:
        if stream is not None:
            chunks[name] = stream.read()
            stream.close()

    readers = [
        threading.Thread(target=drain, args=("out", process.stdout)),
        threading.Thread(target=drain, args=("err", process.stderr)),
    ]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    watch = _watches.pop(process.pid)
    peak = watch.stop()
    for reader in readers:
        reader.join()
    return Finished(
        process.returncode,
        seconds,
        peak,
        usage.ru_utime + usage.ru_stime,
        chunks["out"].decode(errors="replace"),
        chunks["err"].decode(errors="replace"),
        watch,
    )


def run_bulkx(args: Sequence[str], *, cwd: Path, env: dict[str, str]) -> Finished:
    started = time.perf_counter()
    return finish(start_bulkx(args, cwd=cwd, env=env), started)


def python_pass_seconds(cwd: Path) -> float:
    """Seconds from spawn to exit of `python -c pass`: the interpreter's own start-up."""
    started = time.perf_counter()
    subprocess.run([PYTHON, "-c", "pass"], cwd=cwd, check=True)
    return time.perf_counter() - started


def poll_until(check: Callable[[], bool], *, timeout: float, every: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return check()


def machine() -> dict[str, str]:
    """What the figures were measured on: CPU model and count, memory, Python, load."""
    import platform

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, IndexError, ValueError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 1024 / 1024:.0f} GiB"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "cpu": f"{os.cpu_count()} x {cpu}",
        "memory": memory,
        "python": platform.python_version(),
        "os": platform.platform(),
        "load_before": load,
    }


def source_of(revision: str, into: Path) -> Path:
    """A clean copy of the repository's tree at `revision` (`git archive`, which changes no
    git state), to run that code beside the current one: PYTHONPATH=<returned> python -m bulkx.
    """
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", revision],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        raise RuntimeError(f"git archive {revision}: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def code_env(env: dict[str, str], source: Path, cwd: Path) -> dict[str, str]:
    """`env` with `source` first on PYTHONPATH, checked: bulkx must import from there (the venv
    installs this checkout in editable mode, which must not win)."""
    changed = {**env, "PYTHONPATH": str(source)}
    found = subprocess.run(
        [PYTHON, "-c", "import bulkx; print(bulkx.__file__)"],
        cwd=cwd,
        env=changed,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(found).resolve().is_relative_to(source.resolve()):
        raise RuntimeError(f"PYTHONPATH={source} still imports bulkx from {found}")
    return changed


def dump(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
