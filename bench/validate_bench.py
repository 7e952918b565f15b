"""How fast is `bulkx validate` on a million DIDs, and how does it compare to row by row?

    .venv/bin/python bench/validate_bench.py [--rows 1000000] [--baseline-rows 50000] [--json F]

Writes a CSV of DIDs (phone numbers in mixed formats, a name, a trunk group), times
`load_plan` + `validate` and reports peak RSS, then times a row-by-row pydantic + phonenumbers
validator on a subset and scales it to the same row count. Targets: < 10 s, < 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
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
    line = f"{rng.randint(0, 9999):04d}"
    style = rng.randint(0, 3)
    if style == 0:
        return f'"+1 ({npa}) {nxx}-{line}"'
    if style == 1:
        return f"{npa}-{nxx}-{line}"
    if style == 2:
        return f"1{npa}{nxx}{line}"
    return f"+1{npa}{nxx}{line}"


def write_csv(path: Path, rows: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    with path.open("w") as f:
        f.write("phonenumber,name,trunk_group\n")
        for i in range(rows):
            # Unique numbers: the line number is derived from the row so duplicates stay rare.
            f.write(f"{_number(rng)},Line {i},tg-{i % 8}\n")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=50_000)
    parser.add_argument("--json", type=Path, help="also write the figures here (bench/run.py)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dids.csv"
        start = time.perf_counter()
        write_csv(path, args.rows)
        print(
            f"generated {args.rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) "
            f"in {time.perf_counter() - start:.1f} s"
        )
        rss_before = peak_rss_mb()
        start = time.perf_counter()
        plan, diagnostics = load_plan(path, kind="did")
        loaded = time.perf_counter() - start
        assert plan is not None, diagnostics
        diagnostics += validate(plan)
        total = time.perf_counter() - start
        bulkx_peak = peak_rss_mb()
        errors = sum(d.severity == "error" for d in diagnostics)
        print(
            f"bulkx: load {loaded:.2f} s + validate {total - loaded:.2f} s = {total:.2f} s "
            f"({args.rows / total:,.0f} rows/s), {errors} errors "
            f"(incl. duplicates of random numbers), peak RSS {peak_rss_mb():.0f} MB "
            f"(before: {rss_before:.0f} MB)"
        )
        rows = min(args.baseline_rows, args.rows)
        took = baseline(path, rows)
        scaled = took * args.rows / rows
        print(
            f"row-by-row pydantic + phonenumbers: {rows:,} rows in {took:.2f} s, "
            f"scaled to {args.rows:,}: {scaled:.1f} s"
        )
        print(
            f"speed-up: {scaled / total:.1f}x; targets: < 10 s ({'ok' if total < 10 else 'MISSED'})"
            f", < 1500 MB ({'ok' if bulkx_peak < 1500 else 'MISSED'})"
        )
        if args.json:
            figures = {
                "rows": args.rows,
                "load_s": round(loaded, 2),
                "validate_s": round(total - loaded, 2),
                "bulkx_s": round(total, 2),
                "bulkx_peak_rss_mb": round(bulkx_peak),
                "baseline_rows": rows,
                "baseline_sample_s": round(took, 2),
                "baseline_s": round(scaled, 1),
                "speedup": round(scaled / total, 1),
                "errors": errors,
            }
            args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
