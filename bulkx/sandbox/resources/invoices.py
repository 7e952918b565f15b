"""Core invoices: one per calendar month, made on first read. The current month's invoice is open
and re-totalled from the partner's records on every read (calls, messages, rented DIDs); the
previous month's is closed and paid. HTML and PDF renderings, and "send to these addresses"
requests, which are recorded (`invoice_emails`) and send nothing.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bulkx.sandbox import assumptions
from bulkx.sandbox.context import Ctx
from bulkx.sandbox.crud import get_object, list_objects, load
from bulkx.sandbox.errors import FieldError, invalid
from bulkx.sandbox.http import Api, Handler, Raw
from bulkx.sandbox.resources.messaging import MESSAGE_DR
from bulkx.sandbox.resources.records import CALL_DR
from bulkx.sandbox.schema import Hooks, Resource, ro
from bulkx.sandbox.store import Store
from bulkx.sandbox.world import World, now_iso


def _period(months_back: int) -> tuple[datetime, datetime]:
    """[start, end) of the calendar month `months_back` before this one (UTC)."""
    first = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for _ in range(months_back):
        first = (first - timedelta(days=1)).replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


def _usage(ctx: Ctx, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The invoice items of [start, end): calls and messages by direction, and rented DIDs."""
    store, lo, hi = ctx.world.store, _iso(start), _iso(end)
    period = {
        "country_code": "USA",
        "date_billing_period_end": _iso(end - timedelta(seconds=1)),
        "date_billing_period_start": lo,
    }
    items: list[dict[str, Any]] = []
    date = Store.column("date_start")
    for direction, usage, amount in store.rows(
        f"SELECT {Store.column('direction')},"
        " sum(CAST(json_extract(data, '$.duration_billing') AS INTEGER)),"
        " sum(CAST(json_extract(data, '$.price') AS REAL))"
        f" FROM t_{CALL_DR.collection} WHERE owner=? AND {date} >= ? AND {date} < ? GROUP BY 1",
        (ctx.owner, lo, hi),
    ):
        items.append(
            {
                **period,
                "amount": _money(Decimal(str(amount or 0))),
                "direction": direction,
                "type": "toll",
                "usage": int(usage or 0),
            }
        )
    for direction, kind, usage, amount in store.rows(
        f"SELECT {Store.column('direction')}, json_extract(data, '$.type'), count(*),"
        " sum(CAST(json_extract(data, '$.price') AS REAL))"
        f" FROM t_{MESSAGE_DR.collection} WHERE owner=? AND {date} >= ? AND {date} < ?"
        " GROUP BY 1, 2",
        (ctx.owner, lo, hi),
    ):
        items.append(
            {
                **period,
                "amount": _money(Decimal(str(amount or 0))),
                "direction": direction,
                "type": kind,
                "usage": int(usage),
            }
        )
    dids, rent = store.rows(
        "SELECT count(*), sum(CAST(json_extract(data, '$.price') AS REAL)) FROM t_dids"
        " WHERE owner=? AND c_status='assigned'",
        (ctx.principal.partner_sid,),
    )[0]
    if dids:
        items.append(
            {**period, "amount": _money(Decimal(str(rent or 0))), "type": "did", "usage": int(dids)}
        )
    return sorted(items, key=lambda i: (i["type"], i.get("direction") or ""))


def _totals(items: list[dict[str, Any]], previous: Decimal) -> dict[str, Any]:
    amount = sum((Decimal(i["amount"]) for i in items), Decimal(0))
    tax = (amount * Decimal(assumptions.INVOICE_TAX_RATE)).quantize(Decimal("0.01"))
    tax_items = (
        [{"amount": _money(tax), "jurisdiction": "federal", "type": "fed_universal_service_fund"}]
        if tax
        else []
    )
    return {
        "amount": _money(amount),
        "amount_tax": _money(tax),
        "balance_forward": _money(previous - amount - tax),
        "balance_previous": _money(previous),
        "invoice_items": items,
        "tax_items": tax_items,
    }


def _invoice_sid(partner_sid: str, start: datetime) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"bulkx-invoice-{partner_sid}-{start:%Y-%m}"))


def _bring_up_to_date(ctx: Ctx) -> None:
    """Make last month's invoice (closed, once) and (re)total this month's open one."""
    store, partner = ctx.world.store, ctx.principal.partner_sid
    with store.transaction():
        last_start, last_end = _period(1)
        last_sid = _invoice_sid(partner, last_start)
        last = store.get(INVOICE.collection, last_sid)
        if last is None:
            previous = Decimal(str(ctx.world.partner(partner).get("balance") or "0"))
            last = {
                **_totals(_usage(ctx, last_start, last_end), previous),
                "amount_due": "0.00",
                "date_billing_period_end": _iso(last_end - timedelta(seconds=1)),
                "date_billing_period_start": _iso(last_start),
                "date_charge_expected": _iso(last_end - timedelta(seconds=1)),
                "date_charged": _iso(last_end),
                "date_created": _iso(last_start),
                "date_issued": _iso(last_end),
                "display_id": "001",
                "invoice_sid": last_sid,
                "paid": True,
                "partner_sid": partner,
                "pay_items": [],
                "status": "closed",
            }
            store.insert(INVOICE.collection, last_sid, ctx.owner, last)
        start, end = _period(0)
        sid = _invoice_sid(partner, start)
        current = store.get(INVOICE.collection, sid)
        totals = _totals(_usage(ctx, start, end), Decimal(last["balance_forward"]))
        invoice = {
            **totals,
            "amount_due": "0.00",
            "date_billing_period_end": _iso(end - timedelta(seconds=1)),
            "date_billing_period_start": _iso(start),
            "date_charge_expected": _iso(end - timedelta(seconds=1)),
            "date_charged": None,
            "date_created": _iso(start),
            "date_issued": None,
            "display_id": "002",
            "invoice_sid": sid,
            "paid": False,
            "partner_sid": partner,
            "pay_items": [],
            "status": "open",
        }
        if current is None:
            store.insert(INVOICE.collection, sid, ctx.owner, invoice)
        elif current != invoice:
            store.replace(INVOICE.collection, sid, invoice)


INVOICE = Resource(
    name="invoice",
    api="core",
    path="/invoices",
    sid_field="invoice_sid",
    collection="invoices",
    indexed=("status", "date_created"),
    operations=frozenset({"list", "get"}),
    query_args=("with_related",),
    hooks=Hooks(before_read=_bring_up_to_date),
    fields=tuple(
        ro(name, kind)  # type: ignore[arg-type]
        for name, kind in (
            ("amount", "str"),
            ("amount_due", "str"),
            ("amount_tax", "str"),
            ("balance_forward", "str"),
            ("balance_previous", "str"),
            ("date_billing_period_end", "str"),
            ("date_billing_period_start", "str"),
            ("date_charge_expected", "str"),
            ("date_charged", "str"),
            ("date_created", "str"),
            ("date_issued", "str"),
            ("display_id", "str"),
            ("invoice_items", "array"),
            ("invoice_sid", "str"),
            ("paid", "bool"),
            ("partner_sid", "str"),
            ("pay_items", "array"),
            ("status", "str"),
            ("tax_items", "array"),
        )
    ),
)

INVOICE_EMAIL = Resource(
    name="invoice_email",
    api="core",
    path="/invoices/{invoice_sid}/emails",
    sid_field="email_sid",
    collection="invoice_emails",
    operations=frozenset(),
    fields=(
        ro("date_created"),
        ro("email_sid"),
        ro("emails", "array"),
        ro("format"),
        ro("invoice_sid"),
        ro("partner_sid"),
    ),
)


def _invoice(ctx: Ctx, sid: str) -> dict[str, Any]:
    _bring_up_to_date(ctx)
    return load(ctx, INVOICE, sid)


def invoice_html(ctx: Ctx, sid: str) -> Raw:
    invoice = _invoice(ctx, sid)
    rows = "".join(
        f"<tr><td>{html.escape(str(i['type']))}</td>"
        f"<td>{html.escape(str(i.get('direction') or ''))}</td>"
        f"<td>{i['usage']}</td><td>{i['amount']}</td></tr>"
        for i in invoice["invoice_items"]
    )
    page = (
        f"<!DOCTYPE html><html><head><title>Invoice {invoice['display_id']}</title></head><body>"
        f"<h1>CarrierX invoice {invoice['display_id']}</h1>"
        f"<p>{invoice['date_billing_period_start']} to {invoice['date_billing_period_end']}"
        f" ({invoice['status']})</p><table><tr><th>type</th><th>direction</th><th>usage</th>"
        f"<th>amount</th></tr>{rows}</table><p>Tax: {invoice['amount_tax']}</p>"
        f"<p>Total: {invoice['amount']}</p></body></html>"
    )
    return Raw(page.encode(), "text/html")


def _pdf(lines: list[str]) -> bytes:
    """A one-page PDF showing `lines` in Helvetica: enough for a viewer and a byte count."""

    def escape(text: str) -> str:
        return re.sub(r"([\\()])", r"\\\1", text.encode("latin-1", "replace").decode("latin-1"))

    text = "BT /F1 11 Tf 72 740 Td 14 TL " + " ".join(f"({escape(x)}) '" for x in lines) + " ET"
    stream = text.encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def invoice_pdf(ctx: Ctx, sid: str) -> Raw:
    invoice = _invoice(ctx, sid)
    lines = [
        f"CarrierX invoice {invoice['display_id']} ({invoice['status']})",
        f"{invoice['date_billing_period_start']} to {invoice['date_billing_period_end']}",
        *(
            f"{i['type']} {i.get('direction') or ''} usage {i['usage']}: {i['amount']}"
            for i in invoice["invoice_items"]
        ),
        f"Tax: {invoice['amount_tax']}",
        f"Total: {invoice['amount']}",
    ]
    return Raw(_pdf(lines), "application/pdf")


_EMAIL = re.compile(r"[^@\s,]+@[^@\s,]+\.[^@\s,]+")


def email_invoice(ctx: Ctx, sid: str, kind: str, body: Any) -> None:
    invoice = _invoice(ctx, sid)
    form = body if isinstance(body, Mapping) else {}
    raw = form.get("emails")
    addresses = raw if isinstance(raw, list) else str(raw or "").split(",")
    emails = [str(a).strip() for a in addresses if str(a).strip()]
    if not emails:
        raise invalid([FieldError("emails", "send one or more comma-separated addresses")])
    wrong = [e for e in emails if not _EMAIL.fullmatch(e)]
    if wrong:
        raise invalid([FieldError("emails", f"not an email address: {', '.join(wrong)}")])
    record = {
        "date_created": now_iso(),
        "email_sid": str(uuid.uuid4()),
        "emails": emails,
        "format": kind,
        "invoice_sid": invoice["invoice_sid"],
        "partner_sid": ctx.principal.partner_sid,
    }
    ctx.world.store.insert(INVOICE_EMAIL.collection, record["email_sid"], ctx.owner, record)


def _email_operation(kind: str) -> Handler:
    def operation(ctx: Ctx, params: Mapping[str, str], body: Any) -> None:
        email_invoice(ctx, params["sid"], kind, body)

    return operation


def mount(api: Api, world: World) -> None:
    for prefix in assumptions.INVOICE_PATHS:
        item = prefix + "/{sid}"
        api.add(world, item + ".html", ["GET"], lambda c, p, _b: invoice_html(c, p["sid"]))
        api.add(world, item + ".pdf", ["GET"], lambda c, p, _b: invoice_pdf(c, p["sid"]))
        for kind in ("html", "pdf"):
            api.add(
                world,
                f"{item}.{kind}/emails",
                ["POST"],
                _email_operation(kind),
                form=True,
            )
        api.add(world, prefix, ["GET"], lambda c, _p, _b: list_objects(c, INVOICE))
        api.add(world, item, ["GET"], lambda c, p, _b: get_object(c, INVOICE, p["sid"]))


RESOURCES = (INVOICE, INVOICE_EMAIL)
