"""Capacity source orders: what AWS can honour, what it cannot, and why."""

from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from gpucluster.capacity import CapacityPlan, block_problem, ordering_problem
from gpucluster.spec import Capacity


@pytest.mark.parametrize(
    "sources, base",
    [(("on-demand",), 0), (("spot",), 0), (("reservation",), 0), (("capacity-block",), 0),
     (("reservation", "on-demand"), 0), (("on-demand", "spot"), 2), (("reservation", "spot"), 4),
     (("reservation", "on-demand", "spot"), 8)],
)
def test_renderable_orders(sources, base):
    assert ordering_problem(sources, base) is None


@pytest.mark.parametrize(
    "sources, base, code",
    [
        (("spot", "on-demand"), 0, "GPC-CAPACITY-ORDER"),
        (("on-demand", "reservation"), 0, "GPC-CAPACITY-ORDER"),
        (("capacity-block", "on-demand"), 0, "GPC-BLOCK-ALONE"),
        (("flex-start", "spot"), 0, "GPC-FLEX-ALONE"),
        (("spot", "spot"), 0, "GPC-CAPACITY-DUPLICATE"),
        (("on-demand", "spot"), 0, "GPC-CAPACITY-BASE-MISSING"),
        (("on-demand",), 3, "GPC-CAPACITY-BASE-UNUSED"),
        (("spot",), 3, "GPC-CAPACITY-BASE-UNUSED"),
    ],
)
def test_refused_orders_say_why(sources, base, code):
    assert ordering_problem(sources, base).code == code


def test_plan_properties():
    plan = CapacityPlan(("reservation", "on-demand", "spot"), 4)
    assert plan.spot and plan.reserved and not plan.capacity_block
    assert plan.reservation_preference == "capacity-reservations-first"
    assert plan.on_demand_percentage_above_base == 0
    assert CapacityPlan(("reservation", "spot"), 2).reservation_preference == "capacity-reservations-only"
    assert CapacityPlan(("on-demand",), 0).reservation_preference is None
    assert CapacityPlan(("on-demand",), 0).on_demand_percentage_above_base == 100


@pytest.mark.parametrize("days, ok", [(1, True), (14, True), (15, False), (21, True), (182, True), (189, False), (2.5, False)])
def test_capacity_block_durations(days, ok):
    start = datetime(2026, 12, 1, 11, 30)
    assert (block_problem(start, start + timedelta(days=days)) is None) is ok


def test_block_end_before_start():
    start = datetime(2026, 12, 1)
    assert block_problem(start, start - timedelta(hours=1)).code == "GPC-BLOCK-DATES-ORDER"


def test_spec_capacity_carries_the_rules():
    with pytest.raises(ValidationError, match="never fall back from spot"):
        Capacity.model_validate({"type": "spot", "fallback": ["on-demand"]})
    with pytest.raises(ValidationError, match="blockStart/blockEnd only apply to capacity-block"):
        Capacity.model_validate({"type": "on-demand", "blockStart": "2026-12-01T00:00:00Z", "blockEnd": "2026-12-02T00:00:00Z"})
    block = Capacity.model_validate({"type": "capacity-block", "reservationId": "cr-0123456789abcdef0",
                                     "blockStart": "2026-12-01T11:30:00Z", "blockEnd": "2026-12-15T11:30:00Z"})
    assert block.plan().capacity_block and block.sources == ("capacity-block",)
