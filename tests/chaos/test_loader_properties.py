"""Property tests (T8) of the loaders the plan tests do not cover: every input either loads or
is refused with bulkx's own error, and what loads round-trips.

Plan YAML/CSV have theirs in tests/plan/test_properties.py. Here: the seed CSV of ported
numbers, fault specs, saved changesets (and the change records the journal keeps), token files
(whose errors must never echo the file), Retry-After headers, single E.164 numbers and the
sandbox's filter expressions. BULKX_HYPOTHESIS_EXAMPLES sizes them (the campaign raises it).
"""

from __future__ import annotations

import atexit
import json
import math
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulkx.api import load_token
from bulkx.api.client import parse_retry_after
from bulkx.diff.changes import (
    Create,
    FieldChange,
    NoOp,
    Release,
    RentByCriteria,
    Update,
    change_as_dict,
    change_from_dict,
)
from bulkx.engine.plan_run import read_saved
from bulkx.errors import ConfigError, PlanError
from bulkx.plan.model import Position
from bulkx.plan.numbers import normalise_one
from bulkx.sandbox.errors import ErrorAnswer
from bulkx.sandbox.faults import FaultSpec, FaultSpecError, parse_fault_spec
from bulkx.sandbox.filters import parse_filter
from bulkx.sandbox.seeding import read_ported_csv

SETTINGS = settings(
    max_examples=int(os.environ.get("BULKX_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


#: One scratch directory per process (examples run one after another), removed at exit.
_SCRATCH = tempfile.TemporaryDirectory(prefix="bulkx-props-")
atexit.register(_SCRATCH.cleanup)


def _file(data: bytes, name: str, mode: int = 0o600) -> Path:
    """`data` as the file `name` (each example overwrites the last one's)."""
    path = Path(_SCRATCH.name) / name
    path.unlink(missing_ok=True)
    path.write_bytes(data)
    path.chmod(mode)
    return path


# --- ported-numbers CSV (bulkx sandbox seed) ---

NANP = st.tuples(
    st.sampled_from(["201", "212", "516", "631", "917"]),
    st.integers(200, 999),
    st.integers(0, 9999),
)


def _styled(npa: str, nxx: int, line: int, style: int) -> str:
    return [
        f"+1 ({npa}) {nxx}-{line:04d}",
        f"{npa}-{nxx}-{line:04d}",
        f"1{npa}{nxx}{line:04d}",
        f"+1{npa}{nxx}{line:04d}",
    ][style]


@SETTINGS
@given(st.binary(max_size=400))
def test_any_bytes_as_a_ported_numbers_csv(data: bytes) -> None:
    numbers, problems = read_ported_csv(_file(data, "ported.csv"))
    for problem in problems:
        assert problem.row >= 0 and problem.column >= 0 and problem.message
    for number, _name in numbers:
        assert number.isdigit()


@SETTINGS
@given(
    st.lists(
        st.tuples(NANP, st.integers(0, 3), st.text("abc XYZ", max_size=12)),
        max_size=20,
        unique_by=lambda r: r[0],
    )
)
def test_ported_numbers_in_any_style_read_back_as_e164(
    rows: list[tuple[tuple[str, int, int], int, str]],
) -> None:
    lines = ["phonenumber,name"] + [f'"{_styled(*n, style)}",{name}' for n, style, name in rows]
    numbers, problems = read_ported_csv(_file("\n".join(lines).encode(), "ported.csv"))
    valid = [n for n, _ in numbers]
    # phonenumbers knows which NPA-NXX exist; whatever it accepts is read as 1NPANXXXXXX.
    assert len(valid) + len(problems) == len(rows)
    for number in valid:
        assert len(number) == 11 and number.startswith("1")


# --- fault specs (bulkx sandbox serve --faults) ---

DURATION = st.one_of(st.integers(0, 120).map(float), st.integers(0, 5000).map(lambda ms: ms / 1000))
PROBABILITY = st.sampled_from([0.0, 0.01, 0.02, 0.1, 0.5, 1.0])
WINDOWS = st.lists(st.tuples(DURATION, DURATION), max_size=2).map(tuple)


@SETTINGS
@given(
    st.builds(
        FaultSpec,
        latency_s=DURATION,
        jitter_s=DURATION,
        http_5xx=PROBABILITY,
        reset=PROBABILITY,
        execute_then_reset=PROBABILITY,
        outages=WINDOWS,
        throttles=WINDOWS,
        retry_after_s=DURATION,
        unauthorized_after=st.none() | st.integers(0, 10_000),
    )
)
def test_a_fault_spec_survives_its_text_form(spec: FaultSpec) -> None:
    assert parse_fault_spec(spec.to_text()) == spec


@SETTINGS
@given(
    st.text(max_size=120)
    | st.lists(
        st.sampled_from(
            [
                "latency=",
                "20ms",
                "outage=",
                "10s@5s",
                ",",
                "=",
                "http_5xx=0.",
                "1",
                "throttle=",
                "@",
                "-",
                "nan",
                "inf",
                "retry_after=",
                "unauthorized_after=",
                "s",
                "ms",
                " ",
            ]
        ),
        max_size=12,
    ).map("".join)
)
def test_any_text_as_a_fault_spec(text: str) -> None:
    try:
        parse_fault_spec(text)
    except FaultSpecError as error:
        message = str(error)
    else:
        return
    assert "valid names" in message


# --- saved changesets and journaled changes ---

VALUE = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=8))
VALUES = st.dictionaries(st.sampled_from(["name", "trunk_group", "city", "zip"]), VALUE, max_size=3)
COMMON = {
    "kind": st.sampled_from(["did", "trunk_group", "did_emergency"]),
    "key": st.text(min_size=1, max_size=10),
    "step": st.text(min_size=1, max_size=10),
    "position": st.builds(Position, st.just("plan.yaml"), st.integers(0, 500)),
}
CHANGES = st.one_of(
    st.builds(Create, values=VALUES, monthly_price=st.none() | st.just("0.6"), **COMMON),
    st.builds(
        Update,
        sid=st.none() | st.uuids().map(str),
        values=VALUES,
        changes=st.lists(
            st.builds(FieldChange, st.sampled_from(["name", "zip"]), VALUE, VALUE), max_size=2
        ).map(tuple),
        **COMMON,
    ),
    st.builds(Release, sid=st.uuids().map(str), values=VALUES, **COMMON),
    st.builds(NoOp, sid=st.none() | st.uuids().map(str), **COMMON),
    st.builds(
        RentByCriteria,
        count=st.integers(1, 500),
        criteria=VALUES,
        template=VALUES,
        available=st.none() | st.integers(0, 10**6),
        **COMMON,
    ),
)


@SETTINGS
@given(CHANGES)
def test_a_change_survives_the_journal_and_a_saved_changeset(change: object) -> None:
    as_json = json.loads(json.dumps(change_as_dict(change)))  # type: ignore[arg-type]
    assert change_from_dict(as_json) == change


@SETTINGS
@given(
    st.binary(max_size=300)
    | st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=10,
    ).map(lambda v: json.dumps({"schema_version": 1, "x": v}).encode())
)
def test_any_file_as_a_saved_changeset(data: bytes) -> None:
    try:
        document = read_saved(_file(data, "changes.json"))
    except PlanError as error:
        message = str(error)
    else:
        assert document["schema_version"] == 1
        return
    assert "changeset" in message


# --- token files ---


@SETTINGS
@given(st.binary(max_size=80))
def test_any_token_file_loads_or_is_refused_without_echoing_it(data: bytes) -> None:
    path = _file(data, "token")
    try:
        secret = load_token(path, env={})
    except ConfigError as error:
        message = f"{error} {error.hint}"
    else:
        token = secret.reveal()
        assert token == data.decode().strip()
        assert len(token) < 6 or token not in repr(secret) + str(secret)
        return
    text = data.decode("utf-8", "replace").strip()
    # A short text may happen to be a word of the message; a token is longer than that.
    assert len(text) < 6 or text not in message


# --- Retry-After, single numbers, sandbox filters ---


@SETTINGS
@given(
    st.none()
    | st.text(max_size=40)
    | st.floats(allow_nan=True).map(str)
    | st.datetimes().map(lambda d: d.strftime("%a, %d %b %Y %H:%M:%S GMT"))
)
def test_any_retry_after_header(value: str | None) -> None:
    seconds = parse_retry_after(value, now=1_800_000_000.0)
    assert seconds is None or (math.isfinite(seconds) and seconds >= 0)


@SETTINGS
@given(
    st.text(max_size=30)
    | NANP.flatmap(lambda n: st.integers(0, 3).map(lambda style: _styled(*n, style)))
)
def test_any_text_as_a_phone_number(text: str) -> None:
    number = normalise_one(text)
    assert number is None or (number.isdigit() and normalise_one(number) == number)


@SETTINGS
@given(
    st.text(max_size=60)
    | st.lists(
        st.sampled_from(
            [
                "phonenumber",
                "state",
                " eq ",
                " like ",
                " in ",
                "(",
                ")",
                '"',
                "'",
                "1516%",
                "NY",
                ",",
                " and ",
                " or ",
                "attributes.x",
                " ne ",
                " gt ",
                "5",
                "\\",
            ]
        ),
        max_size=10,
    ).map("".join)
)
def test_any_text_as_a_sandbox_filter(text: str) -> None:
    try:
        parse_filter(text)
    except ErrorAnswer as error:
        status = error.status
    else:
        return
    assert status == 400
