"""The stack program: stack config -> validated spec -> components -> stack outputs."""

from __future__ import annotations

import pulumi

from gpucluster.plan import PoolPlan, lustre_plan, plan_pool
from gpucluster.fabric import efa_device_count
from gpucluster.kube.rdma import node_resources, pool_fabrics
from gpucluster.problems import Problem, SpecError, format_problems
from gpucluster.spec import CONFIG_KEY, CONFIG_NAMESPACE, ClusterSpec
from gpucluster.validate import load_spec

from .aws import AwsGpuCluster, AwsGpuClusterArgs
from .aws import SpotTrainingPool
from .gcp import GcpGpuCluster, GcpGpuClusterArgs
from .kube import ExistingCluster, ExistingClusterArgs
from .kube.existing import KUBECONFIG_SECRET


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


def check_provider_config(spec: ClusterSpec) -> None:
    """The provider's default region must be the spec's, so every resource lands where the spec (and the
    residency policy) expects; GCP also needs its project. An existing cluster has no cloud provider."""
    if spec.cloud == "kubernetes":
        return
    provider = pulumi.Config(spec.cloud)
    problems = []
    configured = provider.get("region")
    if configured != spec.region:
        problems.append(Problem(f"{spec.cloud}:region", f"stack config {spec.cloud}:region is {configured!r}, but the "
                                f"cluster spec says region {spec.region!r}; set them equal"))
    if spec.cloud == "gcp" and not provider.get("project"):
        problems.append(Problem("gcp:project", "stack config gcp:project is not set; the RoCE network profile and the KMS grants need it"))
    if problems:
        raise pulumi.RunError(format_problems(problems))


def main() -> None:
    spec = read_spec()
    check_provider_config(spec)
    if spec.cloud == "gcp":
        return gcp_main(spec)
    if spec.cloud == "kubernetes":
        return existing_main(spec)

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
                "rollout": "rolling" if plan.rolling else "manual",
                "max": plan.pool.size.max,
                "gpusPerNode": plan.gpus_per_node,
                "efaInterfacesPerNode": efa_device_count(plan.interfaces),
                "capacity": list(plan.pool.capacity.sources),
                **_group_outputs(plan, cluster),
            }
            for plan in plans
        },
    )
    if cluster.kubernetes:
        _export_kubernetes(spec, cluster.kubernetes.cluster_name, cluster.kubernetes.kubeconfig)
    if cluster.storage:
        pulumi.export("storage", _storage_outputs(spec, cluster))
    _export_gpus(plans)
    announce_rollouts(spec, plans)


def _export_kubernetes(spec: ClusterSpec, cluster_name: pulumi.Output[str], kubeconfig: pulumi.Output[str]) -> None:
    pulumi.export("kubernetes", {
        "clusterName": cluster_name,
        "version": spec.kubernetes.version,
        "clusterQueue": spec.name,
        "localQueues": {team.name: f"{team.name}/{team.name}" for team in spec.kubernetes.teams},
    })
    pulumi.export("kubeconfig", kubeconfig)  # a secret: `pulumi stack output kubeconfig --show-secrets`


def _group_outputs(plan: PoolPlan, cluster: AwsGpuCluster) -> dict:
    capacity = plan.pool.capacity
    outputs: dict = {}
    if capacity.reservation_id:
        outputs["reservationId"] = capacity.reservation_id
    if capacity.block_start:
        # Instances of a capacity block are terminated when it ends: checkpoint before this time.
        outputs["blockStart"] = capacity.block_start.isoformat()
        outputs["blockEnd"] = capacity.block_end.isoformat()
    if cluster.kubernetes:
        return {**outputs, "nodeGroup": cluster.kubernetes.node_groups[plan.pool.name].node_group_name}
    group = cluster.groups[plan.pool.name]
    outputs["autoScalingGroup"] = group.auto_scaling_group_name
    if isinstance(group, SpotTrainingPool):
        outputs["interruptionQueueUrl"] = group.queue_url
        outputs["checkpointTo"] = plan.pool.checkpoint.to
    return outputs


def _storage_outputs(spec: ClusterSpec, cluster: AwsGpuCluster) -> dict:
    storage = cluster.storage
    outputs = {"datasetBucket": storage.dataset_bucket, "checkpointBucket": storage.checkpoint_bucket, "kmsKeyArn": storage.kms_key_arn}
    plan = lustre_plan(spec)
    if plan:
        outputs["sharedFileSystem"] = {
            "id": storage.file_system_id,
            "mount": spec.storage.shared.mount,
            "capacityGiB": plan.capacity_gib,
            "perUnitThroughputMBps": plan.per_unit_mbps,
            "throughputMBps": round(plan.throughput_mbps),
            "monthlyUsdUsEast1": round(plan.monthly_usd, 2),
        }
    return outputs


def gcp_main(spec: ClusterSpec) -> None:
    cluster = GcpGpuCluster(spec.name, GcpGpuClusterArgs(spec, pulumi.Config("gcp").require("project")))
    plans = [plan_pool(spec, pool) for pool in spec.pools]
    pulumi.export("cluster", spec.name)
    pulumi.export("region", spec.region)
    pulumi.export(
        "pools",
        {
            plan.pool.name: {
                "machineType": plan.instance.name,
                "zone": plan.zones[0],
                "size": plan.pool.size.desired_or_min,
                "gpusPerNode": plan.gpus_per_node,
                "nics": [f"{nic.network}{'-' + str(nic.subnet) if nic.network == 'rdma' else ''}:{nic.nic_type}" for nic in plan.nics],
                "capacity": list(plan.pool.capacity.sources),
                "compactPlacement": plan.placement_group,
                "rollout": "rolling" if plan.rolling else "manual",
                **({"nodePool": cluster.kubernetes.node_pools[plan.pool.name].name} if cluster.kubernetes
                   else {"instanceGroup": cluster.groups[plan.pool.name].instance_group}),
            }
            for plan in plans
        },
    )
    if cluster.kubernetes:
        _export_kubernetes(spec, cluster.kubernetes.cluster_name, cluster.kubernetes.kubeconfig)
    _export_gpus(plans)
    announce_rollouts(spec, plans)
    pulumi.export("storage", {"datasetBucket": cluster.storage.dataset_bucket, "checkpointBucket": cluster.storage.checkpoint_bucket})


def existing_main(spec: ClusterSpec) -> None:
    """An existing cluster: only objects inside it, through its kubeconfig (the local one at site.context, or the
    stack's secret)."""
    kubeconfig = (pulumi.Config(CONFIG_NAMESPACE).require_secret(KUBECONFIG_SECRET)
                  if spec.site.kubeconfig == "stack-secret" else None)
    cluster = ExistingCluster(spec.name, ExistingClusterArgs(spec, kubeconfig))
    plans = [plan_pool(spec, pool) for pool in spec.pools]
    fabrics = {fabric.pool.name: fabric for fabric in pool_fabrics(spec)}
    pulumi.export("cluster", spec.name)
    pulumi.export("region", spec.region)
    pulumi.export("pools", {
        plan.pool.name: {
            "nodeType": plan.instance.name,
            "nodes": plan.pool.size.max,
            "nodeSelector": dict(plan.pool.node_selector),
            "gpusPerNode": plan.gpus_per_node,
            **({"fabric": {"link": fabrics[plan.pool.name].link, "ports": len(fabrics[plan.pool.name].rails),
                           "devices": node_resources(spec, fabrics[plan.pool.name])}}
               if plan.pool.name in fabrics else {}),
        }
        for plan in plans
    })
    pulumi.export("kubernetes", {
        "clusterQueue": spec.name,
        "localQueues": {team.name: f"{team.name}/{team.name}" for team in spec.kubernetes.teams},
        "releases": cluster.releases,
    })
    _export_gpus(plans)


def announce_rollouts(spec: ClusterSpec, plans: list[PoolPlan]) -> None:
    """Say in the preview which pools keep running nodes on an old image or template: a change is silent otherwise."""
    for plan in plans:
        pool = plan.pool
        if spec.kubernetes:
            pace = (f"{100 - pool.rollout.min_healthy_percent}% at a time" if spec.cloud == "aws"
                    else "one node at a time, in the weekend maintenance window")
            pulumi.log.info(f"pool '{pool.name}': a Kubernetes node pool: a changed template drains and replaces running "
                            f"nodes, {pace}; Kueue requeues the jobs they ran")
        elif plan.rolling:
            pulumi.log.info(f"pool '{pool.name}': rollout rolling: a changed image or template replaces running nodes "
                            f"in batches, keeping {pool.rollout.min_healthy_percent}% in service")
        else:
            pulumi.log.info(f"pool '{pool.name}': rollout manual: a changed image or template reaches new nodes only; "
                            "running nodes keep the old one until they are replaced (rollout.strategy: rolling changes that)")


def _export_gpus(plans: list[PoolPlan]) -> None:
    pulumi.export("gpus", {"min": sum(p.gpus_per_node * p.pool.size.min for p in plans),
                           "max": sum(p.gpus_per_node * p.pool.size.max for p in plans)})
