"""What earlier runs sent, for the sending kinds the API keeps no trace of.

A push notification, a verification SMS or a TTS text carries nothing the API lets bulkx find
again (no user_data, no attributes, no list). For those the run journals under the same root
are the only record, so they decide: an item an earlier run against the same target sent is
not sent again, and one whose answer was lost may have gone out, so it is not sent again
either. Deleting `.bulkx/runs/` forgets them; that is the one way to lose this protection.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bulkx.errors import JournalError
from bulkx.journal.reader import JournalReader
from bulkx.journal.run_files import runs_dir
from bulkx.journal.states import OpState


@dataclass(frozen=True)
class EarlierSend:
    run_id: str
    sid: str | None
    #: False when the answer was lost (or the run never finished it): it may have gone out.
    certain: bool


def earlier_sends(
    root: str | Path, target_label: str, wanted: Mapping[str, Iterable[str]]
) -> dict[tuple[str, str], EarlierSend]:
    """For each (kind, key) of `wanted` that a run under `root` against `target_label` sent (or
    may have sent), the latest such run; a certain send wins over an uncertain one. Each
    journal is opened once, whatever the number of kinds."""
    keys = {(kind, key) for kind, some in wanted.items() for key in some}
    found: dict[tuple[str, str], EarlierSend] = {}
    directory = runs_dir(root)
    if not keys or not directory.is_dir():
        return found
    for db in sorted(directory.glob("*.db")):
        try:
            with JournalReader.open(root, db.stem) as reader:
                if reader.run().target_label != target_label:
                    continue
                sends = {
                    (kind, key): send
                    for kind in wanted
                    for key, send in _sends_in(reader, kind).items()
                }
        except JournalError:
            continue  # a journal being created, or one from another bulkx version
        for item, send in sends.items():
            if item in keys and (send.certain or not found.get(item, send).certain):
                found[item] = send
    return found


def _sends_in(reader: JournalReader, kind: str) -> dict[str, EarlierSend]:
    out: dict[str, EarlierSend] = {}
    for row in reader.creates_of(kind):
        state = row["state"]
        if state == OpState.SUCCEEDED:
            out[row["key"]] = EarlierSend(reader.run_id, row["remote_sid"], certain=True)
        elif state in (OpState.IN_FLIGHT, OpState.UNKNOWN) or (
            state == OpState.FAILED and row["was_unknown"]
        ):
            out[row["key"]] = EarlierSend(reader.run_id, None, certain=False)
    return out
