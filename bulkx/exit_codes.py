"""Exit codes shared by every command and by the library's run outcomes (`docs/exit-codes.md`)."""

OK = 0
ERROR = 1
USAGE = 2  # usage or input validation error
PARTIAL = 3  # completed, some items failed
AUTH = 4  # authentication or authorization required
RESUMABLE = 5  # stopped, resumable
ENVIRONMENT = 6  # config or environment error: port in use, lock held, unsafe permissions
INTERRUPTED = 130
