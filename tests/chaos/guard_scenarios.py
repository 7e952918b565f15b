"""T7-T13 but T11: the token canary, file modes, one writer, a monitor, the property suites."""

from __future__ import annotations

import base64
import json
import os
import random
import sqlite3
import stat
import subprocess
import time
import urllib.parse
from pathlib import Path

from tests.chaos.lab import Lab, Ran, lab
from tests.chaos.outcome import Outcome, expect_exit, settle_and_check, wait_for_run
from tests.chaos.workload import Workload

# --- T9, T10, T12 ---------------------------------------------------------------------------


def _leaks(secret: str, texts: dict[str, str]) -> list[str]:
    forms = {
        secret,
        base64.b64encode(secret.encode()).decode(),
        base64.b64encode(f"sandbox:{secret}".encode()).decode(),
        urllib.parse.quote(secret),
        urllib.parse.quote_plus(secret),
    }
    return [
        f"{where} holds {form!r}" for where, text in texts.items() for form in forms if form in text
    ]


def token_canary(directory: Path, *, items: int, seed: int, thorough: bool = True) -> Outcome:
    """T9: a canary token never appears in any output, log, journal, event file or report,
    nor in a running bulkx's command line: on success, 5xx, 401, unreachable API and a crash.
    The apply runs under umask 000, so the files it writes are checked for T10's modes too."""
    started = time.perf_counter()
    canary = f"bulkx-canary-{random.Random(seed).getrandbits(48):012x}"
    outcome = Outcome("T9 token canary")
    texts: dict[str, str] = {}
    with lab(directory, token=canary, faults="http_5xx=0.05,latency=5ms", seed=seed) as bench:
        workload = bench.workload(items)
        events = directory / "events.jsonl"
        ran, cmdline = _apply_with_token_file(bench, workload, directory, canary, events)
        expect_exit(outcome, ran, 0, "the apply")
        texts["apply"] = ran.stdout + ran.stderr
        texts["cmdline"] = cmdline
        run_id = bench.only_run()
        _check_modes(outcome, bench, run_id, events)
        if thorough:
            texts.update(_read_only_outputs(bench, workload, run_id))
        texts.update(_refused_and_crashed_outputs(outcome, bench, workload))
        texts["events"] = events.read_text()
        texts.update(_stored_texts(bench))
        outcome.expect("succeeded" in texts[f"journal dump {run_id}.db"], "the dump is empty")
        for leak in _leaks(canary, texts):
            outcome.problems.append(leak)
        outcome.faults["places searched"] = len(texts)
        return outcome.finish(bench, started)


def _apply_with_token_file(
    bench: Lab, workload: Workload, directory: Path, canary: str, events: Path
) -> tuple[Ran, str]:
    """The apply under umask 000, the token in a file; and its command line, read while it
    runs."""
    token_file = directory / "token"
    token_file.write_text(canary + "\n")
    token_file.chmod(0o600)
    process = bench.apply(
        workload,
        "--events",
        str(events),
        "--token-file",
        str(token_file),
        "--concurrency",
        "4",
        umask=0,
    )
    cmdline = ""
    while process.poll() is None and not cmdline:
        try:
            cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            break
    return bench.wait(process), cmdline


def _read_only_outputs(bench: Lab, workload: Workload, run_id: str) -> dict[str, str]:
    """The unreachable API (a network error's message) and every read-only command."""
    commands: list[tuple[str, ...]] = [
        ("plan", str(workload.plan), "--base-url", "http://127.0.0.1:9/core/v2"),
        ("report", run_id, "-o", "json"),
        ("plan", str(workload.plan), "--base-url", bench.base, "-o", "json"),
        ("export", "did", "--base-url", bench.base),
        ("report", run_id),
        ("status", run_id),
        ("status", run_id, "-o", "json"),
        ("runs",),
    ]
    texts: dict[str, str] = {}
    for args in commands:
        result = bench.run(*args)
        texts[f"bulkx {' '.join(args)}"] = result.stdout + result.stderr
    return texts


def _refused_and_crashed_outputs(
    outcome: Outcome, bench: Lab, workload: Workload
) -> dict[str, str]:
    """A plan refused with 401, then an apply killed by a crash hook mid-send."""
    texts: dict[str, str] = {}
    bench.app.controls.set_faults("unauthorized_after=0")
    refused = bench.run("plan", str(workload.plan), "--base-url", bench.base)
    outcome.expect(refused.code == 4, f"a 401 exited {refused.code}, not 4")
    texts["bulkx plan (401)"] = refused.stdout + refused.stderr
    bench.app.controls.clear_faults()
    crash = bench.workload(4, "canary-crash")
    crashed = bench.wait(bench.apply(crash, crashpoint="after_send_before_response:2"))
    outcome.expect(crashed.killed, "the crash hook did not fire")
    texts["crashed apply"] = crashed.stdout + crashed.stderr
    return texts


def _stored_texts(bench: Lab) -> dict[str, str]:
    """Every journal, dumped, and the sandbox's request log."""
    texts: dict[str, str] = {}
    for db in sorted(bench.home.glob("runs/*.db")):
        conn = sqlite3.connect(db)
        texts[f"journal dump {db.name}"] = "\n".join(conn.iterdump())
        conn.close()
    texts["sandbox request log"] = json.dumps(bench.requests())
    return texts


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _check_modes(outcome: Outcome, bench: Lab, run_id: str, *private_files: Path) -> None:
    """T10: the journal directories are 0700, the journal's files and `private_files` 0600
    (the bulkx that wrote them ran under umask 000)."""
    runs = bench.home / "runs"
    expected = [
        (bench.home, 0o700),
        (runs, 0o700),
        *((p, 0o600) for p in private_files),
        *((p, 0o600) for p in runs.glob(f"{run_id}*")),
    ]
    for path, mode in expected:
        outcome.expect(_mode(path) == mode, f"{path.name} is {_mode(path):04o}, not {mode:04o}")


def permissions(directory: Path, *, items: int, seed: int) -> Outcome:
    """T10: under umask 000, the journal directory is 0700 and every file bulkx writes (journal,
    WAL, lock, events, saved changeset) 0600; a token file others can read is refused."""
    started = time.perf_counter()
    outcome = Outcome("T10 file modes under umask 000")
    with lab(directory, seed=seed) as bench:
        workload = bench.workload(items)
        events, saved = directory / "events.jsonl", directory / "changes.json"
        planned = bench.run(
            "plan", str(workload.plan), "--base-url", bench.base, "--save", str(saved), umask=0
        )
        expect_exit(outcome, planned, 0, "plan --save")
        ran = bench.wait(bench.apply(workload, "--events", str(events), umask=0))
        expect_exit(outcome, ran, 0, "the apply")
        _check_modes(outcome, bench, bench.only_run(), events, saved)
        loose = directory / "loose-token"
        loose.write_text(bench.token)
        loose.chmod(0o644)
        refused = bench.run(
            "plan", str(workload.plan), "--base-url", bench.base, "--token-file", str(loose)
        )
        outcome.expect(
            refused.code == 6 and "loose-token" in refused.stderr,
            f"a 0644 token file was not refused (exit {refused.code}): {refused.stderr[-300:]}",
        )
        return outcome.finish(bench, started)


def second_writer(directory: Path, *, items: int, seed: int, thorough: bool = True) -> Outcome:
    """T12: while a run is applied, `bulkx resume` of the same run is refused (exit 6, naming
    `bulkx watch`) and changes nothing; the first run finishes cleanly."""
    started = time.perf_counter()
    outcome = Outcome("T12 second writer refused")
    with lab(directory, faults="latency=40ms", seed=seed) as bench:
        workload = bench.workload(items)
        first = bench.apply(workload, "--concurrency", "2")
        run_id = wait_for_run(bench, first)
        if not outcome.expect(
            run_id is not None and first.poll() is None,
            "the first apply ended before a second could try",
        ):
            bench.wait(first)
            return outcome.finish(bench, started)
        assert run_id is not None
        second = bench.run("resume", run_id, "--yes")
        outcome.expect(
            second.code == 6 and "bulkx watch" in second.stderr,
            f"the second writer was not refused (exit {second.code}): {second.stderr[-300:]}",
        )
        outcome.expect(
            first.poll() is None, "the first apply had finished: the test proves nothing"
        )
        expect_exit(outcome, bench.wait(first), 0, "the first apply")
        settle_and_check(outcome, bench, workload, run_id, thorough)
        return outcome.finish(bench, started)


# --- T13 ----------------------------------------------------------------------------------


def monitored_run(
    directory: Path, *, dids: int, seed: int, every: float = 0.1, wal_limit: int = 64 << 20
) -> Outcome:
    """T13: a monitor polls the journal every 100 ms (and `bulkx status -o json` now and then)
    during a large run: the WAL stays bounded and the writer never meets a locked database."""
    from bulkx.journal import JournalReader
    from bulkx.sandbox.resources.numbers import seed_rented

    started = time.perf_counter()
    outcome = Outcome(f"T13 monitor during a {dids:,}-op run")
    with lab(directory, seed=seed) as bench:
        numbers = seed_rented(bench.app.world, dids)
        plan = directory / "rename.csv"
        plan.write_text(
            "# kind: did\nphonenumber,name\n" + "".join(f"{n},monitored\n" for n in numbers)
        )
        process = bench.start("apply", str(plan), "--yes", "--base-url", bench.base)
        run_id = wait_for_run(bench, process, timeout=300)
        wal = bench.home / "runs" / f"{run_id}.db-wal"
        largest, polls, statuses = 0, 0, 0
        status: subprocess.Popen[str] | None = None
        with JournalReader.open(bench.home, str(run_id)) as reader:
            while process.poll() is None:
                reader.data_version()
                reader.counts()
                polls += 1
                if wal.exists():
                    largest = max(largest, wal.stat().st_size)
                # Now and then a second process asks too, as `bulkx watch` in a terminal would.
                if status is None:
                    status = bench.start("status", str(run_id), "-o", "json")
                elif status.poll() is not None:
                    answer = bench.wait(status)
                    outcome.expect(
                        answer.code == 0 and json.loads(answer.stdout)["run_id"] == run_id,
                        f"bulkx status failed mid-run: {answer.stderr[-300:]}",
                    )
                    statuses += 1
                    status = None
                time.sleep(every)
        if status is not None:
            bench.wait(status)
        ran = bench.wait(process, timeout=1200)
        expect_exit(outcome, ran, 0, "the monitored apply")
        outcome.expect("locked" not in ran.stderr, "the writer met a locked database")
        counts = bench.counts(str(run_id))
        outcome.expect(counts["succeeded"] == dids, f"{counts['succeeded']} of {dids} succeeded")
        outcome.expect(largest < wal_limit, f"the WAL grew to {largest / 2**20:.1f} MiB")
        outcome.faults["monitor polls"] = polls
        outcome.faults["status calls"] = statuses
        outcome.notes.append(f"largest WAL {largest / 2**20:.1f} MiB")
        return outcome.finish(bench, started)


def property_suites(examples: int) -> Outcome:
    """T7/T8 at the campaign's size: the journal state machines and every loader's properties,
    run by pytest with BULKX_HYPOTHESIS_EXAMPLES raised."""
    import sys

    started = time.perf_counter()
    outcome = Outcome(f"T7/T8 hypothesis, {examples} examples")
    files = [
        "tests/journal/test_model.py",
        "tests/plan/test_properties.py",
        "tests/chaos/test_ledger_model.py",
        "tests/chaos/test_loader_properties.py",
    ]
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-x", *files],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "BULKX_HYPOTHESIS_EXAMPLES": str(examples)},
    )
    last = (result.stdout.strip().splitlines() or [""])[-1]
    outcome.expect(result.returncode == 0, f"pytest: {last}\n{result.stdout[-2000:]}")
    outcome.notes.append(f"pytest: {last.strip('= ')}")
    outcome.processes = 1
    outcome.seconds = time.perf_counter() - started
    return outcome


def plan_fuzz(plans: int) -> Outcome:
    """T8b: `plans` generated broken plans through `bulkx validate` (tests/plan/
    test_fuzz_plans.py, its slow test): 0 tracebacks, each exits 2 with a positioned error,
    none slower than its bound, memory bounded."""
    import sys

    started = time.perf_counter()
    outcome = Outcome(f"T8b plan fuzz, {plans} plans")
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-s",
            "-p",
            "no:randomly",
            "-m",
            "slow",
            "tests/plan/test_fuzz_plans.py",
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "BULKX_FUZZ_PLANS": str(plans)},
    )
    last = (result.stdout.strip().splitlines() or [""])[-1]
    outcome.expect(result.returncode == 0, f"pytest: {last}\n{result.stdout[-3000:]}")
    summary = [line for line in result.stdout.splitlines() if " plans, slowest " in line]
    outcome.notes.append(summary[0].strip(". ") if summary else f"pytest: {last.strip('= ')}")
    outcome.processes = 1
    outcome.seconds = time.perf_counter() - started
    return outcome
