"""The journal queries a run loads its operations with, a chunk at a time."""

from __future__ import annotations

from pathlib import Path

from bulkx.journal import Journal, OpStatus
from tests.journal.conftest import new_ops


def test_ops_after_merges_the_states_asked_in_op_id_order(journal: Journal) -> None:
    ids = journal.add_ops(new_ops(10))
    journal.start([ids[1], ids[4], ids[6]])
    journal.unknown(ids[1], "reset")
    journal.succeed(ids[4], "sid-4")
    journal.unknown(ids[6], "reset")
    left = ("pending", "unknown")
    page = journal.ops_after(0, left, 4)
    assert [op.op_id for op in page] == ids[:4]
    assert [op.state for op in page] == ["pending", "unknown", "pending", "pending"]
    page = journal.ops_after(page[-1].op_id or 0, left, 4)
    assert [op.op_id for op in page] == [ids[5], ids[6], ids[7], ids[8]]  # not the succeeded
    assert journal.ops_after(ids[8], left, 4)[0].op_id == ids[9]
    assert journal.ops_after(ids[9], left, 4) == []
    assert journal.ops_after(0, (), 4) == [] and journal.ops_after(0, left, 0) == []


def test_op_statuses_answers_for_the_keys_asked_only(journal: Journal) -> None:
    ids = journal.add_ops(new_ops(1200))
    journal.start([ids[3]])
    journal.succeed(ids[3], "sid-3")
    asked = {f"key-{i:06d}" for i in range(0, 1200, 2)} | {"not-in-this-run"}
    found = journal.op_statuses(asked)
    assert len(found) == 600  # more keys than one IN (...) takes
    assert "not-in-this-run" not in found
    assert journal.op_statuses(["key-000003"])["key-000003"] == OpStatus(
        "key-000003", ids[3], "succeeded", "did", "+15550000003", "create", "sid-3"
    )


def test_refs_of_reads_the_keys_asked_only(tmp_path: Path) -> None:
    refs = {("trunk_group", f"tg-{i}"): f"sid-{i}" for i in range(700)}
    refs[("did", "15550001")] = "did-sid"
    journal = Journal.create(
        tmp_path,
        plan_path="p.yaml",
        plan_digest="d",
        target_label="sandbox",
        is_sandbox=True,
        options={},
        changeset_json="{}",
        refs=refs,
    )
    wanted = {"trunk_group": {f"tg-{i}" for i in range(700)} | {"tg-none"}, "did": set()}
    found = journal.refs_of(wanted)
    assert found == {k: v for k, v in refs.items() if k[0] == "trunk_group"}
    assert journal.refs_of({"did": {"15550001"}}) == {("did", "15550001"): "did-sid"}
    assert journal.refs_of({}) == {}
    journal.close()
