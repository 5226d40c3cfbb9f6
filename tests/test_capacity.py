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
    "sources, base, reason",
    [
        (("spot", "on-demand"), 0, "never fall back from spot to on-demand"),
        (("on-demand", "reservation"), 0, "Order the sources as reservation, on-demand, spot"),
        (("capacity-block", "on-demand"), 0, "a capacity block is its own market"),
        (("spot", "spot"), 0, "lists a source twice"),
        (("on-demand", "spot"), 0, "set onDemandBase"),
        (("on-demand",), 3, "onDemandBase applies only when spot follows"),
        (("spot",), 3, "onDemandBase applies only when spot follows"),
    ],
)
def test_refused_orders_say_why(sources, base, reason):
    assert reason in ordering_problem(sources, base)


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
    assert "is not after blockStart" in block_problem(start, start - timedelta(hours=1))


def test_spec_capacity_carries_the_rules():
    with pytest.raises(ValidationError, match="never fall back from spot"):
        Capacity.model_validate({"type": "spot", "fallback": ["on-demand"]})
    with pytest.raises(ValidationError, match="blockStart/blockEnd only apply to capacity-block"):
        Capacity.model_validate({"type": "on-demand", "blockStart": "2026-12-01T00:00:00Z", "blockEnd": "2026-12-02T00:00:00Z"})
    block = Capacity.model_validate({"type": "capacity-block", "reservationId": "cr-0123456789abcdef0",
                                     "blockStart": "2026-12-01T11:30:00Z", "blockEnd": "2026-12-15T11:30:00Z"})
    assert block.plan().capacity_block and block.sources == ("capacity-block",)
