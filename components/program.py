"""The stack program: stack config -> validated spec -> components -> stack outputs."""

from __future__ import annotations

import pulumi

from gpucluster.plan import plan_pool
from gpucluster.fabric import efa_device_count
from gpucluster.problems import Problem, SpecError, format_problems
from gpucluster.spec import CONFIG_KEY, CONFIG_NAMESPACE, ClusterSpec
from gpucluster.validate import load_spec

from .aws import AwsGpuCluster, AwsGpuClusterArgs


def read_spec() -> ClusterSpec:
    """Validate `gpucluster:cluster`; errors stop the program with the same report the CLI prints."""
    raw = pulumi.Config(CONFIG_NAMESPACE).get_object(CONFIG_KEY)
    if raw is None:
        raise pulumi.RunError(f"stack config has no '{CONFIG_NAMESPACE}:{CONFIG_KEY}'; see README, 'Cluster spec'")
    try:
        spec, warnings = load_spec(raw)
    except SpecError as exc:
        raise pulumi.RunError(str(exc)) from None
    for warning in warnings:
        pulumi.log.warn(f"{warning.path}: {warning.message}")
    return spec


def check_provider_region(spec: ClusterSpec) -> None:
    configured = pulumi.Config("aws").get("region")
    if configured != spec.region:
        raise pulumi.RunError(
            format_problems(
                [
                    Problem(
                        "aws:region",
                        f"stack config aws:region is {configured!r}, but the cluster spec says region {spec.region!r}; "
                        "set them equal so every resource lands where the spec (and the residency policy) expects",
                    )
                ]
            )
        )


def main() -> None:
    spec = read_spec()
    if spec.cloud != "aws":
        raise pulumi.RunError(
            f"cloud '{spec.cloud}': the spec and catalog checks pass, but GCP components are not implemented yet "
            "(see README, 'Status')"
        )
    check_provider_region(spec)
    if spec.storage != type(spec.storage)():
        pulumi.log.warn("storage: tiers are validated but not deployed yet; the storage components are planned (README, 'Status')")

    cluster = AwsGpuCluster(spec.name, AwsGpuClusterArgs(spec))
    plans = [plan_pool(spec, pool) for pool in spec.pools]
    pulumi.export("cluster", spec.name)
    pulumi.export("region", spec.region)
    pulumi.export("vpcId", cluster.network.vpc_id)
    pulumi.export("privateSubnetIds", cluster.network.private_subnet_ids)
    pulumi.export("efaSecurityGroupId", cluster.network.efa_security_group_id)
    pulumi.export(
        "pools",
        {
            plan.pool.name: {
                "instanceType": plan.instance.name,
                "zones": list(plan.zones),
                "min": plan.pool.size.min,
                "max": plan.pool.size.max,
                "gpusPerNode": plan.gpus_per_node,
                "efaInterfacesPerNode": efa_device_count(plan.interfaces),
                "capacity": plan.pool.capacity.type,
                "autoScalingGroup": cluster.groups[plan.pool.name].auto_scaling_group_name,
            }
            for plan in plans
        },
    )
    pulumi.export("gpus", {"min": sum(p.gpus_per_node * p.pool.size.min for p in plans), "max": sum(p.gpus_per_node * p.pool.size.max for p in plans)})
