"""`bulkx demo`: the main job on the embedded sandbox, start to finish, with visible progress.

For now it rehearses a port-in setup by hand, the way CarrierX's docs show the API being used:
start a sandbox, seed the ported numbers, then route them, give them E911 and line information,
rent extra numbers and create conference rooms. Later the plan/apply engine takes these steps over.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import typer

from bulkx.cli import exit_codes
from bulkx.sandbox.app import SandboxConfig, create_app
from bulkx.sandbox.resources.numbers import seed_ported
from bulkx.sandbox.seeding import read_ported_csv
from bulkx.sandbox.server import quiet_dropped_connections, serve_in_thread

DEMO_TOKEN = "demo-token"
PORTED_CSV = Path("samples") / "ported-numbers.csv"
E911 = {
    "address_1": "550 Fulton Ave",
    "city": "Hempstead",
    "state": "NY",
    "zip": "11550",
    "country_code": "USA",
}


class Progress:
    """One status line per step on stderr; a live counter while a bulk step runs on a TTY."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.started = time.monotonic()

    def step(self, text: str) -> None:
        sys.stderr.write(f"  {text}\n")

    def bulk(self, label: str, done: int, total: int, failed: int) -> None:
        if not self.tty and done not in (total,) and done % max(1, total // 4):
            return
        width = 24
        filled = int(width * done / max(1, total))
        line = f"  {label:<34} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        if failed:
            line += f"  {failed} failed"
        sys.stderr.write(
            ("\r" if self.tty else "") + line + ("" if self.tty and done < total else "\n")
        )
        sys.stderr.flush()


async def _bulk(
    progress: Progress,
    label: str,
    items: list[Any],
    action: Callable[[Any], Awaitable[httpx.Response]],
    *,
    concurrency: int = 8,
) -> tuple[int, list[str]]:
    """Run `action` over `items` with a bounded window; returns (succeeded, error messages)."""
    window = asyncio.Semaphore(concurrency)
    done = ok = 0
    errors: list[str] = []

    async def one(item: Any) -> None:
        nonlocal done, ok
        async with window:
            response = await action(item)
        done += 1
        if response.is_success:
            ok += 1
        else:
            errors.append(f"{response.status_code} {response.json().get('message')}")
        progress.bulk(label, done, len(items), len(errors))

    await asyncio.gather(*(one(item) for item in items))
    return ok, errors


async def _all_pages(client: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    """Follow `pagination.next` as CarrierX's own tools do."""
    items: list[dict[str, Any]] = []
    response = await client.get(path, params=params)
    while True:
        response.raise_for_status()
        page = response.json()
        items.extend(page["items"])
        next_url = page["pagination"].get("next")
        if not next_url:
            return items
        response = await client.get(next_url)


async def _rehearse(base_url: str, progress: Progress) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    async with httpx.AsyncClient(
        base_url=f"{base_url}/core/v2",
        headers={"Authorization": f"Bearer {DEMO_TOKEN}"},
        timeout=30,
        limits=limits,
    ) as core:
        me = (await core.get("/oauth/whoami")).raise_for_status().json()
        progress.step(f"signed in to the sandbox as partner {me['name']!r}")

        dids = await _all_pages(core, "/phonenumber/dids", limit=10)
        progress.step(f"found {len(dids)} ported numbers on the account (10 per page)")

        group = (
            (
                await core.post(
                    "/trunk_groups",
                    params={"with_trunks": "true"},
                    json={
                        "name": "acme-sip",
                        "trunks": [
                            {"name": "acme-pbx-a", "priority": 0},
                            {"name": "acme-pbx-b", "priority": 1},
                        ],
                    },
                )
            )
            .raise_for_status()
            .json()
        )
        progress.step(f"created trunk group acme-sip with {len(group['trunks'])} trunks")

        tg = group["trunk_group_sid"]
        routed, route_errors = await _bulk(
            progress,
            "routing ported numbers to acme-sip",
            dids,
            lambda d: core.patch(f"/phonenumber/dids/{d['did_sid']}", json={"trunk_group_sid": tg}),
        )
        located, e911_errors = await _bulk(
            progress,
            "setting E911 addresses",
            dids,
            lambda d: core.patch(
                f"/phonenumber/dids/{d['did_sid']}/emergency",
                json={"enabled": True, "caller_name": "ACME CORP", "locations": [E911]},
            ),
        )
        listed, cnam_errors = await _bulk(
            progress,
            "setting line information",
            dids,
            lambda d: core.patch(
                f"/phonenumber/dids/{d['did_sid']}/line_information",
                json={"enabled": True, "caller_name": "ACME CORP", "class_of_service": "business"},
            ),
        )

        page = (
            (
                await core.get(
                    "/phonenumber/available_dids",
                    params={"filter": 'phonenumber like "1516%" and state eq "NY"', "limit": 5},
                )
            )
            .raise_for_status()
            .json()
        )
        rented, rent_errors = await _bulk(
            progress,
            "renting new numbers in NPA 516",
            page["items"],
            lambda a: core.post(
                "/phonenumber/dids", json={"phonenumber": a["phonenumber"], "trunk_group_sid": tg}
            ),
        )

        endpoint = (
            (await core.post("/endpoints", json={"name": "acme-meetings", "type": "conference_v2"}))
            .raise_for_status()
            .json()
        )
        bridge = (
            (
                await core.get(
                    "/trunk_groups",
                    params={
                        "with_trunks": "true",
                        "filter": f'trunks.endpoint_sid eq "{endpoint["endpoint_sid"]}"',
                    },
                )
            )
            .raise_for_status()
            .json()["items"][0]
        )
        new_numbers = (
            await core.get("/phonenumber/dids", params={"filter": 'phonenumber like "1516%"'})
        ).json()["items"][:2]
        for did in new_numbers:
            (
                await core.patch(
                    f"/phonenumber/dids/{did['did_sid']}",
                    json={"trunk_group_sid": bridge["trunk_group_sid"]},
                )
            ).raise_for_status()
        progress.step(
            f"created conference_v2 endpoint acme-meetings; routed {len(new_numbers)} numbers to it"
        )
        props = endpoint["properties"]
        async with httpx.AsyncClient(
            base_url=f"{base_url}/conference/v2",
            auth=(props["login"], props["password"]),
            timeout=30,
        ) as conference:
            rooms = [
                {"name": f"acme-room-{i}", "access_codes": [
                    {"access_code": f"7{i:03d}01", "role": "host"},
                    {"access_code": f"7{i:03d}02", "role": "participant"},
                ]}
                for i in range(1, 4)
            ]  # fmt: skip
            made, room_errors = await _bulk(
                progress,
                "creating meeting rooms (Basic auth)",
                rooms,
                lambda room: conference.post("/meeting_rooms", json=room),
            )
            conference_dids = (await conference.get("/dids")).raise_for_status().json()["total"]

        errors = route_errors + e911_errors + cnam_errors + rent_errors + room_errors
        totals = {}
        for path in ("/phonenumber/dids",):
            totals[path] = (await core.get(path, params={"limit": 1})).json()["total"]
        on_tg = (
            await core.get("/phonenumber/dids", params={"trunk_group_sid": tg, "limit": 1})
        ).json()["total"]

    log: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as admin:
        since = 0
        while True:
            page = (
                (await admin.get("/_sandbox/requests", params={"since": since, "limit": 1000}))
                .raise_for_status()
                .json()
            )
            if not page["items"]:
                break
            log.extend(page["items"])
            since = page["next_since"]
    return {
        "ported": len(dids),
        "routed": routed,
        "e911": located,
        "line_information": listed,
        "rented": rented,
        "rooms": made,
        "conference_dids": conference_dids,
        "errors": errors,
        "dids_total": totals["/phonenumber/dids"],
        "on_trunk_group": on_tg,
        "requests": len(log),
        "statuses": sorted({str(e["status"]) for e in log}),
    }


def demo(
    workdir: Path = typer.Option(
        Path(".bulkx") / "demo", help="Where the demo keeps its sandbox database (recreated)."
    ),
    ported: Path = typer.Option(PORTED_CSV, help="The ported numbers to seed."),
) -> None:
    """Rehearse a port-in setup on a fresh embedded sandbox and print a summary."""
    started = time.monotonic()
    numbers, problems = read_ported_csv(ported)
    if problems:
        for problem in problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(exit_codes.USAGE)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    app = create_app(SandboxConfig(db=workdir / "sandbox.db", seed=0, token=DEMO_TOKEN))
    progress = Progress()
    typer.echo("bulkx demo: a port-in rehearsal on the embedded CarrierX sandbox", err=True)
    added, _ = seed_ported(app.world, numbers)
    progress.step(
        f"seeded {added} ported numbers from {ported} (assigned, no trunk group, no E911)"
    )
    quiet_dropped_connections()
    with serve_in_thread(app) as server:
        progress.step(f"sandbox answering on {server.url} (Core at {server.url}/core/v2)")
        try:
            result = asyncio.run(_rehearse(server.url, progress))
        except httpx.HTTPError as error:
            typer.echo(f"error: the sandbox stopped answering as expected: {error}", err=True)
            raise typer.Exit(exit_codes.ERROR) from None
    elapsed = time.monotonic() - started
    out = sys.stdout
    out.write("\nSummary\n")
    out.write(f"  ported numbers found           {result['ported']}\n")
    out.write(f"  routed to trunk group acme-sip {result['routed']}\n")
    out.write(f"  E911 addresses set             {result['e911']}\n")
    out.write(f"  line information set           {result['line_information']}\n")
    out.write(f"  new numbers rented             {result['rented']}\n")
    out.write(f"  meeting rooms created          {result['rooms']}"
              f" ({result['conference_dids']} DIDs on the conference endpoint)\n")  # fmt: skip
    out.write(f"  DIDs on the account            {result['dids_total']}"
              f" ({result['on_trunk_group']} on acme-sip)\n")  # fmt: skip
    out.write(f"  HTTP requests served           {result['requests']}"
              f" (statuses {', '.join(result['statuses'])})\n")  # fmt: skip
    out.write(f"  failures                       {len(result['errors'])}\n")
    out.write(f"  elapsed                        {elapsed:.1f} s\n")
    out.write(
        "\nNext: `bulkx sandbox serve` runs this sandbox for your own rehearsals (see README.md).\n"
    )
    if result["errors"]:
        for message in result["errors"][:10]:
            typer.echo(f"  failed: {message}", err=True)
        raise typer.Exit(exit_codes.PARTIAL)
