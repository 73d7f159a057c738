"""The Z report of a shift (pure): totals by tender and by tax rate, returns, voids, discounts,
number of sales, and the cash drawer's expected amount against the count (over/short)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SaleFacts:
    """What a Z report needs of one sale: tenders as handed over (change not yet given back)."""

    total_minor: int
    tax_minor: int
    change_minor: int
    voided: bool
    tenders: tuple[tuple[str, int], ...]  # (kind, amount_minor)
    lines: tuple[tuple[int, int, int, int], ...]  # (tax_rate_bp, total_minor, tax_minor, saving_minor)


@dataclass(frozen=True)
class ReturnFacts:
    total_minor: int
    tax_minor: int
    refunds: tuple[tuple[str, int], ...]  # (kind, amount_minor) paid back


def net_tenders(tenders: tuple[tuple[str, int], ...], change_minor: int) -> list[tuple[str, int]]:
    """What each tender paid once change is given back: change comes out of the last cash tenders."""
    kinds = [kind for kind, _ in tenders]
    amounts = [amount for _, amount in tenders]
    for i in reversed(range(len(amounts))):
        if kinds[i] == "cash" and change_minor:
            back = min(change_minor, amounts[i])
            amounts[i] -= back
            change_minor -= back
    return list(zip(kinds, amounts, strict=True))


def build(shift: dict[str, Any], sales: list[SaleFacts], returns: list[ReturnFacts],
          counted_minor: int | None, paid_in_minor: int = 0, paid_out_minor: int = 0,
          earlier_voids: list[SaleFacts] | None = None,
          late_offline: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The report for shift {id, number, register_id, float_minor, opened_at, opened_by, ...}.

    Voided sales are left out of the sales, tender and tax totals and shown under voids; their
    cash went back at the void. earlier_voids: sales of earlier shifts voided in this one, whose
    cash this drawer paid back (their own shift's report, closed, counted them as sold).
    late_offline: offline sales that reached the hub after their own shift closed, listed as a note
    ({id, number, shift_number, recorded_at, total_minor, cash_minor}); their cash was in that
    shift's drawer, not this one's. counted_minor None makes an X report (no over/short).
    """
    earlier = earlier_voids or []
    late = late_offline or []
    by_tender: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_rate: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    kept = [s for s in sales if not s.voided]
    voided = [s for s in sales if s.voided]
    discounts = 0
    for sale in kept:
        for kind, amount in net_tenders(sale.tenders, sale.change_minor):
            by_tender[kind][0] += amount
            by_tender[kind][1] += 1
        for rate, total, tax, saving in sale.lines:
            by_rate[rate][0] += total
            by_rate[rate][1] += tax
            discounts += saving
    refunds: dict[str, int] = defaultdict(int)
    for ret in returns:
        for kind, amount in ret.refunds:
            refunds[kind] += amount
    cash_sales = by_tender["cash"][0] if "cash" in by_tender else 0
    cash_voids = sum(amount for s in earlier for kind, amount in net_tenders(s.tenders, s.change_minor) if kind == "cash")
    expected = (shift["float_minor"] + cash_sales - refunds.get("cash", 0) - cash_voids + paid_in_minor
                - paid_out_minor)
    return {
        "kind": "Z" if counted_minor is not None else "X",
        "shift": {k: shift.get(k) for k in ("id", "number", "register_id", "opened_at", "opened_by", "closed_at",
                                             "closed_by")},
        "sales": {"count": len(kept), "total_minor": sum(s.total_minor for s in kept),
                  "tax_minor": sum(s.tax_minor for s in kept)},
        "tenders": [{"kind": k, "amount_minor": v[0], "count": v[1]} for k, v in sorted(by_tender.items())],
        "taxes": [{"rate_bp": r, "total_minor": v[0], "tax_minor": v[1]} for r, v in sorted(by_rate.items())],
        "returns": {"count": len(returns), "total_minor": sum(r.total_minor for r in returns),
                    "tax_minor": sum(r.tax_minor for r in returns),
                    "refunds": [{"kind": k, "amount_minor": v} for k, v in sorted(refunds.items())]},
        "voids": {"count": len(voided) + len(earlier), "total_minor": sum(s.total_minor for s in voided + earlier),
                  "earlier_shifts_count": len(earlier), "earlier_shifts_cash_minor": cash_voids},
        "discounts_minor": discounts,
        "late_offline_sales": {"count": len(late), "total_minor": sum(s["total_minor"] for s in late),
                               "sales": late},
        "cash": {"float_minor": shift["float_minor"], "sales_minor": cash_sales,
                 "refunds_minor": refunds.get("cash", 0), "voids_minor": cash_voids, "paid_in_minor": paid_in_minor,
                 "paid_out_minor": paid_out_minor, "expected_minor": expected, "counted_minor": counted_minor,
                 "over_short_minor": None if counted_minor is None else counted_minor - expected},
    }


def print_lines(report: dict[str, Any], money: Any) -> dict[str, Any]:
    """The report as a bus.PrintReceipt's header, lines, totals and footer; money(minor) -> text."""
    shift, cash = report["shift"], report["cash"]
    title = "Z REPORT - SHIFT CLOSED" if report["kind"] == "Z" else "X REPORT - SHIFT STILL OPEN"
    header = [title, f"Register {shift['register_id']}  Shift #{shift['number']}",
              f"Opened {shift['opened_at'][:16]} by {shift['opened_by']}"]
    if shift.get("closed_at"):
        header.append(f"Closed {shift['closed_at'][:16]} by {shift['closed_by']}")
    lines = [{"text": f"Sales ({report['sales']['count']})", "amount": money(report["sales"]["total_minor"])},
             {"text": "  of which tax", "amount": money(report["sales"]["tax_minor"])}]
    lines += [{"text": f"{t['kind'].capitalize()} ({t['count']})", "amount": money(t["amount_minor"])}
              for t in report["tenders"]]
    lines += [{"text": f"Tax {t['rate_bp'] / 100:g}% on {money(t['total_minor'])}", "amount": money(t["tax_minor"])}
              for t in report["taxes"]]
    lines += [{"text": f"Returns ({report['returns']['count']})", "amount": money(-report["returns"]["total_minor"])},
              {"text": f"Voids ({report['voids']['count']})", "amount": money(report["voids"]["total_minor"])},
              {"text": "Discounts", "amount": money(report["discounts_minor"])}]
    totals = [{"text": "Float", "amount": money(cash["float_minor"])},
              {"text": "Cash sales", "amount": money(cash["sales_minor"])},
              {"text": "Cash refunds", "amount": money(-cash["refunds_minor"])}]
    if cash.get("voids_minor"):
        totals.append({"text": "Cash voids (earlier shifts)", "amount": money(-cash["voids_minor"])})
    if cash.get("paid_in_minor"):
        totals.append({"text": "Paid in", "amount": money(cash["paid_in_minor"])})
    if cash.get("paid_out_minor"):
        totals.append({"text": "Paid out", "amount": money(-cash["paid_out_minor"])})
    totals.append({"text": "Expected cash", "amount": money(cash["expected_minor"])})
    if cash["counted_minor"] is not None:
        over = cash["over_short_minor"]
        totals += [{"text": "Counted cash", "amount": money(cash["counted_minor"])},
                   {"text": "Over" if over > 0 else "Short" if over < 0 else "Over/short",
                    "amount": money(over)}]
    footer = ["Keep with the cash count"]
    for move in cash.get("movements") or []:  # each paid in or out, with its reason, for the cash count
        sign = 1 if move["kind"] == "paid_in" else -1
        footer.append(f"{'Paid in' if sign > 0 else 'Paid out'} {money(sign * move['amount_minor'])}: "
                      f"{move['reason']} ({move['actor'].removeprefix('user:')}"
                      + (f", approved by {move['approver']})" if move.get("approver") else ")"))
    late = report.get("late_offline_sales") or {"sales": []}
    for sale in late["sales"]:  # a closed Z report is kept as it was: the late sale is noted here instead
        footer.append(f"Late offline sale S{sale['number']:08d} of shift #{sale['shift_number']}: "
                      f"{money(sale['total_minor'])}, cash {money(sale['cash_minor'])}")
    return {"header": header, "lines": lines, "totals": totals, "footer": footer}
