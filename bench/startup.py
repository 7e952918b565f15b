"""Row 8: how long a user waits for the light commands, from process start to exit.

Each command runs as a user runs it (`bulkx ...` in a child process, in a directory with one
finished run and a two-row plan), several times in a row, beside `python -c pass` (the
interpreter's own start-up) timed in the same run. The median is the figure; the spread (min
to max) says how noisy the machine was. Peak RSS is the child's own VmHWM (`PeakWatch`:
a forked child's rusage would carry the bench process's memory).
"""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from bench.harness import PYTHON, bulkx_env, finish, python_pass_seconds, start_bulkx
from bench.rows import Row, Sizes

#: Command, and its start-up target in seconds (issue 17).
COMMANDS: tuple[tuple[tuple[str, ...], float], ...] = (
    (("--help",), 0.3),
    (("--version",), 0.3),
    (("runs",), 0.3),
    (("status", "RUN"), 0.3),
    (("validate", "small.csv", "--kind", "did"), 0.6),
)


def _timed(args: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(seconds from spawn to exit, peak RSS in MB) of one `bulkx ARGS`."""
    started = time.perf_counter()
    done = finish(start_bulkx(args, cwd=cwd, env=env), started)
    return done.seconds, done.peak_rss_mb


def _a_finished_run(work: Path, env: dict[str, str]) -> str:
    plan = work / "small.csv"
    plan.write_text("phonenumber,name\n+1 212 555 0100,a\n+1 212 555 0101,b\n")
    done = subprocess.run(
        [PYTHON, "-m", "bulkx", "apply", str(plan), "--kind", "did", "--yes"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if "run id: " not in done.stderr:  # bulkx apply itself is broken: say how
        raise RuntimeError(f"the setup's `bulkx apply` failed:\n{done.stderr[-2000:]}")
    return done.stderr.split("run id: ")[1].split()[0]


def startup(sizes: Sizes, tmp: Path) -> list[Row]:
    work = tmp / "startup"
    work.mkdir()
    env = bulkx_env(work / ".bulkx")
    run_id = _a_finished_run(work, env)
    repeats = 7 if sizes.name == "full" else 3
    base = [python_pass_seconds(work) for _ in range(repeats)]
    baseline = statistics.median(base)
    rows = []
    for args, target in COMMANDS:
        argv = [run_id if a == "RUN" else a for a in args]
        timings = [_timed(argv, work, env) for _ in range(repeats)]
        seconds = [t for t, _ in timings]
        median = statistics.median(seconds)
        shown = " ".join(args).replace("RUN", "RUN_ID")
        rows.append(
            Row(
                8,
                f"start-up: bulkx {shown}",
                f"{median:.2f} s (spread {min(seconds):.2f}-{max(seconds):.2f}, {repeats} runs)",
                f"python -c pass {baseline:.2f} s",
                f"+{median - baseline:.2f} s",
                f"< {target} s",
                median < target,
                round(max(rss for _, rss in timings)),
                figures={"seconds": seconds, "baseline": base},
            )
        )
    return rows
