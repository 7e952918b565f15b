"""What earlier runs sent, for the sending kinds the API keeps no trace of.

A push notification, a verification SMS or a TTS text carries nothing the API lets bulkx find
again (no user_data, no attributes, no list). For those the run journals under the same root
are the only record, so they decide: an item an earlier run against the same target sent is
not sent again, and one whose answer was lost may have gone out, so it is not sent again
either. Deleting `.bulkx/runs/` forgets them; that is the one way to lose this protection.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bulkx.errors import JournalError
from bulkx.journal.states import OpState
from bulkx.journal.store import JournalReader, runs_dir


@dataclass(frozen=True)
class EarlierSend:
    run_id: str
    sid: str | None
    #: False when the answer was lost (or the run never finished it): it may have gone out.
    certain: bool


def earlier_sends(
    root: str | Path, target_label: str, kind: str, keys: Iterable[str]
) -> dict[str, EarlierSend]:
    """For each of `keys` of `kind` that a run under `root` against `target_label` sent (or may
    have sent), the latest such run; a certain send wins over an uncertain one."""
    wanted = set(keys)
    found: dict[str, EarlierSend] = {}
    directory = runs_dir(root)
    if not wanted or not directory.is_dir():
        return found
    for db in sorted(directory.glob("*.db")):
        try:
            with JournalReader.open(root, db.stem) as reader:
                if reader.run().target_label != target_label:
                    continue
                sends = _sends_in(reader, kind)
        except JournalError:
            continue  # a journal being created, or one from another bulkx version
        for key, send in sends.items():
            if key in wanted and (send.certain or not found.get(key, send).certain):
                found[key] = send
    return found


def _sends_in(reader: JournalReader, kind: str) -> dict[str, EarlierSend]:
    rows = reader.creates_of(kind)
    run_id = reader.run_id
    out: dict[str, EarlierSend] = {}
    for row in rows:
        state = row["state"]
        if state == OpState.SUCCEEDED:
            out[row["key"]] = EarlierSend(run_id, row["remote_sid"], certain=True)
        elif state in (OpState.IN_FLIGHT, OpState.UNKNOWN) or (
            state == OpState.FAILED and row["was_unknown"]
        ):
            out[row["key"]] = EarlierSend(run_id, None, certain=False)
    return out
