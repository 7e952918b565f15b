"""A plain script written the way CarrierX's docs and tools show it runs against the sandbox
unchanged but for the base URL.

SCRIPT below follows carrierx-utils' `bulk_order.py`: list `available_dids` with a `like`
filter, POST each phonenumber one by one (printing `.` or `@`), page with `count == limit` and
`offset += limit`, and, as the CDR tools do, follow `pagination.next`. It uses a Bearer token on
Core and HTTP Basic with an endpoint's login on an app API (Conference v2). It is plain text,
run with exec(), and the test only swaps its base URL: nothing in it knows about the sandbox.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Sandbox, module_sandbox

pytestmark = pytest.mark.timeout(60)

PRODUCTION = "https://api.carrierx.com"

SCRIPT = '''
"""Bulk order DIDs matching a pattern, route them to a trunk group, list what we own."""
import os
import sys

import httpx as requests  # the docs' scripts use `requests`; httpx takes the same calls

BASE_URL = "https://api.carrierx.com"
CORE = BASE_URL + "/core/v2"
TOKEN = os.environ["CX_TOKEN"]
HEADERS = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}


def available(pattern, quantity):
    response = requests.get(
        CORE + "/phonenumber/available_dids",
        params={"filter": 'phonenumber like "%s"' % pattern, "limit": quantity},
        headers=HEADERS,
    )
    response.raise_for_status()
    return [item["phonenumber"] for item in response.json()["items"]]


def bulk_order(numbers, trunk_group_sid, callback_url):
    rented, failed = [], []
    for number in numbers:
        data = {
            "phonenumber": number,
            "trunk_group_sid": trunk_group_sid,
            "callback_url": callback_url,
        }
        response = requests.post(CORE + "/phonenumber/dids", json=data, headers=HEADERS)
        if response.status_code == 200:
            sys.stdout.write(".")
            rented.append(response.json())
        else:
            sys.stdout.write("@")
            failed.append((number, response.status_code, response.json()["message"]))
        sys.stdout.flush()
    sys.stdout.write("\\n")
    return rented, failed


def list_by_offset(path, limit):
    """carrierx-utils style: keep going while a page comes back full."""
    items, offset = [], 0
    while True:
        params = {"limit": limit, "offset": offset}
        response = requests.get(CORE + path, params=params, headers=HEADERS)
        response.raise_for_status()
        page = response.json()
        items.extend(page["items"])
        if page["count"] != limit:
            return items
        offset += limit


def list_by_next(path, limit, filter_=None):
    """cdr-download style: follow pagination.next until there is none."""
    items = []
    params = {"limit": limit}
    if filter_:
        params["filter"] = filter_
    response = requests.get(CORE + path, params=params, headers=HEADERS)
    while True:
        response.raise_for_status()
        page = response.json()
        items.extend(page["items"])
        next_url = page["pagination"].get("next")
        if not next_url:
            return items
        response = requests.get(next_url, headers=HEADERS)


def conference_endpoint(name):
    """A Conference v2 endpoint; its own login and password are in its properties."""
    body = {"name": name, "type": "conference_v2"}
    response = requests.post(CORE + "/endpoints", json=body, headers=HEADERS)
    response.raise_for_status()
    endpoint = response.json()
    groups = list_by_next(
        "/trunk_groups", 100, 'trunks.endpoint_sid eq "%s"' % endpoint["endpoint_sid"]
    )
    return endpoint, groups[0]["trunk_group_sid"]


def conference_dids(endpoint):
    props = endpoint["properties"]
    response = requests.get(
        BASE_URL + "/conference/v2/dids",
        params={"limit": 100},
        auth=(props["login"], props["password"]),
    )
    response.raise_for_status()
    return response.json()["items"]


def main(pattern="1516%", quantity=12):
    endpoint, trunk_group_sid = conference_endpoint("bulk order")
    numbers = available(pattern, quantity)
    rented, failed = bulk_order(numbers + numbers[:2], trunk_group_sid, "https://example.com/sms")
    return {
        "numbers": numbers,
        "rented": rented,
        "failed": failed,
        "by_offset": list_by_offset("/phonenumber/dids", 5),
        "by_next": list_by_next("/phonenumber/dids", 5),
        "conference_dids": conference_dids(endpoint),
        "trunk_group_sid": trunk_group_sid,
    }
'''


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    yield from module_sandbox(tmp_path_factory, "docs_script", seed=7)


def run_script(
    base_url: str, token: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, Any], str]:
    source = SCRIPT.replace(PRODUCTION, base_url)
    assert source.count(base_url) == 1, "the base URL is the script's only change"
    monkeypatch.setenv("CX_TOKEN", token)
    namespace: dict[str, Any] = {"__name__": "bulk_order"}
    exec(compile(source, "bulk_order.py", "exec"), namespace)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result: dict[str, Any] = namespace["main"]()
    return result, out.getvalue()


def test_docs_style_script_runs_unchanged(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, printed = run_script(sandbox.url, sandbox.token, monkeypatch)
    numbers = result["numbers"]
    assert len(numbers) == 12
    assert all(n.startswith("1516") for n in numbers)
    # Twelve rented, then the two repeats refused (already ours): bulk_order.py's `.` and `@`.
    assert printed == "." * 12 + "@" * 2 + "\n"
    assert [d["phonenumber"] for d in result["rented"]] == numbers
    assert all(d["trunk_group_sid"] == result["trunk_group_sid"] for d in result["rented"])
    assert all(d["callback_url"] == "https://example.com/sms" for d in result["rented"])
    assert [(n, status) for n, status, _ in result["failed"]] == [(n, 409) for n in numbers[:2]]
    # Both paging styles see every DID exactly once, in the same order.
    by_offset = [d["did_sid"] for d in result["by_offset"]]
    by_next = [d["did_sid"] for d in result["by_next"]]
    assert by_offset == by_next == [d["did_sid"] for d in result["rented"]]
    # The app API, with Basic auth, sees the DIDs routed to its endpoint.
    assert sorted(d["phonenumber"] for d in result["conference_dids"]) == sorted(numbers)


def test_the_script_knows_nothing_of_the_sandbox() -> None:
    """The script is only text: nothing in it points at the sandbox until the URL is swapped."""
    assert "127.0.0.1" not in SCRIPT
    assert "sandbox" not in SCRIPT.lower()
    assert SCRIPT.count(PRODUCTION) == 1
