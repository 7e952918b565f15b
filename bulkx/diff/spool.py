"""A changeset of any size, kept on disk as it is diffed: what `bulkx plan` and `bulkx audit`
show of a plan of a million rows in bounded memory.

`ChangeStream` takes the changes chunk by chunk (`bulkx.diff.chunks`), writes each as a line of
JSON to a spool file, and counts them as `ChangeSummary` does. What a person reads first (the
first changes that do something, the `count:` steps) stays in memory, bounded; everything else
is read back from the spool, once per output, in the order the diff made it.

It answers as a `Changeset` does (`ChangesetLike`), so every renderer takes either.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, TextIO

from bulkx.diff.changes import (
    Change,
    NoOp,
    RentByCriteria,
    change_as_dict,
    change_from_dict,
)
from bulkx.diff.summary import ChangeSummary
from bulkx.errors import ConfigError
from bulkx.json_text import indented_joined

#: Changes that do something, kept in memory for the text output (it lists 200).
KEPT_FIRST = 200

#: The spools a stream can keep, each for the outputs that read it back:
#: a line of JSON per change (`-o jsonl`, `-o csv`, the changes read back as objects)...
COMPACT = "compact"
#: ...and the changes of `json.dumps(changeset.as_dict(), indent=2)` as they come (`-o json`,
#: `--save`), written between the document's head and its tail.
INDENTED = "indented"
EMPTY_TAIL = "[]\n}"
FIRST_CHANGE = "\n    "
CHANGE_SEPARATOR = ",\n    "
CLOSING_TAIL = "\n  ]\n}\n"


def indented_changes(dicts: Sequence[dict[str, Any]], *, first: bool) -> str:
    """Changes as they stand in `json.dumps(changeset.as_dict(), indent=2)`'s list of them,
    `first` when none came before them."""
    if not dicts:
        return ""
    return (FIRST_CHANGE if first else CHANGE_SEPARATOR) + indented_joined(dicts, 2)


def _cannot_spool(error: OSError) -> ConfigError:
    """A spool that cannot be written (a full disk, a read-only TMPDIR): exit 6, with a hint."""
    return ConfigError(
        f"cannot keep the changes in {tempfile.gettempdir()}: {error.strerror or error}",
        hint="point TMPDIR at a directory with room (the changes take ~300 bytes each)",
    )


class ChangesetLike(Protocol):
    """What the renderers read of a changeset: held whole (`Changeset`) or spooled."""

    @property
    def plan_path(self) -> str: ...

    @property
    def plan_digest(self) -> str: ...

    @property
    def target(self) -> str: ...

    @property
    def created_at(self) -> str: ...

    @property
    def changes(self) -> Iterable[Change]: ...

    def counts(self) -> dict[str, dict[str, int]]: ...

    def monthly_cost(self) -> float: ...

    def header(self) -> dict[str, Any]: ...


class ChangeStream:
    """Changes as they come, spooled to a private temporary directory (removed on close)."""

    def __init__(
        self,
        plan_path: str,
        plan_digest: str,
        target: str,
        created_at: str,
        spools: Collection[str] = (COMPACT,),
    ) -> None:
        self.plan_path = plan_path
        self.plan_digest = plan_digest
        self.target = target
        self.created_at = created_at
        self.summary = ChangeSummary()
        #: The first KEPT_FIRST changes that do something, and every `count:` step's rent.
        self.first: list[Change] = []
        self.rents: list[RentByCriteria] = []
        self.total = 0
        #: Changes that do something (not a `NoOp`), each counted once.
        self.doing = 0
        self._dir: Path | None = None
        self._files: dict[str, tuple[Path, TextIO]] = {}
        if spools:
            try:
                self._dir = Path(tempfile.mkdtemp(prefix="bulkx-plan-"))
                for name in sorted(set(spools)):
                    path = self._dir / f"changes.{name}"
                    self._files[name] = (path, path.open("w", encoding="utf-8"))
            except OSError as error:
                self.close()
                raise _cannot_spool(error) from None

    def add(self, changes: Iterable[Change]) -> None:
        batch = list(changes)
        self.summary.add(batch)
        for change in batch:
            if isinstance(change, RentByCriteria):
                self.rents.append(change)
            if not isinstance(change, NoOp):
                self.doing += 1
                if len(self.first) < KEPT_FIRST:
                    self.first.append(change)
        if self._files and batch:
            self._spool([change_as_dict(change) for change in batch])
        self.total += len(batch)

    def _spool(self, dicts: list[dict[str, Any]]) -> None:
        try:
            if COMPACT in self._files:
                lines = [json.dumps(d, default=str) for d in dicts]
                self._files[COMPACT][1].write("\n".join(lines) + "\n")
            if INDENTED in self._files:
                self._files[INDENTED][1].write(indented_changes(dicts, first=self.total == 0))
        except OSError as error:
            raise _cannot_spool(error) from None

    def finish(self) -> None:
        """No more changes: the spools are complete and can be read."""
        for _, handle in self._files.values():
            if not handle.closed:
                try:
                    handle.close()
                except OSError as error:
                    raise _cannot_spool(error) from None

    def spools(self, name: str) -> bool:
        return name in self._files

    def copy_spool(self, name: str, out: TextIO) -> None:
        """The spool `name` as it was written, onto `out`."""
        self.finish()
        with self._files[name][0].open(encoding="utf-8") as spooled:
            shutil.copyfileobj(spooled, out, 1 << 20)

    # --- read back, as a Changeset -----------------------------------------------------

    def lines(self) -> Iterator[str]:
        """Each change as the JSON line spooled (`change_as_dict`, encoded)."""
        if COMPACT not in self._files:
            raise ValueError("this stream keeps no compact spool to read changes back from")
        self.finish()
        with self._files[COMPACT][0].open(encoding="utf-8") as spooled:
            for line in spooled:
                yield line.rstrip("\n")

    @property
    def changes(self) -> Iterator[Change]:
        return (change_from_dict(json.loads(line)) for line in self.lines())

    def counts(self) -> dict[str, dict[str, int]]:
        return self.summary.counts()

    def monthly_cost(self) -> float:
        return self.summary.monthly_cost()

    @property
    def has_changes(self) -> bool:
        return self.doing > 0

    def header(self) -> dict[str, Any]:
        """As `Changeset.header()`: the summary's, without its count of drifted changes (a
        plan's changeset has none: it is not a saved one applied later)."""
        head = self.summary.header(self.plan_path, self.plan_digest, self.target, self.created_at)
        del head["drifted"]
        return head

    def close(self) -> None:
        with contextlib.suppress(ConfigError):  # closing after a failed write: it failed already
            self.finish()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> ChangeStream:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ChangeStream({self.plan_path!r}, {self.total} changes)"
