import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain import money
from hub.domain.pricing import (
    TIERS,
    LinePrice,
    ModifierGroup,
    ModifierOption,
    PriceBreak,
    PriceList,
    choose_modifiers,
    price_line,
    price_list_problems,
)
from hub.errors import UnprocessableError, ValidationError

THREE_FOR_FIVE = PriceList("each", 200, breaks={"retail": (PriceBreak(3, 500),)})
SODA = PriceList("each", 200, tiers={"member": 180, "wholesale": 150},
                 breaks={"retail": (PriceBreak(3, 500), PriceBreak(6, 900)),
                         "wholesale": (PriceBreak(10, 1200),)})

LARGE = ModifierOption("large", "size", "Large", 50)
SMALL = ModifierOption("small", "size", "Small", 0)
SIZE = ModifierGroup("size", "Size", required=True, max_choices=1, options=(SMALL, LARGE))
WRAP = ModifierOption("wrap", "extras", "Gift wrap", 200)
CARD = ModifierOption("card", "extras", "Card", 100)
NO_SAUCE = ModifierOption("no-sauce", "extras", "No sauce", -20)
EXTRAS = ModifierGroup("extras", "Extras", required=False, max_choices=2, options=(WRAP, CARD, NO_SAUCE))


def test_three_for_five_with_seven_at_two_each() -> None:
    line = price_line(THREE_FOR_FIVE, 7)
    assert line == LinePrice("retail", 200, 1400, ((3, 500, 2),), 0, 1200)


def test_largest_break_first_then_the_next_then_unit_price() -> None:
    line = price_line(SODA, 10)
    assert line.breaks_applied == ((6, 900, 1), (3, 500, 1))
    assert line.total_minor == 900 + 500 + 200
    assert line.base_minor == 2000


def test_member_price_when_present_retail_when_not() -> None:
    member = price_line(SODA, 1, "member")
    assert (member.tier, member.unit_price_minor, member.total_minor) == ("member", 180, 180)
    plain = PriceList("each", 200, tiers={"wholesale": 150})
    fallback = price_line(plain, 2, "member")
    assert (fallback.tier, fallback.unit_price_minor, fallback.total_minor) == ("retail", 200, 400)


def test_wholesale_uses_its_own_breaks_member_falls_back_to_retail_breaks() -> None:
    wholesale = price_line(SODA, 12, "wholesale")
    assert wholesale.breaks_applied == ((10, 1200, 1),)
    assert wholesale.total_minor == 1200 + 2 * 150
    member = price_line(SODA, 12, "member")  # 6 for 9.00 beats 6 x 1.80
    assert member.breaks_applied == ((6, 900, 2),)
    assert member.total_minor == 1800
    assert price_line(SODA, 12).total_minor == 1800


def test_a_break_that_is_not_cheaper_than_the_unit_price_is_ignored() -> None:
    prices = PriceList("each", 200, tiers={"member": 150}, breaks={"retail": (PriceBreak(3, 500),)})
    line = price_line(prices, 3, "member")  # 5.00 is dearer than 3 x 1.50
    assert line.breaks_applied == ()
    assert line.total_minor == 450
    equal = PriceList("each", 200, breaks={"retail": (PriceBreak(3, 600),)})
    assert price_line(equal, 3).breaks_applied == ()


def test_greedy_is_not_monotonic_in_qty() -> None:
    prices = PriceList("each", 100, breaks={"retail": (PriceBreak(5, 100),)})
    assert price_line(prices, 4).total_minor == 400
    assert price_line(prices, 5).total_minor == 100


def test_weighed_item_is_price_per_kg_times_grams_rounded_once_without_breaks() -> None:
    cheese = PriceList("g", 1299, breaks={"retail": (PriceBreak(1000, 1),)})
    line = price_line(cheese, 1234)  # 1234 g x 12.99/kg = 16.02966
    assert line == LinePrice("retail", 1299, 1603, (), 0, 1603)
    assert price_line(PriceList("ml", 250), 330).total_minor == 83  # 82.5 rounds up


def test_gift_wrap_is_per_unit_on_each_items_and_once_on_weighed() -> None:
    line = price_line(PriceList("each", 250), 3, modifiers=(WRAP,))
    assert (line.modifiers_minor, line.total_minor) == (600, 750 + 600)
    weighed = price_line(PriceList("g", 1000), 500, modifiers=(WRAP,))
    assert (weighed.modifiers_minor, weighed.total_minor) == (200, 500 + 200)


def test_a_negative_modifier_never_takes_a_line_below_zero() -> None:
    line = price_line(PriceList("each", 10), 2, modifiers=(NO_SAUCE,))
    assert line.modifiers_minor == -40
    assert line.total_minor == 0


def test_unknown_tier_is_refused_naming_it_and_the_tiers() -> None:
    with pytest.raises(ValidationError) as exc:
        price_line(SODA, 1, "vip")
    assert exc.value.field == "tier"
    assert "'vip'" in exc.value.message and "retail, member, wholesale" in exc.value.message


@pytest.mark.parametrize("qty", [0, -1, 1.5, True, "2"])
def test_qty_must_be_a_positive_whole_number(qty: object) -> None:
    with pytest.raises(ValidationError) as exc:
        price_line(SODA, qty)  # type: ignore[arg-type]
    assert exc.value.field == "qty"
    assert repr(qty) in exc.value.message


@pytest.mark.parametrize("prices", [
    PriceList("each", -1),
    PriceList("each", 100, tiers={"member": -5}),
    PriceList("each", 100, breaks={"retail": (PriceBreak(3, -1),)}),
    PriceList("each", 100, breaks={"retail": (PriceBreak(1, 50),)}),
])
def test_negative_prices_and_unusable_breaks_are_refused(prices: PriceList) -> None:
    with pytest.raises(ValidationError) as exc:
        price_line(prices, 3, "member")
    assert exc.value.field == "prices"


def test_choose_modifiers_returns_options_in_group_order() -> None:
    assert choose_modifiers([SIZE, EXTRAS], ["card", "large", "wrap"]) == (LARGE, WRAP, CARD)


def test_a_required_group_left_out_is_refused_by_name() -> None:
    with pytest.raises(UnprocessableError) as exc:
        choose_modifiers([SIZE, EXTRAS], ["wrap"])
    assert "Size" in exc.value.message and "Small, Large" in exc.value.message
    assert exc.value.field == "modifiers"


def test_more_choices_than_a_group_allows_is_refused_by_name() -> None:
    with pytest.raises(UnprocessableError) as exc:
        choose_modifiers([SIZE, EXTRAS], ["small", "wrap", "card", "no-sauce"])
    assert "Extras" in exc.value.message and "at most 2" in exc.value.message
    with pytest.raises(UnprocessableError, match="Size"):
        choose_modifiers([SIZE], ["small", "large"])


def test_unknown_and_repeated_options_are_refused() -> None:
    with pytest.raises(UnprocessableError, match="'pickles'"):
        choose_modifiers([SIZE, EXTRAS], ["small", "pickles"])
    with pytest.raises(UnprocessableError, match="'wrap' is chosen twice"):
        choose_modifiers([SIZE, EXTRAS], ["small", "wrap", "wrap"])
    assert choose_modifiers([EXTRAS], []) == ()


def test_a_good_price_list_has_no_problems() -> None:
    assert price_list_problems(SODA) == []
    assert price_list_problems(PriceList("g", 1299, tiers={"member": 1199})) == []


@pytest.mark.parametrize("prices,words", [
    (PriceList("each", -100), "retail price is -1.00"),
    (PriceList("each", 100, tiers={"member": -1}), "member price is -0.01"),
    (PriceList("each", 100, tiers={"vip": 90}), "tier 'vip'"),
    (PriceList("each", 100, tiers={"retail": 90}), "retail_minor"),
    (PriceList("each", 100, breaks={"staff": (PriceBreak(3, 250),)}), "tier 'staff'"),
    (PriceList("each", 100, breaks={"retail": (PriceBreak(1, 50),)}), "qty 1"),
    (PriceList("each", 100, breaks={"retail": (PriceBreak(3, 250), PriceBreak(3, 240))}), "qty 3 more than once"),
    (PriceList("g", 1299, breaks={"retail": (PriceBreak(1000, 1000),)}), "sold by 'g'"),
    (PriceList("ml", 1299, breaks={"member": (PriceBreak(1000, 1000),)}), "sold by 'ml'"),
    (PriceList("each", 200, breaks={"retail": (PriceBreak(3, 600),)}), "not cheaper than 3 x 2.00 = 6.00"),
    (PriceList("each", 200, tiers={"member": 150}, breaks={"member": (PriceBreak(3, 500),)}), "3 x 1.50"),
    (PriceList("each", 200, breaks={"retail": (PriceBreak(3, 500), PriceBreak(6, 1100))}), "more than the 10.00"),
    (PriceList("kg", 200), "unit 'kg'"),
])
def test_price_list_problems_say_what_is_wrong(prices: PriceList, words: str) -> None:
    problems = price_list_problems(prices)
    assert len(problems) == 1, problems
    assert words in problems[0]


unit_prices = st.integers(0, 1_000)
break_lists = st.lists(st.builds(PriceBreak, st.integers(2, 12), st.integers(0, 15_000)), max_size=4)
quantities = st.integers(1, 200)
deltas = st.lists(st.integers(-300, 300), max_size=3)


def each(unit_price: int, breaks: list[PriceBreak], tier: str = "retail") -> PriceList:
    return PriceList("each", unit_price, breaks={tier: tuple(breaks)})


@given(unit_prices, break_lists, quantities, deltas)
def test_a_line_never_costs_more_than_unit_price_times_qty_plus_modifiers(
        unit_price: int, breaks: list[PriceBreak], qty: int, deltas: list[int]) -> None:
    mods = [ModifierOption(f"m{i}", "g", f"M{i}", d) for i, d in enumerate(deltas)]
    line = price_line(each(unit_price, breaks), qty, modifiers=mods)
    assert line.base_minor == qty * unit_price
    assert line.modifiers_minor == qty * sum(deltas)
    assert 0 <= line.total_minor <= max(0, qty * unit_price + qty * sum(deltas))


@given(unit_prices, break_lists, quantities)
def test_the_breaks_applied_account_for_the_whole_total(unit_price: int, breaks: list[PriceBreak], qty: int) -> None:
    line = price_line(each(unit_price, breaks), qty)
    in_breaks = sum(k * times for k, _, times in line.breaks_applied)
    assert in_breaks <= qty
    assert line.total_minor == sum(p * times for _, p, times in line.breaks_applied) + (qty - in_breaks) * unit_price
    for k, p, times in line.breaks_applied:
        assert times >= 1 and p < k * unit_price


@given(unit_prices, break_lists, quantities, st.sampled_from(TIERS))
def test_one_more_group_of_the_largest_break_adds_exactly_its_price(
        unit_price: int, breaks: list[PriceBreak], qty: int, tier: str) -> None:
    prices = each(unit_price, breaks, tier)
    usable = [b for b in breaks if b.price_minor < b.qty * unit_price]
    before = price_line(prices, qty, tier).total_minor
    if not usable:
        assert before == qty * unit_price
        return
    k = max(b.qty for b in usable)
    p = min(b.price_minor for b in usable if b.qty == k)
    assert price_line(prices, qty + k, tier).total_minor == before + p


@given(st.integers(1, 1_000_000), st.integers(0, 100_000), st.sampled_from(["g", "ml"]), deltas)
def test_weighed_lines_are_money_line_total_and_modifiers_once(
        qty: int, per_kg: int, unit: str, deltas: list[int]) -> None:
    mods = [ModifierOption(f"m{i}", "g", f"M{i}", d) for i, d in enumerate(deltas)]
    line = price_line(PriceList(unit, per_kg, breaks={"retail": (PriceBreak(2, 0),)}), qty, modifiers=mods)
    assert line.base_minor == money.line_total(unit, qty, per_kg)
    assert line.total_minor == max(0, line.base_minor + sum(deltas))
