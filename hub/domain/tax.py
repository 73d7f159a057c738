"""Tax on a receipt, computed in one place: inclusive or exclusive prices, rounded per line or per receipt.

A line's amount is what the shelf asks after its discounts: the gross where prices include tax
(`store.prices_include_tax`), the net where tax is added. Rounding follows `store.tax_rounding`:

- ``line``: each line's tax is rounded half-up on its own; a rate's tax is the sum of its lines.
- ``receipt``: each rate's tax is rounded half-up once, on the sum of its lines' amounts, then
  spread back over those lines by largest remainder, so the lines still add up to the rate's tax.

Sales, quotes, receipts and Z reports all take their tax from `compute`. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hub.domain.money import div_half_up

ROUNDINGS = ("line", "receipt")


@dataclass(frozen=True)
class TaxedLine:
    total_minor: int  # what the customer pays for the line, tax included
    tax_minor: int

    @property
    def net_minor(self) -> int:
        return self.total_minor - self.tax_minor


@dataclass(frozen=True)
class RateTotal:
    rate_bp: int
    net_minor: int
    tax_minor: int
    gross_minor: int


@dataclass(frozen=True)
class Taxes:
    lines: tuple[TaxedLine, ...]
    rates: tuple[RateTotal, ...]  # by rate, lowest first: the tax summary on screen and receipt
    total_minor: int
    tax_minor: int


def largest_remainder(target: int, numerators: Sequence[int], denominator: int) -> list[int]:
    """Split target into parts near numerators[i] / denominator that add up to target exactly.

    Each part is the floor of its exact share, and the units left over go to the largest
    remainders (the earlier line on a tie). Needs non-negative numerators and a target within
    len(numerators) units of the exact sum's floor, as a half-up rounding of that sum is.
    """
    parts = [n // denominator for n in numerators]
    left = target - sum(parts)
    if not 0 <= left <= len(parts):
        raise ValueError(f"cannot spread {target} over shares summing to {sum(numerators)}/{denominator}")
    order = sorted(range(len(parts)), key=lambda i: (-(numerators[i] % denominator), i))
    for i in order[:left]:
        parts[i] += 1
    return parts


def _exact(amount: int, rate_bp: int, inclusive: bool) -> tuple[int, int]:
    """A line's exact tax as a fraction (numerator, denominator)."""
    return amount * rate_bp, (10000 + rate_bp) if inclusive else 10000


def compute(amounts: Sequence[tuple[int, int]], prices_include_tax: bool, rounding: str) -> Taxes:
    """Tax for lines given as (amount_minor, tax_rate_bp); see the module doc for the rules."""
    if rounding not in ROUNDINGS:
        raise ValueError(f"tax rounding must be one of {', '.join(ROUNDINGS)}, got {rounding!r}")
    for amount, rate in amounts:
        if amount < 0 or rate < 0:
            raise ValueError(f"line amounts and tax rates must not be negative, got {amount} at {rate} bp")
    taxes = [0] * len(amounts)
    if rounding == "line":
        for i, (amount, rate) in enumerate(amounts):
            taxes[i] = div_half_up(*_exact(amount, rate, prices_include_tax))
    else:
        for rate in {r for _, r in amounts}:
            idx = [i for i, (_, r) in enumerate(amounts) if r == rate]
            total = sum(amounts[i][0] for i in idx)
            numerator, denominator = _exact(total, rate, prices_include_tax)
            shares = largest_remainder(div_half_up(numerator, denominator),
                                       [_exact(amounts[i][0], rate, prices_include_tax)[0] for i in idx], denominator)
            for i, share in zip(idx, shares, strict=True):
                taxes[i] = share
    lines = tuple(TaxedLine(amount if prices_include_tax else amount + tax, tax)
                  for (amount, _), tax in zip(amounts, taxes, strict=True))
    return Taxes(lines, summarize([(ln.total_minor, ln.tax_minor, rate) for ln, (_, rate) in zip(lines, amounts, strict=True)]),
                 sum(ln.total_minor for ln in lines), sum(taxes))


def summarize(lines: Sequence[tuple[int, int, int]]) -> tuple[RateTotal, ...]:
    """Net, tax and gross per rate from lines given as (total_minor, tax_minor, rate_bp)."""
    by_rate: dict[int, list[int]] = {}
    for total, tax, rate in lines:
        acc = by_rate.setdefault(rate, [0, 0])
        acc[0] += total
        acc[1] += tax
    return tuple(RateTotal(rate, gross - tax, tax, gross) for rate, (gross, tax) in sorted(by_rate.items()))


def rates_dicts(rates: Sequence[RateTotal]) -> list[dict[str, int]]:
    """The tax summary as the API, the receipt and the events carry it."""
    return [{"rate_bp": r.rate_bp, "net_minor": r.net_minor, "tax_minor": r.tax_minor, "gross_minor": r.gross_minor}
            for r in rates]
