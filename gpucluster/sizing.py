"""Shared file system sizing: the cheapest FSx for Lustre PERSISTENT_2 layout that meets a throughput target.

Throughput is storage capacity (TiB) times the per-unit throughput tier, and both come in fixed steps
(botocore's fsx model, CreateFileSystem: 1200 GiB, 2400 GiB, then increments of 2400 GiB; PERSISTENT_2 SSD
tiers 125, 250, 500, 1000 MB/s/TiB). For each tier the smallest capacity that meets both the throughput
and the capacity floor is the cheapest at that tier, so comparing one candidate per tier finds the optimum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .cost import prices

PER_UNIT_THROUGHPUT = (125, 250, 500, 1000)  # MB/s per TiB
SMALLEST_GIB, STEP_GIB = 1200, 2400
GIB_PER_TIB = 1024


@dataclass(frozen=True)
class LustrePlan:
    capacity_gib: int
    per_unit_mbps: int
    usd_per_gb_month: float

    @property
    def throughput_mbps(self) -> float:
        return self.capacity_gib / GIB_PER_TIB * self.per_unit_mbps

    @property
    def monthly_usd(self) -> float:
        # FSx bills configured capacity per GB-month; AWS's own examples price 1.2 TiB as 1,200 GB.
        return self.capacity_gib * self.usd_per_gb_month


def valid_capacity_at_least(gib: float) -> int:
    if gib <= SMALLEST_GIB:
        return SMALLEST_GIB
    return STEP_GIB * math.ceil(gib / STEP_GIB)


def lustre_prices(region: str = "us-east-1") -> dict[int, float]:
    """USD per GB-month by tier; the us-east-1 list when the region has none (the choice depends on ratios)."""
    book = prices.load("aws")
    storage = book.region_services(region).fsx_lustre_persistent_2_gb_month or book.region_services("us-east-1").fsx_lustre_persistent_2_gb_month
    return {int(tier): float(price) for tier, price in storage.items() if tier != "sources"}


def plan_lustre(target_mbps: float, min_capacity_gib: int = SMALLEST_GIB, prices: dict[int, float] | None = None) -> LustrePlan:
    """The lowest-cost (capacity, tier) meeting `target_mbps` and `min_capacity_gib`; ties go to more throughput."""
    prices = prices or lustre_prices()
    candidates = [
        LustrePlan(
            valid_capacity_at_least(max(min_capacity_gib, target_mbps * GIB_PER_TIB / tier)), tier, prices[tier]
        )
        for tier in PER_UNIT_THROUGHPUT
    ]
    return min(candidates, key=lambda plan: (plan.monthly_usd, -plan.throughput_mbps))


# Google Cloud Managed Lustre tiers (docs.cloud.google.com/managed-lustre/docs/performance-tiers, read 2026-11):
# MB/s per TiB -> (minimum GiB, step GiB, size where the step grows, larger step, maximum GiB).
MANAGED_LUSTRE_TIERS = {
    1000: (9_000, 9_000, 1_530_000, 72_000, 10_008_000),
    500: (18_000, 18_000, 3_060_000, 144_000, 20_016_000),
    250: (36_000, 36_000, 6_120_000, 288_000, 40_032_000),
    125: (72_000, 72_000, 12_240_000, 72_000, 12_240_000),
}


@dataclass(frozen=True)
class ManagedLustrePlan:
    capacity_gib: int
    per_unit_mbps: int

    @property
    def throughput_mbps(self) -> float:
        return self.capacity_gib / GIB_PER_TIB * self.per_unit_mbps


def managed_lustre_capacity(tier: int, gib: float) -> int | None:
    """The smallest valid capacity of `tier` holding `gib`, or None above the tier's maximum. Above the threshold
    capacities are multiples of the larger step (the documented maxima are: 10,008,000 = 139 x 72,000, while
    1,530,000 + k x 72,000 never reaches it)."""
    minimum, step, threshold, big_step, maximum = MANAGED_LUSTRE_TIERS[tier]
    size = max(minimum, step * math.ceil(gib / step))
    if size > threshold:
        size = big_step * math.ceil(gib / big_step)
    return size if size <= maximum else None


def plan_managed_lustre(target_mbps: float, min_capacity_gib: int = 0) -> ManagedLustrePlan:
    """The smallest capacity meeting the target: no GCP storage prices are in the price book, so the footprint
    (capacity) is what is minimised; ties go to the lower tier."""
    candidates = []
    for tier in sorted(MANAGED_LUSTRE_TIERS):
        size = managed_lustre_capacity(tier, max(min_capacity_gib, target_mbps * GIB_PER_TIB / tier))
        if size is not None:
            candidates.append(ManagedLustrePlan(size, tier))
    if not candidates:
        raise ValueError(f"no Managed Lustre tier reaches {target_mbps:,.0f} MB/s")
    return min(candidates, key=lambda plan: (plan.capacity_gib, plan.per_unit_mbps))
