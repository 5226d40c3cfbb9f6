"""What a stack needs from its cloud, worked out once from the validated spec and its pool plans: per pool its type,
zones and nodes at maximum size by capacity source, and summed per quota. Pure: no cloud clients."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from ..images import default_image
from ..plan import lustre_plan, plan_pool
from ..spec import ClusterSpec
from .quotas import Quota, EC2_VCPU_QUOTAS, Market, ec2_quota_group, gcp_gpu_metric

# Which quota market a capacity source's nodes draw on. AWS reservations hold on-demand instances; GCP flex-start
# VMs use preemptible quota. Sources left out: GCP reservations (making one took the quota) and capacity blocks.
_EC2_MARKETS: dict[str, Market] = {"on-demand": "on-demand", "reservation": "on-demand", "spot": "spot"}
_GCP_MARKETS: dict[str, Market] = {"on-demand": "on-demand", "spot": "spot", "flex-start": "spot"}


@dataclass(frozen=True)
class PoolNeed:
    pool: str
    instance_type: str
    zones: tuple[str, ...]
    max_nodes: int
    vcpus_per_node: int
    gpus_per_node: int
    nodes_by_source: dict[str, int]  # every capacity source, in order, with the nodes it holds at maximum size
    reservation_id: str | None = None
    reservation_name: str | None = None
    block_start: datetime | None = None
    block_end: datetime | None = None
    image: str | None = None  # what the nodes boot: an AMI id, resolve:ssm:<parameter>, or None (not checked)

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self.nodes_by_source)


@dataclass(frozen=True)
class StackNeeds:
    cloud: str
    region: str
    pools: tuple[PoolNeed, ...]
    lustre_gib: int = 0  # AWS: the FSx for Lustre (PERSISTENT_2) capacity the stack creates
    vpcs: int = 1  # AWS: every stack makes one VPC

    def ec2_vcpus(self) -> dict[Quota, int]:
        """vCPUs at maximum size per EC2 quota. Reserved capacity runs as on-demand instances and counts against
        the on-demand quota. Capacity blocks are left out: capacity bought apart, whose draw on the on-demand quota
        AWS's quota pages do not spell out (not verified)."""
        needed: dict[Quota, int] = defaultdict(int)
        for pool in self.pools:
            group = ec2_quota_group(pool.instance_type)
            if group is None:
                continue
            for source, nodes in pool.nodes_by_source.items():
                market = _EC2_MARKETS.get(source)
                if market and nodes:
                    needed[EC2_VCPU_QUOTAS[group][market]] += nodes * pool.vcpus_per_node
        return dict(needed)

    def gcp_gpus(self) -> tuple[dict[str, int], list[str]]:
        """GPUs at maximum size per regional quota metric, and the pools whose series has no known metric. A
        reservation's VMs need no quota of their own: making the reservation took it."""
        needed: dict[str, int] = defaultdict(int)
        unknown = []
        for pool in self.pools:
            for source, nodes in pool.nodes_by_source.items():
                market = _GCP_MARKETS.get(source)
                if market is None or not nodes or not pool.gpus_per_node:
                    continue
                metric = gcp_gpu_metric(pool.instance_type, market)
                if metric is None:
                    unknown.append(pool.pool)
                else:
                    needed[metric] += nodes * pool.gpus_per_node
        return dict(needed), unknown


def stack_needs(spec: ClusterSpec) -> StackNeeds:
    pools = []
    for pool in spec.pools:
        plan = plan_pool(spec, pool)
        capacity = pool.capacity
        image = None
        if spec.cloud == "aws" and spec.kubernetes is None:  # EKS node groups pick their AMI type themselves
            image = pool.image_id or default_image(plan.instance)
        pools.append(PoolNeed(
            pool=pool.name, instance_type=pool.instance_type, zones=plan.zones, max_nodes=pool.size.max,
            vcpus_per_node=plan.instance.vcpus or 0, gpus_per_node=plan.instance.gpus,
            nodes_by_source=capacity.plan().nodes_at(pool.size.max),
            reservation_id=capacity.reservation_id, reservation_name=capacity.reservation_name,
            block_start=capacity.block_start, block_end=capacity.block_end, image=image,
        ))
    lustre = lustre_plan(spec) if spec.cloud == "aws" else None
    return StackNeeds(cloud=spec.cloud, region=spec.region, pools=tuple(pools),
                      lustre_gib=lustre.capacity_gib if lustre else 0)
