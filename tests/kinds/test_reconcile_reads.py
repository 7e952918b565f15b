"""Resuming a run that died with deletes in flight: each in-flight delete is looked up by its
sid before anything is resent. A 404 settles it (the dead process's DELETE went through); an
object still there is deleted. Every deletable kind with a path of its own is covered."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from bulkx.api import CarrierX, RetryPolicy, Secret, Target
from bulkx.diff.changes import NoOp, Release
from bulkx.diff.engine import diff
from bulkx.diff.read import read_live_state
from bulkx.engine.events import Progress
from bulkx.engine.executor import Executor, MemoryLedger
from bulkx.engine.operations import operations
from bulkx.engine.requests import Resolver, request_for
from bulkx.errors import TransportError
from bulkx.plan.model import ValidPlan
from bulkx.plan.validate import load_valid
from bulkx.sandbox.app import SandboxApp, SandboxConfig, create_app
from bulkx.sandbox.controls import SandboxTransport

CREATE = """
steps:
  - kind: endpoint
    items: [{name: pbx}, {name: spare-pbx}, {name: conf1, type: conference}]
  - kind: trunk_group
    items: [{name: east}]
  - kind: trunk
    items: [{trunk_group: east, name: east-1, endpoint: pbx}]
  - kind: did_group
    items: [{name: support}]
  - kind: prefix
    items: [{prefix: "1212555", trunk_group: east}]
  - kind: accesscontrol_rule
    items: [{name: no-premium, field: called, operation: prefix, quantifier: any,
             entries: ["1900"]}]
  - kind: push.application
    items: [{name: field-app}, {name: spare-app}]
  - kind: push.device
    items: [{device_token: tok-1, application: field-app, type: ios}]
  - kind: shortener.domain
    items: [{domain_name: go.example.com}, {domain_name: spare.example.com}]
  - kind: shortener.link
    items: [{domain: go.example.com, short_name: promo, destination_url: "https://example.com/a"}]
  - kind: storage.container
    items: [{name: prompts}, {name: spare}]
  - kind: storage.file
    items: [{container: prompts, name: hello.txt, path: hello.txt}]
  - kind: conference.did_group
    items: [{endpoint: conf1, name: main, call_flow_id: 1, description: Main line}]
  - kind: conference.did
    items: [{endpoint: conf1, phonenumber: "+1 212 555 0101", did_group: main}]
"""

DELETE = """
steps:
  - kind: endpoint
    items: [{name: pbx, ensure: absent}, {name: spare-pbx, ensure: absent},
            {name: conf1, type: conference}]
  - kind: trunk_group
    items: [{name: east}]
  - kind: trunk
    items: [{trunk_group: east, name: east-1, endpoint: pbx, ensure: absent}]
  - kind: did_group
    items: [{name: support, ensure: absent}]
  - kind: prefix
    items: [{prefix: "1212555", ensure: absent}]
  - kind: accesscontrol_rule
    items: [{name: no-premium, ensure: absent}]
  - kind: push.application
    items: [{name: field-app, ensure: absent}, {name: spare-app, ensure: absent}]
  - kind: push.device
    items: [{device_token: tok-1, application: field-app, type: ios, ensure: absent}]
  - kind: shortener.domain
    items: [{domain_name: go.example.com, ensure: absent},
            {domain_name: spare.example.com, ensure: absent}]
  - kind: shortener.link
    items: [{domain: go.example.com, short_name: promo, ensure: absent}]
  - kind: storage.container
    items: [{name: prompts, ensure: absent}, {name: spare, ensure: absent}]
  - kind: storage.file
    items: [{container: prompts, name: hello.txt, path: hello.txt, ensure: absent}]
  - kind: conference.did_group
    items: [{endpoint: conf1, name: main, call_flow_id: 1, description: Main line}]
  - kind: conference.did
    items: [{endpoint: conf1, phonenumber: "12125550101", ensure: absent}]
"""

#: When the first run died: deletes it had sent (the server carried them out, the answer never
#: came back)...
# fmt: off
SENT = {
    "trunk": "east/east-1", "push.device": "tok-1", "shortener.link": "go.example.com/promo",
    "storage.file": "prompts/hello.txt", "conference.did": "conf1/12125550101",
    "prefix": "1212555", "push.application": "spare-app", "shortener.domain": "spare.example.com",
}
# fmt: on
#: ... and deletes it had marked in flight but not sent yet. The rest (objects whose children go
#: first) were still waiting: a resumed run just sends them.
NOT_SENT = {
    "accesscontrol_rule": "no-premium",
    "did_group": "support",
    "storage.container": "spare",
    "endpoint": "spare-pbx",
}


class LosesDeleteAnswers(SandboxTransport):
    """Every DELETE is carried out, then its answer is lost (the sandbox's execute_then_reset
    fault, on for that one request); every other request is answered."""

    def __init__(self, app: SandboxApp) -> None:
        super().__init__(app)
        self.app = app

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "DELETE":
            return await super().handle_async_request(request)
        self.app.controls.set_faults("execute_then_reset=1", seed=1)
        try:
            return await super().handle_async_request(request)
        finally:
            self.app.controls.clear_faults()


def _plan(path: Path, text: str) -> ValidPlan:
    path.write_text(text)
    plan, diagnostics = load_valid(path)  # and typed, as apply does
    assert plan is not None, diagnostics
    return plan


async def _create(app: SandboxApp, plan: ValidPlan) -> None:
    async with _client(app, SandboxTransport(app)) as client:
        live = await read_live_state(client, plan)
        changes = diff(plan, live)
        ops = operations(changes, plan.digest)
        progress = await Executor(client, MemoryLedger(), Resolver.from_live(live)).run(
            ops, _changes_by_op(ops, changes)
        )
        assert progress.failed == 0


async def _die_then_resume(app: SandboxApp, plan: ValidPlan) -> tuple[Progress, list[object]]:
    """Plan the deletes; send the ones in SENT with their answers lost (the run died there);
    then resume with SENT and NOT_SENT in flight. What the resumed run did, and what a new plan
    would still change."""
    async with (
        _client(app, SandboxTransport(app)) as client,
        _client(app, LosesDeleteAnswers(app)) as dying,
    ):
        live = await read_live_state(client, plan)
        changes = diff(plan, live, allow_release=True)
        ops = operations(changes, plan.digest)
        by_key = _changes_by_op(ops, changes)
        resolver = Resolver.from_live(live)
        in_flight = set()
        for op in ops:
            change = by_key[op.op_key]
            if SENT.get(op.kind) == op.key:
                request = request_for(change, resolver)
                assert isinstance(change, Release) and request is not None
                with pytest.raises(TransportError):
                    await dying.request(
                        request.api, request.method, request.path, endpoint=request.endpoint
                    )
            if op.key in (SENT.get(op.kind), NOT_SENT.get(op.kind)):
                in_flight.add(op.op_key)
        assert len(in_flight) == len(SENT) + len(NOT_SENT)
        resumed = Executor(client, MemoryLedger(), resolver, concurrency=1)
        progress = await resumed.run(ops, by_key, unknown=frozenset(in_flight))
        again = diff(plan, await read_live_state(client, plan), allow_release=True)
    return progress, [c for c in again if not isinstance(c, NoOp)]


def _client(app: SandboxApp, transport: httpx.AsyncBaseTransport) -> CarrierX:
    target = Target("http://127.0.0.1/core/v2", is_sandbox=True, label="sandbox")
    return CarrierX(target, Secret("t"), transport=transport, retry=RetryPolicy.never())


def _changes_by_op(ops: list[Any], changes: list[Any]) -> dict[str, Any]:
    return {
        op.op_key: next(c for c in changes if (c.step, c.kind, c.key) == (op.step, op.kind, op.key))
        for op in ops
    }


def test_a_resumed_run_reads_each_in_flight_delete_before_resending(tmp_path: Path) -> None:
    app = create_app(SandboxConfig(db=tmp_path / "w.db", seed=5, token="t"))
    (tmp_path / "hello.txt").write_bytes(b"hello\n")
    asyncio.run(_create(app, _plan(tmp_path / "create.yaml", CREATE)))
    start = app.controls.log.last_seq

    progress, leftover = asyncio.run(_die_then_resume(app, _plan(tmp_path / "delete.yaml", DELETE)))
    assert (progress.done, progress.failed) == (16, 0)
    assert leftover == []
    log = app.controls.log.entries(start, 10_000)
    lost = [e for e in log if e["fault"] == "execute_then_reset"]
    assert len(lost) == len(SENT)
    resumed = [e for e in log if e["seq"] > lost[-1]["seq"]]
    deleted = {e["path"] for e in resumed if e["method"] == "DELETE"}
    # A delete that went through is read (404) and never sent again...
    for sent in lost:
        on_it = [(e["method"], e["status"]) for e in resumed if e["path"] == sent["path"]]
        assert on_it == [("GET", 404)], sent
    # ... one that never left is read (still there), then sent.
    found = [
        e for e in resumed if e["method"] == "GET" and e["status"] == 200 and e["path"] in deleted
    ]
    assert len(found) == len(NOT_SENT)
    looked_up = sorted(_shape(e["path"]) for e in [*found, *lost])
    assert looked_up == sorted(
        [
            "/conference/v1/dids/{}",
            "/core/v2/accesscontrol/rules/{}",
            "/core/v2/endpoints/{}",
            "/core/v2/phonenumber/did_groups/{}",
            "/core/v2/phonenumber/prefixes/{}",
            "/core/v2/push/applications/{}",
            "/core/v2/push/devices/{}",
            "/core/v2/shortener/domains/{}",
            "/core/v2/shortener/links/{}",
            "/core/v2/storage/containers/{}",
            "/core/v2/storage/files/{}",
            "/core/v2/trunk_groups/{}/trunks/{}",
        ]
    )


def _shape(path: str) -> str:
    """A logged path with its sids written `{}`."""
    return "/".join(
        "{}" if any(c.isdigit() for c in part) and part not in ("v1", "v2") else part
        for part in path.split("/")
    )
