"""Money in integer minor units. Every rounding in the product happens here, once."""

from __future__ import annotations


def div_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half away from zero, in integers only."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    q, r = divmod(abs(numerator), denominator)
    return sign * (q + (1 if 2 * r >= denominator else 0))


def line_total(unit: str, qty: int, price_minor: int) -> int:
    """Price of qty base units: each x price, or grams/ml x price per kg/litre, rounded once."""
    if unit == "each":
        return qty * price_minor
    if unit in ("g", "ml"):
        return div_half_up(qty * price_minor, 1000)
    raise ValueError(f"unknown unit {unit!r}")


def tax_included(gross_minor: int, rate_bp: int) -> int:
    """Tax contained in a tax-inclusive amount at rate_bp basis points (2000 = 20%)."""
    return div_half_up(gross_minor * rate_bp, 10000 + rate_bp)


def tax_added(net_minor: int, rate_bp: int) -> int:
    """Tax to add on top of a tax-exclusive amount."""
    return div_half_up(net_minor * rate_bp, 10000)


def format_minor(amount: int, currency: str) -> str:
    """1234, 'EUR' -> '12.34 EUR' (two decimals; enough for the currencies we ship)."""
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 100)
    return f"{sign}{whole}.{cents:02d} {currency}"
