"""The list behaviour every stored Core resource shares, over real HTTP: paging (limit, offset,
pagination next/previous, after/before cursors), ordering, every filter operator, field
selection, and the errors of a bad query.

The module's sandbox holds 25 prefixes (`p00`..`p24`), two trunk groups with trunks, and three
DIDs from inventory blocks with different capabilities; the tests only read them.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bulkx.sandbox import assumptions
from bulkx.sandbox.app import SandboxConfig, create_app
from bulkx.sandbox.server import serve_in_thread
from tests.conftest import TOKEN, Sandbox

pytestmark = pytest.mark.timeout(60)

PREFIXES = "/phonenumber/prefixes"
COUNT = 25


@dataclass
class World:
    sandbox: Sandbox
    core: httpx.Client
    #: The prefixes in creation order, as created.
    prefixes: list[dict[str, Any]]
    #: name -> trunk group, created with trunks
    groups: dict[str, dict[str, Any]]
    #: capabilities -> DID
    dids: dict[int, dict[str, Any]]

    @property
    def sids(self) -> list[str]:
        return [p["prefix_sid"] for p in self.prefixes]


def _prefix_body(i: int) -> dict[str, Any]:
    return {
        "prefix": f"1800{i:03d}",
        "name": f"p{i:02d}",
        "attributes": {"region": "east" if i % 2 else "west", "n": i, "label": f"Item {i}"},
        # Every third one has no string_key_1 (null), for eq null / ne.
        "string_key_1": None if i % 3 == 0 else f"k{i % 4}",
        "callback_url": f"https://cb.example/{i}",
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    db: Path = tmp_path_factory.mktemp("core_lists") / "sandbox.db"
    app = create_app(SandboxConfig(db=db, seed=11, token=TOKEN))
    with serve_in_thread(app) as server:
        sandbox = Sandbox(server.url, app.world)
        with sandbox.core() as core:
            prefixes = [ok(core.post(PREFIXES, json=_prefix_body(i))) for i in range(COUNT)]
            groups = {}
            for name, trunks in (("alpha", ["x", "y"]), ("beta", ["z"]), ("gamma", [])):
                body = {
                    "name": name,
                    "trunks": [{"name": t, "priority": n} for n, t in enumerate(trunks)],
                }
                groups[name] = ok(
                    core.post("/trunk_groups", params={"with_trunks": "true"}, json=body)
                )
            dids: dict[int, dict[str, Any]] = {}
            for block in app.world.inventory.blocks:
                if block.capabilities not in dids:
                    dids[block.capabilities] = ok(
                        core.post("/phonenumber/dids", json={"phonenumber": f"{block.prefix}0042"})
                    )
            yield World(sandbox, core, prefixes, groups, dids)


# --- helpers ---------------------------------------------------------------------------------


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == set(assumptions.ERROR_BODY_KEYS), body
    assert body["errors"], "an error names what was wrong"
    for item in body["errors"]:
        assert set(item) == set(assumptions.ERROR_ITEM_KEYS), item
    return body


def page(world: World, path: str = PREFIXES, **params: Any) -> dict[str, Any]:
    result: dict[str, Any] = ok(world.core.get(path, params=params))
    return result


def names(result: dict[str, Any]) -> list[str]:
    return [item["name"] for item in result["items"]]


def where(world: World, flt: str, path: str = PREFIXES, **params: Any) -> list[str]:
    """The names a filter selects (everything on one page)."""
    result = page(world, path, filter=flt, limit=1000, **params)
    assert result["total"] == result["count"]
    return names(result)


def all_names(world: World) -> list[str]:
    return [p["name"] for p in world.prefixes]


def follow(world: World, url: str) -> dict[str, Any]:
    """A pagination URL is absolute and carries the whole query."""
    assert url.startswith(world.sandbox.core_url), url
    result: dict[str, Any] = ok(world.core.get(url))
    return result


# --- paging -------------------------------------------------------------------------------------


def test_limit_offset_total_has_more(world: World) -> None:
    first = page(world)
    assert first["limit"] == assumptions.LIST_LIMIT_DEFAULT
    assert first["offset"] == 0
    assert first["total"] == COUNT
    assert first["count"] == 10
    assert first["has_more"] is True
    assert names(first) == all_names(world)[:10], "the default order is creation order"
    middle = page(world, limit=5, offset=5)
    assert names(middle) == all_names(world)[5:10]
    assert middle["has_more"] is True
    assert middle["total"] == COUNT
    last = page(world, limit=5, offset=20)
    assert names(last) == all_names(world)[20:]
    assert last["has_more"] is False
    assert "next" not in last["pagination"]
    beyond = page(world, limit=5, offset=40)
    assert beyond["items"] == []
    assert beyond["count"] == 0
    assert beyond["has_more"] is False
    assert beyond["total"] == COUNT
    exact = page(world, limit=COUNT)
    assert exact["has_more"] is False
    assert exact["pagination"] == {}
    empty = page(world, limit=0)
    assert empty["items"] == []
    assert empty["total"] == COUNT
    assert "next" not in empty["pagination"], "a next link to the same page would never end"
    for bad in ({"limit": -1}, {"offset": -5}, {"limit": "ten"}, {"offset": "1.5"}):
        assert error_of(world.core.get(PREFIXES, params=bad), 400)["errors"][0]["field"] in bad
    error_of(
        world.core.get(PREFIXES, params={"limit": 1001}), assumptions.LIST_LIMIT_TOO_LARGE_STATUS
    )


def test_pagination_next_and_previous(world: World) -> None:
    result = page(world, limit=7, filter='attributes.region eq "west"')
    assert result["total"] == 13
    assert "previous" not in result["pagination"]
    forward = [names(result)]
    while "next" in result["pagination"]:
        result = follow(world, result["pagination"]["next"])
        forward.append(names(result))
    assert [len(p) for p in forward] == [7, 6]
    west = [n for i, n in enumerate(all_names(world)) if i % 2 == 0]
    assert [n for names_ in forward for n in names_] == west
    if assumptions.PAGINATION_HAS_PREVIOUS:
        back = follow(world, result["pagination"]["previous"])
        assert names(back) == forward[0]
        assert back["offset"] == 0
    # The URLs keep the filter and the limit.
    query = urllib.parse.parse_qs(
        urllib.parse.urlsplit(page(world, limit=7)["pagination"]["next"]).query
    )
    assert query == {"limit": ["7"], "offset": ["7"]}


def test_pagination_previous_from_the_middle(world: World) -> None:
    if not assumptions.PAGINATION_HAS_PREVIOUS:
        pytest.fail("the sandbox documents pagination.previous; update this test with the constant")
    result = page(world, limit=4, offset=10, order="name desc")
    assert names(result) == sorted(all_names(world), reverse=True)[10:14]
    previous = follow(world, result["pagination"]["previous"])
    assert previous["offset"] == 6
    assert names(previous) == sorted(all_names(world), reverse=True)[6:10]
    nxt = follow(world, result["pagination"]["next"])
    assert nxt["offset"] == 14


def test_order(world: World) -> None:
    ordered = sorted(all_names(world))
    assert names(page(world, order="name asc", limit=100)) == ordered
    assert names(page(world, order="name", limit=100)) == ordered
    assert names(page(world, order="name desc", limit=100)) == ordered[::-1]
    # The docs spell it `order=name+desc`: a '+' in a raw query string is a space...
    raw = ok(world.core.get(f"{world.sandbox.core_url}{PREFIXES}?order=name+desc&limit=100"))
    assert names(raw) == ordered[::-1]
    # ...and a literal '+' (sent encoded as %2B) means the same.
    assert names(page(world, order="name+desc", limit=100)) == ordered[::-1]
    assert names(page(world, order="prefix DESC", limit=3)) == ["p24", "p23", "p22"]
    # Pages of an ordered list line up.
    pages = [names(page(world, order="name desc", limit=10, offset=o)) for o in (0, 10, 20)]
    assert [n for names_ in pages for n in names_] == ordered[::-1]
    shuffles = [names(page(world, order="shuffle", limit=100)) for _ in range(5)]
    for shuffled in shuffles:
        assert sorted(shuffled) == ordered
    assert any(s != all_names(world) for s in shuffles), "shuffle is a random order"
    error_of(world.core.get(PREFIXES, params={"order": "name sideways"}), 400)
    error_of(world.core.get(PREFIXES, params={"order": "attributes"}), 400)
    error_of(world.core.get(PREFIXES, params={"order": "nosuch desc"}), 400)


def test_after_and_before_cursors(world: World) -> None:
    sids, all_ = world.sids, all_names(world)
    after = page(world, after=sids[4], limit=5)
    assert names(after) == all_[5:10]
    assert after["has_more"] is True
    nxt = follow(world, after["pagination"]["next"])
    assert names(nxt) == all_[10:15]
    if assumptions.PAGINATION_HAS_PREVIOUS:
        back = follow(world, nxt["pagination"]["previous"])
        assert names(back) == all_[5:10]
    before = page(world, before=sids[10], limit=3)
    assert names(before) == all_[7:10]
    assert before["has_more"] is True
    assert names(follow(world, before["pagination"]["next"])) == all_[10:13]
    if assumptions.PAGINATION_HAS_PREVIOUS:
        assert names(follow(world, before["pagination"]["previous"])) == all_[4:7]
    start = page(world, before=sids[2], limit=5)
    assert names(start) == all_[:2]
    assert start["has_more"] is False
    assert "previous" not in start["pagination"]
    end = page(world, after=sids[-1])
    assert end["items"] == []
    assert end["has_more"] is False
    assert "next" not in end["pagination"]
    # Cursors follow the order.
    desc = page(world, after=sids[3], order="name desc", limit=10)
    assert names(desc) == ["p02", "p01", "p00"]
    assert desc["has_more"] is False
    # Walk the whole list by `after` cursors: every item once.
    seen: list[str] = []
    result = page(world, limit=6, after=sids[0])
    seen.extend(names(result))
    while result["has_more"]:
        result = page(world, limit=6, after=result["items"][-1]["prefix_sid"])
        seen.extend(names(result))
    assert seen == all_[1:]
    # Misuse.
    error_of(world.core.get(PREFIXES, params={"after": sids[1], "before": sids[5]}), 400)
    error_of(world.core.get(PREFIXES, params={"after": sids[1], "offset": 3}), 400)
    error_of(world.core.get(PREFIXES, params={"after": "no-such-sid"}), 400)


# --- filters ----------------------------------------------------------------------------------


def test_comparison_operators(world: World) -> None:
    all_ = all_names(world)
    assert where(world, 'name eq "p03"') == ["p03"]
    assert where(world, "name eq 'p03'") == ["p03"]
    assert where(world, "name eq p03") == ["p03"]
    assert where(world, 'name ne "p03"') == [n for n in all_ if n != "p03"]
    assert where(world, 'name gt "p21"') == ["p22", "p23", "p24"]
    assert where(world, 'name ge "p22"') == ["p22", "p23", "p24"]
    assert where(world, 'name lt "p02"') == ["p00", "p01"]
    assert where(world, 'name le "p01"') == ["p00", "p01"]
    assert where(world, "prefix eq 1800007") == ["p07"], "unquoted digits on a string field"
    assert where(world, 'prefix ge "1800020" and prefix lt "1800023"') == ["p20", "p21", "p22"]
    # Numbers inside objects compare as numbers.
    assert where(world, "attributes.n gt 20") == ["p21", "p22", "p23", "p24"]
    assert where(world, "attributes.n le 2") == ["p00", "p01", "p02"]
    assert where(world, "attributes.n eq 10") == ["p10"]
    assert where(world, 'name eq "nothing"') == []


def test_like_and_ilike(world: World) -> None:
    assert where(world, 'name like "p1%"') == [f"p1{i}" for i in range(10)]
    assert where(world, 'name like "P1%"') == [], "like is case-sensitive"
    assert where(world, 'name ilike "P1%"') == [f"p1{i}" for i in range(10)]
    assert where(world, 'name like "p_4"') == ["p04", "p14", "p24"]
    assert where(world, 'name like "%3"') == ["p03", "p13", "p23"]
    assert where(world, 'attributes.label like "Item 1_"') == [f"p1{i}" for i in range(10)]
    assert where(world, 'attributes.label ilike "item 2%"') == ["p02"] + [
        f"p2{i}" for i in range(5)
    ]
    # Wildcards are the only special characters.
    assert where(world, 'name like "p[0]*"') == []


def test_in_and_notin(world: World) -> None:
    assert where(world, 'name in ("p01", "p05")') == ["p01", "p05"]
    assert where(world, "name in ('p01','p05')") == ["p01", "p05"]
    assert where(world, "name in p01,p05,p07") == ["p01", "p05", "p07"]
    assert where(world, "name in (p02)") == ["p02"]
    rest = where(world, 'name notin ("p01", "p05")')
    assert rest == [n for n in all_names(world) if n not in ("p01", "p05")]
    assert where(world, "attributes.n in (3, 4)") == ["p03", "p04"]


def test_bit_operator(world: World) -> None:
    # `bit` tests every bit of the mask (assumptions.BIT_OPERATOR_MEANS_ALL_BITS).
    assert where(world, "attributes.n bit 3") == ["p03", "p07", "p11", "p15", "p19", "p23"]
    dids = ok(world.core.get("/phonenumber/dids", params={"limit": 100}))["items"]
    by_caps = {d["capabilities"] for d in dids}
    assert len(by_caps) >= 2, by_caps
    for mask in (1, 4, 8, 5):
        selected = ok(
            world.core.get("/phonenumber/dids", params={"filter": f"capabilities bit {mask}"})
        )
        expected = sorted(d["did_sid"] for d in dids if d["capabilities"] & mask == mask)
        assert sorted(d["did_sid"] for d in selected["items"]) == expected
    # Available DIDs (matched in Python, not SQL) agree.
    available = ok(
        world.core.get(
            "/phonenumber/available_dids", params={"filter": "capabilities bit 8", "limit": 50}
        )
    )
    assert available["items"]
    assert all(i["capabilities"] & 8 for i in available["items"])
    error_of(world.core.get(PREFIXES, params={"filter": "name bit x"}), 400)


def test_null_and_ne(world: World) -> None:
    nulls = [p["name"] for p in world.prefixes if p["string_key_1"] is None]
    assert where(world, "string_key_1 eq null") == nulls
    assert where(world, "string_key_1 ne null") == [n for n in all_names(world) if n not in nulls]
    k1 = [p["name"] for p in world.prefixes if p["string_key_1"] == "k1"]
    assert k1
    not_k1 = where(world, 'string_key_1 ne "k1"')
    if assumptions.NE_MATCHES_NULL:
        assert not_k1 == [n for n in all_names(world) if n not in k1]
    else:
        assert not_k1 == [n for n in all_names(world) if n not in k1 and n not in nulls]
    # Quoted "null" is the string.
    assert where(world, 'string_key_1 eq "null"') == []


def test_dot_paths(world: World) -> None:
    east = [n for i, n in enumerate(all_names(world)) if i % 2]
    assert where(world, 'attributes.region eq "east"') == east
    assert where(world, 'attributes.region eq "east" and attributes.n lt 5') == ["p01", "p03"]
    assert where(world, 'attributes.nosuch eq "x"') == []
    # Into arrays of objects: a group matches when any of its trunks does.
    groups = "/trunk_groups"
    assert where(world, 'trunks.name eq "x"', groups) == ["alpha"]
    assert where(world, 'trunks.name eq "z"', groups) == ["beta"]
    assert where(world, 'trunks.name in ("y", "z")', groups) == ["alpha", "beta"]
    assert where(world, "trunks.priority ge 1", groups) == ["alpha"]
    assert where(world, "trunks.allow_transfer eq false", groups) == ["alpha", "beta"]
    with_trunks = page(world, groups, filter='trunks.name eq "z"', with_trunks="true")
    assert [t["name"] for t in with_trunks["items"][0]["trunks"]] == ["z"]
    without = page(world, groups, filter='trunks.name eq "z"')
    assert "trunks" not in without["items"][0]
    body = error_of(world.core.get(PREFIXES, params={"filter": 'name.first eq "x"'}), 400)
    assert body["errors"][0]["field"] == "filter"


def test_and_combines_conditions(world: World) -> None:
    assert where(world, 'attributes.region eq "west" and name like "p1%" and name ne "p10"') == [
        "p12",
        "p14",
        "p16",
        "p18",
    ]
    assert where(world, 'name eq "p01" AND prefix eq "1800001"') == ["p01"]


@pytest.mark.parametrize(
    ("flt", "status", "mentions"),
    [
        ('name eq "p01" or name eq "p02"', 400, "and"),
        ('(name eq "p01")', 400, "and"),
        ('name eq "p01" and (name eq "p02")', 400, "parenthes"),
        ('not name eq "p01"', 400, "not"),
        ('name foo "p01"', 400, "operator"),
        ('name equals "p01"', 400, "eq"),
        ('nosuch eq "p01"', assumptions.UNKNOWN_FILTER_FIELD_STATUS, "nosuch"),
        ('name eq "unterminated', 400, "quote"),
        ("name eq", 400, "value"),
        ("name", 400, "operator"),
        ('name eq "p01" and', 400, "and"),
        ("name eq two words", 400, "quote"),
        ('name in ("a", "b"', 400, ")"),
        ("name gt null", 400, "null"),
    ],
)
def test_bad_filters(world: World, flt: str, status: int, mentions: str) -> None:
    body = error_of(world.core.get(PREFIXES, params={"filter": flt}), status)
    assert mentions in body["message"], body
    assert body["errors"][0]["field"] == "filter"


def test_filters_on_hidden_fields_are_unknown(world: World) -> None:
    # A partner login's password is hidden (never returned), so it cannot be filtered on either.
    login = {"login": "sandbox_hidden", "password": "s3", "token_scopes": ["partners.read"]}
    ok(world.core.post("/oauth/logins", json=login))
    body = error_of(
        world.core.get("/oauth/logins", params={"filter": 'password eq "s3"'}),
        assumptions.UNKNOWN_FILTER_FIELD_STATUS,
    )
    assert "password" in body["message"]


# --- field selection and every list shape -------------------------------------------------------


def test_field_selection_on_lists(world: World) -> None:
    result = page(world, include_fields="name,prefix", limit=2)
    assert result["items"] == [
        {"name": "p00", "prefix": "1800000"},
        {"name": "p01", "prefix": "1800001"},
    ]
    result = page(world, exclude_fields="attributes,callback_url", limit=1)
    assert set(result["items"][0]) == set(world.prefixes[0]) - {"attributes", "callback_url"}
    # The envelope itself is untouched.
    assert set(result) == {"count", "has_more", "items", "limit", "offset", "pagination", "total"}


@pytest.mark.parametrize(
    "path",
    [
        "/phonenumber/dids",
        "/phonenumber/did_groups",
        PREFIXES,
        "/phonenumber/lrn_prefixes",
        "/trunk_groups",
        "/endpoints",
        "/accesscontrol/rules",
        "/phonenumber/classifications",
    ],
)
def test_every_list_has_the_envelope(world: World, path: str) -> None:
    result = page(world, path, limit=2)
    assert set(result) == {"count", "has_more", "items", "limit", "offset", "pagination", "total"}
    assert result["count"] == len(result["items"]) <= 2
    assert isinstance(result["total"], int)
    assert result["limit"] == 2
    assert result["has_more"] == (result["total"] > 2)
    for item in result["items"]:
        assert list(item) == sorted(item), "keys come in alphabetical order"
        assert not [key for key in item if key.startswith("_")], "no internal fields"
    error_of(world.core.get(path, params={"filter": "or"}), 400)
