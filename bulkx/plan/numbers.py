"""Phone number normalisation, vectorised: shapes in polars, phonenumbers once per prefix.

`phonenumbers.is_valid_number` costs ~30 us; a million rows row by row is ~40 s. NANP validity
depends on the NPA-NXX (the metadata patterns never look past it for +1), so it is asked once
per distinct NPA-NXX with a representative line number, and once per distinct non-NANP number.
"""

from __future__ import annotations

import phonenumbers
import polars as pl
from phonenumbers import PhoneNumber

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

_prefix_cache: dict[str, bool] = {}
_number_cache: dict[str, bool] = {}


def _nanp_prefix_valid(prefix: str) -> bool:
    """Whether NPA-NXX `prefix` (6 digits) is a valid NANP range."""
    cached = _prefix_cache.get(prefix)
    if cached is None:
        cached = any(
            phonenumbers.is_valid_number(
                PhoneNumber(country_code=1, national_number=int(prefix + line))
            )
            for line in ("2000", "0100")
        )
        _prefix_cache[prefix] = cached
    return cached


def _international_valid(digits: str) -> bool:
    cached = _number_cache.get(digits)
    if cached is None:
        try:
            cached = phonenumbers.is_valid_number(phonenumbers.parse("+" + digits, None))
        except phonenumbers.NumberParseException:
            cached = False
        _number_cache[digits] = cached
    return cached


def normalise_e164(values: pl.Series) -> pl.DataFrame:
    """`number` (digits, no '+': "15162065575") and `problem` (null or a code) per value.

    Nulls stay null with no problem: required-ness is checked elsewhere.
    """
    raw = values.cast(pl.String).str.strip_chars()
    frame = pl.DataFrame({"raw": raw})
    plus = pl.col("raw").str.starts_with("+")
    digits = pl.col("raw").str.replace_all(r"[^0-9]", "")
    frame = frame.with_columns(
        plus.alias("plus"),
        digits.alias("digits"),
        pl.col("raw").str.contains(r"^\+?[0-9(][0-9 ()\-.]*$").alias("shape_ok"),
    )
    n = pl.col("digits").str.len_chars()
    nanp = (
        pl.when(~pl.col("plus") & (n == 10))
        .then(pl.lit("1") + pl.col("digits"))
        .when((n == 11) & pl.col("digits").str.starts_with("1"))
        .then(pl.col("digits"))
        .otherwise(None)
    )
    frame = frame.with_columns(nanp.alias("nanp"))
    is_intl = pl.col("plus") & ~pl.col("digits").str.starts_with("1") & pl.col("nanp").is_null()
    problem = (
        pl.when(pl.col("raw").is_null() | (pl.col("raw") == ""))
        .then(None)
        .when(~pl.col("shape_ok"))
        .then(pl.lit(BAD_CHARS))
        .when(pl.col("nanp").is_not_null())
        .then(
            pl.when(pl.col("nanp").str.contains(r"^1[2-9]\d\d[2-9]\d{6}$"))
            .then(None)
            .otherwise(pl.lit(BAD_NANP))
        )
        .when(is_intl & (n >= 8) & (n <= 15))
        .then(None)
        .when(is_intl | pl.col("plus"))
        .then(pl.lit(BAD_LENGTH))
        .otherwise(pl.lit(NEEDS_PLUS))
    )
    frame = frame.with_columns(
        problem.alias("problem"),
        pl.when(pl.col("nanp").is_not_null())
        .then(pl.col("nanp"))
        .otherwise(pl.col("digits"))
        .alias("number"),
    )
    ok = pl.col("problem").is_null() & pl.col("number").is_not_null() & (pl.col("number") != "")
    prefixes = (
        frame.filter(ok & pl.col("nanp").is_not_null())
        .select(pl.col("nanp").str.slice(1, 6).unique())
        .to_series()
        .to_list()
    )
    bad_prefixes = [p for p in prefixes if not _nanp_prefix_valid(p)]
    intl = frame.filter(ok & pl.col("nanp").is_null()).select(pl.col("number").unique())
    bad_numbers = [d for d in intl.to_series().to_list() if not _international_valid(d)]
    if bad_prefixes or bad_numbers:
        invalid = (
            pl.col("nanp").is_not_null() & pl.col("nanp").str.slice(1, 6).is_in(bad_prefixes)
        ) | (pl.col("nanp").is_null() & pl.col("number").is_in(bad_numbers))
        frame = frame.with_columns(
            pl.when(ok & invalid)
            .then(pl.lit(INVALID))
            .otherwise(pl.col("problem"))
            .alias("problem")
        )
    # A bad number has no normalised form: null keeps it out of duplicate and reference checks.
    return frame.select(
        pl.when(pl.col("problem").is_not_null() | (pl.col("raw").fill_null("") == ""))
        .then(None)
        .otherwise(pl.col("number"))
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
