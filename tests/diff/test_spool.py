"""A spooled changeset (`ChangeStream`) renders exactly as the same changes held whole."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bulkx.cli.render import render
from bulkx.diff.changes import Changeset
from bulkx.diff.spool import COMPACT, INDENTED, ChangeStream
from tests.diff.test_render import _changeset


def _rendered(changeset: Changeset | ChangeStream, fmt: str) -> str:
    out = io.StringIO()
    render(changeset, fmt, out)
    return out.getvalue()


#: Each format with the spools it may be read from (the text reads none).
READ_FROM = [
    ("text", ()),
    ("text", (COMPACT, INDENTED)),
    ("json", (INDENTED,)),
    ("json", (COMPACT,)),
    ("jsonl", (COMPACT,)),
    ("csv", (COMPACT, INDENTED)),
]


@pytest.mark.parametrize(("fmt", "spools"), READ_FROM)
def test_every_format_is_the_same_spooled_or_whole(fmt: str, spools: tuple[str, ...]) -> None:
    whole = _changeset()
    with ChangeStream(
        whole.plan_path, whole.plan_digest, whole.target, whole.created_at, spools
    ) as spooled:
        # Two chunks, as the diff gives them.
        spooled.add(whole.changes[:1])
        spooled.add(whole.changes[1:])
        assert _rendered(spooled, fmt) == _rendered(whole, fmt)
        assert spooled.has_changes and spooled.total == len(whole.changes)


def test_an_empty_changeset_renders_as_an_empty_one() -> None:
    whole = Changeset("p.yaml", "d", "the embedded sandbox", ())
    with ChangeStream("p.yaml", "d", "the embedded sandbox", "", (COMPACT, INDENTED)) as spooled:
        spooled.add([])
        for fmt in ("text", "json", "jsonl", "csv"):
            assert _rendered(spooled, fmt) == _rendered(whole, fmt)
        assert not spooled.has_changes


def test_the_spool_is_removed_on_close(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    whole = _changeset()
    with ChangeStream("p.yaml", "d", "t", "") as spooled:
        spooled.add(whole.changes)
        assert len(list(tmp_path.glob("bulkx-plan-*/changes.compact"))) == 1
        assert [c.key for c in spooled.changes] == [c.key for c in whole.changes]
    assert list(tmp_path.iterdir()) == []


def test_a_stream_for_the_text_alone_writes_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with ChangeStream("p.yaml", "d", "t", "", ()) as counted:
        counted.add(_changeset().changes)
        assert list(tmp_path.iterdir()) == []
        assert counted.doing == 3 and len(counted.first) == 3
