"""How every command reports an error a person can act on: one line on stderr, one exit code."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import typer

from bulkx.cli import exit_codes
from bulkx.errors import ApiError, AuthError, BulkxError, ConfigError, JournalLocked, ReadStopped
from bulkx.escaping import printable

T = TypeVar("T")


def err(message: str) -> None:
    # A message quotes API answers and plan values: nothing in it may drive the terminal.
    typer.echo(f"error: {printable(message, keep_newlines=True)}", err=True)


def locked(error: JournalLocked) -> None:
    """The message for a run refused because another live process holds what it needs: its
    message names the holder (run id, pid); the hint says what to do."""
    hint = error.hint or f"wait for it to end (`bulkx status {error.run_id}`)"
    err(f"{error}\n  hint: {hint}")


def guarded(job: Callable[[], T], *, doing: str = "") -> T:
    """Run `job`; the errors a person can act on become a message and an exit code.
    `doing` ("reading live state") prefixes API errors with what failed."""
    try:
        return job()
    except AuthError as error:
        err(f"{error} — check the token ($CARRIERX_TOKEN or --token-file)")
        raise typer.Exit(exit_codes.AUTH) from None
    except ConfigError as error:
        err(str(error) + (f"\n  hint: {error.hint}" if error.hint else ""))
        raise typer.Exit(exit_codes.ENVIRONMENT) from None
    except JournalLocked as error:
        # Another live process holds the run, or objects this run would touch (`RunsOverlap`).
        locked(error)
        raise typer.Exit(exit_codes.ENVIRONMENT) from None
    except ReadStopped as error:
        # The API was down while live state was read: before anything was sent.
        err(f"{error}; nothing was changed, run it again later")
        raise typer.Exit(exit_codes.RESUMABLE) from None
    except (ApiError, BulkxError) as error:
        err(f"{doing} failed: {error}" if doing else str(error))
        raise typer.Exit(exit_codes.ERROR) from None
    except KeyboardInterrupt:
        err("interrupted; `bulkx runs` shows a run to resume")
        raise typer.Exit(exit_codes.INTERRUPTED) from None
