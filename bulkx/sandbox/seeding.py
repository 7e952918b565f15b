"""Putting a world into a known state: ported-in numbers for a port-in rehearsal."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import phonenumbers

NUMBER_COLUMNS = ("phonenumber", "number", "did", "e164", "telephone_number")


@dataclass(frozen=True)
class SeedProblem:
    path: str
    row: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.row}:{self.column}: {self.message}"


def normalize_number(raw: str) -> str | None:
    """E.164 digits without '+', or None.

    `+1 (516) 206-5575` and `516-206-5575` both give `15162065575`.
    """
    text = raw.strip()
    digits = re.sub(r"\D", "", text)
    if not digits:
        return None
    if not text.startswith("+") and len(digits) == 10:
        digits = "1" + digits  # a bare 10-digit number is NANP
    try:
        parsed = phonenumbers.parse("+" + digits)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return digits


def read_ported_csv(path: Path) -> tuple[list[tuple[str, str]], list[SeedProblem]]:
    """(number, name) pairs from a CSV with a phonenumber column, and every problem found."""
    where = str(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        return [], [SeedProblem(where, 0, 0, f"cannot read the file: {error.strerror}")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        return [], [SeedProblem(where, line, 0, "not UTF-8 text (save the file as UTF-8)")]
    if "\x00" in text:
        return [], [SeedProblem(where, 1, 1, "binary data, not a CSV file")]
    # newline="": the csv module handles \r, \n and \r\n itself (a lone \r raised csv.Error).
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        return [], [SeedProblem(where, 1, 1, "the file is empty; expected a header row")]
    names = [h.strip().lower() for h in header]
    column = next((names.index(c) for c in NUMBER_COLUMNS if c in names), None)
    if column is None:
        return [], [
            SeedProblem(
                where, 1, 1, f"no phone number column; name one of: {', '.join(NUMBER_COLUMNS)}"
            )
        ]
    name_col = names.index("name") if "name" in names else None
    numbers: list[tuple[str, str]] = []
    problems: list[SeedProblem] = []
    seen: dict[str, int] = {}
    for row_number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(
                SeedProblem(
                    where, row_number, 1, f"{len(row)} fields, the header has {len(header)}"
                )
            )
            continue
        number = normalize_number(row[column])
        if number is None:
            problems.append(
                SeedProblem(
                    where, row_number, column + 1, f"{row[column]!r} is not a valid phone number"
                )
            )
            continue
        if number in seen:
            problems.append(
                SeedProblem(where, row_number, column + 1, f"{number} repeats row {seen[number]}")
            )
            continue
        seen[number] = row_number
        numbers.append((number, row[name_col].strip() if name_col is not None else ""))
    return numbers, problems
