"""Each documented request/response sample, sent to a served sandbox and compared with the
documented response: its keys, the types of its values, its defaults and its status.

A difference the sandbox keeps on purpose is recorded with the sample (`Recorded`), naming the
constant of bulkx.sandbox.assumptions that explains it, and is asserted like the rest: the answer
must differ exactly where and how it is recorded. Nothing is skipped. The score printed in
docs/sandbox.md (samples with no recorded difference / samples) is kept current by a test here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bulkx.sandbox import assumptions
from tests.conftest import Sandbox, module_sandbox
from tests.sandbox.documented_samples import score
from tests.sandbox.documented_samples.givens import GIVENS, given
from tests.sandbox.documented_samples.model import Diff, Sample, compare, fill
from tests.sandbox.documented_samples.samples import SAMPLES

pytestmark = pytest.mark.timeout(60)

#: The docs, the older single-page docs, and a mirror of the docs (quick.schlameel.com).
DOCS_PAGES = (
    "https://docs.carrierx.com/",
    "https://www.carrierx.com/documentation/",
    "https://quick.schlameel.com/docs/",
)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    yield from module_sandbox(tmp_path_factory, "documented_samples", seed=11)


def send(client: httpx.Client, sample: Sample, values: dict[str, Any]) -> httpx.Response:
    path = fill(sample.path, values)
    query = fill(dict(sample.query), values)
    if sample.form is not None:
        return client.request(sample.method, path, params=query, data=fill(sample.form, values))
    if sample.method in ("POST", "PATCH", "PUT"):
        return client.request(sample.method, path, params=query, json=fill(sample.body, values))
    return client.request(sample.method, path, params=query)


def differences(sample: Sample, response: httpx.Response) -> list[Diff]:
    """How the answer differs from the documented one (status first)."""
    found: list[Diff] = []
    if response.status_code != sample.status:
        found.append(Diff("", "status", str(sample.status), str(response.status_code)))
    answered: Any = response.json() if response.content else None
    if sample.mediator_wrapped and response.status_code < 400:
        assert set(answered) == {"body", "status"}, answered  # the documented wrapper
        assert answered["status"] == response.status_code
        answered = answered["body"]
    if sample.response is None:
        if answered is not None:
            found.append(Diff("", "type", "no body", "a body"))
        return found
    return found + compare(sample.response, answered)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
def test_documented_sample(sandbox: Sandbox, sample: Sample) -> None:
    with given(sandbox, sample.given) as setup:
        assert setup.client is not None
        response = send(setup.client, sample, setup.values)
        found = differences(sample, response)
    recorded = {(r.path, r.kind): r for r in sample.recorded}
    unexplained = [d for d in found if (d.path, d.kind) not in recorded]
    assert not unexplained, (
        f"{sample.page}: the answer differs from the documented one:\n  "
        + "\n  ".join(map(str, unexplained))
        + f"\nanswer: {response.text[:2000]}"
    )
    absent = sorted(set(recorded) - {(d.path, d.kind) for d in found})
    assert not absent, f"recorded differences that no longer occur: {absent}"
    answered: Any = response.json() if response.content else None
    if sample.mediator_wrapped and response.status_code < 400:
        answered = answered["body"]
    for item in sample.recorded:
        if item.answered is not None:
            assert _at(answered, item.path) == item.answered, item


def _at(data: Any, path: str) -> Any:
    for part in path.split(".") if path else ():
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def test_the_samples_are_well_formed() -> None:
    names = [s.name for s in SAMPLES]
    assert len(names) == len(set(names)), "sample names are unique"
    assert len(SAMPLES) >= 60
    assert {s.api for s in SAMPLES} == {
        "core",
        "conference_v1",
        "conference_v2",
        "flexml",
        "mediator",
    }
    for sample in SAMPLES:
        assert sample.page.startswith(DOCS_PAGES), sample.name
        assert sample.given in GIVENS, sample.name
        assert sample.name.startswith(sample.api.split("_")[0]), sample.name
        for item in sample.recorded:
            assert item.assumption.isupper() and hasattr(assumptions, item.assumption), item


def test_the_score_in_the_docs_is_current() -> None:
    text = score.DOC.read_text()
    assert score.refresh(text) == text, f"regenerate: {score.COMMAND}"
    assert score.score_line() in text
