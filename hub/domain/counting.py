"""Rolling cycle counts: which items to count today, and what a count changes. Pure.

ABC classes (classify): items are ranked by their sales value over the last 90 days, largest
first (equal values by SKU). An item is A while the value of the items ranked before it is below
a_bp of the total, so the item that crosses 80% is still A; B likewise up to b_bp; C the rest.
An item with no sales, or a net value of zero or less, is C. Integers only, no float shares.

Schedule (due_today): each class has a period in days; an item is due on the days where
day_number % period equals its slot, a CRC-32 of its SKU modulo the period. So over any period
days in a row every item of the class is counted exactly once, the same SKU always lands on the
same day (across restarts and machines, unlike Python's salted hash()), and the daily load is
spread by the hash rather than bunched by SKU order.

Counts never erase a sale. A count records what the ledger said (ledger_qty) at the ledger
position the counter started from, and the variance is counted - ledger_qty at that position.
Posting adds the variance to the current on-hand instead of overwriting it with the counted
figure, so a sale rung up while the count sheet was out is kept: final on hand = counted + the
moves after the count. Writing the counted figure straight into the on-hand would undo that sale.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hub.domain import money
from hub.errors import ValidationError

CLASSES = ("A", "B", "C")
_BP = 10000


@dataclass(frozen=True)
class AbcThresholds:
    """Cumulative shares of 90-day sales value, in basis points: A up to a_bp, B up to b_bp."""

    a_bp: int = 8000
    b_bp: int = 9500


@dataclass(frozen=True)
class CountFrequency:
    """Days between two counts of the same item, per class."""

    a_days: int = 7
    b_days: int = 30
    c_days: int = 90

    def period(self, abc_class: str) -> int:
        """The period of a class; an unknown class is refused."""
        periods = {"A": self.a_days, "B": self.b_days, "C": self.c_days}
        if abc_class not in periods:
            raise ValidationError(f"count class {abc_class!r} is not one of {', '.join(CLASSES)}; "
                                  "classify the item again", field="class")
        return periods[abc_class]


@dataclass(frozen=True)
class CountedLine:
    """One item counted at one location, with what the ledger said at ledger_position."""

    sku: str
    location: str
    counted: int
    ledger_qty: int
    ledger_position: int
    unit_cost_minor: int
    unit: str = "each"  # 'g' and 'ml': unit_cost_minor is per kg or per litre


@dataclass(frozen=True)
class VarianceRule:
    """A line needs a manager's approval above either limit (both absolute)."""

    max_qty: int = 5
    max_value_minor: int = 2000


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def classify(sales_value: Mapping[str, int], all_skus: Iterable[str],
             thresholds: AbcThresholds = AbcThresholds()) -> dict[str, str]:
    """SKU -> 'A', 'B' or 'C' for every SKU in all_skus or sales_value (see the module rule)."""
    a_bp, b_bp = thresholds.a_bp, thresholds.b_bp
    if not (_whole(a_bp) and _whole(b_bp) and 0 <= a_bp <= b_bp <= _BP):
        raise ValidationError(f"ABC thresholds a_bp={a_bp!r}, b_bp={b_bp!r} must be whole basis points with "
                              f"0 <= a_bp <= b_bp <= {_BP}; fix the count settings", field="thresholds")
    classes = dict.fromkeys(all_skus, "C")
    classes.update(dict.fromkeys(sales_value, "C"))
    selling = sorted(((v, sku) for sku, v in sales_value.items() if v > 0), key=lambda p: (-p[0], p[1]))
    total = sum(v for v, _ in selling)
    before = 0
    for value, sku in selling:
        if before * _BP < a_bp * total:
            classes[sku] = "A"
        elif before * _BP < b_bp * total:
            classes[sku] = "B"
        else:
            break
        before += value
    return classes


def count_slot(sku: str, period_days: int) -> int:
    """The day in [0, period_days) on which sku is counted: CRC-32 of its UTF-8 bytes, mod period."""
    if not _whole(period_days) or period_days < 1:
        raise ValidationError(f"a count period must be a whole number of at least 1 day, got {period_days!r}",
                              field="period_days")
    return zlib.crc32(sku.encode("utf-8")) % period_days


def due_today(classes: Mapping[str, str], day_number: int, freq: CountFrequency = CountFrequency()) -> list[str]:
    """SKUs due for counting on day_number (days since 1970-01-01), sorted."""
    if not _whole(day_number):
        raise ValidationError(f"day_number must be a whole number of days since 1970-01-01, got {day_number!r}",
                              field="day_number")
    due = []
    for sku, abc_class in classes.items():
        period = freq.period(abc_class)
        if count_slot(sku, period) == day_number % period:
            due.append(sku)
    return sorted(due)


def variance(line: CountedLine) -> int:
    """counted - ledger_qty: what the shelf has more (or less) than the ledger said at the count."""
    if not _whole(line.counted) or line.counted < 0:
        raise ValidationError(f"{line.sku} at {line.location}: counted {line.counted!r}; a count is a whole "
                              "number of base units, 0 or more", field="counted")
    if not _whole(line.ledger_qty):
        raise ValidationError(f"{line.sku} at {line.location}: ledger_qty {line.ledger_qty!r} is not a whole "
                              "number; read it from the ledger again", field="ledger_qty")
    return line.counted - line.ledger_qty


def variance_value(line: CountedLine) -> int:
    """The variance at unit cost, rounded half away from zero once (per kg or litre for 'g', 'ml')."""
    if not _whole(line.unit_cost_minor) or line.unit_cost_minor < 0:
        raise ValidationError(f"{line.sku}: unit cost {line.unit_cost_minor!r} must be a whole number of minor "
                              "units, 0 or more; fix the item's cost", field="unit_cost_minor")
    try:
        return money.line_total(line.unit, variance(line), line.unit_cost_minor)
    except ValueError:
        raise ValidationError(f"{line.sku}: unit {line.unit!r} is not one of each, g, ml; fix the item's unit",
                              field="unit") from None


def needs_approval(line: CountedLine, rule: VarianceRule = VarianceRule()) -> bool:
    """True when the variance is above rule.max_qty base units or rule.max_value_minor in value."""
    return abs(variance(line)) > rule.max_qty or abs(variance_value(line)) > rule.max_value_minor


def on_hand_after_posting(current_on_hand: int, line: CountedLine) -> int:
    """The on-hand once the count is posted: current + variance, so later moves stay on top."""
    return current_on_hand + variance(line)


def accuracy(lines: Iterable[CountedLine]) -> tuple[int, int]:
    """(lines whose count matched the ledger, lines counted)."""
    matched = counted = 0
    for line in lines:
        counted += 1
        if variance(line) == 0:
            matched += 1
    return matched, counted
