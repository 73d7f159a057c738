import random
import string
import zlib
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.counting import (
    AbcThresholds,
    CountedLine,
    CountFrequency,
    VarianceRule,
    accuracy,
    classify,
    count_slot,
    due_today,
    needs_approval,
    on_hand_after_posting,
    variance,
    variance_value,
)
from hub.errors import ValidationError


def line(counted: int, ledger_qty: int, cost: int = 150, unit: str = "each") -> CountedLine:
    return CountedLine("JAM", "floor", counted, ledger_qty, 41, cost, unit)


def test_the_item_that_crosses_80_percent_is_still_a() -> None:
    sales = {"TEA": 500, "JAM": 250, "OIL": 150, "SALT": 60, "RICE": 40}
    # before TEA 0%, JAM 50%, OIL 75% (<80: A), SALT 90% (<95: B), RICE 96% (C)
    assert classify(sales, ["TEA", "JAM", "OIL", "SALT", "RICE", "MOP"]) == {
        "TEA": "A", "JAM": "A", "OIL": "A", "SALT": "B", "RICE": "C", "MOP": "C"}


def test_exactly_80_percent_before_an_item_makes_it_b() -> None:
    assert classify({"X": 80, "Y": 15, "Z": 5}, []) == {"X": "A", "Y": "B", "Z": "C"}


def test_equal_values_are_ranked_by_sku() -> None:
    assert classify({"B": 50, "A": 50}, []) == {"A": "A", "B": "A"}
    assert classify({"B": 50, "A": 50}, [], AbcThresholds(a_bp=5000, b_bp=5000)) == {"A": "A", "B": "C"}


def test_no_sales_and_returns_only_are_c() -> None:
    assert classify({}, ["TEA", "JAM"]) == {"TEA": "C", "JAM": "C"}
    assert classify({"TEA": 0, "JAM": -300}, ["OIL"]) == {"TEA": "C", "JAM": "C", "OIL": "C"}
    assert classify({"TEA": 10, "JAM": -300}, []) == {"TEA": "A", "JAM": "C"}


@pytest.mark.parametrize("a_bp,b_bp", [(9000, 8000), (-1, 9500), (8000, 10001)])
def test_thresholds_out_of_order_are_refused(a_bp: int, b_bp: int) -> None:
    with pytest.raises(ValidationError) as exc:
        classify({"TEA": 1}, [], AbcThresholds(a_bp, b_bp))
    assert exc.value.field == "thresholds" and f"a_bp={a_bp}" in exc.value.message


sales_st = st.dictionaries(st.text(string.ascii_uppercase, min_size=1, max_size=4), st.integers(-50, 10_000))
thresholds_st = st.tuples(st.integers(0, 10_000), st.integers(0, 10_000)).map(lambda p: AbcThresholds(*sorted(p)))


@given(sales_st, thresholds_st)
def test_classes_follow_value_and_a_is_the_smallest_set_over_a_bp(sales: dict[str, int],
                                                                  th: AbcThresholds) -> None:
    classes = classify(sales, ["SPARE"], th)
    assert set(classes) == set(sales) | {"SPARE"}
    value = {sku: max(0, sales.get(sku, 0)) for sku in classes}
    by = {c: [value[sku] for sku, k in classes.items() if k == c] for c in "ABC"}
    assert min(by["A"], default=10**9) >= max(by["B"], default=0)
    assert min(by["B"], default=10**9) >= max(by["C"], default=0)
    assert all(v > 0 for v in by["A"] + by["B"])
    total = sum(value.values())
    if total == 0:
        assert set(classes.values()) == {"C"}
        return
    a_value = sum(by["A"])
    assert a_value * 10_000 >= th.a_bp * total
    if by["A"]:
        assert (a_value - min(by["A"])) * 10_000 < th.a_bp * total
    ab_value = a_value + sum(by["B"])
    assert ab_value * 10_000 >= th.b_bp * total
    if by["B"]:
        assert (ab_value - min(by["B"])) * 10_000 < th.b_bp * total


def test_the_slot_is_crc32_so_it_survives_restarts() -> None:
    assert count_slot("JAM-340", 30) == zlib.crc32(b"JAM-340") % 30
    assert count_slot("café", 7) == zlib.crc32("café".encode()) % 7
    with pytest.raises(ValidationError) as exc:
        count_slot("JAM", 0)
    assert exc.value.field == "period_days"


def test_due_today_picks_by_class_period() -> None:
    classes = {"TEA": "A", "JAM": "B", "OIL": "C"}
    tea, jam, oil = count_slot("TEA", 7), count_slot("JAM", 30), count_slot("OIL", 90)
    assert "TEA" in due_today(classes, tea + 7 * 1000)
    assert "TEA" not in due_today(classes, tea + 1)
    assert "JAM" in due_today(classes, jam + 30 * 700)
    assert "OIL" in due_today(classes, oil + 90 * 230)
    assert "OIL" in due_today(classes, oil, CountFrequency(c_days=90))
    assert due_today(classes, oil + 1, CountFrequency(1, 1, 1)) == ["JAM", "OIL", "TEA"]


def test_due_today_refuses_an_unknown_class() -> None:
    with pytest.raises(ValidationError, match="'D' is not one of A, B, C"):
        due_today({"TEA": "D"}, 0)


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.sampled_from("ABC"), max_size=40),
       st.integers(-10**6, 10**6), st.integers(1, 15), st.integers(1, 40), st.integers(1, 100))
def test_over_a_full_period_every_item_is_due_exactly_once(classes: dict[str, str], start: int,
                                                           a: int, b: int, c: int) -> None:
    freq = CountFrequency(a, b, c)
    for cls, period in (("A", a), ("B", b), ("C", c)):
        mine = {sku for sku, k in classes.items() if k == cls}
        seen = Counter(sku for day in range(start, start + period) for sku in due_today(classes, day, freq)
                       if sku in mine)
        assert seen == Counter(mine)


def test_the_daily_load_is_spread() -> None:
    rng = random.Random(20240611)
    skus = {"".join(rng.choices(string.ascii_uppercase + string.digits + "-", k=rng.randint(4, 12)))
            for _ in range(1000)}
    classes = dict.fromkeys(skus, "B")
    loads = [len(due_today(classes, day)) for day in range(30)]
    assert sum(loads) == len(skus)
    mean = len(skus) / 30
    assert max(loads) <= 3 * mean and min(loads) >= mean / 3, loads


def test_variance_is_against_the_ledger_at_counting_time() -> None:
    counted = line(counted=10, ledger_qty=12)
    assert variance(counted) == -2
    assert variance_value(counted) == -300
    # two were sold after the count: the ledger now says 10; posting keeps the sale.
    assert on_hand_after_posting(10, counted) == 8


def test_weighed_variance_is_valued_per_kg() -> None:
    cheese = line(counted=1250, ledger_qty=1500, cost=1999, unit="g")
    assert variance(cheese) == -250
    assert variance_value(cheese) == -500  # 0.25 kg x 19.99 = 4.9975 -> 5.00, rounded away from zero
    assert variance_value(line(1750, 1500, 1999, "g")) == 500


def test_bad_count_lines_are_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        variance(line(-1, 3))
    assert exc.value.field == "counted" and "JAM at floor: counted -1" in exc.value.message
    with pytest.raises(ValidationError) as exc:
        variance_value(line(1, 3, unit="box"))
    assert exc.value.field == "unit" and "'box'" in exc.value.message
    with pytest.raises(ValidationError) as exc:
        variance_value(line(1, 3, cost=-5))
    assert exc.value.field == "unit_cost_minor"


@pytest.mark.parametrize("counted,ledger,cost,needed", [
    (15, 10, 100, False),   # 5 units, 5.00: at both limits
    (16, 10, 100, True),    # 6 units
    (4, 10, 100, True),     # -6 units
    (12, 10, 1000, False),  # 20.00
    (12, 10, 1001, True),   # 20.02
    (8, 10, 1001, True),    # -20.02
])
def test_approval_is_needed_above_either_limit(counted: int, ledger: int, cost: int, needed: bool) -> None:
    assert needs_approval(line(counted, ledger, cost)) is needed


def test_approval_limits_are_the_rules() -> None:
    assert not needs_approval(line(30, 10, 1), VarianceRule(max_qty=20, max_value_minor=20))
    assert needs_approval(line(31, 10, 1), VarianceRule(max_qty=20, max_value_minor=20))


def test_accuracy_counts_lines_that_matched() -> None:
    assert accuracy([line(3, 3), line(2, 3), line(4, 3), line(0, 0)]) == (2, 4)
    assert accuracy([]) == (0, 0)


@given(st.integers(0, 10_000), st.integers(-500, 10_000), st.lists(st.integers(-200, 200), max_size=20))
def test_posting_keeps_every_move_after_the_count(counted: int, ledger_qty: int, moves: list[int]) -> None:
    current = ledger_qty + sum(moves)
    posted = on_hand_after_posting(current, line(counted, ledger_qty))
    assert posted == counted + sum(moves) == counted + (current - ledger_qty)


@given(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**5), st.sampled_from(["each", "g", "ml"]))
def test_a_shortfall_and_a_surplus_of_the_same_size_are_worth_the_same(
        counted: int, ledger_qty: int, cost: int, unit: str) -> None:
    short, over = line(counted, ledger_qty, cost, unit), line(ledger_qty, counted, cost, unit)
    assert variance_value(short) == -variance_value(over)
    assert needs_approval(short) == needs_approval(over)
