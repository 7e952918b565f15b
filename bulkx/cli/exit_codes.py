"""Exit codes shared by every command: defined in `bulkx.exit_codes` (the library's run outcomes
use them too)."""

from bulkx.exit_codes import AUTH, ENVIRONMENT, ERROR, INTERRUPTED, OK, PARTIAL, RESUMABLE, USAGE

__all__ = ["AUTH", "ENVIRONMENT", "ERROR", "INTERRUPTED", "OK", "PARTIAL", "RESUMABLE", "USAGE"]
