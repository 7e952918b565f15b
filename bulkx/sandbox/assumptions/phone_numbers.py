"""Assumptions of the sandbox about DIDs: renting, releasing, browsing, coverage, DID rates and
short codes."""

from __future__ import annotations

from typing import Final

# --- phone numbers --------------------------------------------------------------------------------
#: Renting a number that is on the caller's account already.
RENT_ALREADY_OWNED_STATUS: Final = 409
#: Renting a number that is aging after a release, or held by another partner.
RENT_TAKEN_STATUS: Final = 409
#: Renting a number the inventory does not hold at all.
RENT_NOT_IN_INVENTORY_STATUS: Final = 404
#: Minutes a released number ages before it can be rented again (sample classification).
AGING_POLICY_MINUTES: Final = 86400
#: A released DID disappears from the partner's list and from GET by sid (404).
RELEASED_DID_VISIBLE: Final = False
#: An available DID keeps its did_sid when rented.
RENT_KEEPS_INVENTORY_SID: Final = True
#: Renting by filter or by available-DID sid is not documented; only `phonenumber` selects.
RENT_SELECTORS: Final = ("phonenumber",)
#: POST /phonenumber/dids with no body at all: the rent page says "an empty object can be
#: passed" and the quick start sends `{}`; a body that is not there is refused (as a body that is
#: not JSON) rather than taken as `{}`, which rents (and bills) a random number.
RENT_EMPTY_BODY_STATUS: Final = 400
#: Available DIDs also filter on `npa` (the area code, 3 digits) and `npa_nxx` (the first six
#: digits of the national number): the browse page filters "by their geographical location and
#: area codes" (its table was cut off after `latlng`), and Browse Coverage documents these two
#: names (https://docs.carrierx.com/voice/core-api/phone-numbers/browse-coverage). They are
#: filter names only: an available DID object has no such fields.
AVAILABLE_DID_AREA_FILTERS: Final = ("npa", "npa_nxx")
#: Available DIDs order by any of their fields ("attribute name + asc/desc", the pagination
#: page); numbers with equal values come in phonenumber order. `did_sid` is the exception: a
#: sid made from a hash of the number cannot be ordered without reading the whole inventory, so
#: ordering by it is a 400.
AVAILABLE_DID_UNORDERABLE: Final = ("did_sid",)

# --- phone number extras --------------------------------------------------------------------------
#: Short codes are made by support, never through the API; each partner starts with this many
#: (made on its first short-code read, the same for a given seed and partner).
SHORT_CODES_PER_PARTNER: Final = 3
#: `group_by` values of Browse Coverage (the docs' list was cut off; these are its filter fields).
#: Groups come ordered by key; a missing or unknown group_by is a 400.
COVERAGE_GROUP_BY: Final = ("country_code", "locality", "npa", "npa_nxx", "state")
#: The DID tier rates every partner sees: the docs' sample tier (one per classification), plan
#: name and effective date.
# fmt: off
DID_RATE_TIER: Final = {
    "price_0": "0.15", "price_1": "0.12", "price_2": "0.1", "price_3": "0.07",
    "price_4": "0.05", "price_5": "0.02", "price_6": "0.01",
    "quantity_0": 0, "quantity_1": 3, "quantity_2": 5, "quantity_3": 6,
    "quantity_4": 8, "quantity_5": 9, "quantity_6": 11,
}
# fmt: on
DID_RATES_PLAN_NAME: Final = "did_retail-2017-08-03.txt"
DID_RATES_EFFECTIVE_DATE: Final = "2017-08-03T00:00:00.000Z"
#: /phonenumber/rates/csv: a header row of the item fields in alphabetical order, then one row per
#: tier, for the same filter/order/limit/offset as the JSON list.
DID_RATES_CSV: Final = "item_fields_sorted"
