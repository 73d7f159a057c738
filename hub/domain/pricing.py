"""An item's prices: tiers, quantity breaks and modifiers, and the one rule that prices a line. Pure.

The rule, implemented in price_line and nowhere else:

1. Unit price: the tier's own price when the item has one for that tier, else retail.
   LinePrice.tier says which was used. An unknown tier is refused.
2. Quantity breaks ("3 for 5.00") apply to 'each' items only: the requested tier's breaks when it
   has any, else retail's. They are applied greedily from the largest break qty down: as many
   groups of k at P as fit, the remainder to the next smaller break, the rest at the unit price.
   A break that is not cheaper than k x unit price is ignored, so a break never raises a price.
   Weighed and volume items ('g', 'ml') have no breaks: price per kg or litre x qty, rounded
   half-up once (money.line_total).
3. Modifiers: on an 'each' item an option's delta applies per unit (delta x qty); on a 'g' or
   'ml' item once per line. The line total is never below zero.
4. qty is a whole number of at least 1; prices are not negative.

Greedy is what the shelf label says, not the cheapest split, and it is not monotonic in qty:
with 5 for 1.00 and a unit price of 1.00, four cost 4.00 and five cost 1.00. It never charges
more than qty x unit price, and one more group of the largest break adds exactly that break's
price. price_list_problems flags a break that costs more than the smaller breaks would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from hub.domain import money
from hub.errors import UnprocessableError, ValidationError

TIERS = ("retail", "member", "wholesale")
UNITS = ("each", "g", "ml")


@dataclass(frozen=True)
class PriceBreak:
    """qty units bought together cost price_minor ("3 for 5.00")."""

    qty: int
    price_minor: int


@dataclass(frozen=True)
class PriceList:
    """One item's prices: retail per each, per kg ('g') or per litre ('ml'), tier prices, breaks."""

    unit: str
    retail_minor: int
    tiers: Mapping[str, int] = field(default_factory=dict)
    breaks: Mapping[str, tuple[PriceBreak, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class ModifierOption:
    """One choice in a modifier group; delta_minor may be negative ("no sauce -0.20")."""

    id: str
    group_id: str
    name: str
    delta_minor: int


@dataclass(frozen=True)
class ModifierGroup:
    """A set of options ("Size", "Extras") of which a line takes up to max_choices."""

    id: str
    name: str
    required: bool
    max_choices: int
    options: tuple[ModifierOption, ...]


@dataclass(frozen=True)
class LinePrice:
    """How a line was priced: the tier and unit price used, the breaks taken and the total."""

    tier: str
    unit_price_minor: int
    base_minor: int
    breaks_applied: tuple[tuple[int, int, int], ...]
    modifiers_minor: int
    total_minor: int


def _money(amount: int) -> str:
    return money.format_minor(amount, "").strip()


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _unit_price(prices: PriceList, tier: str) -> tuple[str, int]:
    """The tier whose price applies and that price: the tier's own, else retail."""
    if tier != "retail" and tier in prices.tiers:
        return tier, prices.tiers[tier]
    return "retail", prices.retail_minor


def _breaks_for(prices: PriceList, tier: str) -> tuple[PriceBreak, ...]:
    return tuple(prices.breaks.get(tier, ())) or tuple(prices.breaks.get("retail", ()))


def _effective(breaks: Sequence[PriceBreak], unit_price: int) -> list[PriceBreak]:
    """Breaks that lower the price, largest qty first (the cheaper of two equal qtys first)."""
    cheaper = (b for b in breaks if b.qty >= 2 and b.price_minor < b.qty * unit_price)
    return sorted(cheaper, key=lambda b: (-b.qty, b.price_minor))


def _greedy(qty: int, unit_price: int, breaks: Sequence[PriceBreak]) -> tuple[int, tuple[tuple[int, int, int], ...]]:
    """Price qty with breaks already sorted largest first; returns (amount, breaks applied)."""
    remaining, amount, applied = qty, 0, []
    for b in breaks:
        times = remaining // b.qty
        if times:
            applied.append((b.qty, b.price_minor, times))
            amount += times * b.price_minor
            remaining -= times * b.qty
    return amount + remaining * unit_price, tuple(applied)


def price_line(prices: PriceList, qty: int, tier: str = "retail",
               modifiers: Sequence[ModifierOption] = ()) -> LinePrice:
    """Price qty base units of one item for a tier with chosen modifiers (see the module rule)."""
    if tier not in TIERS:
        raise ValidationError(f"tier {tier!r} is not a price tier; use one of {', '.join(TIERS)}", field="tier")
    if prices.unit not in UNITS:
        raise ValidationError(f"unit {prices.unit!r} is not one of {', '.join(UNITS)}; fix the item's unit",
                              field="unit")
    if not _whole(qty) or qty < 1:
        raise ValidationError(f"qty must be a whole number of at least 1 {prices.unit}, got {qty!r}", field="qty")
    used, unit_price = _unit_price(prices, tier)
    if unit_price < 0:
        raise ValidationError(f"the {used} price is {_money(unit_price)}, below zero; fix the item's price list",
                              field="prices")
    base = money.line_total(prices.unit, qty, unit_price)
    applied: tuple[tuple[int, int, int], ...] = ()
    amount = base
    if prices.unit == "each":
        breaks = _breaks_for(prices, tier)
        for b in breaks:
            if b.qty < 2 or b.price_minor < 0:
                raise ValidationError(f"the break {b.qty} for {_money(b.price_minor)} is not usable: a break is for "
                                      "2 or more units at a price of 0 or more; fix the item's price list",
                                      field="prices")
        amount, applied = _greedy(qty, unit_price, _effective(breaks, unit_price))
    per_line = prices.unit != "each"
    modifiers_minor = sum(m.delta_minor * (1 if per_line else qty) for m in modifiers)
    return LinePrice(used, unit_price, base, applied, modifiers_minor, max(0, amount + modifiers_minor))


def choose_modifiers(groups: Sequence[ModifierGroup], chosen_ids: Sequence[str]) -> tuple[ModifierOption, ...]:
    """Check a line's chosen option ids against the item's groups; the options in group order."""
    owner: dict[str, ModifierGroup] = {}
    for group in groups:
        for option in group.options:
            owner.setdefault(option.id, group)
    seen: set[str] = set()
    for option_id in chosen_ids:
        if option_id not in owner:
            known = ", ".join(owner) or "none (this item has no modifiers)"
            raise UnprocessableError(f"modifier {option_id!r} is not an option of this item; choose from {known}",
                                     field="modifiers")
        if option_id in seen:
            raise UnprocessableError(f"modifier {option_id!r} is chosen twice; choose each option at most once",
                                     field="modifiers")
        seen.add(option_id)
    picked: list[ModifierOption] = []
    for group in groups:
        mine = [o for o in group.options if o.id in seen and owner[o.id] is group]
        if len(mine) > group.max_choices:
            names = ", ".join(o.name for o in mine)
            raise UnprocessableError(
                f"{group.name} ({group.id}) allows at most {group.max_choices} choice(s), got {len(mine)}: "
                f"{names}; remove {len(mine) - group.max_choices}", field="modifiers")
        if group.required and not mine:
            names = ", ".join(o.name for o in group.options)
            raise UnprocessableError(f"{group.name} ({group.id}) is required; choose one of {names}",
                                     field="modifiers")
        picked.extend(mine)
    return tuple(picked)


def _break_problems(prices: PriceList, tier: str, breaks: Sequence[PriceBreak]) -> list[str]:
    label = f"the {tier} break"
    if prices.unit in ("g", "ml"):
        return [f"the {tier} breaks are ignored on an item sold by {prices.unit!r}; quantity breaks are only "
                "for items sold each"]
    problems: list[str] = []
    _, unit_price = _unit_price(prices, tier if tier in TIERS else "retail")
    counted: set[int] = set()
    for b in breaks:
        text = f"{label} {b.qty} for {_money(b.price_minor)}"
        if b.qty < 2:
            problems.append(f"{text} has qty {b.qty}; a break is for 2 or more units")
        if b.qty in counted:
            problems.append(f"the {tier} breaks list qty {b.qty} more than once; keep one price per quantity")
        counted.add(b.qty)
        if b.price_minor < 0:
            problems.append(f"{text} has a negative price; prices cannot be below zero")
        elif b.qty >= 2 and unit_price >= 0 and b.price_minor >= b.qty * unit_price:
            problems.append(f"{text} is not cheaper than {b.qty} x {_money(unit_price)} = "
                            f"{_money(b.qty * unit_price)}; it is ignored when pricing")
    if unit_price < 0:
        return problems
    usable = _effective(breaks, unit_price)
    for i, b in enumerate(usable):
        smaller = [s for s in usable[i + 1:] if s.qty < b.qty]
        without, _ = _greedy(b.qty, unit_price, smaller)
        if smaller and b.price_minor > without:
            problems.append(f"{label} {b.qty} for {_money(b.price_minor)} costs more than the "
                            f"{_money(without)} the smaller breaks give for {b.qty}; lower it or remove it")
    return problems


def price_list_problems(prices: PriceList) -> list[str]:
    """Sentences saying what is wrong with a price list and what to do; empty when it is fine."""
    problems: list[str] = []
    if prices.unit not in UNITS:
        problems.append(f"unit {prices.unit!r} is not one of {', '.join(UNITS)}")
    if prices.retail_minor < 0:
        problems.append(f"the retail price is {_money(prices.retail_minor)}; prices cannot be below zero")
    for tier, price in prices.tiers.items():
        if tier == "retail":
            problems.append("the tier prices list 'retail'; the retail price belongs in retail_minor")
        elif tier not in TIERS:
            problems.append(f"tier {tier!r} is not a price tier; use one of {', '.join(TIERS[1:])}")
        if price < 0:
            problems.append(f"the {tier} price is {_money(price)}; prices cannot be below zero")
    for tier, breaks in prices.breaks.items():
        if tier not in TIERS:
            problems.append(f"the breaks name tier {tier!r}, which is not a price tier; use one of {', '.join(TIERS)}")
        if breaks:
            problems.extend(_break_problems(prices, tier, breaks))
    return problems
