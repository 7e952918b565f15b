"""Every behaviour of the sandbox that the CarrierX documentation does not pin down.

`../shared/reference/carrierx-api.md` marks these **assumed** or **NOT FOUND**. Keeping them in
one table makes them easy to find and to correct when better evidence appears: change a value
in its domain's module here, and the sandbox (and its tests, which read these names from
`bulkx.sandbox.assumptions`) follow. Each module is one domain of the API; `domain_modules` is their
order in the table of docs/sandbox.md (bulkx.sandbox.assumption_table).
"""

from __future__ import annotations

from bulkx.sandbox.assumptions import (
    accounts,
    apps,
    batch,
    conference,
    content,
    core,
    messaging,
    phone_numbers,
    routing,
)
from bulkx.sandbox.assumptions.accounts import *  # noqa: F403
from bulkx.sandbox.assumptions.apps import *  # noqa: F403
from bulkx.sandbox.assumptions.batch import *  # noqa: F403
from bulkx.sandbox.assumptions.conference import *  # noqa: F403
from bulkx.sandbox.assumptions.content import *  # noqa: F403
from bulkx.sandbox.assumptions.core import *  # noqa: F403
from bulkx.sandbox.assumptions.messaging import *  # noqa: F403
from bulkx.sandbox.assumptions.phone_numbers import *  # noqa: F403
from bulkx.sandbox.assumptions.routing import *  # noqa: F403

#: The domain modules, in the order the assumptions table lists them.
domain_modules = (
    core,
    accounts,
    phone_numbers,
    routing,
    batch,
    conference,
    apps,
    messaging,
    content,
)
