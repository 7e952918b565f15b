"""A plan's files and CSV sources: reading and decoding them, and parsing a CSV into rows.

`SourceReader` is what every loader builds on: it collects the diagnostics, hashes every file
it reads into the plan's digest and keeps the bytes (a run's journal keeps them). Rows are kept
as strings; `bulkx.plan.validate` types them later.

CSV positions are `file:line:field` where `line` is the physical line (header = line 1, or 2
after a `# kind:` line) and `field` the 1-based field number. A quoted cell spanning lines is
supported through a slower pure-Python path, so line numbers stay physical.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import stat
from pathlib import Path

import polars as pl

from bulkx.escaping import FORMULA_ESCAPED
from bulkx.plan.model import SOURCE_FILE, SOURCE_LINE, Diagnostic, Position

#: Cap per-check diagnostics so a million bad rows do not print a million lines.
MAX_ROW_DIAGNOSTICS = 50
KIND_LINE = re.compile(r"^#\s*kind\s*:\s*(\S+)\s*$")
#: The largest plan file or CSV source read (bytes). Reading one takes several times its size
#: in memory (bytes, text, rows); 256 MiB is some 2.5 million rows of a DID CSV, ten times
#: bulkx's largest benchmarked plan. BULKX_MAX_PLAN_BYTES raises (or lowers) it.
MAX_PLAN_FILE_BYTES = 256 * 1024 * 1024
MAX_PLAN_BYTES_ENV = "BULKX_MAX_PLAN_BYTES"
#: A CSV header longer than this, or with more columns, is not a plan's header: a kind has
#: at most a few dozen fields, and polars makes a column (and bulkx a diagnostic) per name.
MAX_HEADER_CHARS = 64 * 1024
MAX_CSV_COLUMNS = 1000
#: An opening quote at the start of a cell that is never closed (the regex pairs quotes the
#: way the fast CSV path does).
_QUOTED = re.compile(r'"[^"]*"?')


def max_plan_bytes() -> int:
    """MAX_PLAN_FILE_BYTES, or BULKX_MAX_PLAN_BYTES when that is a positive whole number."""
    text = os.environ.get(MAX_PLAN_BYTES_ENV, "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else MAX_PLAN_FILE_BYTES


class SourceReader:
    """The base of a plan loader: its diagnostics, and the files it reads (CSV into rows)."""

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.digest = hashlib.sha256()
        #: Every file read, as (path shown, bytes): a run's journal keeps them.
        self.sources: list[tuple[str, bytes]] = []
        #: Per capped check: (how many problems, the first one past the cap).
        self._capped: dict[str, tuple[int, Diagnostic | None]] = {}

    def error(
        self,
        pos: Position,
        message: str,
        code: str,
        hint: str | None = None,
        *,
        warn: bool = False,
        check: str | None = None,
    ) -> None:
        """Report a problem. `check` names a check that may repeat once per column, key or item
        ("unknown columns"): past MAX_ROW_DIAGNOSTICS of one, the rest are only counted and
        `flush_capped` says how many, as rows are capped."""
        diagnostic = Diagnostic(pos, message, code, hint, "warning" if warn else "error")
        if check is not None:
            seen, first_hidden = self._capped.get(check, (0, None))
            if seen >= MAX_ROW_DIAGNOSTICS:
                self._capped[check] = (seen + 1, first_hidden or diagnostic)
                return
            self._capped[check] = (seen + 1, None)
        self.diagnostics.append(diagnostic)

    def flush_capped(self) -> None:
        """One "... and N more" line per capped check that went past the cap."""
        for check, (seen, first_hidden) in self._capped.items():
            if first_hidden is not None:
                self.diagnostics.append(
                    Diagnostic(
                        first_hidden.position,
                        f"... and {seen - MAX_ROW_DIAGNOSTICS} more {check}",
                        first_hidden.code,
                        severity=first_hidden.severity,
                    )
                )
        self._capped.clear()

    # --- files -------------------------------------------------------------------------------

    def read_text(self, path: Path, shown: str, at: Position) -> str | None:
        if not path.exists():
            self.error(
                at, f"no such file: {shown}", "BX001", "check the path (relative to the plan)"
            )
            return None
        if path.is_dir():
            self.error(
                at, f"{shown} is a directory, not a plan file", "BX001", "name a .yaml or .csv file"
            )
            return None
        try:
            data = self._read_regular(path, shown, at)
        except OSError as exc:
            self.error(at, f"cannot read {shown}: {exc.strerror or exc}", "BX001")
            return None
        if data is None:
            return None
        self.digest.update(data)
        self.sources.append((shown, data))
        return self.decode(data, shown)

    def _read_regular(self, path: Path, shown: str, at: Position) -> bytes | None:
        """The bytes of a regular file of at most `max_plan_bytes()`, else an error and None.
        Opened without blocking and checked on the open descriptor: a FIFO would block the
        open (and /dev/zero never end); a file swapped for one after a check is caught too."""
        limit = max_plan_bytes()
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as file:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                what = "a FIFO" if stat.S_ISFIFO(mode) else "a device or socket"
                self.error(
                    at,
                    f"{shown} is {what}, not a regular file",
                    "BX001",
                    "name a .yaml or .csv file on disk (write a stream to a file first)",
                )
                return None
            # Read one byte past the limit: a size from stat can be wrong (/proc) or stale.
            data = file.read(limit + 1)
        if len(data) > limit:
            self.error(
                at,
                f"{shown} is larger than {limit:,} bytes",
                "BX001",
                f"split the plan, or raise the limit with {MAX_PLAN_BYTES_ENV}=<bytes>",
            )
            return None
        return data

    def decode(self, data: bytes, shown: str) -> str | None:
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        nul = data.find(b"\x00")
        if nul >= 0:
            # Anywhere in the file, not just the first block: a NUL inside a cell is not text.
            line = data.count(b"\n", 0, nul) + 1
            self.error(
                Position(shown, line),
                "binary data (NUL byte), not a text plan",
                "BX002",
                "plans are UTF-8 YAML or CSV files",
            )
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            self.error(
                Position(shown, line, column),
                f"invalid UTF-8 (byte 0x{data[exc.start]:02x})",
                "BX002",
                "save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
            )
            return None
        if not text.strip():
            self.error(Position(shown, 1), "empty file", "BX003", "a plan needs at least one step")
            return None
        return text

    # --- CSV ---------------------------------------------------------------------------------

    def read_csv(self, text: str, shown: str) -> tuple[pl.DataFrame, int] | None:
        """Rows as strings plus __file/__line, and the header's line number."""
        lines_before = 0
        while True:
            end = text.find("\n")
            first = text if end < 0 else text[:end]
            if first.strip() == "" or KIND_LINE.match(first.strip()):
                lines_before += 1
                text = "" if end < 0 else text[end + 1 :]
                if end < 0:
                    break
                continue
            break
        header_line = lines_before + 1
        if not text.strip():
            self.error(
                Position(shown, header_line),
                "CSV has no header line",
                "BX003",
                "the first line names the columns, e.g. phonenumber,name",
            )
            return None
        if not self._sane_header(text, shown, header_line) or self._open_quote(
            text, shown, header_line
        ):
            return None
        counts = _field_counts(text)
        if counts is not None:
            frame = self._csv_fast(text, counts, shown, header_line)
        else:
            frame = self._csv_slow(text, shown, header_line)
        return None if frame is None else (_unquoted(frame), header_line)

    def _sane_header(self, text: str, shown: str, header_line: int) -> bool:
        end = text.find("\n")
        header = text if end < 0 else text[:end]
        if len(header) > MAX_HEADER_CHARS:
            self.error(
                Position(shown, header_line),
                f"the header line is {len(header):,} characters long (at most"
                f" {MAX_HEADER_CHARS:,})",
                "BX003",
                "the first line names the columns, e.g. phonenumber,name",
            )
            return False
        columns = _QUOTED.sub('""', header).count(",") + 1
        if columns > MAX_CSV_COLUMNS:
            self.error(
                Position(shown, header_line),
                f"the header has {columns:,} columns (at most {MAX_CSV_COLUMNS:,})",
                "BX003",
                "a plan CSV has one column per field of its kind",
            )
            return False
        return True

    def _open_quote(self, text: str, shown: str, header_line: int) -> bool:
        """A quote that opens a cell and is never closed swallows the rest of the file into
        that cell: an error at the quote. (With an odd number of quotes, the last one is the
        one left open, pairing them from the start as the CSV readers do.)"""
        if text.count('"') % 2 == 0:
            return False
        at = text.rfind('"')
        if at > 0 and text[at - 1] not in ",\r\n":
            return False  # a quote inside an unquoted cell (`5" screen`) is a plain character
        line_start = text.rfind("\n", 0, at) + 1
        self.error(
            Position(
                shown,
                header_line + text.count("\n", 0, at),
                text.count(",", line_start, at) + 1,
            ),
            "unterminated quote: this quoted cell never ends",
            "BX004",
            'close the quote, or double a quote inside a quoted cell ("")',
        )
        return True

    def _ragged(self, shown: str, bad: list[tuple[int, int]], total: int, width: int) -> None:
        # Ragged rows are reported and left out; the rest of the file is still checked.
        for line, n in bad[:MAX_ROW_DIAGNOSTICS]:
            self.error(
                Position(shown, line),
                f"row has {n} fields, the header has {width}",
                "BX004",
                "check for a missing or extra comma, or quote cells with commas",
            )
        if total > MAX_ROW_DIAGNOSTICS:
            self.error(
                Position(shown, bad[MAX_ROW_DIAGNOSTICS][0]),
                f"... and {total - MAX_ROW_DIAGNOSTICS} more ragged rows",
                "BX004",
            )

    def _csv_fast(
        self, text: str, counts: pl.DataFrame, shown: str, header_line: int
    ) -> pl.DataFrame | None:
        # No quoted newline: record i is physical line header_line + 1 + i, and `counts`
        # (from `_field_counts`) are its fields.
        width = int(counts["n"][0])
        numbered = counts.with_row_index("i").slice(1)
        bad = numbered.filter((pl.col("n") != width) & ~pl.col("blank"))
        first_bad = bad.head(MAX_ROW_DIAGNOSTICS + 1).iter_rows()
        self._ragged(shown, [(header_line + i, n) for i, n, _ in first_bad], bad.height, width)
        try:
            frame = pl.read_csv(
                io.BytesIO(text.encode()),
                infer_schema=False,
                raise_if_empty=False,
                truncate_ragged_lines=True,
            )
        except Exception as exc:  # polars' CSV errors have no common base worth naming
            self.error(
                Position(shown, header_line), f"cannot parse CSV: {exc}".splitlines()[0], "BX004"
            )
            return None
        frame = frame.with_columns(
            pl.lit(shown).alias(SOURCE_FILE),
            (pl.int_range(pl.len(), dtype=pl.Int64) + header_line + 1).alias(SOURCE_LINE),
        )
        if bad.height:
            frame = frame.filter(~pl.col(SOURCE_LINE).is_in((bad["i"] + header_line).implode()))
        # By position, not by name: a header cell such as `*` or `^x$` is a wildcard or a
        # regex to pl.col().
        data_cols = [i for i, c in enumerate(frame.columns) if c not in (SOURCE_FILE, SOURCE_LINE)]
        if not data_cols:
            return frame
        blank = pl.all_horizontal(
            [pl.nth(i).is_null() | pl.nth(i).str.contains(r"^\s*$") for i in data_cols]
        )
        # Filtered only when there is a blank row: a filter copies every column (~70 MB of a
        # million-row plan's peak), and blank rows are rare.
        blanks = frame.select(blank).to_series()
        return frame.filter(~blanks) if blanks.any() else frame

    def _csv_slow(self, text: str, shown: str, header_line: int) -> pl.DataFrame | None:
        reader = csv.reader(io.StringIO(text, newline=""))
        rows: list[list[str]] = []
        lines: list[int] = []
        bad: list[tuple[int, int]] = []
        header: list[str] | None = None
        start = 1
        try:
            for record in reader:
                at = header_line - 1 + start
                start = reader.line_num + 1
                if header is None:
                    header = record
                    continue
                if not record or all(not c.strip() for c in record):
                    continue
                if len(record) != len(header):
                    bad.append((at, len(record)))
                    continue
                rows.append(record)
                lines.append(at)
        except csv.Error as exc:
            self.error(
                Position(shown, header_line - 1 + reader.line_num), f"bad CSV: {exc}", "BX004"
            )
            return None
        if header is None:
            return None
        self._ragged(shown, bad, len(bad), len(header))
        names = _dedupe(header)
        columns = {n: [r[i] for r in rows] for i, n in enumerate(names)}
        frame = pl.DataFrame(columns, schema=dict.fromkeys(names, pl.String))
        return frame.with_columns(
            pl.lit(shown).alias(SOURCE_FILE), pl.Series(SOURCE_LINE, lines, dtype=pl.Int64)
        )


#: Characters of a CSV whose fields `_field_counts` counts at once: the whole file at once
#: (a million lines) was ~150 MB of a million-row plan's peak; 1 MB chunks cost no time.
FIELD_COUNT_CHUNK = 1024 * 1024


def _field_counts(text: str) -> pl.DataFrame | None:
    """Per physical line of CSV `text`: `n` fields and whether it is `blank`; None when a
    quoted cell spans lines (the slow path reads those). Quoted cells are emptied first, a
    chunk of whole lines at a time: a chunk with an odd number of quotes has a quoted cell
    running past its end, and a chunk whose emptied text lost a newline, one inside it."""
    parts: list[pl.DataFrame] = []
    start = 0
    while True:
        end = text.find("\n", start + FIELD_COUNT_CHUNK)
        chunk = text[start:] if end < 0 else text[start:end]
        stripped = _QUOTED.sub('""', chunk)
        if chunk.count('"') % 2 or stripped.count("\n") != chunk.count("\n"):
            return None
        # Split by polars: no Python string per line. A "\r" before the "\n" is whitespace.
        lines = pl.Series("l", [stripped], dtype=pl.String).str.split("\n").explode()
        parts.append(
            pl.DataFrame(
                {
                    "n": lines.str.count_matches(",", literal=True).cast(pl.Int64) + 1,
                    "blank": lines.str.contains(r"^\s*$"),
                }
            )
        )
        if end < 0:
            return pl.concat(parts, rechunk=True)
        start = end + 1


def _unquoted(frame: pl.DataFrame) -> pl.DataFrame:
    """Cells as bulkx meant them: the quote `bulkx.escaping.csv_cell` puts before a formula
    character is removed (export -> plan and report --retry -> apply round-trip)."""
    data = [i for i, c in enumerate(frame.columns) if c not in (SOURCE_FILE, SOURCE_LINE)]
    if not data or not frame.height:
        return frame
    # By position: a header cell such as `*` is a wildcard to pl.col(). Only the columns
    # holding an escaped cell are rewritten (a rewrite copies the column).
    escaped = frame.select(pl.nth(i).str.contains(FORMULA_ESCAPED).any() for i in data).row(0)
    rewrite = [i for i, has in zip(data, escaped, strict=True) if has]
    if not rewrite:
        return frame
    return frame.with_columns(pl.nth(i).str.replace(FORMULA_ESCAPED, "$1") for i in rewrite)


def _dedupe(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, -1) + 1
        out.append(n if seen[n] == 0 else f"{n}_duplicated_{seen[n] - 1}")
    return out
