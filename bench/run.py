"""Every benchmark row in one run: one table, JSON in bench/results/, the table in bench/README.md.

    python -m bench.run --quick        # every row, smaller (3-4 minutes): make bench-quick
    python -m bench.run --full         # the sizes the targets are for (20-25 min): make bench
    python -m bench.run --quick --rows 1,5    # some rows only (README and JSON left alone)
    python -m bench.run --profile      # cProfile of the client at R=500 and of a resume's start
    python -m bench.run --quick --rows 10 --baseline-rev HEAD~3   # row 10 against other code

Each row measures bulkx and a baseline in the same run (see each module's docstring). Throughput
rows run the sandbox as its own process (`bulkx sandbox serve`), so client and server each have
a core, as they would for real. Nothing here asserts: a missed target is reported, with its note.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench import data_rows, limit_rows, plan_rows, resume, startup, throughput
from bench.harness import dump, machine
from bench.rows import FULL, QUICK, Row, Sizes

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"

RowMaker = Callable[[Sizes, Path], list[Row]]

ROWS: dict[int, RowMaker] = {
    1: lambda s, t: [throughput.at_rate_limit(s, t, 50), throughput.at_rate_limit(s, t, 500)],
    2: lambda s, t: [throughput.with_latency(s, t, n) for n in throughput.LATENCY_CONCURRENCIES],
    3: lambda s, t: data_rows.validation(s, t),  # the million rows, then the worst case
    4: lambda s, t: [data_rows.live_diff(s, t)],
    5: lambda s, t: [throughput.journal_cost(s, t)],
    6: lambda s, t: resume.resume_and_memory(s, t),  # rows 6 and 7 share one experiment
    8: lambda s, t: startup.startup(s, t),
    9: lambda s, t: resume.memory_flat(s, t),
    10: lambda s, t: plan_rows.million_plan(s, t),
    11: lambda s, t: plan_rows.e911_reads(s, t),
    12: lambda s, t: [limit_rows.remembered_limit(s, t)],
}
#: Rows measured by another row's experiment.
MEASURED_WITH = {7: 6}
#: What each row measures (`--help`); bench/README.md says it in full.
TITLES = {
    1: "throughput at a rate limit R = 50 and 500 (10,000 ops; quick 400 / 2,500)",
    2: "unthrottled, 20 ms latency, 16 and 64 in flight, against a sequential client (5,000 ops)",
    3: "load_plan + validate of 1,000,000 DID rows; 300,000 distinct NPA-NXX (quick 200,000)",
    4: "bulkx plan of 100,000 live DIDs, against one GET per row (quick 20,000)",
    5: "the journal's cost at R = 500 (5,000 ops each; quick 1,500)",
    6: "first operation of a resume (run killed at 50%) and of the apply (100,000; quick 10,000)",
    7: "peak RSS of that apply and resume (measured with row 6)",
    8: "start-up of --help, --version, runs, status, a small validate",
    9: "memory flat: apply and resume at 200,000 vs 20,000 ops (quick 20,000 vs 2,000)",
    10: "bulkx plan of 1,000,000 rows vs live DIDs, beside --baseline-rev's code (quick 50,000)",
    11: "E911 reads at 50 req/s (2,000 numbers; quick 300), then a 503 outage: exit 5",
    12: "a limit remembered: 1,500 rents at 100 req/s, first run and second run",
}

COLUMNS = ("#", "row", "bulkx", "baseline", "ratio", "peak RSS", "target", "met")


def _cells(row: Row) -> list[str]:
    met = {True: "yes", False: "NO", None: "-"}[row.met]
    rss = f"{row.peak_rss_mb:,.0f} MB" if row.peak_rss_mb is not None else "-"
    return [str(row.number), row.title, row.bulkx, row.baseline, row.ratio, rss, row.target, met]


def text_table(rows: list[Row]) -> str:
    cells = [list(COLUMNS), *(_cells(r) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"  {r.number}: {r.note}" for r in rows if r.note]
    return "\n".join(lines + (["notes:", *notes] if notes else []))


def markdown_table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in _cells(r)) + " |" for r in rows]
    notes = [f"- row {r.number}: {r.note}" for r in rows if r.note]
    return "\n".join(lines + (["", *notes] if notes else []))


def update_readme(mode: str, rows: list[Row], info: dict[str, str], seconds: float) -> None:
    """Replace the table between this mode's markers in bench/README.md."""
    start, end = f"<!-- bench:{mode} -->", f"<!-- /bench:{mode} -->"
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = (
        f"{start}\n`make bench{'' if mode == 'full' else '-quick'}` on {when}, {seconds:.0f} s;"
        f" machine: {info['cpu']}, {info['memory']}, Python {info['python']}, {info['os']};"
        f" load average before the run {info['load_before']}.\n\n{markdown_table(rows)}\n{end}"
    )
    text = README.read_text()
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: body, text)
    else:
        text = text.rstrip("\n") + f"\n\n{body}\n"
    README.write_text(text)


def profile(tmp: Path) -> None:
    out = tmp / "profiles"
    out.mkdir()
    throughput.at_rate_limit(QUICK, tmp, 500, profile=out)
    resume.resume_and_memory(QUICK, tmp, profile=out)
    for name in ("apply-r500.prof", "resume.prof"):
        print(f"\n{name}: the client's own CPU time by component")
        print("\n".join(throughput.profile_summary(out / name)))


def _parser() -> argparse.ArgumentParser:
    listing = "\n".join(f"  {n:>2}  {title}" for n, title in TITLES.items())
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog=f"rows (bench/README.md):\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--quick", action="store_true", help="every row, smaller (3-4 minutes)")
    mode.add_argument(
        "--full", action="store_true", help="the sizes the targets are for (20-25 minutes)"
    )
    mode.add_argument("--profile", action="store_true", help="profile the client, print hot spots")
    parser.add_argument("--rows", help="comma-separated row numbers (default: all)")
    parser.add_argument(
        "--baseline-rev",
        default=FULL.baseline_rev,
        metavar="REV",
        help="row 10's baseline: the code of this git revision (default: %(default)s)",
    )
    return parser


def _measure(wanted: list[int], sizes: Sizes, tmp: Path) -> list[Row]:
    """The rows numbered `wanted`, each printed as it is measured."""
    rows: list[Row] = []
    for number in wanted:
        began = time.perf_counter()
        made = ROWS[number](sizes, tmp)
        rows += made
        for row in made:
            print(
                f"  row {row.number} {row.title}: {row.bulkx} | {row.baseline}"
                f" ({time.perf_counter() - began:.0f} s)",
                flush=True,
            )
    return rows


def _compile_bulkx() -> None:
    """Write bulkx's bytecode first, as installing a wheel does and as a user's first command
    does: with PYTHONDONTWRITEBYTECODE set (this machine sets it) every child process would
    compile each module it imports again, which no user waits for twice."""
    import compileall

    import bulkx

    compileall.compile_dir(str(Path(bulkx.__file__).parent), quiet=1)


def main() -> None:
    parser = _parser()
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bulkx-bench-") as tmp:
        if args.profile:
            profile(Path(tmp))
            return
        sizes = dataclasses.replace(FULL if args.full else QUICK, baseline_rev=args.baseline_rev)
        asked = [int(n) for n in args.rows.split(",")] if args.rows else list(ROWS)
        wanted = sorted({MEASURED_WITH.get(n, n) for n in asked})
        if unknown := [n for n in wanted if n not in ROWS]:
            parser.error(f"no row {', '.join(map(str, unknown))} (rows: 1-{max(TITLES)})")
        _compile_bulkx()
        info = machine()
        print(
            f"bulkx bench ({sizes.name}) on {info['cpu']}, load {info['load_before']}", flush=True
        )
        started = time.perf_counter()
        rows = _measure(wanted, sizes, Path(tmp))
        seconds = time.perf_counter() - started
    print()
    print(text_table(rows))
    print(f"\n{len(rows)} rows in {seconds:.0f} s")
    if args.rows:
        return  # a partial run does not replace the recorded table
    document = {
        "mode": sizes.name,
        "machine": info,
        "seconds": round(seconds),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": [r.as_dict() for r in rows],
    }
    dump(HERE / "results" / f"{sizes.name}.json", document)
    update_readme(sizes.name, rows, info, seconds)
    print(f"written: bench/results/{sizes.name}.json, bench/README.md")


if __name__ == "__main__":
    main()
