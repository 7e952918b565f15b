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
from typing import cast

import polars as pl
from polars.datatypes import IntegerType

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

    def read_source(self, path: Path, shown: str, at: Position) -> bytes | None:
        """The bytes of a plan file (hashed and kept), once `decode` found them a text plan;
        None (and an error) otherwise. A CSV source is parsed from these bytes: its text would
        be a second copy of the file for as long as the parse (27 MB of a million DIDs)."""
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
        return None if self.decode(data, shown) is None else data

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

    def read_csv(self, data: bytes | str, shown: str) -> tuple[pl.DataFrame, int] | None:
        """Rows as strings plus __file/__line, and the header's line number. `data` is a file's
        bytes as `read_source` gave them (text is encoded first)."""
        if isinstance(data, str):
            data = data.encode()
        start, lines_before = _preamble(data)
        header_line = lines_before + 1
        if _blank_from(data, start):
            self.error(
                Position(shown, header_line),
                "CSV has no header line",
                "BX003",
                "the first line names the columns, e.g. phonenumber,name",
            )
            return None
        if not self._sane_header(data, start, shown, header_line) or self._open_quote(
            data, start, shown, header_line
        ):
            return None
        counts = _field_counts(data, start)
        if counts is not None:
            # polars takes a BOM off what it reads: a BOM starting the header (after a first
            # one, or after the lines before) goes only if it reads from there. That copy is
            # for such files only.
            source = data[start:] if data.startswith(_BOM, start) else data
            skip = 0 if source is not data else lines_before
            frame = self._csv_fast(source, skip, counts, shown, header_line)
        else:
            frame = self._csv_slow(data[start:].decode("utf-8"), shown, header_line)
        return None if frame is None else (_unquoted(frame), header_line)

    def _sane_header(self, data: bytes, start: int, shown: str, header_line: int) -> bool:
        end = data.find(b"\n", start)
        header = (data[start:] if end < 0 else data[start:end]).decode("utf-8")
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

    def _open_quote(self, data: bytes, start: int, shown: str, header_line: int) -> bool:
        """A quote that opens a cell and is never closed swallows the rest of the file into
        that cell: an error at the quote. (With an odd number of quotes, the last one is the
        one left open, pairing them from the start as the CSV readers do.) Counted in bytes:
        a quote, comma or newline byte is never part of another UTF-8 character."""
        if data.count(b'"', start) % 2 == 0:
            return False
        at = data.rfind(b'"', start)
        if at > start and data[at - 1] not in b",\r\n":
            return False  # a quote inside an unquoted cell (`5" screen`) is a plain character
        line_start = max(data.rfind(b"\n", start, at) + 1, start)
        self.error(
            Position(
                shown,
                header_line + data.count(b"\n", start, at),
                data.count(b",", line_start, at) + 1,
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
        self,
        data: bytes,
        skip: int,
        counts: tuple[int, pl.DataFrame],
        shown: str,
        header_line: int,
    ) -> pl.DataFrame | None:
        # No quoted newline: record i is physical line header_line + 1 + i; `counts` (from
        # `_field_counts`) are the header's fields and the ragged lines.
        width, bad = counts
        first_bad = bad.head(MAX_ROW_DIAGNOSTICS + 1).iter_rows()
        self._ragged(shown, [(header_line + i, n) for i, n in first_bad], bad.height, width)
        try:
            # The bytes in hand, the lines before the header skipped by polars: a slice (or
            # the text encoded again) would copy the file.
            frame = pl.read_csv(
                data,
                skip_lines=skip,
                infer_schema=False,
                raise_if_empty=False,
                truncate_ragged_lines=True,
            )
        except Exception as exc:  # polars' CSV errors have no common base worth naming
            self.error(
                Position(shown, header_line), f"cannot parse CSV: {exc}".splitlines()[0], "BX004"
            )
            return None
        # By position, not by name: a header cell such as `*` or `^x$` is a wildcard or a
        # regex to pl.col(). (A CSV column named like a position column is replaced by it.)
        data_cols = [i for i, c in enumerate(frame.columns) if c not in (SOURCE_FILE, SOURCE_LINE)]
        blanks = None
        if data_cols:
            blank = pl.all_horizontal(
                [pl.nth(i).is_null() | pl.nth(i).str.contains(r"^\s*$") for i in data_cols]
            )
            blanks = frame.select(blank).to_series()
        frame = frame.with_columns(
            pl.lit(shown).alias(SOURCE_FILE),
            row_numbers(frame, SOURCE_LINE, header_line + 1, pl.Int64()),
        )
        dropped = []
        if bad.height:
            dropped.append(pl.col(SOURCE_LINE).is_in((bad["i"] + header_line).implode()))
        # Filtered only when there is a blank or ragged row: a filter copies every column
        # (~70 MB of a million-row plan's peak), and those rows are rare.
        if blanks is not None and blanks.any():
            dropped.append(pl.lit(blanks))
        return frame.filter(~pl.any_horizontal(dropped)) if dropped else frame

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


#: Bytes of a CSV whose fields `_field_counts` counts at once: the whole file at once
#: (a million lines) was ~150 MB of a million-row plan's peak; 256 KiB chunks cost no time.
FIELD_COUNT_CHUNK = 256 * 1024
_BOM = b"\xef\xbb\xbf"
_QUOTED_BYTES = re.compile(rb'"[^"]*"?')
#: A byte that is not ASCII whitespace as `str.strip` sees it.
_NOT_ASCII_SPACE = re.compile(rb"[^ \t\n\r\x0b\x0c\x1c-\x1f]")


def _preamble(data: bytes) -> tuple[int, int]:
    """Where a CSV's header starts (past a BOM, blank lines and a `# kind:` line), and the
    number of lines before it (the end of the file counts as one more when it is reached)."""
    start = len(_BOM) if data.startswith(_BOM) else 0
    lines = 0
    while True:
        end = data.find(b"\n", start)
        line = (data[start:] if end < 0 else data[start:end]).decode("utf-8").strip()
        if line and not KIND_LINE.match(line):
            return start, lines
        lines += 1
        if end < 0:
            return len(data), lines
        start = end + 1


def _blank_from(data: bytes, start: int) -> bool:
    """Whether `data` from `start` is whitespace only (`not text.strip()`)."""
    found = _NOT_ASCII_SPACE.search(data, start)
    if found is None:
        return True
    if data[found.start()] < 0x80:
        return False
    return not data[found.start() :].decode("utf-8").strip()  # Unicode spaces: rare


def _field_counts(data: bytes, start: int = 0) -> tuple[int, pl.DataFrame] | None:
    """The number of fields of the header at `start` of CSV `data`, and the lines after it
    that are neither blank nor of that many fields (`i`: lines after the header, `n`: their
    fields); None when a quoted cell spans lines (the slow path reads those). Quoted cells
    are emptied first, a chunk of whole lines at a time: a chunk with an odd number of quotes
    has a quoted cell running past its end, and a chunk whose emptied text lost a newline, one
    inside it. Only the ragged lines are kept: a count per line was 9 MB a million lines."""
    width: int | None = None
    ragged: list[pl.DataFrame] = []
    first_line = 0
    while True:
        end = data.find(b"\n", start + FIELD_COUNT_CHUNK)
        chunk = data[start:] if end < 0 else data[start:end]
        stripped = _QUOTED_BYTES.sub(b'""', chunk)
        if chunk.count(b'"') % 2 or stripped.count(b"\n") != chunk.count(b"\n"):
            return None
        del chunk
        # Split by polars: no Python string per line. A "\r" before the "\n" is whitespace.
        lines = pl.Series("l", [stripped.decode("utf-8")], dtype=pl.String).str.split("\n")
        lines = lines.explode()
        counts = pl.DataFrame(
            {
                "n": lines.str.count_matches(",", literal=True).cast(pl.Int64) + 1,
                "blank": lines.str.contains(r"^\s*$"),
            }
        ).with_row_index("i", offset=first_line)
        if width is None:
            width = int(counts["n"][0])
        bad = (pl.col("i") > 0) & (pl.col("n") != width) & ~pl.col("blank")
        ragged.append(counts.filter(bad).select("i", "n"))
        if end < 0:
            return width, pl.concat(ragged)
        first_line += counts.height
        start = end + 1


def row_numbers(
    frame: pl.DataFrame, name: str, offset: int = 0, dtype: IntegerType | None = None
) -> pl.Series:
    """`offset`, `offset + 1`, ... per row of `frame` (of polars' index type unless `dtype`),
    cut into the chunks of its first column. polars' CSV reader gives columns of many chunks,
    and a column of other chunks added (`with_row_index`, `int_range`) makes the next select
    copy every column into one chunk: ~30 MB of a million rows' peak."""
    kind = dtype or cast("IntegerType", pl.get_index_type())
    lengths = frame.to_series(0).chunk_lengths() if frame.width else [frame.height]
    parts: list[pl.Series] = []
    for length in lengths:
        parts.append(pl.int_range(offset, offset + length, dtype=kind, eager=True))
        offset += length
    if len(parts) == 1:
        return parts[0].alias(name)
    if not parts:
        return pl.Series(name, [], kind)
    numbers: pl.Series = pl.concat(parts, rechunk=False)
    return numbers.alias(name)


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
