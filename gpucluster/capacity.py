"""Capacity sources of a pool, in order of preference, and how an AWS auto scaling group can honour them.

AWS fills a group's on-demand base first (from targeted reservations when a reservation is listed, then
plain on-demand if it is listed too) and puts spot above that base. It never falls back from spot to
on-demand, and a capacity block is a market of its own. So an order is renderable exactly when it is a
subsequence of (reservation, on-demand, spot), or a capacity block alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from .problems import CheckFailed

Source = Literal["reservation", "capacity-block", "on-demand", "spot", "flex-start"]
RENDERABLE_ORDER: tuple[Source, ...] = ("reservation", "on-demand", "spot")
SPOT_STRATEGY = "price-capacity-optimized"  # AWS's recommendation: fewer interruptions than lowest-price


def ordering_problem(sources: tuple[str, ...], on_demand_base: int) -> CheckFailed | None:
    """Why AWS cannot honour this order, or None."""
    if len(set(sources)) != len(sources):
        return CheckFailed("GPC-CAPACITY-DUPLICATE", f"{list(sources)} lists a source twice")
    if "capacity-block" in sources and len(sources) > 1:
        return CheckFailed("GPC-BLOCK-ALONE", "a capacity block is its own market: it cannot share a group with other "
                           "sources; give it a pool of its own")
    if "flex-start" in sources and len(sources) > 1:
        return CheckFailed("GPC-FLEX-ALONE", "flex-start (GCP Dynamic Workload Scheduler) is its own provisioning "
                           "model: it cannot share a group with other sources")
    if not {"capacity-block", "flex-start"} & set(sources) and list(sources) != [s for s in RENDERABLE_ORDER if s in sources]:
        return CheckFailed(
            "GPC-CAPACITY-ORDER",
            f"{list(sources)}: AWS groups fill their on-demand base from reservations, then on-demand, and put spot "
            "above it; they never fall back from spot to on-demand. Order the sources as reservation, on-demand, spot",
        )
    if "spot" in sources and len(sources) > 1 and on_demand_base < 1:
        return CheckFailed("GPC-CAPACITY-BASE-MISSING", f"{list(sources)} mixes spot with {sources[0]}: set onDemandBase "
                           f"to the number of {sources[0]} nodes below the spot ones")
    if on_demand_base and ("spot" not in sources or len(sources) == 1):
        return CheckFailed("GPC-CAPACITY-BASE-UNUSED", "onDemandBase applies only when spot follows on-demand or "
                           "reservation capacity")
    return None


BLOCK_DAY_STEPS = 14  # 1-day increments up to 14 days, then 7-day increments up to 182 days (EC2 User Guide,
BLOCK_MAX_DAYS = 182  # "Capacity Blocks for ML")


def block_problem(start: datetime, end: datetime) -> CheckFailed | None:
    duration = end - start
    if duration <= timedelta(0):
        return CheckFailed("GPC-BLOCK-DATES-ORDER", f"blockEnd ({end.isoformat()}) is not after blockStart ({start.isoformat()})")
    days = duration / timedelta(days=1)
    valid = days == int(days) and (days <= BLOCK_DAY_STEPS or (days % 7 == 0 and days <= BLOCK_MAX_DAYS))
    if not valid:
        return CheckFailed("GPC-BLOCK-DURATION", f"a capacity block lasts 1 to {BLOCK_DAY_STEPS} whole days, or whole "
                           f"weeks up to {BLOCK_MAX_DAYS} days; this one lasts {days:g} days")
    return None


@dataclass(frozen=True)
class CapacityPlan:
    """What a group needs to express its sources."""

    sources: tuple[str, ...]
    on_demand_base: int

    @property
    def spot(self) -> bool:
        return "spot" in self.sources

    def nodes_at(self, max_nodes: int) -> dict[str, int]:
        """Every source, in order, with the nodes it holds at `max_nodes`. With spot after another source the base
        comes from that source and spot holds the rest; otherwise the first source is asked for every node, and a
        later one only takes over what it cannot give (counted 0)."""
        nodes = dict.fromkeys(self.sources, 0)
        if self.spot and len(self.sources) > 1:
            nodes[self.sources[0]], nodes["spot"] = self.on_demand_base, max_nodes - self.on_demand_base
        else:
            nodes[self.sources[0]] = max_nodes
        return nodes

    @property
    def capacity_block(self) -> bool:
        return self.sources == ("capacity-block",)

    @property
    def reserved(self) -> bool:
        return "reservation" in self.sources or self.capacity_block

    @property
    def flex_start(self) -> bool:
        return self.sources == ("flex-start",)

    @property
    def reservation_preference(self) -> str | None:
        """Group-level preference: reservations only, or reservations first and then on-demand."""
        if "reservation" not in self.sources:
            return None
        return "capacity-reservations-first" if "on-demand" in self.sources else "capacity-reservations-only"

    @property
    def on_demand_percentage_above_base(self) -> int:
        return 0 if self.spot else 100
