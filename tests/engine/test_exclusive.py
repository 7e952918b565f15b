"""What a run claims (issue 15, item 1): every object its plan names by natural key, an SMS by
its `ref`, a rent-by-count step by its name; a resume the same keys from its operations."""

from __future__ import annotations

from pathlib import Path

from bulkx.engine.exclusive import op_claims, plan_claims, target_key
from bulkx.plan.load import load_plan

PLAN = """version: 1
steps:
  - kind: trunk_group
    name: groups
    items:
      - name: sip-01
  - kind: did
    name: rent-ny
    count: 5
    criteria:
      state: NY
  - kind: sms.message
    name: notices
    source: sms.csv
    defaults:
      ref: "notice-{customer_id}"
      from: '+15162065575'
      message: "Hi {first_name}"
"""


def test_a_plan_claims_its_objects_its_rent_step_and_each_sms_ref(tmp_path: Path) -> None:
    (tmp_path / "sms.csv").write_text(
        "customer_id,first_name,to\n7,Ann,+12125550100\n8,Bob,+12125550101\n"
    )
    (tmp_path / "plan.yaml").write_text(PLAN)
    plan, problems = load_plan(tmp_path / "plan.yaml")
    assert plan is not None, problems
    assert sorted(plan_claims(plan)) == [
        "did:rent:rent-ny",
        "sms.message:notice-7",  # the ref, its template filled: one claim per message
        "sms.message:notice-8",
        "trunk_group:sip-01",
    ]


def test_a_resume_claims_the_same_keys_from_its_operations() -> None:
    rows = [
        ("trunk_group", "sip-01", "groups", "create"),
        ("did", "state=NY", "rent-ny", "rent"),
        ("sms.message", "notice-7", "notices", "create"),
    ]
    assert list(op_claims(rows)) == [
        "trunk_group:sip-01",
        "did:rent:rent-ny",
        "sms.message:notice-7",
    ]


def test_a_target_is_its_base_url_or_its_sandbox_file(tmp_path: Path) -> None:
    assert target_key("https://api.carrierx.com/core/v2/", "x.db") == (
        "https://api.carrierx.com/core/v2"
    )
    assert target_key(None, str(tmp_path / "s.db")) == f"sandbox:{tmp_path / 's.db'}"
