"""Phone number normalisation, vectorised: shapes and NANP validity in polars.

`phonenumbers.is_valid_number` costs ~30 us a call: a million rows row by row is ~40 s, and
even once per distinct NPA-NXX it was ~20 s for 300,000 prefixes. For +1 its answer is a pure
function of the 10-digit national number, made of regexes from its metadata (each region's
leading digits, general pattern and per-type patterns). `_NanpRules` takes those regexes once
and polars runs them over the whole column, so the answer is phonenumbers' own, row by row
(tests/plan/test_numbers_vectorised.py checks it against phonenumbers on a sample).
Non-NANP numbers (rare in a plan) are still asked once per distinct number.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import phonenumbers
import polars as pl
from phonenumbers import PhoneMetadata, PhoneNumberDesc
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

#: Problem codes in the `problem` column (null: the number is fine).
BAD_CHARS = "bad_chars"
BAD_LENGTH = "bad_length"
NEEDS_PLUS = "needs_plus"
BAD_NANP = "bad_nanp"
INVALID = "invalid"

MESSAGES = {
    BAD_CHARS: ("is not a phone number", "use digits, optionally '+', spaces, '-', '.', '( )'"),
    BAD_LENGTH: ("has the wrong number of digits", "E.164 numbers have 8 to 15 digits"),
    NEEDS_PLUS: (
        "is not a NANP number",
        "write international numbers with '+' and the country code, e.g. +442071838750",
    ),
    BAD_NANP: (
        "is not a valid NANP number (area code and exchange cannot start with 0 or 1)",
        "NANP numbers are 1 + NPA (3 digits) + NXX (3 digits) + 4 digits",
    ),
    INVALID: ("is not an assigned number range", "check the number for typos"),
}

#: The length of a NANP national number: NPA + NXX + line.
NANP_NATIONAL_LENGTH = 10
#: The number types `phonenumbers._number_type_helper` tries, after the general pattern: a
#: number of any of them is valid (fixed line and mobile included).
_TYPE_DESCS = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)

#: The characters besides digits that `_shapes`' shape check lets through.
_SEPARATORS = "+ ()-."

_number_cache: dict[str, bool] = {}


# --- NANP validity from phonenumbers' metadata ---------------------------------------------


def _full_match(desc: PhoneNumberDesc | None) -> str | None:
    """The anchored regex a 10-digit number must match for phonenumbers to say it matches
    `desc` (`_is_number_matching_desc`), or None when nothing of that length can."""
    if desc is None or not desc.national_number_pattern:
        return None
    lengths = desc.possible_length or ()
    if lengths and NANP_NATIONAL_LENGTH not in lengths:
        return None
    return f"^(?:{desc.national_number_pattern})$"


@dataclass(frozen=True)
class _RegionRule:
    """What phonenumbers asks of a +1 number for one region, as regexes."""

    region: str
    #: Prefix regex choosing this region (`_region_code_for_number_from_list`); None: the region
    #: is chosen when the number is of a known type there (US, CA).
    leading: str | None
    general: str | None
    #: Any of the type patterns (one regex, alternatives in phonenumbers' order).
    types: str | None

    def known(self, number: pl.Expr) -> pl.Expr:
        """Whether `number` is of a known type here (`_number_type_helper` != UNKNOWN)."""
        if self.general is None or self.types is None:
            return pl.lit(False)
        return number.str.contains(self.general) & number.str.contains(self.types)


def _region_rule(region: str) -> _RegionRule:
    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None:  # every +1 region has metadata; an empty rule never matches
        return _RegionRule(region, "^$", None, None)
    types = [_full_match(getattr(metadata, name, None)) for name in _TYPE_DESCS]
    alternatives = [f"(?:{t})" for t in types if t is not None]
    leading = None if metadata.leading_digits is None else f"^(?:{metadata.leading_digits})"
    return _RegionRule(
        region,
        leading,
        _full_match(metadata.general_desc),
        "|".join(alternatives) if alternatives else None,
    )


@functools.cache
def _nanp_rules() -> tuple[_RegionRule, ...]:
    """The +1 regions in phonenumbers' order (the main country, US, first)."""
    return tuple(_region_rule(region) for region in COUNTRY_CODE_TO_REGION_CODE[1])


def nanp_valid(national: pl.Expr) -> pl.Expr:
    """`phonenumbers.is_valid_number` of +1 `national` (10 digits), as one expression: the
    first region whose leading digits match (or, without them, whose types match) decides.
    Every branch runs over every row: `_nanp_invalid` is the same answer for large columns."""
    decisions = [
        pl.when(national.str.contains(rule.leading)).then(rule.known(national))
        if rule.leading is not None
        else pl.when(rule.known(national)).then(pl.lit(True))
        for rule in _nanp_rules()
    ]
    return pl.coalesce(*decisions, pl.lit(False))


def _deciding_rule(national: pl.Expr, rules: tuple[_RegionRule, ...]) -> pl.Expr:
    """The index of the rule that decides each number (null: none, so invalid)."""
    return pl.coalesce(
        *[
            pl.when(
                national.str.contains(rule.leading)
                if rule.leading is not None
                else rule.known(national)
            ).then(pl.lit(index, dtype=pl.UInt8))
            for index, rule in enumerate(rules)
        ]
    )


def _nanp_invalid(nationals: pl.Series) -> pl.Series:
    """`~nanp_valid` of 10-digit `nationals`, in their order, without running every region's
    patterns over every number: the main region's (US) over all of them, the leading digits
    over what it rejects, then each region's type patterns only over the numbers it decides
    (300,000 distinct NPA-NXX took 1 s the plain way, most of them outside the US)."""
    rules = _nanp_rules()
    national = pl.col("n")
    frame = pl.DataFrame({"n": nationals}).with_row_index("i")
    main, others = rules[0], rules[1:]
    if main.leading is not None:  # never so in phonenumbers' metadata; the plain way then
        return ~frame.select(nanp_valid(national))[:, 0]
    ok = frame.select(main.known(national))[:, 0]
    rest = frame.filter(~ok).with_columns(_deciding_rule(national, others).alias("rule"))
    decided = rest.filter(pl.col("rule").is_not_null())
    for (index,), part in decided.partition_by("rule", as_dict=True).items():
        rule = others[int(index)]
        if rule.leading is None:  # chosen because its types match: valid
            ok = ok.scatter(part["i"], True)
            continue
        ok = ok.scatter(part["i"], part.select(rule.known(national))[:, 0])
    return ~ok


def _international_valid(digits: str) -> bool:
    cached = _number_cache.get(digits)
    if cached is None:
        try:
            cached = phonenumbers.is_valid_number(phonenumbers.parse("+" + digits, None))
        except phonenumbers.NumberParseException:
            cached = False
        _number_cache[digits] = cached
    return cached


# --- the column --------------------------------------------------------------------------


def stripped(values: pl.Series) -> pl.Series:
    """`values` (text) without surrounding whitespace: the same column, not a copy, when no
    value has any (the usual case; a copy of a million names is ~30 MB). Rust's `trim` and the
    regex `\\s` both take Unicode's White_Space."""
    text = values.cast(pl.String)
    return text.str.strip_chars() if text.str.contains(r"^\s|\s$").any() else text


def _shapes(values: pl.Series) -> pl.DataFrame:
    """Per value: `empty`, `plus`, `shape_ok`, `digits`, and `nanp` ("1" + 10 digits) where the
    digits are NANP-shaped. The stripped text is not kept (a column of a million is ~30 MB)."""
    raw, digits = pl.col("raw"), pl.col("digits")
    count = digits.str.len_chars()
    nanp = (
        pl.when(~pl.col("plus") & (count == NANP_NATIONAL_LENGTH))
        .then(pl.lit("1") + digits)
        .when((count == NANP_NATIONAL_LENGTH + 1) & digits.str.starts_with("1"))
        .then(digits)
        .otherwise(None)
    )
    return (
        pl.DataFrame({"raw": stripped(values)})
        .lazy()
        .select(
            (raw.is_null() | (raw == "")).alias("empty"),
            raw.str.starts_with("+").alias("plus"),
            raw.str.contains(r"^\+?[0-9(][0-9 ()\-.]*$").alias("shape_ok"),
            # The separators a well-formed value may hold (a value with anything else is
            # BAD_CHARS, whatever its digits): a literal replace is 4x faster than a regex.
            raw.str.replace_many(list(_SEPARATORS), [""] * len(_SEPARATORS)).alias("digits"),
        )
        .with_columns(nanp.alias("nanp"))
        .collect()
    )


def _shape_problem() -> pl.Expr:
    """The problem a value's shape alone shows (null: well formed, or empty)."""
    plus, nanp = pl.col("plus"), pl.col("nanp")
    count = pl.col("digits").str.len_chars()
    international = plus & ~pl.col("digits").str.starts_with("1") & nanp.is_null()
    return (
        pl.when(pl.col("empty"))
        .then(None)
        .when(~pl.col("shape_ok"))
        .then(pl.lit(BAD_CHARS))
        .when(nanp.is_not_null())
        .then(
            pl.when(nanp.str.contains(r"^1[2-9]\d\d[2-9]\d{6}$"))
            .then(None)
            .otherwise(pl.lit(BAD_NANP))
        )
        .when(international & (count >= 8) & (count <= 15))
        .then(None)
        .when(international | plus)
        .then(pl.lit(BAD_LENGTH))
        .otherwise(pl.lit(NEEDS_PLUS))
    )


def _invalid_ranges(frame: pl.DataFrame) -> pl.Series:
    """True where a well-formed number is not a valid range (problem INVALID)."""
    well_formed = frame["problem"].is_null() & ~frame["empty"]
    is_nanp = frame["nanp"].is_not_null()
    invalid = pl.repeat(False, frame.height, dtype=pl.Boolean, eager=True)
    nanp_rows = (well_formed & is_nanp).arg_true()
    if len(nanp_rows):
        nationals = frame.lazy().filter(well_formed & is_nanp).select(pl.col("nanp").str.slice(1))
        invalid = invalid.scatter(nanp_rows, _nanp_invalid(nationals.collect()[:, 0]))
    other_rows = (well_formed & ~is_nanp).arg_true()
    if len(other_rows):
        others = frame["digits"].gather(other_rows)
        bad = {d for d in others.unique().to_list() if not _international_valid(d)}
        if bad:
            invalid = invalid.scatter(other_rows, others.is_in(list(bad)))
    return invalid


#: Values `normalise_e164` normalises at once: the temporaries of a million numbers (their
#: digits, NANP forms, the ranges to check...) added ~25 MB to a plan's peak; those of a
#: slice a few MB, in the same time.
E164_SLICE = 100_000
#: A column of more chunks than this is sliced by E164_SLICE instead (a slice costs ~1 ms).
MAX_SLICES = 1000


def normalise_e164(values: pl.Series) -> pl.DataFrame:
    """`number` (digits, no '+': "15162065575") and `problem` (null or a code) per value.

    Nulls stay null with no problem: required-ness is checked elsewhere.
    """
    if len(values) <= E164_SLICE:
        return _normalise_slice(values)
    # In the chunks of `values` when it has a few (a CSV's columns come in chunks of some
    # 70,000 rows): a result of other chunks beside the step's columns makes polars copy
    # them into one chunk. Not rechunked as a whole: that copy would be its size again.
    lengths = values.chunk_lengths()
    if len(lengths) == 1 or len(lengths) > MAX_SLICES:
        lengths = [E164_SLICE] * -(-len(values) // E164_SLICE)
    parts = []
    start = 0
    for length in lengths:
        parts.append(_normalise_slice(values.slice(start, length)).rechunk())
        start += length
    return pl.concat(parts)


def _normalise_slice(values: pl.Series) -> pl.DataFrame:
    frame = _shapes(values)
    frame = frame.with_columns(_shape_problem().alias("problem"))
    frame = frame.with_columns(
        pl.when(_invalid_ranges(frame))
        .then(pl.lit(INVALID))
        .otherwise(pl.col("problem"))
        .alias("problem")
    )
    # A bad number has no normalised form: null keeps it out of duplicate and reference checks.
    return frame.select(
        pl.when(pl.col("problem").is_not_null() | pl.col("empty"))
        .then(None)
        .otherwise(pl.coalesce("nanp", "digits"))
        .alias("number"),
        pl.col("problem"),
    )


def normalise_one(value: str) -> str | None:
    """One number, normalised, or None if it is not valid (for criteria and small inputs)."""
    frame = normalise_e164(pl.Series([value], dtype=pl.String))
    if frame["problem"][0] is not None:
        return None
    number = frame["number"][0]
    return None if number is None else str(number)
