"""The CarrierX API client: targets, credentials, filters, retries and pagination."""

import sys
import types

# httpx's package imports its own command-line tool (`httpx._main`, which pulls in pygments'
# lexers) only to export `httpx.main`, which bulkx never calls: 30-40 ms of every command that
# talks to an API (measured). Given a module without `main`, httpx defines its fallback.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", types.ModuleType("httpx._main"))

from bulkx.api.auth import TOKEN_ENV, BasicCredentials, Secret, load_token
from bulkx.api.client import CarrierX, parse_retry_after
from bulkx.api.filters import Filter, quote
from bulkx.api.retry import RetryBudget, RetryPolicy, is_safe_to_retry
from bulkx.api.target import DEFAULT_CORE_BASE, Target, derive_bases, is_loopback

__all__ = [
    "DEFAULT_CORE_BASE",
    "TOKEN_ENV",
    "BasicCredentials",
    "CarrierX",
    "Filter",
    "RetryBudget",
    "RetryPolicy",
    "Secret",
    "Target",
    "derive_bases",
    "is_loopback",
    "is_safe_to_retry",
    "load_token",
    "parse_retry_after",
    "quote",
]
