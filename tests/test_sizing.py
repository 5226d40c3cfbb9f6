"""FSx for Lustre sizing: always meets the target, always at the lowest cost among valid layouts."""

import itertools

import pytest

from gpucluster.sizing import PER_UNIT_THROUGHPUT, LustrePlan, lustre_prices, plan_lustre, valid_capacity_at_least


def all_layouts(max_gib: int):
    capacities = [1200, *range(2400, max_gib + 1, 2400)]
    prices = lustre_prices()
    return [LustrePlan(c, t, prices[t]) for c, t in itertools.product(capacities, PER_UNIT_THROUGHPUT)]


@pytest.mark.parametrize("target_mbps", [100, 293, 1000, 4000, 8000, 16_000, 64_000, 128_000, 256_000])
@pytest.mark.parametrize("min_gib", [1200, 10_000, 100_000])
def test_plan_is_the_cheapest_layout_that_meets_the_target(target_mbps, min_gib):
    plan = plan_lustre(target_mbps, min_gib)
    assert plan.throughput_mbps >= target_mbps and plan.capacity_gib >= min_gib
    feasible = [p for p in all_layouts(400_000) if p.throughput_mbps >= target_mbps and p.capacity_gib >= min_gib]
    assert plan.monthly_usd == pytest.approx(min(p.monthly_usd for p in feasible))


def test_capacity_steps():
    assert [valid_capacity_at_least(g) for g in (1, 1200, 1201, 2400, 2401, 9000)] == [1200, 1200, 2400, 2400, 4800, 9600]


def test_small_target_stays_at_the_smallest_file_system():
    plan = plan_lustre(100)
    assert (plan.capacity_gib, plan.per_unit_mbps) == (1200, 125)
    assert plan.throughput_mbps == pytest.approx(1200 / 1024 * 125)


def test_prices_come_from_the_data_file():
    assert set(lustre_prices()) == set(PER_UNIT_THROUGHPUT)
    assert all(price > 0 for price in lustre_prices().values())
