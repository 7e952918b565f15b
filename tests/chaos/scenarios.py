"""The fault campaign's scenarios (test designs T1-T13 of shared/reference/reliability-and-ux.md).

Each scenario builds its own sandbox and workload, runs bulkx in subprocesses while injecting
its faults, and returns an `Outcome`: how many bulkx processes ran and were killed, what the
sandbox injected, the checker's classes, and every other expectation that did not hold. They
never assert: the pytest tests assert on the outcome (at a CI-friendly size), the campaign
(`python -m tests.chaos.campaign`) prints a table of them (at full size). T11 (TLS and
redirects) needs an HTTPS sandbox and a second origin, which the sandbox does not serve; T14
(power loss) is out of scope for kill -9 tests, as the design says.
"""

from tests.chaos.crash_scenarios import crash_points, kill_and_resume
from tests.chaos.fault_scenarios import (
    early_after_429,
    expired_credentials,
    lost_answers,
    max_in_any_second,
    outage,
    rate_ceiling,
    storm,
)
from tests.chaos.guard_scenarios import (
    monitored_run,
    permissions,
    plan_fuzz,
    property_suites,
    second_writer,
    token_canary,
)
from tests.chaos.outcome import Outcome

__all__ = [
    "Outcome",
    "crash_points",
    "early_after_429",
    "expired_credentials",
    "kill_and_resume",
    "lost_answers",
    "max_in_any_second",
    "monitored_run",
    "outage",
    "permissions",
    "plan_fuzz",
    "property_suites",
    "rate_ceiling",
    "second_writer",
    "storm",
    "token_canary",
]
