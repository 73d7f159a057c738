"""A committed sale as a receipt print job (bus.PrintReceipt): the store's header, the lines
with weights, unit prices, modifiers and savings, the tax summary by rate, tenders and change,
the receipt barcode for returns, and the footer. Pure: the sale is the stored response.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from devices import bus
from hub.domain.money import format_minor


@dataclass(frozen=True)
class ReceiptSettings:
    """What a receipt prints besides the sale: from the [store] and [receipt] config sections."""

    store_name: str
    prices_include_tax: bool = True
    address: tuple[str, ...] = ()
    tax_id: str = ""
    timezone: str = ""  # IANA name; "" prints UTC, and says so
    footer: tuple[str, ...] = ("Thank you!",)

    @classmethod
    def from_config(cls, config: Any) -> ReceiptSettings:
        store, receipt = config["store"], config["receipt"]
        return cls(
            store["name"],
            store["prices_include_tax"],
            tuple(store["address"]),
            store["tax_id"],
            store["timezone"],
            tuple(receipt["footer"]),
        )


def amount(minor: int, currency: str) -> str:
    """1234 -> "12.34": the currency is printed once, on the total."""
    return format_minor(minor, currency).rsplit(" ", 1)[0]


def receipt_job(
    job_id: str,
    sale: dict[str, Any],
    settings: ReceiptSettings,
    *,
    copy_at: datetime | None = None,
    open_drawer: bool | None = None,
) -> bus.PrintReceipt:
    """The receipt of sale; copy_at marks a reprint made at that time (and never opens the drawer)."""
    cur = sale["currency"]
    lines: list[bus.ReceiptLine] = []
    for ln in sale["lines"]:
        lines += _line(ln, cur, settings.prices_include_tax)
    lines += _cart_discount(sale)
    if open_drawer is None:
        open_drawer = copy_at is None and any(t["kind"] == "cash" for t in sale["tenders"])
    return bus.PrintReceipt(
        job_id=job_id,
        header=_header(sale, settings, copy_at),
        lines=lines,
        totals=_totals(sale, settings.prices_include_tax)
        + _tax_summary(sale, settings.prices_include_tax),
        footer=list(settings.footer),
        barcode=sale["receipt_code"],
        open_drawer=open_drawer and copy_at is None,
    )


def local_time(stamp: str | datetime, timezone: str) -> str:
    """An ISO UTC time as the shop reads it: in timezone if set, else in UTC, labelled."""
    at = datetime.fromisoformat(stamp.replace("Z", "+00:00")) if isinstance(stamp, str) else stamp
    zone: tzinfo = ZoneInfo(timezone) if timezone else UTC
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M ") + (
        at.astimezone(zone).tzname() or timezone
    )


def _header(sale: dict[str, Any], s: ReceiptSettings, copy_at: datetime | None) -> list[str]:
    header = [s.store_name, *s.address]
    if s.tax_id:
        header.append(f"Tax ID {s.tax_id}")
    if copy_at is not None:
        header += ["", "*** COPY - REPRINT ***", f"printed {local_time(copy_at, s.timezone)}"]
    header += [
        "",
        f"Receipt {sale['receipt_code']}  Sale {sale['number']}",
        f"{local_time(sale['created_at'], s.timezone)}  Till {sale['register_id']}",
    ]
    return header


def _line(ln: dict[str, Any], cur: str, prices_include_tax: bool) -> list[bus.ReceiptLine]:
    # Lines print what the shelf says: gross where prices include tax, net where tax is added.
    shown = ln["total_minor"] if prices_include_tax else ln["total_minor"] - ln["tax_minor"]
    saving = ln.get("saving_minor", 0)
    discount = ln.get("discount_minor", 0)
    # the line before quantity breaks and its own discount (the cart discount prints once, under the lines)
    before = shown + saving + discount + ln.get("cart_discount_minor", 0)
    unit, qty, name = ln["unit"], ln["qty"], ln["name"]
    if unit == "each":
        out = [bus.ReceiptLine(name if qty == 1 else f"{qty} x {name}", amount(before, cur))]
        if qty != 1:
            out.append(bus.ReceiptLine(f"  @ {amount(ln['unit_price_minor'], cur)} each"))
        if ln.get("price_source") == "label":
            out.append(bus.ReceiptLine("  price from label"))
    else:
        per = "kg" if unit == "g" else "l"
        measured = (
            f"{qty // 1000}.{qty % 1000:03d} {per} @ {amount(ln['unit_price_minor'], cur)}/{per}"
        )
        out = [bus.ReceiptLine(name, amount(before, cur)), bus.ReceiptLine(f"  {measured}")]
        if ln.get("weight_source") == "manual":
            out.append(bus.ReceiptLine("  manual weight"))
    out += [bus.ReceiptLine(f"  + {m}") for m in ln.get("modifiers", [])]
    if saving:
        out.append(bus.ReceiptLine("  Saving", amount(-saving, cur)))
    override = ln.get("price_override")
    if override:
        out.append(bus.ReceiptLine(f"  Price changed from {amount(override['from_minor'], cur)} ({_reason(override['reason'])})"))
    if discount:
        out.append(bus.ReceiptLine(f"  Discount ({_reason(ln.get('discount_reason', ''))})", amount(-discount, cur)))
    return out


def _reason(code: str) -> str:
    return code.replace("_", " ") or "no reason"


def _cart_discount(sale: dict[str, Any]) -> list[bus.ReceiptLine]:
    cart = sale.get("cart_discount")
    if not cart or not cart.get("amount_minor"):
        return []
    pct = f" {cart['percent_bp'] / 100:g}%" if cart.get("percent_bp") else ""
    return [bus.ReceiptLine(f"Discount{pct} ({_reason(cart['reason'])})", amount(-cart["amount_minor"], sale["currency"]))]


def _totals(sale: dict[str, Any], prices_include_tax: bool) -> list[bus.ReceiptLine]:
    cur = sale["currency"]
    totals = []
    if not prices_include_tax:
        totals += [
            bus.ReceiptLine("Subtotal", amount(sale["total_minor"] - sale["tax_minor"], cur)),
            bus.ReceiptLine("Tax", amount(sale["tax_minor"], cur)),
        ]
    totals.append(bus.ReceiptLine("TOTAL", f"{amount(sale['total_minor'], cur)} {cur}"))
    for t in sale["tenders"]:
        label = t["kind"].replace("_", " ").capitalize()
        totals.append(
            bus.ReceiptLine(f"{label} {t['reference']}".rstrip(), amount(t["amount_minor"], cur))
        )
    if sale["change_minor"] or any(t["kind"] == "cash" for t in sale["tenders"]):
        totals.append(bus.ReceiptLine("Change", amount(sale["change_minor"], cur)))
    return totals


def _tax_summary(sale: dict[str, Any], prices_include_tax: bool) -> list[bus.ReceiptLine]:
    """Net, tax and gross per tax rate, as a tax invoice shows them."""
    cur = sale["currency"]
    rates: dict[int, list[int]] = {}
    for ln in sale["lines"]:
        gross_tax = rates.setdefault(ln["tax_rate_bp"], [0, 0])
        gross_tax[0] += ln["total_minor"]
        gross_tax[1] += ln["tax_minor"]
    if not rates:
        return []
    out = [
        bus.ReceiptLine(""),
        bus.ReceiptLine(
            "Tax included" if prices_include_tax else "Tax added",
            f"{'net':>8} {'tax':>7} {'gross':>8}",
        ),
    ]
    for rate, (gross, tax) in sorted(rates.items()):
        out.append(
            bus.ReceiptLine(
                f"{rate // 100}.{rate % 100:02d}%".rjust(8),
                f"{amount(gross - tax, cur):>8} {amount(tax, cur):>7} {amount(gross, cur):>8}",
            )
        )
    return out
