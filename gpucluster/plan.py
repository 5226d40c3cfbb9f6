"""Decisions derived from a spec and the catalog: zones, fabric, placement and address plan per pool.

Validation and the components both read these, so a default is decided in one place.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass

from .capacity import CapacityPlan
from .catalog import InstanceType, load
from .fabric import AwsInterface, GcpNic, aws_interfaces, gcp_nics
from .sizing import LustrePlan, ManagedLustrePlan, plan_lustre, plan_managed_lustre
from .regions import expand
from .spec import Buckets, ClusterSpec, Pool
from .userdata import NodeSetup, ScratchSetup



def offered_zones(instance: InstanceType, region: str, zones: list[str]) -> list[str]:
    """The given zones where `instance` is offered; all of them when the catalog has no zone list for the region."""
    recorded = instance.zones.get(region, ())
    return [z for z in zones if not recorded or z in recorded]


def fabric_enabled(pool: Pool, instance: InstanceType) -> bool:
    return pool.fabric != "off" and instance.fabric_capable


def pool_zones(spec: ClusterSpec, pool: Pool, instance: InstanceType) -> list[str]:
    """Explicit zones win; otherwise every cluster zone offering the type, or the first of them for a fabric pool."""
    if pool.zones:
        return list(pool.zones)
    zones = offered_zones(instance, spec.region, spec.zones)
    return zones[:1] if fabric_enabled(pool, instance) else zones


# GCP refuses compact placement with flex-start except on these (cluster-toolkit gke-node-pool preconditions).
FLEX_COMPACT_SERIES = {"a3-ultragpu", "a4-highgpu"}  # machine name without its size


def wants_placement_group(pool: Pool, instance: InstanceType) -> bool:
    """Whether to create a cluster placement group for the pool.

    Never on reserved capacity: the reservation decides where instances land, and a placement group the
    reservation was not made for starves the group (README, "Capacity"). A reservation's own group is
    named in `capacity.placementGroup` and used as it is.
    """
    plan = pool.capacity.plan()
    if plan.reserved:
        return False
    if pool.placement == "auto":
        family_ok = not plan.flex_start or instance.name.rsplit("-", 1)[0] in FLEX_COMPACT_SERIES
        return fabric_enabled(pool, instance) and family_ok
    return pool.placement == "cluster"


def rolling(spec: ClusterSpec, pool: Pool) -> bool:
    """Whether changes roll through running nodes: always in Kubernetes node pools (they drain and replace nodes on a
    template change; Kueue requeues the jobs), else by choice, else only for inference (replacing a training node kills
    the job running on it)."""
    if spec.kubernetes:
        return True
    strategy = pool.rollout.strategy or ("rolling" if pool.purpose == "inference" else "manual")
    return strategy == "rolling"


@dataclass(frozen=True)
class PoolPlan:
    pool: Pool
    instance: InstanceType
    alternates: tuple[InstanceType, ...]
    zones: tuple[str, ...]
    fabric: bool  # the type's high-speed fabric is on (EFA, or GCP GPU NICs)
    placement_group: bool
    interfaces: tuple[AwsInterface, ...]
    nics: tuple[GcpNic, ...] = ()
    rolling: bool = False  # changes replace running nodes in batches; else they reach new nodes only

    @property
    def capacity(self) -> CapacityPlan:
        return self.pool.capacity.plan()

    @property
    def gpus_per_node(self) -> int:
        return self.instance.gpus


def plan_pool(spec: ClusterSpec, pool: Pool) -> PoolPlan:
    """Resolve one pool of a spec that passed validation."""
    catalog = load(spec.cloud)
    instance = catalog[pool.instance_type]
    fabric = fabric_enabled(pool, instance)
    return PoolPlan(
        pool=pool,
        instance=instance,
        alternates=tuple(catalog[name] for name in pool.alternate_types),
        zones=tuple(pool_zones(spec, pool, instance)),
        fabric=fabric,
        placement_group=wants_placement_group(pool, instance),
        interfaces=aws_interfaces(instance, fabric) if spec.cloud == "aws" else (),  # kubernetes: see kube.rdma
        nics=gcp_nics(instance, fabric) if spec.cloud == "gcp" else (),
        rolling=rolling(spec, pool),
    )


@dataclass(frozen=True)
class AddressPlan:
    vpc: str
    private: dict[str, str]
    public: str


def address_plan(spec: ClusterSpec) -> AddressPlan:
    """Sixteen equal slices of the VPC: slice i for the i-th zone's private subnet, the last for the public one."""
    vpc = ipaddress.IPv4Network(spec.network.cidr)
    slices = list(vpc.subnets(prefixlen_diff=4))
    private = {
        zone: spec.network.private_subnets.get(zone, str(slices[i])) for i, zone in enumerate(spec.zones)
    }
    return AddressPlan(str(vpc), private, spec.network.public_subnet or str(slices[-1]))


def node_setup(spec: ClusterSpec, pool: Pool, instance: InstanceType) -> NodeSetup | None:
    """What the pool's nodes set up at boot (None: nothing, so no script): scratch over the local disks the type has,
    the shared file system, and the checkpoint watcher for nodes that can be taken away. Both clouds' components and
    the user-data limit check read this one decision."""
    scratch = spec.storage.scratch
    capacity = pool.capacity.plan()
    setup = NodeSetup(
        cloud=spec.cloud, cluster=spec.name, pool=pool.name,
        scratch=ScratchSetup(scratch.mount, instance.local_disks.count) if scratch and instance.local_disks.count else None,
        shared_mount=spec.storage.shared.mount if spec.storage.shared else None,
        checkpoint=pool.checkpoint if capacity.spot or capacity.flex_start else None,
    )
    return setup if setup.scratch or setup.shared_mount or setup.checkpoint else None


def gpus_at_max(spec: ClusterSpec) -> int:
    catalog = load(spec.cloud)
    return sum(catalog[pool.instance_type].gpus * pool.size.max for pool in spec.pools)


def _shared_target_mbps(spec: ClusterSpec) -> float:
    shared = spec.storage.shared
    gbps = shared.throughput_gbps if shared.throughput_gbps is not None else shared.throughput_gbps_per_gpu * gpus_at_max(spec)
    return gbps * 1000


def lustre_plan(spec: ClusterSpec) -> LustrePlan | None:
    """AWS: FSx for Lustre for the spec's throughput target, sized for every pool at its maximum."""
    if spec.storage.shared is None:
        return None
    return plan_lustre(_shared_target_mbps(spec), spec.storage.shared.min_capacity_gib)


def managed_lustre_plan(spec: ClusterSpec) -> ManagedLustrePlan | None:
    """GCP: Managed Lustre for the same target."""
    if spec.storage.shared is None:
        return None
    return plan_managed_lustre(_shared_target_mbps(spec), spec.storage.shared.min_capacity_gib)


def fabric_zone(spec: ClusterSpec) -> str:
    """The one zone for what the fabric pools share: the shared file system on both clouds and GCP's zonal RoCE
    network. The zone holding the most fabric GPUs at maximum size (ties: the earlier cluster zone), so the
    heaviest traffic stays in one zone whatever the pools' order or names; without fabric pools, the first zone."""
    gpus: Counter[str] = Counter()
    for pool in spec.pools:
        plan = plan_pool(spec, pool)
        if plan.fabric:
            gpus[plan.zones[0]] += plan.gpus_per_node * pool.size.max  # fabric pools sit in one zone (validated)
    if not gpus:
        return spec.zones[0]
    return max(gpus, key=lambda zone: (gpus[zone], -spec.zones.index(zone)))


@dataclass(frozen=True)
class GcpNetworkPlan:
    """The networks every pool's NIC layout needs, shared by all pools of a GCP cluster."""

    host_networks: int  # gVNIC networks for host traffic (A3 Ultra and A4 have two)
    gpu_vpcs: int  # one VPC per GPU gVNIC (A3 High 4, A3 Mega 8)
    rdma_subnets: int  # one RoCE VPC, a subnet per MRDMA NIC (A3 Ultra and A4: 8)
    mtu: int


def gcp_network_plan(plans: list[PoolPlan]) -> GcpNetworkPlan:
    fabrics = [p.instance.fabric for p in plans if p.fabric]
    return GcpNetworkPlan(
        host_networks=max((p.instance.fabric.host_nics for p in plans), default=1),
        gpu_vpcs=max((f.gpu_nics for f in fabrics if f.gpu_nic_type == "GVNIC"), default=0),
        rdma_subnets=max((f.gpu_nics for f in fabrics if f.gpu_nic_type == "MRDMA"), default=0),
        mtu=max((f.mtu or 1460 for f in fabrics), default=1460),  # 1460: GCP's default VPC MTU
    )


def gcs_bucket_location(spec: ClusterSpec) -> str:
    """The region itself, unless residency allows only the EU and the spec asks for its multi-region."""
    allowed = expand(spec.residency.allowed_regions) if spec.residency else frozenset()
    if spec.storage.buckets and spec.storage.buckets.multi_region and "EU" in allowed:
        return "EU"
    return spec.region.upper()


def expected_bucket_tb(buckets: Buckets | None) -> dict[str, float]:
    """The expected size of each bucket role ("datasets", "checkpoints") in TB, for the cost estimate; a role the
    spec gives no size for is absent."""
    if buckets is None:
        return {}
    sizes = {"datasets": buckets.dataset_size_tb, "checkpoints": buckets.checkpoint_size_tb}
    return {role: tb for role, tb in sizes.items() if tb}
