import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.kits import kit_available, kit_problems, stock_effect
from hub.errors import UnprocessableError, ValidationError

GIFT_BOX = {"JAM": 2, "TEA": 1}


def test_the_scarcest_component_decides_how_many_kits() -> None:
    assert kit_available(GIFT_BOX, {"JAM": 7, "TEA": 5}) == 3
    assert kit_available(GIFT_BOX, {"JAM": 7, "TEA": 2}) == 2


def test_missing_or_negative_stock_counts_as_none() -> None:
    assert kit_available(GIFT_BOX, {"JAM": 7}) == 0
    assert kit_available(GIFT_BOX, {"JAM": 7, "TEA": -4}) == 0
    assert kit_available({}, {"JAM": 7}) == 0


def test_a_zero_component_qty_is_refused_not_divided_by() -> None:
    with pytest.raises(UnprocessableError, match="'JAM' has qty 0"):
        kit_available({"JAM": 0}, {"JAM": 7})


def test_selling_kits_takes_components_or_the_kit_itself() -> None:
    assert stock_effect("BOX", "components", 3, {"TEA": 1, "JAM": 2}) == [("JAM", 6), ("TEA", 3)]
    assert stock_effect("BOX", "assembled", 3, GIFT_BOX) == [("BOX", 3)]


def test_stock_effect_refuses_bad_policy_qty_and_empty_kits() -> None:
    with pytest.raises(ValidationError) as exc:
        stock_effect("BOX", "bundle", 1, GIFT_BOX)
    assert exc.value.field == "policy" and "'bundle'" in exc.value.message
    with pytest.raises(ValidationError) as exc:
        stock_effect("BOX", "components", 0, GIFT_BOX)
    assert exc.value.field == "qty"
    with pytest.raises(UnprocessableError, match="BOX has no components"):
        stock_effect("BOX", "components", 1, {})


def test_a_good_kit_has_no_problems() -> None:
    kits = {"MINI": {"JAM": 1}, "TRAY": {"BOX": 2}}  # TRAY holds BOX, which is fine: BOX holds no TRAY
    assert kit_problems("BOX", "components", {"MINI": 2, "TEA": 1}, kits) == []


@pytest.mark.parametrize("policy,components,words", [
    ("bundle", GIFT_BOX, "policy 'bundle'"),
    ("assembled", {}, "no components"),
    ("components", {"JAM": 0}, "JAM has qty 0"),
    ("components", {"JAM": -1}, "JAM has qty -1"),
    ("components", {"JAM": 1, "BOX": 1}, "lists itself"),
])
def test_kit_problems_say_what_is_wrong(policy: str, components: dict[str, int], words: str) -> None:
    problems = kit_problems("BOX", policy, components, {})
    assert len(problems) == 1, problems
    assert words in problems[0]


def test_a_cycle_through_other_kits_is_named_with_its_path() -> None:
    kits = {"A": {"B": 1}, "B": {"C": 2, "TEA": 1}, "C": {"BOX": 1}, "D": {"E": 1}, "E": {"D": 1}}
    problems = kit_problems("BOX", "components", {"A": 1, "D": 1, "JAM": 1}, kits)
    assert problems == ["kit BOX contains itself through BOX -> A -> B -> C -> BOX; remove A or break the chain"]


def test_a_stale_entry_for_the_kit_itself_is_not_used() -> None:
    assert kit_problems("BOX", "components", {"JAM": 1}, {"BOX": {"BOX": 1}}) == []


components_st = st.dictionaries(st.sampled_from("ABCDEF"), st.integers(1, 10), min_size=1)
stock_st = st.dictionaries(st.sampled_from("ABCDEFG"), st.integers(-20, 200))


@given(components_st, stock_st)
def test_kit_available_is_the_most_that_fits(components: dict[str, int], available: dict[str, int]) -> None:
    n = kit_available(components, available)
    have = {sku: max(0, available.get(sku, 0)) for sku in components}
    assert all(n * per_kit <= have[sku] for sku, per_kit in components.items())
    assert any((n + 1) * per_kit > have[sku] for sku, per_kit in components.items())


@given(components_st, st.integers(1, 1000))
def test_stock_effect_takes_qty_times_each_component(components: dict[str, int], qty: int) -> None:
    effect = stock_effect("KIT", "components", qty, components)
    assert [sku for sku, _ in effect] == sorted(components)
    assert dict(effect) == {sku: per_kit * qty for sku, per_kit in components.items()}
    assert sum(q for _, q in effect) == qty * sum(components.values())
    assert stock_effect("KIT", "assembled", qty, components) == [("KIT", qty)]
