"""The vectorised normaliser answers as phonenumbers does, row by row.

`bulkx.plan.numbers` runs phonenumbers' +1 metadata regexes in polars instead of calling
`phonenumbers.is_valid_number` per number; these tests compare the two on samples: random
numbers from every area code, adversarial ones (N11 codes, 555, toll-free, Canadian and
Caribbean areas, reserved codes), non-NANP numbers in E.164, and shapes the normaliser rejects.
"""

from __future__ import annotations

import random
import re

import phonenumbers
import polars as pl
import pytest

from bulkx.plan import numbers

#: Area codes where phonenumbers' answer turns on more than the area code: Canadian,
#: Caribbean and Pacific NANP members (each with its own metadata), toll-free, premium rate,
#: N11-like and reserved codes.
_AREA_CODES = """
    204 236 250 289 306 403 416 418 437 514 600 604 622 633 709 867 879 902
    242 246 264 268 284 340 345 441 473 649 658 664 670 671 684 721 758 767 784 787
    809 829 849 868 869 876 939
    800 833 844 855 866 877 888 822 880 900 500 521 533 544 566 577 588 700 710
    211 311 411 511 611 711 811 911 370 371 456 555 950 958 959 976 999 309 319
"""
ADVERSARIAL_NPAS = tuple(_AREA_CODES.split())
#: Line numbers that sit on range edges (555-01xx is fictional, 2000 and 0100 were the old
#: code's representatives).
EDGE_LINES = ("0000", "0100", "0199", "1212", "2000", "5555", "9999")
INTERNATIONAL = (
    "+44 20 7183 8750",
    "+442071838750",
    "+49 30 123456",
    "+49 1512 3456789",
    "+33 1 23 45 67 89",
    "+91 98765 43210",
    "+86 10 1234 5678",
    "+7 495 123-45-67",
    "+61 2 9876 5432",
    "+81 3-1234-5678",
    "+55 11 91234-5678",
    "+999 1234 5678",
    "+800 1234 5678",
    "+882 1234 5678",
    "+0 123 456 789",
    "+20 2 1234 5678",
    "+353 1 234 5678",
    "+39 06 1234 5678",
    "+39 312 345 6789",
    "+1 242 357 1234",
    "+1 (809) 555-0100",
)
MALFORMED = (
    "516-206-5575 x123",
    "516-206-5575 ext. 12",
    "+1 516 CALL NOW",
    "1-800-FLOWERS",
    "tel:+15162065575",
    "5162065575;ext=1",
    "++15162065575",
    "(516)2065575",
    "516 206 557",
    "51620655751",
    "0162065575",
    "1162065575",
    "5161065575",
    "+1 516 206 557",
    "+12",
    "+123456789012345678",
    "442071838750",
    "",
    "   ",
    "-",
    "()",
)


def reference(raw: str | None) -> tuple[str | None, str | None]:
    """(number, problem) for one value, row by row: the normaliser's documented rules for the
    shape, then `phonenumbers.is_valid_number` for the range."""
    text = (raw or "").strip()
    if not text:
        return None, None
    if not re.fullmatch(r"\+?[0-9(][0-9 ()\-.]*", text):
        return None, numbers.BAD_CHARS
    digits = re.sub(r"[^0-9]", "", text)
    plus = text.startswith("+")
    nanp = None
    if not plus and len(digits) == 10:
        nanp = "1" + digits
    elif len(digits) == 11 and digits.startswith("1"):
        nanp = digits
    if nanp is not None:
        if not re.fullmatch(r"1[2-9][0-9]{2}[2-9][0-9]{6}", nanp):
            return None, numbers.BAD_NANP
        number = nanp
    elif plus and not digits.startswith("1"):
        if not 8 <= len(digits) <= 15:
            return None, numbers.BAD_LENGTH
        number = digits
    else:
        return None, numbers.BAD_LENGTH if plus else numbers.NEEDS_PLUS
    try:
        valid = phonenumbers.is_valid_number(phonenumbers.parse("+" + number, None))
    except phonenumbers.NumberParseException:
        valid = False
    return (number, None) if valid else (None, numbers.INVALID)


def _styled(rng: random.Random, npa: str, nxx: str, line: str) -> str:
    styles = (
        f"+1 ({npa}) {nxx}-{line}",
        f"{npa}-{nxx}-{line}",
        f"1{npa}{nxx}{line}",
        f"+1{npa}{nxx}{line}",
        f"{npa}.{nxx}.{line}",
        f" {npa} {nxx} {line} ",
    )
    return rng.choice(styles)


def _assert_same(values: list[str | None]) -> None:
    got = numbers.normalise_e164(pl.Series(values, dtype=pl.String)).rows()
    mismatches = [
        (value, row, reference(value))
        for value, row in zip(values, got, strict=True)
        if row != reference(value)
    ]
    assert not mismatches, f"{len(mismatches)} of {len(values)} differ, e.g. {mismatches[:5]}"


def test_random_numbers_from_every_area_code() -> None:
    rng = random.Random(18)
    values: list[str | None] = []
    for area in range(200, 1000):
        for _ in range(12):
            nxx = f"{rng.randint(0, 999):03d}"
            line = rng.choice([*EDGE_LINES, f"{rng.randint(0, 9999):04d}"])
            values.append(_styled(rng, str(area), nxx, line))
    _assert_same(values)


@pytest.mark.parametrize("npa", ADVERSARIAL_NPAS)
def test_every_exchange_of_adversarial_area_codes(npa: str) -> None:
    """All 1,000 exchanges, each with an edge line and a random one: validity can turn on the
    exchange and, for some areas, on the line digits after it."""
    rng = random.Random(f"18-{npa}")
    values: list[str | None] = []
    for exchange in range(1000):
        nxx = f"{exchange:03d}"
        values.append(f"{npa}{nxx}{rng.choice(EDGE_LINES)}")
        values.append(f"+1{npa}{nxx}{rng.randint(0, 9999):04d}")
    _assert_same(values)


def test_international_malformed_and_empty_values() -> None:
    _assert_same([*INTERNATIONAL, *MALFORMED, None])


def test_random_international_numbers() -> None:
    rng = random.Random(1818)
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    values: list[str | None] = []
    for _ in range(3000):
        code = str(rng.choice(codes))
        length = rng.randint(6, 13)
        national = "".join(str(rng.randint(0, 9)) for _ in range(length))
        values.append(f"+{code} {national}")
    _assert_same(values)


def test_worst_case_many_distinct_prefixes_in_one_column() -> None:
    """Thousands of distinct NPA-NXX prefixes in one call (the bench's worst case, smaller):
    the answer per row is still phonenumbers'."""
    rng = random.Random(300)
    values: list[str | None] = [
        f"{rng.randint(200, 999)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
        for _ in range(20_000)
    ]
    _assert_same(values)


def test_plain_expression_and_partitioned_path_agree() -> None:
    """`nanp_valid` (one expression, every region over every row) and the partitioned path
    `normalise_e164` takes give the same answer."""
    rng = random.Random(640)
    areas = [*ADVERSARIAL_NPAS, *(str(a) for a in range(200, 1000))]
    nationals = pl.Series(
        [
            f"{rng.choice(areas)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
            for _ in range(8000)
        ]
    )
    plain = pl.DataFrame({"n": nationals}).select(numbers.nanp_valid(pl.col("n")))[:, 0]
    assert (~plain).to_list() == numbers._nanp_invalid(nationals).to_list()
