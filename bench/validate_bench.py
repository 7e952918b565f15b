"""How fast is `bulkx validate` on a million DIDs, and how does it compare to row by row?

    .venv/bin/python bench/validate_bench.py [--rows 1000000] [--baseline-rows 50000] [--json F]

Writes a CSV of DIDs (phone numbers in mixed formats, a name, a trunk group), times
`load_plan` + `validate` and reports peak RSS, then times a row-by-row pydantic + phonenumbers
validator on a subset and scales it to the same row count. Targets (issue 18): < 1.5 s and
< 300 MB for 1,000,000 rows; < 3 s for the worst case, `--distinct-prefixes` (300,000 rows,
every one its own NPA-NXX).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import phonenumbers
from pydantic import BaseModel, field_validator

from bulkx.plan.load import load_plan
from bulkx.plan.validate import validate

#: Real NY/NJ area codes; the exchanges are drawn at random, so prefixes number in thousands.
NPAS = (
    "201",
    "212",
    "347",
    "516",
    "551",
    "631",
    "646",
    "718",
    "732",
    "862",
    "908",
    "914",
    "917",
    "929",
    "973",
)


def _number(rng: random.Random) -> str:
    npa = rng.choice(NPAS)
    nxx = f"{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(0, 9)}"
    return _styled(rng, npa, nxx, f"{rng.randint(0, 9999):04d}")


def _styled(rng: random.Random, npa: str, nxx: str, line: str) -> str:
    style = rng.randint(0, 3)
    if style == 0:
        return f'"+1 ({npa}) {nxx}-{line}"'
    if style == 1:
        return f"{npa}-{nxx}-{line}"
    if style == 2:
        return f"1{npa}{nxx}{line}"
    return f"+1{npa}{nxx}{line}"


#: NANP-shaped NPA-NXX prefixes: both parts [2-9]XX, so 800 x 800.
NANP_PREFIXES = 800 * 800


def _distinct_prefix_numbers(rng: random.Random, rows: int) -> Iterator[str]:
    """The worst case for per-prefix validation: every row its own NPA-NXX, drawn from all
    640,000 (every area code, assigned or not), so most of them are asked only once."""
    while rows > 0:
        batch = min(rows, NANP_PREFIXES)
        for prefix in rng.sample(range(NANP_PREFIXES), batch):
            npa, nxx = 200 + prefix // 800, 200 + prefix % 800
            yield _styled(rng, str(npa), str(nxx), f"{rng.randint(0, 9999):04d}")
        rows -= batch


def write_csv(path: Path, rows: int, seed: int = 1, *, distinct_prefixes: bool = False) -> None:
    rng = random.Random(seed)
    numbers = (
        _distinct_prefix_numbers(rng, rows)
        if distinct_prefixes
        else (_number(rng) for _ in range(rows))
    )
    with path.open("w") as f:
        f.write("phonenumber,name,trunk_group\n")
        for i, number in enumerate(numbers):
            # Unique numbers: the line number is derived from the row so duplicates stay rare.
            f.write(f"{number},Line {i},tg-{i % 8}\n")


class _Did(BaseModel):
    phonenumber: str
    name: str | None = None
    trunk_group: str | None = None

    @field_validator("phonenumber")
    @classmethod
    def _e164(cls, value: str) -> str:
        number = phonenumbers.parse(value, "US")
        if not phonenumbers.is_valid_number(number):
            raise ValueError("invalid number")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]


def baseline(path: Path, rows: int) -> float:
    import csv

    start = time.perf_counter()
    seen: set[str] = set()
    with path.open() as f:
        for i, record in enumerate(csv.DictReader(f)):
            if i >= rows:
                break
            try:
                did = _Did(**record)
            except ValueError:
                continue
            seen.add(did.phonenumber)
    return time.perf_counter() - start


def peak_rss_mb() -> float:
    """Peak RSS of this process image in MB (VmHWM: ru_maxrss would include the memory of
    the process that started this one, which Linux carries over exec as a floor)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    # Elsewhere ru_maxrss: KiB on Linux, bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6


def _time_bulkx(path: Path) -> dict[str, float]:
    """`load_plan` + `validate` of `path`: seconds of each, errors, and the peak RSS."""
    rss_before = peak_rss_mb()
    start = time.perf_counter()
    plan, diagnostics = load_plan(path, kind="did")
    loaded = time.perf_counter() - start
    assert plan is not None, diagnostics
    _, found = validate(plan)
    diagnostics += found
    total = time.perf_counter() - start
    return {
        "load_s": round(loaded, 2),
        "validate_s": round(total - loaded, 2),
        "bulkx_s": round(total, 2),
        "bulkx_peak_rss_mb": round(peak_rss_mb()),
        "rss_before_mb": round(rss_before),
        "errors": sum(d.severity == "error" for d in diagnostics),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=50_000)
    parser.add_argument(
        "--distinct-prefixes",
        action="store_true",
        help="the worst case: every row its own NPA-NXX, from all 640,000",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here (bench/run.py)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dids.csv"
        start = time.perf_counter()
        write_csv(path, args.rows, distinct_prefixes=args.distinct_prefixes)
        print(
            f"generated {args.rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) "
            f"in {time.perf_counter() - start:.1f} s"
        )
        figures = _time_bulkx(path)
        total = figures["bulkx_s"]
        print(
            f"bulkx: load {figures['load_s']:.2f} s + validate {figures['validate_s']:.2f} s ="
            f" {total:.2f} s ({args.rows / total:,.0f} rows/s), {figures['errors']} errors"
            f" (incl. duplicates of random numbers), peak RSS {figures['bulkx_peak_rss_mb']} MB"
            f" (before: {figures['rss_before_mb']} MB)"
        )
        rows = min(args.baseline_rows, args.rows)
        took = baseline(path, rows)
    scaled = took * args.rows / rows
    print(
        f"row-by-row pydantic + phonenumbers: {rows:,} rows in {took:.2f} s, "
        f"scaled to {args.rows:,}: {scaled:.1f} s; speed-up: {scaled / total:.1f}x"
    )
    if args.json:
        figures |= {
            "rows": args.rows,
            "distinct_prefixes": args.distinct_prefixes,
            "baseline_rows": rows,
            "baseline_sample_s": round(took, 2),
            "baseline_s": round(scaled, 1),
            "speedup": round(scaled / total, 1),
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
