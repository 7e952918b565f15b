"""CSV field counts taken a chunk of lines at a time read a file as the whole file does.

`_field_counts` counts each line's fields in chunks (a million lines at once cost ~150 MB);
a quoted cell spanning lines, or a chunk boundary inside quotes, must still send the file to
the slow path, and ragged and blank rows must be found at the same physical lines.
"""

from __future__ import annotations

import pytest

from bulkx.plan import csv_source
from bulkx.plan.csv_source import SourceReader

SAMPLES = {
    "plain": "phonenumber,name\n5162065575,a\n5162065576,b\n5162065577,c\n",
    "quoted": 'phonenumber,name\n"+1 (516) 206-5575","a, b"\n5162065576,"c"\n5162065577,d\n',
    "quoted newline": 'phonenumber,name\n5162065575,"two\nlines"\n5162065576,b\n5162065577,c\n',
    "ragged": "phonenumber,name\n5162065575,a,extra\n5162065576\n5162065577,c\n",
    "blank lines": "phonenumber,name\n\n5162065575,a\n  \n\r\n5162065576,b\n,\n",
    "crlf": "phonenumber,name\r\n5162065575,a\r\n5162065576,b\r\n",
    "quote in a cell": 'phonenumber,name\n5162065575,5" screen\n5162065576,b\n',
}


def _read(text: str) -> tuple[list[tuple[object, ...]], list[str]]:
    reader = SourceReader()
    read = reader.read_csv(text, "plan.csv")
    rows = [] if read is None else read[0].rows()
    return rows, [f"{d.position}: {d.message}" for d in reader.diagnostics]


@pytest.mark.parametrize("name", sorted(SAMPLES))
@pytest.mark.parametrize("chunk", [1, 7, 20, 33])
def test_small_chunks_read_as_one(name: str, chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    text = SAMPLES[name]
    whole = _read(text)
    monkeypatch.setattr(csv_source, "FIELD_COUNT_CHUNK", chunk)
    assert _read(text) == whole


def test_a_quoted_cell_across_lines_takes_the_slow_path(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b'phonenumber,name\n5162065575,"one\ntwo"\n'
    assert csv_source._field_counts(data) is None  # one chunk: a newline inside quotes
    # Cut inside the quoted cell: the first chunk has an odd number of quotes.
    monkeypatch.setattr(csv_source, "FIELD_COUNT_CHUNK", data.index(b"one"))
    assert csv_source._field_counts(data) is None


@pytest.mark.parametrize("chunk", [1, 3, 1024])
def test_ragged_lines_by_line_after_the_header(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_source, "FIELD_COUNT_CHUNK", chunk)
    # Lines after the header: 1 has 3 fields (the quoted comma is one field's), 2 and 3 are
    # blank (not ragged), 4 has 1 field, 5 the header's 2.
    counts = csv_source._field_counts(b'a,b\n1,"2,3",4\n\n \r\n5\n6,7')
    assert counts is not None
    width, ragged = counts
    assert width == 2
    assert ragged.rows() == [(1, 3), (4, 1)]


def test_field_counts_start_at_the_header() -> None:
    # The lines before `start` (a `# kind:` line) are not counted: the header is line 0.
    data = b"# kind: did\na,b,c\n1,2\n"
    counts = csv_source._field_counts(data, data.index(b"a,b"))
    assert counts is not None
    assert counts[0] == 3
    assert counts[1].rows() == [(1, 2)]
