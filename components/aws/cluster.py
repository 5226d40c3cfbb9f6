"""AwsGpuCluster: the whole cluster a spec declares, as one component."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from gpucluster.plan import address_plan, plan_pool
from gpucluster.spec import ClusterSpec

from .instance_group import DEFAULT_IMAGES, GpuInstanceGroup, GpuInstanceGroupArgs
from .network import ClusterNetwork, ClusterNetworkArgs


@dataclass
class AwsGpuClusterArgs:
    spec: ClusterSpec


class AwsGpuCluster(pulumi.ComponentResource):
    """Network plus one GpuInstanceGroup per pool, all tagged with the spec's cost-allocation tags."""

    network: ClusterNetwork
    groups: dict[str, GpuInstanceGroup]

    def __init__(self, name: str, args: AwsGpuClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpucluster:aws:GpuCluster", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        tags = {**spec.tags.as_dict(), "gpucluster:cluster": spec.name}
        plans = [plan_pool(spec, pool) for pool in spec.pools]

        self.network = ClusterNetwork(
            f"{name}-net",
            ClusterNetworkArgs(
                region=spec.region,
                addresses=address_plan(spec),
                nat=spec.network.nat,
                tags=tags,
                placement_group_pools=[p.pool.name for p in plans if p.placement_group],
            ),
            opts=child,
        )
        self.groups = {}
        for plan in plans:
            pool = plan.pool
            self.groups[pool.name] = GpuInstanceGroup(
                f"{name}-{pool.name}",
                GpuInstanceGroupArgs(
                    instance_type=plan.instance.name,
                    alternate_types=list(pool.alternate_types),
                    interfaces=plan.interfaces,
                    subnet_ids=[self.network.private_subnet_ids[zone] for zone in plan.zones],
                    nodes_security_group_id=self.network.nodes_security_group_id,
                    efa_security_group_id=self.network.efa_security_group_id,
                    placement_group=self.network.placement_groups.get(pool.name),
                    min_size=pool.size.min,
                    desired_size=pool.size.desired_or_min,
                    max_size=pool.size.max,
                    capacity=pool.capacity,
                    image_id=pool.image_id or DEFAULT_IMAGES[plan.instance.accelerator.kind],
                    root_volume_gb=pool.root_volume_gb,
                    tags={**tags, "gpucluster:pool": pool.name, "gpucluster:purpose": pool.purpose},
                ),
                opts=child,
            )
        self.register_outputs(
            {
                "vpcId": self.network.vpc_id,
                "autoScalingGroups": {n: g.auto_scaling_group_name for n, g in self.groups.items()},
            }
        )
