"""`bulkx sandbox ...`: run, seed and inspect the embedded CarrierX sandbox."""

from __future__ import annotations

import contextlib
import errno
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bulkx.cli import exit_codes
from bulkx.defaults import DEFAULT_SANDBOX_DB as DEFAULT_DB

if TYPE_CHECKING:
    from bulkx.sandbox.app import SandboxApp, SandboxConfig
    from bulkx.sandbox.world import World

# The sandbox itself (uvicorn, starlette, its inventory) is imported by the command that runs:
# `bulkx --help` and every other command start without it.

app = typer.Typer(
    help="The embedded CarrierX sandbox: a local emulator of the CarrierX REST APIs.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            raise
    return True


# The options of `serve` that need more than a line.
DB = typer.Option(DEFAULT_DB, help="SQLite file holding the sandbox's world.")
INVENTORY_SEED = typer.Option(
    None, help="Seed of the number inventory (fixed when the db is created; default 0)."
)
RATE_LIMIT = typer.Option(
    0.0,
    "--rate-limit",
    min=0.0,
    help="Requests/s allowed per credential (0 = unlimited); 429 beyond.",
)
FAULTS = typer.Option(
    "",
    help="Fault schedule, e.g. 'latency=20ms,jitter=10ms,http_5xx=0.02,reset=0.01,"
    "execute_then_reset=0.02,outage=10s@30s,unauthorized_after=500'.",
)
TOKEN = typer.Option(
    None,
    envvar="BULKX_SANDBOX_TOKEN",
    help="The only Bearer token the sandbox accepts, on Core and on its admin API"
    " (default: sandbox-token). On the command line it is visible to every user in `ps`:"
    " prefer the BULKX_SANDBOX_TOKEN environment variable or --token-file.",
    show_default=False,
)
TOKEN_FILE = typer.Option(
    None,
    "--token-file",
    help="Read the token from this file (its first line), instead of --token.",
    show_default=False,
)
KEEP_DEFAULT_CREDENTIALS = typer.Option(
    False,
    "--keep-default-credentials",
    help="With a token of your own, still accept sandbox-token and the default partner's"
    " password sandbox-password.",
)


@app.command()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Address to bind; loopback only."),
    port: int = typer.Option(8765, min=1, max=65535, help="TCP port."),
    db: Path = DB,
    seed: int | None = INVENTORY_SEED,
    rate_limit: float = RATE_LIMIT,
    burst: int = typer.Option(0, min=0, help="Token bucket size (default: the rate, at least 1)."),
    faults: str = FAULTS,
    fault_seed: int = typer.Option(0, "--fault-seed", help="Seed of the fault dice."),
    token: str | None = TOKEN,
    token_file: Path | None = TOKEN_FILE,
    keep_default_credentials: bool = KEEP_DEFAULT_CREDENTIALS,
) -> None:
    """Serve the sandbox over HTTP until Ctrl-C."""
    from bulkx.sandbox.app import SandboxConfig
    from bulkx.sandbox.server import quiet_dropped_connections, serve_forever

    _refuse_unless_loopback(host)
    token = _settle_token(token, token_file)
    _refuse_bad_faults_or_busy_port(faults, host, port)
    config = SandboxConfig(
        db=db,
        seed=seed,
        token=token,
        keep_default_credentials=keep_default_credentials,
        rate_limit=rate_limit,
        burst=burst,
        faults=faults,
        fault_seed=fault_seed,
    )
    sandbox = _create_sandbox(config)
    base = f"http://{host}:{port}"
    _warn_of_a_token_in_ps(ctx)
    _banner(sandbox, base, own_token=token is not None)
    limits = f"rate limit {rate_limit:g}/s per credential" if rate_limit else "no rate limit"
    typer.echo(f"  {limits}; faults: {faults or 'none'}; admin: {base}/_sandbox/state", err=True)
    typer.echo("Ctrl-C stops it.", err=True)
    quiet_dropped_connections()
    # uvicorn shuts down gracefully and re-raises Ctrl-C: it is how a sandbox is meant to stop.
    with contextlib.suppress(KeyboardInterrupt):
        serve_forever(sandbox, host=host, port=port)
    typer.echo("sandbox stopped", err=True)


def _refuse_unless_loopback(host: str) -> None:
    from bulkx.sandbox.server import is_loopback

    if not is_loopback(host):
        raise _fail(f"the sandbox binds loopback addresses only (127.0.0.1, ::1), not {host}", 2)


def _refuse_bad_faults_or_busy_port(faults: str, host: str, port: int) -> None:
    from bulkx.sandbox.faults import FaultSpecError, parse_fault_spec

    try:
        parse_fault_spec(faults)
    except FaultSpecError as error:
        raise _fail(f"--faults: {error}", exit_codes.USAGE) from None
    if not _port_free(host, port):
        raise _fail(
            f"port {port} on {host} is in use (another sandbox?); pick one with --port",
            exit_codes.ENVIRONMENT,
        )


def _create_sandbox(config: SandboxConfig) -> SandboxApp:
    from bulkx.sandbox.app import create_app

    try:
        return create_app(config)
    except ValueError as error:
        raise _fail(str(error), exit_codes.ENVIRONMENT) from None


def _warn_of_a_token_in_ps(ctx: typer.Context) -> None:
    source = ctx.get_parameter_source("token")
    if source is not None and source.name == "COMMANDLINE":  # not BULKX_SANDBOX_TOKEN
        typer.echo(
            "warning: --token is visible to every local user in `ps`;"
            " prefer BULKX_SANDBOX_TOKEN or --token-file",
            err=True,
        )


def _banner(sandbox: SandboxApp, base: str, *, own_token: bool) -> None:
    world = sandbox.world
    typer.echo(f"CarrierX sandbox on {base}  (db {world.store.path}, seed {world.seed})", err=True)
    for prefix in sandbox.prefixes:
        typer.echo(f"  {base}{prefix}", err=True)
    whose = (
        "your token"
        if own_token
        else "the default sandbox-token: any local user knows it; give --token-file for your own"
    )
    typer.echo(
        f"  Core and admin API: 'Authorization: Bearer <token>' ({whose});"
        " app APIs: Basic with the endpoint's properties.login/password",
        err=True,
    )


def _settle_token(token: str | None, token_file: Path | None) -> str | None:
    """The token from --token / BULKX_SANDBOX_TOKEN or --token-file (not both), checked."""
    if token_file is not None:
        if token is not None:
            raise _fail(
                "give the token once: --token-file, or --token / BULKX_SANDBOX_TOKEN",
                exit_codes.USAGE,
            )
        try:
            lines = token_file.read_text(encoding="utf-8").splitlines()
            mode = token_file.stat().st_mode
        except (OSError, UnicodeDecodeError) as error:
            message = f"--token-file {token_file}: cannot read it ({error})"
            raise _fail(message, exit_codes.USAGE) from None
        if mode & 0o077:
            typer.echo(f"warning: {token_file} is readable by other users (chmod 600 it)", err=True)
        token = lines[0] if lines else ""
    if token is None:
        return None
    token = token.strip()
    if not token or any(ch.isspace() or not ch.isprintable() or ord(ch) > 126 for ch in token):
        raise _fail("the token must be non-empty printable ASCII without spaces", exit_codes.USAGE)
    return token


PORTED = typer.Option(
    None,
    "--ported",
    help="CSV of numbers that finished porting in (a phonenumber column, optional name).",
)
APP_RECORDS = typer.Option(
    0, "--app-records", min=0, help="Add this many conference meetings and mediator calls."
)
LIVE_MEETINGS = typer.Option(
    0,
    "--live-meetings",
    min=0,
    help="Start a live meeting (a few callers) in this many idle meeting rooms of each"
    " conference endpoint; the rooms must exist.",
)


@app.command("seed")
def seed_command(
    ported: Path | None = PORTED,
    db: Path = DB,
    seed: int | None = typer.Option(None, help="Inventory seed, when this creates the db."),
    cdrs: int = typer.Option(0, "--cdrs", min=0, help="Add this many call detail records."),
    mdrs: int = typer.Option(0, "--mdrs", min=0, help="Add this many message detail records."),
    app_records: int = APP_RECORDS,
    live_meetings: int = LIVE_MEETINGS,
) -> None:
    """Put already-ported numbers on the partner's account (assigned, no trunk group, no E911),
    and/or add detail records (CDRs, MDRs, app records) for exports to read, and/or start live
    conference meetings."""
    from bulkx.sandbox.app import SandboxConfig, open_world
    from bulkx.sandbox.resources.numbers import seed_ported
    from bulkx.sandbox.seeding import read_ported_csv

    if ported is None and not (cdrs or mdrs or app_records or live_meetings):
        raise _fail(
            "nothing to seed: give --ported and/or --cdrs/--mdrs/--app-records/--live-meetings",
            exit_codes.USAGE,
        )
    numbers, problems = read_ported_csv(ported) if ported is not None else ([], [])
    for problem in problems:
        typer.echo(str(problem), err=True)
    if problems:
        raise _fail(f"{len(problems)} problem(s) in {ported}; nothing was seeded", exit_codes.USAGE)
    try:
        world = open_world(SandboxConfig(db=db, seed=seed))
    except ValueError as error:
        raise _fail(str(error), exit_codes.ENVIRONMENT) from None
    if ported is not None:
        added, existing = seed_ported(world, numbers)
        typer.echo(
            f"seeded {added} ported number(s) into {db}"
            + (f"; {existing} were there already" if existing else ""),
            err=True,
        )
    _seed_activity(world, db, calls=cdrs, messages=mdrs, app_records=app_records)
    _seed_live_meetings(world, db, live_meetings)
    world.store.close()


def _seed_activity(world: World, db: Path, *, calls: int, messages: int, app_records: int) -> None:
    """Detail records (CDRs, MDRs, app records), when any is asked for."""
    from bulkx.sandbox.resources.records import seed_records

    if calls or messages or app_records:
        counts = seed_records(world, calls=calls, messages=messages, app_records=app_records)
        listed = ", ".join(f"{count} {name}" for name, count in counts.items())
        typer.echo(f"seeded {listed} into {db}", err=True)


def _seed_live_meetings(world: World, db: Path, meetings: int) -> None:
    from bulkx.sandbox.resources.live_meeting_seeding import seed_live_meetings

    if meetings:
        started = seed_live_meetings(world, meetings)
        typer.echo(
            f"started {started['meetings']} live meeting(s) with {started['calls']} call(s) in {db}"
            + ("" if started["meetings"] else "; no idle meeting room: create rooms first"),
            err=True,
        )


@app.command()
def info(db: Path = DB) -> None:
    """What the sandbox's world holds: seed, inventory size, object counts."""
    from bulkx.sandbox.app import SandboxConfig, open_world

    if not db.exists():
        raise _fail(f"{db} does not exist yet; `bulkx sandbox serve` creates it", exit_codes.USAGE)
    world = open_world(SandboxConfig(db=db))
    counts = world.store.counts()
    sys.stdout.write(f"db: {db}\nseed: {world.seed}\ninventory: {world.inventory.size:,} numbers\n")
    for name, count in sorted(counts.items()):
        if name not in ("tokens", "partners"):
            sys.stdout.write(f"{name}: {count}\n")
    world.store.close()


@app.command()
def assumptions() -> None:
    """Every behaviour the sandbox assumes where the CarrierX docs are silent."""
    from bulkx.sandbox.assumption_table import assumptions_table

    for row in assumptions_table():
        sys.stdout.write(f"{row.section:<20} {row.name} = {row.value}\n    {row.why}\n")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="sandbox")
