"""FSx for Lustre sizing from a throughput target, against the common fixed default (1.2 TiB at 250 MB/s/TiB).

For 16, 64 and 256 GPUs and 0.25 / 0.5 / 1 GB/s per GPU: the chosen capacity and tier, the throughput it
delivers, its monthly cost (us-east-1 list prices in gpucluster/cost/data/aws.yaml), and a
brute-force check over every valid layout that no cheaper one meets the target.
Run: .venv/bin/python bench/fsx_sizing.py
"""

from __future__ import annotations

import itertools

from gpucluster.sizing import PER_UNIT_THROUGHPUT, LustrePlan, lustre_prices, plan_lustre

GPUS = (16, 64, 256)
GBPS_PER_GPU = (0.25, 0.5, 1.0)
DEFAULT = LustrePlan(1200, 250, lustre_prices()[250])


def cheapest_by_brute_force(target_mbps: float) -> float:
    prices = lustre_prices()
    layouts = (
        LustrePlan(capacity, tier, prices[tier])
        for capacity, tier in itertools.product([1200, *range(2400, 600_001, 2400)], PER_UNIT_THROUGHPUT)
    )
    return min(p.monthly_usd for p in layouts if p.throughput_mbps >= target_mbps)


def main() -> None:
    print(f"default: {DEFAULT.capacity_gib} GiB at {DEFAULT.per_unit_mbps} MB/s/TiB = "
          f"{DEFAULT.throughput_mbps:,.0f} MB/s for ${DEFAULT.monthly_usd:,.0f}/month\n")
    print(f"{'GPUs':>5} {'GB/s/GPU':>8} {'target MB/s':>11} | {'capacity GiB':>12} {'tier':>5} {'delivers MB/s':>13} "
          f"{'$/month':>9} {'optimal':>7} | {'default covers':>14}")
    for gpus, per_gpu in itertools.product(GPUS, GBPS_PER_GPU):
        target = gpus * per_gpu * 1000
        plan = plan_lustre(target)
        optimal = abs(plan.monthly_usd - cheapest_by_brute_force(target)) < 1e-6 and plan.throughput_mbps >= target
        print(f"{gpus:>5} {per_gpu:>8} {target:>11,.0f} | {plan.capacity_gib:>12,} {plan.per_unit_mbps:>5} "
              f"{plan.throughput_mbps:>13,.0f} {plan.monthly_usd:>9,.0f} {'yes' if optimal else 'NO':>7} | "
              f"{DEFAULT.throughput_mbps / target:>13.1%}")


if __name__ == "__main__":
    main()
