"""The inventory of available numbers, generated from the seed instead of stored.

The inventory is a sorted list of NPA-NXX blocks of 10,000 numbers each (over a million numbers
in all). Only what changed is stored: a number is available unless the `dids` table holds it
(rented, ported in, or aging after a release). A number's `did_sid` is derived from the seed and
the number, and carries the number, so `GET /available_dids/{sid}` needs no storage either.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bulkx.sandbox.errors import bad_request
from bulkx.sandbox.filters import Condition, like_matcher, like_prefix, matches, typed
from bulkx.sandbox.limits import check_deadline

if TYPE_CHECKING:
    import phonenumbers

# (NPA, state, locality, LATA, latitude, longitude): real area codes and their main city.
_AREAS: tuple[tuple[str, str, str, str, float, float], ...] = (
    ("201", "NJ", "JERSEY CITY", "224", 40.73, -74.07),
    ("202", "DC", "WASHINGTON", "236", 38.90, -77.04),
    ("206", "WA", "SEATTLE", "674", 47.61, -122.33),
    ("212", "NY", "NEW YORK", "132", 40.71, -74.01),
    ("213", "CA", "LOS ANGELES", "730", 34.05, -118.24),
    ("214", "TX", "DALLAS", "552", 32.78, -96.80),
    ("215", "PA", "PHILADELPHIA", "228", 39.95, -75.17),
    ("303", "CO", "DENVER", "656", 39.74, -104.99),
    ("305", "FL", "MIAMI", "460", 25.76, -80.19),
    ("310", "CA", "SANTA MONICA", "730", 34.02, -118.49),
    ("312", "IL", "CHICAGO", "358", 41.88, -87.63),
    ("313", "MI", "DETROIT", "340", 42.33, -83.05),
    ("314", "MO", "ST LOUIS", "520", 38.63, -90.20),
    ("404", "GA", "ATLANTA", "438", 33.75, -84.39),
    ("412", "PA", "PITTSBURGH", "234", 40.44, -79.99),
    ("415", "CA", "SAN FRANCISCO", "722", 37.77, -122.42),
    ("503", "OR", "PORTLAND", "672", 45.52, -122.68),
    ("504", "LA", "NEW ORLEANS", "490", 29.95, -90.07),
    ("512", "TX", "AUSTIN", "558", 30.27, -97.74),
    ("516", "NY", "HEMPSTEAD", "132", 40.71, -73.62),
    ("602", "AZ", "PHOENIX", "666", 33.45, -112.07),
    ("612", "MN", "MINNEAPOLIS", "628", 44.98, -93.27),
    ("615", "TN", "NASHVILLE", "468", 36.16, -86.78),
    ("617", "MA", "BOSTON", "128", 42.36, -71.06),
    ("702", "NV", "LAS VEGAS", "721", 36.17, -115.14),
    ("704", "NC", "CHARLOTTE", "420", 35.23, -80.84),
    ("713", "TX", "HOUSTON", "560", 29.76, -95.37),
    ("718", "NY", "BROOKLYN", "132", 40.68, -73.94),
    ("801", "UT", "SALT LAKE CITY", "660", 40.76, -111.89),
    ("804", "VA", "RICHMOND", "248", 37.54, -77.44),
    ("808", "HI", "HONOLULU", "834", 21.31, -157.86),
    ("813", "FL", "TAMPA", "458", 27.95, -82.46),
    ("816", "MO", "KANSAS CITY", "524", 39.10, -94.58),
    ("817", "TX", "FORT WORTH", "552", 32.76, -97.33),
    ("850", "FL", "TALLAHASSEE", "452", 30.44, -84.28),
    ("860", "CT", "HARTFORD", "920", 41.76, -72.67),
    ("901", "TN", "MEMPHIS", "468", 35.15, -90.05),
    ("907", "AK", "ANCHORAGE", "832", 61.22, -149.90),
    ("916", "CA", "SACRAMENTO", "726", 38.58, -121.49),
    ("917", "NY", "NEW YORK", "132", 40.75, -73.99),
)
BLOCKS_PER_AREA = 3
NUMBERS_PER_BLOCK = 10_000
PRICES = ("0.6", "0.6", "0.75", "1.0")
CLASSIFICATION_SID = "17f4d954-5f1e-4ad4-9c0a-3e1c6f1d2b10"


@dataclass(frozen=True)
class Block:
    npa: str
    nxx: str
    state: str
    locality: str
    lata: str
    ocn: str
    price: str
    capabilities: int
    lat: float
    lng: float

    @property
    def prefix(self) -> str:
        return f"1{self.npa}{self.nxx}"

    @property
    def first(self) -> str:
        return f"{self.prefix}0000"

    @property
    def end(self) -> str:
        """The first number after the block (exclusive bound)."""
        return f"1{int(self.npa + self.nxx) + 1:06d}0000"


def _blocks(seed: int) -> tuple[Block, ...]:
    rng = random.Random(f"bulkx-inventory-{seed}")
    blocks: list[Block] = []
    for npa, state, locality, lata, lat, lng in _AREAS:
        # NXX must not start with 0 or 1, and N11 codes are service codes.
        nxxs = sorted(rng.sample([n for n in range(200, 1000) if n % 100 != 11], BLOCKS_PER_AREA))
        for nxx in nxxs:
            ocn = f"{rng.randrange(1000, 9999)}{rng.choice('ABCDEF')}"
            capabilities = rng.choice((31, 31, 31, 7, 4))
            blocks.append(
                Block(
                    npa,
                    f"{nxx:03d}",
                    state,
                    locality,
                    lata,
                    ocn,
                    rng.choice(PRICES),
                    capabilities,
                    lat,
                    lng,
                )
            )
    return tuple(sorted(blocks, key=lambda b: b.prefix))


def geography_of(number: phonenumbers.PhoneNumber) -> str:
    """What the numbering plan's geography says of a number, in English ("Denver, CO").

    phonenumbers' geocoder loads its tables (~0.45 s) when first imported: only when a number
    outside the inventory is described, not whenever the sandbox (or the CLI, which embeds it)
    starts."""
    from phonenumbers import geocoder

    return str(geocoder.description_for_number(number, "en"))


def nanp_formats(number: str) -> tuple[str, str]:
    """`15162065575` -> (`(516) 206-5575`, `+1 516-206-5575`)."""
    npa, nxx, line = number[1:4], number[4:7], number[7:11]
    return f"({npa}) {nxx}-{line}", f"+1 {npa}-{nxx}-{line}"


def sid_for_number(seed: int, number: str) -> str:
    digest = hashlib.sha1(f"{seed}:{number}".encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-4{digest[12:15]}-a{digest[15:18]}-{int(number):012x}"


def number_for_sid(seed: int, sid: str) -> str | None:
    match = re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-([0-9a-f]{12})", sid)
    if not match:
        return None
    number = str(int(match.group(1), 16))
    return number if sid_for_number(seed, number) == sid else None


#: Fields of an available DID that depend on the number, not only on its block.
PER_NUMBER_FIELDS = frozenset(
    {"phonenumber", "did_sid", "in_country_format", "international_format"}
)


class Inventory:
    def __init__(
        self,
        seed: int,
        taken: Callable[[str, str], set[str]],
        count_taken: Callable[[str, str], int] | None = None,
    ):
        """`taken(lo, hi)` returns the numbers in [lo, hi) that are not available, and
        `count_taken(lo, hi)` how many there are (cheaper when a whole block is skipped)."""
        self.seed = seed
        self.blocks = _blocks(seed)
        self._prefixes = [b.prefix for b in self.blocks]
        self._taken = taken
        self._count_taken = count_taken or (lambda lo, hi: len(taken(lo, hi)))
        self._templates: dict[str, list[str]] = {}

    @property
    def size(self) -> int:
        return len(self.blocks) * NUMBERS_PER_BLOCK

    def block_of(self, number: str) -> Block | None:
        if len(number) != 11 or not number.isdigit():
            return None
        i = bisect.bisect_right(self._prefixes, number[:7]) - 1
        if i >= 0 and self._prefixes[i] == number[:7]:
            return self.blocks[i]
        return None

    def contains(self, number: str) -> bool:
        return self.block_of(number) is not None

    def describe(self, number: str, block: Block | None = None) -> dict[str, Any]:
        """The DID object for an inventory number, as browse shows it (status available)."""
        block = block or self.block_of(number)
        if block is None:
            raise KeyError(number)
        local, international = nanp_formats(number)
        return {
            "active_capabilities": 4 if block.capabilities & 4 else 0,
            "attributes": {},
            "callback_url": None,
            "campaign_sid": None,
            "capabilities": block.capabilities,
            "classification_sid": CLASSIFICATION_SID,
            "country_code": "USA",
            "did_group_sid": None,
            "did_sid": sid_for_number(self.seed, number),
            "in_country_format": local,
            "international_format": international,
            "lata": block.lata,
            "locality": block.locality,
            "lrn_sid": None,
            "name": "N/A",
            "ocn": block.ocn,
            "partner_sid": None,
            "phonenumber": number,
            "porting_pin": None,
            "price": block.price,
            "state": block.state,
            "status": "available",
            "string_key_1": None,
            "string_key_2": None,
            "transformations": [],
            "trunk_group_sid": None,
        }

    def describe_json(self, number: str, block: Block) -> str:
        """`describe` as JSON text (sorted keys), from a per-block template: the browse hot path."""
        parts = self._templates.get(block.prefix)
        if parts is None:
            marks = {
                "did_sid": "\x01",
                "in_country_format": "\x02",
                "international_format": "\x03",
                "phonenumber": "\x04",
            }
            obj = {**self.describe(block.first, block), **marks}
            text = json.dumps(obj, separators=(",", ":"), sort_keys=True)
            parts = re.split(r'"\\u000[1-4]"', text)
            self._templates[block.prefix] = parts
        local, international = nanp_formats(number)
        values = (sid_for_number(self.seed, number), local, international, number)
        out = [parts[0]]
        for value, part in zip(values, parts[1:], strict=True):
            out.append(f'"{value}"')
            out.append(part)
        return "".join(out)

    # --- browsing -------------------------------------------------------------------------

    def browse(
        self,
        conditions: Sequence[Condition],
        *,
        limit: int,
        offset: int,
        descending: bool = False,
        shuffle: bool = False,
        field_type: Callable[[Condition], Any] = lambda _c: None,
    ) -> list[dict[str, Any]]:
        """Up to `limit` available numbers after skipping `offset`, as DID objects."""
        found = self.browse_numbers(
            conditions,
            limit=limit,
            offset=offset,
            descending=descending,
            shuffle=shuffle,
            field_type=field_type,
        )
        return [self.describe(number, block) for number, block in found]

    def browse_numbers(
        self,
        conditions: Sequence[Condition],
        *,
        limit: int,
        offset: int,
        descending: bool = False,
        shuffle: bool = False,
        field_type: Callable[[Condition], Any] = lambda _c: None,
        order_by: str | None = None,
    ) -> list[tuple[str, Block]]:
        """Up to `limit` available numbers (with their block) after skipping `offset`, in
        phonenumber order, or by `order_by` (a field a block's numbers share) then number."""
        number_conds = [c for c in conditions if c.field in PER_NUMBER_FIELDS]
        block_conds = [c for c in conditions if c.field not in PER_NUMBER_FIELDS]
        scan = _number_scan(*self._number_bounds(number_conds), number_conds, field_type)
        near = next((c for c in conditions if c.op == "nearby"), None)
        blocks, descending = self._browse_blocks(
            scan, block_conds, near, order_by=order_by, descending=descending, shuffle=shuffle
        )
        out: list[tuple[str, Block]] = []
        skip = offset
        for block in blocks:
            first, last = max(scan.lo, block.first), min(scan.hi, block.end)
            if first >= last:
                continue
            if scan.exact is None and not scan.residual and not shuffle:
                # Every number of the range matches: skip a whole block by counting.
                start, stop = _line_index(block, first), _line_index(block, last)
                available = (stop - start) - self._count_taken(first, last)
                if skip >= available:
                    skip -= available
                    continue
            taken = self._taken(first, last)
            candidates = _candidates(block, first, last, scan.exact, descending, shuffle)
            for scanned, number in enumerate(candidates):
                if scanned & 0xFFF == 0:
                    check_deadline()  # a GET's scan is bounded (limits.query_deadline)
                if number in taken or not self._scan_accepts(scan, number, block):
                    continue
                if skip:
                    skip -= 1
                    continue
                out.append((number, block))
                if len(out) >= limit:
                    return out
        return out

    def _browse_blocks(
        self,
        scan: _NumberScan,
        block_conds: Sequence[Condition],
        near: Condition | None,
        *,
        order_by: str | None,
        descending: bool,
        shuffle: bool,
    ) -> tuple[list[Block], bool]:
        """The blocks that may hold matching numbers, in browse order, and whether each block's
        numbers then run descending (ordering by a block field leaves them ascending)."""
        blocks = [
            b
            for b in self.blocks
            if b.end > scan.lo
            and b.first < scan.hi
            and matches(_with_area(self.describe(b.first, b), b), block_conds, scan.field_type)
        ]
        if order_by is not None and order_by not in NUMBER_ORDER:
            key = order_by
            blocks.sort(
                key=lambda b: _order_key(self.describe(b.first, b).get(key)), reverse=descending
            )
            descending = False  # each block's numbers ascending
        if near is not None:
            lat, lng = _latlng(near)
            blocks.sort(key=lambda b: math.hypot(b.lat - lat, b.lng - lng))
        elif descending:
            blocks.reverse()
        if shuffle:
            random.Random().shuffle(blocks)
        return blocks, descending

    def _scan_accepts(self, scan: _NumberScan, number: str, block: Block) -> bool:
        if scan.number_test is not None:
            # Conditions on the number alone need no whole DID object (browse hot path).
            return scan.number_test(number)
        return not scan.residual or matches(
            self.describe(number, block), scan.residual, scan.field_type
        )

    def _number_bounds(self, conds: Sequence[Condition]) -> tuple[str, str, set[str] | None]:
        lo, hi = "0", "9" * 12
        exact: set[str] | None = None
        for cond in conds:
            if cond.field != "phonenumber":
                continue
            if cond.op == "eq":
                value = str(typed(cond.value, "str"))
                exact = {value} if exact is None else exact & {value}
            elif cond.op == "in":
                values = {str(typed(v, "str")) for v in cond.values}
                exact = values if exact is None else exact & values
            elif cond.op in ("ge", "gt"):
                lo = max(lo, cond.value.text + ("\x00" if cond.op == "gt" else ""))
            elif cond.op in ("lt", "le"):
                hi = min(hi, cond.value.text + ("\x00" if cond.op == "le" else ""))
            elif cond.op == "like":
                prefix = like_prefix(cond.value.text) or _leading_literal(cond.value.text)
                if prefix.isdigit():
                    # `1516%` is the range [1516, 1517): the same numbers, found by bounds.
                    lo = max(lo, prefix)
                    hi = min(hi, str(int(prefix) + 1).zfill(len(prefix)))
        return lo, hi, exact


#: Fields whose order is the phonenumber order (the NANP formats spell the same digits).
NUMBER_ORDER = frozenset({"phonenumber", "in_country_format", "international_format"})


def _with_area(obj: dict[str, Any], block: Block) -> dict[str, Any]:
    """A block's DID with the area filters (`npa`, `npa_nxx`: assumptions.AVAILABLE_DID_AREA_
    FILTERS), which every number of a block shares."""
    return {**obj, "npa": block.npa, "npa_nxx": block.npa + block.nxx}


def _order_key(value: Any) -> tuple[bool, Any]:
    return (value is None, value if value is not None else 0)


class _BlockNumbers(Sequence[str]):
    """A block's numbers in order, made on demand (for bisecting bounds of any length)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __len__(self) -> int:
        return NUMBERS_PER_BLOCK

    def __getitem__(self, index: Any) -> Any:
        return f"{self.prefix}{index:04d}"


@dataclass(frozen=True)
class _NumberScan:
    """What a browse checks of each number: the range it lies in, the exact numbers asked for
    (if any), and the conditions the range does not capture (`residual`), tested by
    `number_test` when they need the number alone."""

    lo: str
    hi: str
    exact: set[str] | None
    residual: list[Condition]
    number_test: Callable[[str], bool] | None
    field_type: Callable[[Condition], Any]


def _number_scan(
    lo: str,
    hi: str,
    exact: set[str] | None,
    number_conds: Sequence[Condition],
    field_type: Callable[[Condition], Any],
) -> _NumberScan:
    residual = [c for c in number_conds if not _captured(c)]
    number_only = all(c.field == "phonenumber" for c in residual)
    number_test = _number_test(residual, field_type) if number_only else None
    return _NumberScan(lo, hi, exact, residual, number_test, field_type)


def _candidates(
    block: Block, first: str, last: str, exact: set[str] | None, descending: bool, shuffle: bool
) -> Iterator[str]:
    """The numbers of `block` from `first` up to `last` in scan order (taken ones included)."""
    if exact is not None:
        return iter(sorted((n for n in exact if first <= n < last), reverse=descending))
    start, stop = _line_index(block, first), _line_index(block, last)
    lines: Sequence[int] = range(stop - 1, start - 1, -1) if descending else range(start, stop)
    if shuffle:
        lines = random.sample(lines, len(lines))
    return (f"{block.prefix}{line:04d}" for line in lines)


def _number_test(
    residual: Sequence[Condition], field_type: Callable[[Condition], Any]
) -> Callable[[str], bool] | None:
    """A test of a number alone against `residual` (None when nothing is left to test);
    `like` patterns are compiled once (filters.like_matcher), not per number."""
    if not residual:
        return None
    if all(c.op in ("like", "ilike") and len(c.path) == 1 for c in residual):
        tests = [like_matcher(c.value.text, case_sensitive=c.op == "like") for c in residual]
        return lambda number: all(test(number) for test in tests)
    return lambda number: matches({"phonenumber": number}, residual, field_type)


def _line_index(block: Block, bound: str) -> int:
    """How many of the block's numbers sort before `bound` (a prefix, or a number + NUL)."""
    return bisect.bisect_left(_BlockNumbers(block.prefix), bound)


def _captured(cond: Condition) -> bool:
    """True when `_number_bounds` enforces the condition exactly."""
    if cond.field != "phonenumber":
        return False
    if cond.op in ("eq", "in", "ge", "gt", "lt", "le"):
        return True
    if cond.op == "nearby":
        return True  # it orders the blocks; it removes no number
    prefix = like_prefix(cond.value.text) if cond.op == "like" else None
    return prefix is not None and prefix.isdigit()


def _leading_literal(pattern: str) -> str:
    out = []
    for ch in pattern:
        if ch in "%_":
            break
        out.append(ch)
    return "".join(out)


def _latlng(cond: Condition) -> tuple[float, float]:
    text = cond.value.text
    match = re.fullmatch(r"latlng:\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)", text)
    if not match:
        raise bad_request(
            'filter: nearby needs latlng:<latitude>,<longitude>, e.g. nearby "latlng:40.7,-74.0"',
            "filter",
        )
    return float(match.group(1)), float(match.group(2))


__all__ = [
    "Block",
    "Inventory",
    "like_matcher",
    "nanp_formats",
    "number_for_sid",
    "sid_for_number",
]
